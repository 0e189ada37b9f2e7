/* wake.c - one claim per node for each new job (see wake.h). */
#include "exportd/wake.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* holder: the pid of the worker claiming for the node; 0: none;
 * WAKE_HANDED: handed to whichever idle worker takes the pending poke. */
#define WAKE_HANDED (-1)

struct wake_shared {
	atomic_int holder;
	atomic_int poked;   /* 1 while a byte is in the pipe */
	atomic_uint passed; /* wake-ups that found the flag held, ever */
	atomic_uint next;   /* the covered slot written next, modulo */
	_Atomic uint64_t covered[WAKE_COVERED];
};

static struct wake_shared *wake_mem;
static int wake_pipe[2] = {-1, -1};
/* passed when this process took the flag */
static unsigned wake_passed_at_take;

enum ex_status wake_init(struct buf *err)
{
	void *mem;

	if (wake_mem != NULL) {
		return EX_OK; /* kept across reloads */
	}
	mem = mmap(NULL, sizeof(*wake_mem), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		   0);
	if (mem == MAP_FAILED) {
		buf_msg(err, "mmap: %s", strerror(errno));
		return EX_ENOMEM;
	}
	if (pipe2(wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		buf_msg(err, "pipe: %s", strerror(errno));
		munmap(mem, sizeof(*wake_mem));
		return EX_EIO;
	}
	wake_mem = mem;
	atomic_init(&wake_mem->holder, 0);
	atomic_init(&wake_mem->poked, 0);
	atomic_init(&wake_mem->passed, 0);
	atomic_init(&wake_mem->next, 0);
	for (int i = 0; i < WAKE_COVERED; i++) {
		atomic_init(&wake_mem->covered[i], 0);
	}
	return EX_OK;
}

int wake_fd(void)
{
	return wake_pipe[0];
}

/* One attempt: 1 taken, 0 held by a live worker, -1 handed on with a poke
 * pending. */
static int wake_try(int me)
{
	int held = 0;

	if (atomic_compare_exchange_strong(&wake_mem->holder, &held, me) || held == me) {
		return 1;
	}
	/* Handed on, and the poke already taken: by this process, or by one
	 * that died before it could claim. */
	if (held == WAKE_HANDED) {
		if (atomic_load(&wake_mem->poked)) {
			return -1;
		}
		return atomic_compare_exchange_strong(&wake_mem->holder, &held, me);
	}
	/* A holder killed before the supervisor reaped it. */
	if (kill(held, 0) != 0 && errno == ESRCH) {
		return atomic_compare_exchange_strong(&wake_mem->holder, &held, me);
	}
	return 0;
}

int wake_take(void)
{
	if (wake_mem == NULL) {
		return 1; /* alone: always claim */
	}
	if (wake_try((int)getpid()) != 1) {
		return 0;
	}
	wake_passed_at_take = atomic_load(&wake_mem->passed);
	return 1;
}

int wake_pass(void)
{
	if (wake_mem == NULL) {
		return 1;
	}
	/* Count the pass first, then look again: a holder that gives the
	 * flag back after this sees the count and pokes; one that gave it
	 * before is seen here. */
	atomic_fetch_add(&wake_mem->passed, 1U);
	return wake_take();
}

void wake_give(void)
{
	int me = (int)getpid();

	if (wake_mem != NULL) {
		(void)atomic_compare_exchange_strong(&wake_mem->holder, &me, 0);
	}
}

/* Hand the flag on (from this process, or from nobody) and poke. */
static void wake_poke(int me)
{
	int idle = 0;
	char b = 1;

	if (!atomic_compare_exchange_strong(&wake_mem->holder, &me, WAKE_HANDED)) {
		if (!atomic_compare_exchange_strong(&wake_mem->holder, &idle, WAKE_HANDED)) {
			return; /* another holds it and claims */
		}
	}
	idle = 0;
	if (!atomic_compare_exchange_strong(&wake_mem->poked, &idle, 1)) {
		return; /* one poke is pending already */
	}
	if (write(wake_pipe[1], &b, 1) != 1) {
		atomic_store(&wake_mem->poked, 0);
	}
}

void wake_hand_on(int more)
{
	int me = (int)getpid();

	if (wake_mem == NULL) {
		return;
	}
	if (more) {
		wake_poke(me);
		return;
	}
	/* Give it back; if a wake-up passed while this process held it, the
	 * job it was about may be one nobody looked for yet. */
	wake_give();
	if (atomic_load(&wake_mem->passed) != wake_passed_at_take) {
		wake_poke(0);
	}
}

int wake_taken(void)
{
	char b;

	if (wake_mem == NULL || read(wake_pipe[0], &b, 1) != 1) {
		return 0;
	}
	atomic_store(&wake_mem->poked, 0);
	return 1;
}

/* FNV-1a; a payload (a job id) mistaken for another only delays a job to
 * the next poll. */
uint64_t wake_key(const char *payload)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *payload != '\0'; payload++) {
		h = (h ^ (unsigned char)*payload) * 0x100000001b3ULL;
	}
	return h != 0 ? h : 1; /* 0 marks an empty slot */
}

void wake_cover(const uint64_t *keys, int n)
{
	unsigned slot;

	if (wake_mem == NULL) {
		return;
	}
	for (int i = 0; i < n; i++) {
		slot = atomic_fetch_add(&wake_mem->next, 1U) % WAKE_COVERED;
		atomic_store(&wake_mem->covered[slot], keys[i]);
	}
}

int wake_covered(uint64_t key)
{
	if (wake_mem == NULL) {
		return 0;
	}
	for (int i = 0; i < WAKE_COVERED; i++) {
		if (atomic_load(&wake_mem->covered[i]) == key) {
			return 1;
		}
	}
	return 0;
}

void wake_forget(pid_t pid)
{
	int held = (int)pid;

	if (wake_mem != NULL) {
		(void)atomic_compare_exchange_strong(&wake_mem->holder, &held, 0);
	}
}
