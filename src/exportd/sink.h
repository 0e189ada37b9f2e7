/* sink.h - where formatted bytes go: (gzip | zstd) -> checksum -> storage.
 *
 * With gzip each part is one gzip member, with zstd one zstd frame, so a
 * file cut at a part boundary and continued is byte-identical to one
 * written in one go, and the concatenated members (frames) are one valid
 * gzip (zstd) file.  A part is compressed whole, gzip with libdeflate
 * (about twice zlib's speed at a slightly better ratio on CSV, measured),
 * zstd with libzstd's one-shot ZSTD_compressCCtx at export.zstd_level, so
 * a compressed export holds one part (exportd.part_size plus a row) in
 * memory, plus its compressed form.
 * The SHA-256 covers the file's bytes (compressed when compressed); its state
 * goes into every checkpoint so a resumed run's checksum is the whole
 * file's.
 */
#ifndef EXPORTD_SINK_H
#define EXPORTD_SINK_H

#include <libdeflate.h>
#include <zstd.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/sha256.h"
#include "common/status.h"
#include "format/format.h"
#include "storage/storage.h"

struct sink {
	struct storage_upload *up;
	struct sha256 sha;
	long long file_bytes; /* bytes in the file so far */
	enum format_compression comp;
	int level;
	struct libdeflate_compressor *z; /* gzip */
	ZSTD_CCtx *zs;			 /* zstd */
	struct buf part;		 /* compressed: the part's uncompressed bytes */
	struct buf zout;		 /* compressed: the part compressed */
};

/* How a sink compresses: level is gzip's 1-9 or zstd's 1-19. */
struct sink_codec {
	enum format_compression comp;
	int level;
};

/* resume: NULL or the checkpoint (bytes, part) with sha_state the saved
 * checksum state.  EX_ENOTFOUND: the checkpointed data is gone. */
enum ex_status sink_open(struct sink *k, const struct config *cf, const char *key,
			 const struct sink_codec *codec, const struct storage_ckpt *resume,
			 const char *sha_state, struct buf *err) EX_MUST_CHECK;
enum ex_status sink_write(struct sink *k, const void *data, size_t len,
			  struct buf *err) EX_MUST_CHECK;
/* End the part (and the gzip member or zstd frame) and make it durable; fills the
 * checkpoint and the checksum state to store with it. */
enum ex_status sink_part_end(struct sink *k, struct storage_ckpt *ckpt,
			     char sha_state[SHA256_STATE_HEX + 1], struct buf *err) EX_MUST_CHECK;
/* After the last part_end: make the file final; checksum gets its sha256. */
enum ex_status sink_complete(struct sink *k, char checksum[65], struct buf *err) EX_MUST_CHECK;
/* Remove what was written (cancel). */
void sink_abort(struct sink *k);
void sink_close(struct sink *k);

#endif
