/* sink.h - where formatted bytes go: (gzip) -> checksum -> storage.
 *
 * With gzip each part is one gzip member, so a file cut at a part boundary
 * and continued is byte-identical to one written in one go, and the
 * concatenated members are one valid gzip file.  A part is compressed whole
 * with libdeflate (about twice zlib's speed at a slightly better ratio on
 * CSV, measured), so gzip holds one part (exportd.part_size plus a row) in
 * memory.
 * The SHA-256 covers the file's bytes (compressed when gzip); its state
 * goes into every checkpoint so a resumed run's checksum is the whole
 * file's.
 */
#ifndef EXPORTD_SINK_H
#define EXPORTD_SINK_H

#include <libdeflate.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/sha256.h"
#include "common/status.h"
#include "storage/storage.h"

struct sink {
	struct storage_upload *up;
	struct sha256 sha;
	long long file_bytes; /* bytes in the file so far */
	int gzip;
	struct libdeflate_compressor *z;
	struct buf part; /* gzip: the part's uncompressed bytes */
	struct buf zout; /* gzip: the part compressed */
};

/* resume: NULL or the checkpoint (bytes, part) with sha_state the saved
 * checksum state.  EX_ENOTFOUND: the checkpointed data is gone.  gzip: the
 * level (1-9); 0 for no compression. */
enum ex_status sink_open(struct sink *k, const struct config *cf, const char *key, int gzip,
			 const struct storage_ckpt *resume, const char *sha_state,
			 struct buf *err) EX_MUST_CHECK;
enum ex_status sink_write(struct sink *k, const void *data, size_t len,
			  struct buf *err) EX_MUST_CHECK;
/* End the part (and the gzip member) and make it durable; fills the
 * checkpoint and the checksum state to store with it. */
enum ex_status sink_part_end(struct sink *k, struct storage_ckpt *ckpt,
			     char sha_state[SHA256_STATE_HEX + 1], struct buf *err) EX_MUST_CHECK;
/* After the last part_end: make the file final; checksum gets its sha256. */
enum ex_status sink_complete(struct sink *k, char checksum[65], struct buf *err) EX_MUST_CHECK;
/* Remove what was written (cancel). */
void sink_abort(struct sink *k);
void sink_close(struct sink *k);

#endif
