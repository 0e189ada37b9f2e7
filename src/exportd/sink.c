#include "exportd/sink.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

enum { SINK_FREE, SINK_QUEUED, SINK_COMPRESSED, SINK_ENDED };

/* The most a row key may take (the export keeps its last key alike). */
#define SINK_KEY_CAP (64 * 1024UL)

/* To storage, counted and hashed. */
static enum ex_status sink_store(struct sink *k, const void *data, size_t len, struct buf *err)
{
	enum ex_status st = storage_write(k->up, data, len, err);

	if (st) {
		return st;
	}
	sha256_update(&k->sha, data, len);
	k->file_bytes += (long long)len;
	return EX_OK;
}

/* The part as one zstd frame of n bytes; 0 on failure. */
static size_t sink_zstd(struct sink *k, struct sink_part *p, const void *src, size_t bound)
{
	size_t n = ZSTD_compressCCtx(k->zs, p->zout.data, bound, src, p->raw.len, k->level);

	return ZSTD_isError(n) ? 0 : n;
}

/* The part as one gzip member or zstd frame into p->zout: p->zlen bytes, 0
 * when it failed.  Runs on the compressor thread when there is one, which
 * then alone uses the compressor and the part. */
static void sink_compress(struct sink *k, struct sink_part *p)
{
	const void *src = p->raw.data != NULL ? p->raw.data : "";
	size_t bound = k->comp == FORMAT_GZIP ? libdeflate_gzip_compress_bound(k->z, p->raw.len)
					      : ZSTD_compressBound(p->raw.len);

	p->zlen = 0;
	if (buf_reserve(&p->zout, bound)) {
		return;
	}
	p->zlen = k->comp == FORMAT_GZIP
			  ? libdeflate_gzip_compress(k->z, src, p->raw.len, p->zout.data, bound)
			  : sink_zstd(k, p, src, bound);
}

/* The compressor thread: compresses the queued parts in order. */
static void *sink_compressor(void *arg)
{
	struct sink *k = arg;
	struct sink_part *p;

	pthread_mutex_lock(&k->lock);
	for (;;) {
		p = &k->parts[k->next_z];
		while (!k->quit && p->state != SINK_QUEUED) {
			pthread_cond_wait(&k->work, &k->lock);
		}
		if (k->quit) {
			break;
		}
		pthread_mutex_unlock(&k->lock);
		sink_compress(k, p);
		pthread_mutex_lock(&k->lock);
		p->state = SINK_COMPRESSED;
		k->next_z = (k->next_z + 1) % k->nparts;
		pthread_cond_signal(&k->done);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

/* Start the compressor with every signal blocked: they stay the main
 * thread's. */
static enum ex_status sink_start(struct sink *k, struct buf *err)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&k->thread, NULL, sink_compressor, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		buf_msg(err, "%s", "cannot start the compression thread");
		return EX_ENOMEM;
	}
	k->threaded = 1;
	return EX_OK;
}

static enum ex_status sink_zinit(struct sink *k, const struct config *cf, struct buf *err)
{
	/* A part ends at the first row boundary at or past part_size, and the
	 * writer flushes before a row can make it pass write_buffer more. */
	size_t cap = (size_t)(cf->part_size + cf->write_buffer + cf->max_row_size), bound;
	int i;

	if (k->comp == FORMAT_GZIP) {
		k->z = libdeflate_alloc_compressor(k->level);
		bound = k->z != NULL ? libdeflate_gzip_compress_bound(k->z, cap) : 0;
	} else {
		k->zs = ZSTD_createCCtx();
		bound = ZSTD_compressBound(cap);
	}
	if (k->z == NULL && k->zs == NULL) {
		buf_msg(err, "%s", "cannot set up compression");
		return EX_ENOMEM;
	}
	k->nparts = (int)cf->parts_in_flight; /* 1 to CONF_MAX_PARTS_IN_FLIGHT */
	for (i = 0; i < k->nparts; i++) {
		buf_init(&k->parts[i].raw, cap);
		buf_init(&k->parts[i].zout, bound);
	}
	return k->nparts > 1 ? sink_start(k, err) : EX_OK;
}

enum ex_status sink_open(struct sink *k, const struct config *cf, const char *key,
			 const struct sink_codec *codec, const struct storage_ckpt *resume,
			 const char *sha_state, struct buf *err)
{
	enum ex_status st;
	int i;

	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->work, NULL);
	pthread_cond_init(&k->done, NULL);
	k->nparts = 1;
	for (i = 0; i < SINK_MAX_PARTS; i++) {
		buf_init(&k->parts[i].key, SINK_KEY_CAP);
		buf_init(&k->parts[i].at, 256);
	}
	k->comp = codec->comp;
	k->level = codec->level;
	sha256_init(&k->sha);
	if (resume != NULL && (sha_state == NULL || sha256_load(&k->sha, sha_state) ||
			       (long long)k->sha.bytes != resume->bytes)) {
		buf_msg(err, "%s", "the checkpoint has no usable checksum state");
		return EX_ENOTFOUND;
	}
	st = storage_open(cf, key, resume, &k->up, err);
	if (st) {
		return st;
	}
	if (resume != NULL) {
		k->file_bytes = resume->bytes;
	}
	return k->comp != FORMAT_PLAIN ? sink_zinit(k, cf, err) : EX_OK;
}

