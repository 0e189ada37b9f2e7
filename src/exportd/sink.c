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

static enum ex_status sink_zinit(struct sink *k, const struct config *cf, struct buf *err)
{
	/* A part ends at the first row boundary at or past part_size, and the
	 * writer flushes before a row can make it pass write_buffer more. */
	size_t cap = (size_t)(cf->part_size + cf->write_buffer + cf->max_row_size), bound;

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
	buf_init(&k->part, cap);
	buf_init(&k->zout, bound);
	return EX_OK;
}

enum ex_status sink_open(struct sink *k, const struct config *cf, const char *key,
			 const struct sink_codec *codec, const struct storage_ckpt *resume,
			 const char *sha_state, struct buf *err)
{
	enum ex_status st;

	memset(k, 0, sizeof(*k));
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

enum ex_status sink_write(struct sink *k, const void *data, size_t len, struct buf *err)
{
	enum ex_status st;

	if (k->comp == FORMAT_PLAIN) {
		return sink_store(k, data, len, err);
	}
	st = buf_append(&k->part, data, len);
	if (st) {
		buf_msg(err, "%s",
			"a part outgrew exportd.part_size + write_buffer + max_row_size");
	}
	return st;
}

/* The part as one zstd frame of n bytes; 0 on failure. */
static size_t sink_zstd(struct sink *k, const void *src, size_t bound)
{
	size_t n = ZSTD_compressCCtx(k->zs, k->zout.data, bound, src, k->part.len, k->level);

	return ZSTD_isError(n) ? 0 : n;
}

/* The part as one gzip member or zstd frame. */
static enum ex_status sink_compress(struct sink *k, struct buf *err)
{
	const void *src = k->part.data != NULL ? k->part.data : "";
	size_t bound = k->comp == FORMAT_GZIP ? libdeflate_gzip_compress_bound(k->z, k->part.len)
					      : ZSTD_compressBound(k->part.len);
	enum ex_status st = buf_reserve(&k->zout, bound);
	size_t n;

	if (st) {
		buf_msg(err, "%s", "no memory for the compressed part");
		return st;
	}
	n = k->comp == FORMAT_GZIP
		    ? libdeflate_gzip_compress(k->z, src, k->part.len, k->zout.data, bound)
		    : sink_zstd(k, src, bound);
	if (n == 0) {
		buf_msg(err, "%s compression failed", k->comp == FORMAT_GZIP ? "gzip" : "zstd");
		return EX_EIO;
	}
	buf_reset(&k->part);
	return sink_store(k, k->zout.data, n, err);
}

enum ex_status sink_part_end(struct sink *k, struct storage_ckpt *ckpt,
			     char sha_state[SHA256_STATE_HEX + 1], struct buf *err)
{
	enum ex_status st;

	if (k->comp != FORMAT_PLAIN) {
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
	ZSTD_freeCCtx(k->zs);
	k->zs = NULL;
	buf_free(&k->part);
	buf_free(&k->zout);
}
