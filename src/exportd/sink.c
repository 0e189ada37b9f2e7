#include "exportd/sink.h"

#include <stdlib.h>
#include <string.h>

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

static enum ex_status sink_zinit(struct sink *k, const struct config *cf, int level,
				 struct buf *err)
{
	/* A part ends at the first row boundary at or past part_size, and the
	 * writer flushes before a row can make it pass write_buffer more. */
	size_t cap = (size_t)(cf->part_size + cf->write_buffer + cf->max_row_size);

	k->z = libdeflate_alloc_compressor(level);
	if (k->z == NULL) {
		buf_msg(err, "%s", "cannot set up gzip compression");
		return EX_ENOMEM;
	}
	buf_init(&k->part, cap);
	buf_init(&k->zout, libdeflate_gzip_compress_bound(k->z, cap));
	return EX_OK;
}

enum ex_status sink_open(struct sink *k, const struct config *cf, const char *key, int gzip,
			 const struct storage_ckpt *resume, const char *sha_state, struct buf *err)
{
	enum ex_status st;

	memset(k, 0, sizeof(*k));
	k->gzip = gzip > 0;
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
	return k->gzip ? sink_zinit(k, cf, gzip, err) : EX_OK;
}

enum ex_status sink_write(struct sink *k, const void *data, size_t len, struct buf *err)
{
	enum ex_status st;

	if (!k->gzip) {
		return sink_store(k, data, len, err);
	}
	st = buf_append(&k->part, data, len);
	if (st) {
		buf_msg(err, "%s",
			"a part outgrew exportd.part_size + write_buffer + max_row_size");
	}
	return st;
}

/* The part as one gzip member. */
static enum ex_status sink_compress(struct sink *k, struct buf *err)
{
	size_t bound = libdeflate_gzip_compress_bound(k->z, k->part.len), n;
	enum ex_status st = buf_reserve(&k->zout, bound);

	if (st) {
		buf_msg(err, "%s", "no memory for the compressed part");
		return st;
	}
	n = libdeflate_gzip_compress(k->z, k->part.data != NULL ? k->part.data : "", k->part.len,
				     k->zout.data, bound);
	if (n == 0) {
		buf_msg(err, "%s", "gzip compression failed");
		return EX_EIO;
	}
	buf_reset(&k->part);
	return sink_store(k, k->zout.data, n, err);
}

enum ex_status sink_part_end(struct sink *k, struct storage_ckpt *ckpt,
			     char sha_state[SHA256_STATE_HEX + 1], struct buf *err)
{
	enum ex_status st;

	if (k->gzip) {
		st = sink_compress(k, err);
		if (st) {
			return st;
		}
	}
	st = storage_part_end(k->up, ckpt, err);
	if (st) {
		return st;
	}
	sha256_save(&k->sha, sha_state);
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

void sink_close(struct sink *k)
{
	storage_close(k->up);
	k->up = NULL;
	if (k->z != NULL) {
		libdeflate_free_compressor(k->z);
		k->z = NULL;
	}
	buf_free(&k->part);
	buf_free(&k->zout);
}