/* The state of part p, read under the lock (the compressor writes it). */
static int sink_state(struct sink *k, const struct sink_part *p)
{
	int state;

	pthread_mutex_lock(&k->lock);
	state = p->state;
	pthread_mutex_unlock(&k->lock);
	return state;
}

enum ex_status sink_write(struct sink *k, const void *data, size_t len, struct buf *err)
{
	struct sink_part *p = &k->parts[k->fill];
	enum ex_status st;

	if (k->comp == FORMAT_PLAIN) {
		return sink_store(k, data, len, err);
	}
	if (sink_state(k, p) != SINK_FREE) {
		buf_msg(err, "%s", "a part was written before the one ended before it was taken");
		return EX_EINVAL;
	}
	st = buf_append(&p->raw, data, len);
	if (st) {
		buf_msg(err, "%s",
			"a part outgrew exportd.part_size + write_buffer + max_row_size");
	}
	return st;
}

enum ex_status sink_part_end(struct sink *k, long long rows, const char *key, const char *at,
			     struct buf *err)
{
	struct sink_part *p = &k->parts[k->fill];
	enum ex_status st;

	p->rows = rows;
	p->has_at = at != NULL;
	buf_reset(&p->key);
	buf_reset(&p->at);
	st = buf_puts(&p->key, key != NULL ? key : "");
	if (!st && at != NULL) {
		st = buf_puts(&p->at, at);
	}
	if (st) {
		buf_msg(err, "%s", "the last row's key is too long to checkpoint");
		return st;
	}
	if (k->comp == FORMAT_PLAIN) {
		st = storage_part_end(k->up, &p->ckpt, err);
		if (st) {
			return st;
		}
		p->state = SINK_ENDED;
	} else if (k->threaded) {
		pthread_mutex_lock(&k->lock);
		p->state = SINK_QUEUED;
		pthread_cond_signal(&k->work);
		pthread_mutex_unlock(&k->lock);
	} else {
		sink_compress(k, p);
		p->state = SINK_COMPRESSED;
	}
	k->fill = (k->fill + 1) % k->nparts;
	k->ended++;
	return EX_OK;
}

int sink_next(struct sink *k, int all)
{
	struct sink_part *p = &k->parts[k->next_store];
	int state;

	pthread_mutex_lock(&k->lock);
	while (p->state == SINK_QUEUED && (all || k->parts[k->fill].state != SINK_FREE)) {
		pthread_cond_wait(&k->done, &k->lock);
	}
	state = p->state;
	pthread_mutex_unlock(&k->lock);
	return state == SINK_COMPRESSED || state == SINK_ENDED;
}

/* Store the compressed part p; its slot keeps its memory for the next. */
static enum ex_status sink_store_part(struct sink *k, struct sink_part *p,
				      struct storage_ckpt *ckpt, struct buf *err)
{
	enum ex_status st;

	if (p->zlen == 0) {
		buf_msg(err, "%s compression failed", k->comp == FORMAT_GZIP ? "gzip" : "zstd");
		return EX_EIO;
	}
	st = sink_store(k, p->zout.data, p->zlen, err);
	if (st) {
		return st;
	}
	buf_reset(&p->raw);
	return storage_part_end(k->up, ckpt, err);
}

enum ex_status sink_store_next(struct sink *k, struct sink_stored *out, struct buf *err)
{
	struct sink_part *p = &k->parts[k->next_store];
	enum ex_status st;

	if (k->comp == FORMAT_PLAIN) {
		out->ckpt = p->ckpt;
	} else {
		st = sink_store_part(k, p, &out->ckpt, err);
		if (st) {
			return st;
		}
	}
	sha256_save(&k->sha, out->sha_state);
	out->rows = p->rows;
	out->key = buf_str(&p->key);
	out->at = p->has_at ? buf_str(&p->at) : NULL;
	pthread_mutex_lock(&k->lock);
	p->state = SINK_FREE;
	pthread_mutex_unlock(&k->lock);
	k->next_store = (k->next_store + 1) % k->nparts;
	return EX_OK;
}

enum ex_status sink_complete(struct sink *k, char checksum[65], struct buf *err)
{
	sha256_hex(&k->sha, checksum);
	return storage_complete(k->up, err);
}

void sink_abort(struct sink *k)
{
	if (k->up != NULL) {
		storage_abort(k->up);
	}
}

/* Stop the compressor after the part it is on, and wait for it. */
static void sink_stop(struct sink *k)
{
	pthread_mutex_lock(&k->lock);
	k->quit = 1;
	pthread_cond_signal(&k->work);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	k->threaded = 0;
}

void sink_close(struct sink *k)
{
	int i;

	if (k->threaded) {
		sink_stop(k);
	}
	storage_close(k->up);
	k->up = NULL;
	if (k->z != NULL) {
		libdeflate_free_compressor(k->z);
		k->z = NULL;
	}
	ZSTD_freeCCtx(k->zs);
	k->zs = NULL;
	for (i = 0; i < SINK_MAX_PARTS; i++) {
		buf_free(&k->parts[i].raw);
		buf_free(&k->parts[i].zout);
		buf_free(&k->parts[i].key);
		buf_free(&k->parts[i].at);
	}
	if (k->nparts > 0) {
		pthread_cond_destroy(&k->done);
		pthread_cond_destroy(&k->work);
		pthread_mutex_destroy(&k->lock);
		k->nparts = 0;
	}
}
