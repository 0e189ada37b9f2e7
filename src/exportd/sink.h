/* sink.h - where formatted bytes go: (gzip | zstd) -> checksum -> storage.
 *
 * With gzip each part is one gzip member, with zstd one zstd frame, so a
 * file cut at a part boundary and continued is byte-identical to one
 * written in one go, and the concatenated members (frames) are one valid
 * gzip (zstd) file.  A part is compressed whole, gzip with libdeflate
 * (about twice zlib's speed at a slightly better ratio on CSV, measured),
 * zstd with libzstd's one-shot ZSTD_compressCCtx at export.zstd_level.
 *
 * Compression runs on a second thread when exportd.parts_in_flight is 2 or
 * more: part N is compressed while part N+1 is formatted, and at most
 * parts_in_flight parts (the one being formatted included) are held, each
 * with its uncompressed bytes (exportd.part_size plus a row) and its
 * compressed form.  The thread only compresses: storage, the checksum and
 * the checkpoints stay on the caller's thread, in part order, so the bytes
 * are those of a single-threaded run (parts_in_flight 1 compresses in
 * sink_part_end itself).
 *
 * A part is ended with sink_part_end(), then the caller takes every part
 * that can be stored: while sink_next() says one is ready, sink_store_next()
 * stores it and fills what to checkpoint.  sink_next() waits for the
 * compressor only when no slot is free for the next part (or when told to
 * wait for all, at the end), so after the loop sink_write() has room.
 * The SHA-256 covers the file's bytes (compressed when compressed); its state
 * goes into every checkpoint so a resumed run's checksum is the whole
 * file's.
 */
#ifndef EXPORTD_SINK_H
#define EXPORTD_SINK_H

#include <libdeflate.h>
#include <pthread.h>
#include <zstd.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/sha256.h"
#include "common/status.h"
#include "format/format.h"
#include "storage/storage.h"

/* The most parts a sink holds at once (exportd.parts_in_flight's maximum). */
#define SINK_MAX_PARTS CONF_MAX_PARTS_IN_FLIGHT

/* One part between formatting and storage. */
struct sink_part {
	int state;	 /* SINK_FREE, _QUEUED, _COMPRESSED, _ENDED (plain) */
	struct buf raw;	 /* compressed: the part's uncompressed bytes */
	struct buf zout; /* compressed: the part compressed (zlen bytes) */
	size_t zlen;	 /* 0: compression failed */
	long long rows;	 /* rows in the file at the part's end */
	struct buf key;	 /* the key of the part's last row */
	struct buf at;	 /* incremental: its change time */
	int has_at;
	struct storage_ckpt ckpt; /* plain: from storage_part_end */
};

/* A part that reached storage: what to checkpoint.  key and ckpt.state are
 * valid until the next call on the sink. */
struct sink_stored {
	struct storage_ckpt ckpt;
	char sha_state[SHA256_STATE_HEX + 1];
	long long rows;
	const char *key;
	const char *at; /* NULL: not incremental */
};

struct sink {
	struct storage_upload *up;
	struct sha256 sha;
	long long file_bytes; /* bytes in the file so far */
	enum format_compression comp;
	int level;
	int ended;			 /* parts ended since sink_open */
	struct libdeflate_compressor *z; /* gzip; used by one thread only */
	ZSTD_CCtx *zs;			 /* zstd; likewise */
	int nparts;			 /* slots in parts[] */
	struct sink_part parts[SINK_MAX_PARTS];
	int fill, next_z, next_store; /* slots: formatting, to compress, to store */
	int threaded, quit;	      /* the compressor thread runs / must stop */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work, done; /* a part was queued / compressed */
};

/* How a sink compresses: level is gzip's 1-9 or zstd's 1-19. */
struct sink_codec {
	enum format_compression comp;
	int level;
};

/* resume: NULL or the checkpoint (bytes, part) with sha_state the saved
 * checksum state.  EX_ENOTFOUND: the checkpointed data is gone.  Whatever
 * it returns, sink_close() releases the sink. */
enum ex_status sink_open(struct sink *k, const struct config *cf, const char *key,
			 const struct sink_codec *codec, const struct storage_ckpt *resume,
			 const char *sha_state, struct buf *err) EX_MUST_CHECK;
enum ex_status sink_write(struct sink *k, const void *data, size_t len,
			  struct buf *err) EX_MUST_CHECK;
/* End the part (and the gzip member or zstd frame): plain, make it durable
 * now; compressed, hand it to the compressor.  rows, key (the last row's)
 * and at (its change time, incremental; else NULL) come back with the part
 * from sink_store_next(). */
enum ex_status sink_part_end(struct sink *k, long long rows, const char *key, const char *at,
			     struct buf *err) EX_MUST_CHECK;
/* 1 when the oldest ended part can be stored now.  Waits for the compressor
 * when all is set, or when the next part would have no slot. */
int sink_next(struct sink *k, int all);
/* Store the part sink_next() found, make it durable and fill out. */
enum ex_status sink_store_next(struct sink *k, struct sink_stored *out,
			       struct buf *err) EX_MUST_CHECK;
/* After every part is stored: make the file final; checksum gets its sha256. */
enum ex_status sink_complete(struct sink *k, char checksum[65], struct buf *err) EX_MUST_CHECK;
/* Remove what was written (cancel). */
void sink_abort(struct sink *k);
/* Stop and join the compressor, release everything. */
void sink_close(struct sink *k);

#endif
