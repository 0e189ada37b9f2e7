#include "exportd/supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "exportd/deliverer.h"
#include "exportd/janitor.h"
#include "exportd/mailer.h"
#include "exportd/notify.h"
#include "exportd/wake.h"
#include "exportd/worker.h"

#define SUPERVISOR_MAX_WORKERS 256
/* Restart delays of a child that keeps dying: 100 ms doubling to 30 s; a
 * child that ran for a minute starts again from 100 ms. */
#define SUPERVISOR_RESTART_MS	  100
#define SUPERVISOR_RESTART_MAX_MS 30000
#define SUPERVISOR_SETTLED_MS	  60000

struct supervisor_slot {
	pid_t pid;	   /* 0: not running */
	long long started; /* monotonic ms */
	long long restart_at;
	int deaths; /* in a row, each within a minute of its start */
};

struct supervisor {
	struct config *cf;
	const char *conf_path;
	struct supervisor_slot slots[SUPERVISOR_MAX_WORKERS + 3];
	int nslots; /* workers, the janitor, the webhook deliverer, the mailer when mail is on */
	int nworkers;
};

static void supervisor_size(struct supervisor *sv)
{
	sv->nworkers = (int)sv->cf->workers;
	/* Workers, the janitor, the webhook deliverer, then the mailer when
	 * mail is on. */
	sv->nslots = sv->nworkers + 2 + (sv->cf->mail_smtp_url[0] != '\0');
}

/* In the child of slot i (not a worker): become the janitor, the webhook
 * deliverer or the mailer. */
__attribute__((noreturn)) static void supervisor_helper(const struct supervisor *sv, int i)
{
	if (i == sv->nworkers) {
		prctl(PR_SET_NAME, "exportd-janitor");
		_exit(janitor_main(sv->cf));
	}
	if (i == sv->nworkers + 1) {
		prctl(PR_SET_NAME, "exportd-webhook");
		_exit(deliverer_main(sv->cf));
	}
	prctl(PR_SET_NAME, "exportd-mailer");
	_exit(mailer_main(sv->cf));
}

static void supervisor_spawn(struct supervisor *sv, int i)
{
	struct supervisor_slot *slot = &sv->slots[i];
	pid_t pid = fork();

	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		slot->restart_at = timeutil_now_ms() + 1000;
		return;
	}
	if (pid == 0) {
		/* If the supervisor dies, its workers give their jobs back. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* Named for ps and /proc/<pid>/comm (at most 15 characters). */
		if (i < sv->nworkers) {
			prctl(PR_SET_NAME, "exportd-worker");
			_exit(worker_main(sv->cf, i));
		}
		supervisor_helper(sv, i);
	}
	slot->pid = pid;
	slot->started = timeutil_now_ms();
}

static struct supervisor_slot *supervisor_find(struct supervisor *sv, pid_t pid)
{
	int i;

	for (i = 0; i < sv->nslots; i++) {
		if (sv->slots[i].pid == pid) {
			return &sv->slots[i];
		}
	}
	return NULL;
}

/* Reap dead workers and schedule their restart with backoff. */
static void supervisor_reap(struct supervisor *sv, int stopping)
{
	struct supervisor_slot *slot;
	long long now = timeutil_now_ms(), delay;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		slot = supervisor_find(sv, pid);
		if (slot == NULL) {
			continue;
		}
		slot->pid = 0;
		wake_forget(pid);
		if (stopping) {
			continue;
		}
		/* A worker that ran for a minute earns a fresh backoff. */
		slot->deaths = now - slot->started > SUPERVISOR_SETTLED_MS ? 1 : slot->deaths + 1;
		delay = backoff_delay_ms(SUPERVISOR_RESTART_MS, SUPERVISOR_RESTART_MAX_MS,
					 slot->deaths);
		slot->restart_at = now + delay;
		log_warn("child %ld exited (%s %d); restarting in %lldms", (long)pid,
			 WIFSIGNALED(status) ? "signal" : "status",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), delay);
	}
}

static void supervisor_restart_due(struct supervisor *sv)
{
	long long now = timeutil_now_ms();
	int i;

	for (i = 0; i < sv->nslots; i++) {
		if (sv->slots[i].pid == 0 && sv->slots[i].restart_at <= now) {
			supervisor_spawn(sv, i);
		}
	}
}

static int supervisor_running(const struct supervisor *sv)
{
	int i, n = 0;

	for (i = 0; i < sv->nslots; i++) {
		n += sv->slots[i].pid != 0;
	}
	return n;
}

static void supervisor_signal_all(struct supervisor *sv, int sig)
{
	int i;

	for (i = 0; i < sv->nslots; i++) {
		if (sv->slots[i].pid != 0) {
			kill(sv->slots[i].pid, sig);
		}
	}
}

static void supervisor_kill_all(struct supervisor *sv, const sigset_t *set)
{
	struct timespec tick = {0, 50L * 1000 * 1000};

	supervisor_signal_all(sv, SIGKILL);
	while (supervisor_running(sv) > 0) {
		sigtimedwait(set, NULL, &tick);
		supervisor_reap(sv, 1);
	}
}

static int supervisor_is_stop(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGQUIT;
}

/* SIGTERM the workers (they stop claiming, checkpoint and give their jobs
 * back), wait for the grace period, then SIGKILL.  A stop signal while
 * waiting (a second SIGTERM, or SIGQUIT) kills them at once: returns 1
 * then, so that a reload in progress becomes a stop. */
static int supervisor_stop_workers(struct supervisor *sv, const sigset_t *set)
{
	long long deadline = timeutil_now_ms() + sv->cf->shutdown_grace_ms + 1000;
	struct timespec tick = {0, 50L * 1000 * 1000};
	int sig;

	supervisor_signal_all(sv, SIGTERM);
	while (supervisor_running(sv) > 0 && timeutil_now_ms() < deadline) {
		sig = sigtimedwait(set, NULL, &tick);
		if (supervisor_is_stop(sig)) {
			log_warn("%s while draining: stopping at once", strsignal(sig));
			supervisor_kill_all(sv, set);
			return 1;
		}
		supervisor_reap(sv, 1);
	}
	if (supervisor_running(sv) > 0) {
		log_warn("workers still running after the grace period; killing them");
		supervisor_kill_all(sv, set);
	}
	return 0;
}

static void supervisor_status(const struct supervisor *sv)
{
	notify_send("STATUS=%d workers, the janitor, the webhook deliverer%s running", sv->nworkers,
		    sv->nslots > sv->nworkers + 2 ? " and the mailer" : "");
}

/* Returns 1 when a stop signal came while the old workers drained. */
static int supervisor_reload(struct supervisor *sv, const sigset_t *set)
{
	struct config fresh;
	struct buf err;
	enum ex_status st;
	int stop = 0;

	notify_send("RELOADING=1");
	buf_init(&err, 4096);
	st = conf_load(&fresh, sv->conf_path, &err);
	if (st) {
		log_error("reload failed, keeping the running config: %s", buf_str(&err));
		goto out;
	}
	log_info("config reloaded; replacing workers");
	stop = supervisor_stop_workers(sv, set);
	conf_free(sv->cf);
	*sv->cf = fresh;
	log_set_level((enum log_level)sv->cf->log_level);
	memset(sv->slots, 0, sizeof(sv->slots));
	supervisor_size(sv);
	if (!stop) {
		supervisor_restart_due(sv);
	}
out:
	notify_send("READY=1");
	supervisor_status(sv);
	buf_free(&err);
	return stop;
}

int supervisor_run(struct config *cf, const char *conf_path)
{
	struct supervisor sv;
	struct timespec tick = {0, 200L * 1000 * 1000};
	struct buf err;
	sigset_t set;
	int sig;

	buf_init(&err, 256);
	if (wake_init(&err) != EX_OK) {
		/* Every idle worker then claims on every NOTIFY, as before. */
		log_warn("workers cannot share wake-ups: %s", buf_str(&err));
	}
	buf_free(&err);
	memset(&sv, 0, sizeof(sv));
	sv.cf = cf;
	sv.conf_path = conf_path;
	supervisor_size(&sv);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	log_info("starting %d workers, the janitor, the webhook deliverer%s", sv.nworkers,
		 sv.nslots > sv.nworkers + 2 ? " and the mailer" : "");
	supervisor_restart_due(&sv);
	notify_send("READY=1");
	supervisor_status(&sv);
	for (;;) {
		sig = sigtimedwait(&set, NULL, &tick);
		if (supervisor_is_stop(sig)) {
			break;
		}
		if (sig == SIGHUP && supervisor_reload(&sv, &set)) {
			sig = SIGQUIT; /* stopped at once while draining */
			break;
		}
		supervisor_reap(&sv, 0);
		supervisor_restart_due(&sv);
	}
	notify_send("STOPPING=1");
	if (sig == SIGQUIT) {
		/* Jobs stay claimed; their locks go with the connections and
		 * the next exportd takes them over. */
		log_info("stopping at once");
		supervisor_kill_all(&sv, &set);
	} else {
		log_info("stopping");
		supervisor_stop_workers(&sv, &set);
	}
	log_info("stopped");
	return 0;
}
