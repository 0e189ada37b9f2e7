/* storage.h - where finished exports live: one interface, per-backend ops.
 *
 * An upload is written as a sequence of parts.  Bytes go in with
 * storage_write(); storage_part_end() makes everything written so far
 * durable (local: fsync; S3: the part is uploaded) and fills a checkpoint
 * that storage_open() can resume from after a crash.  storage_complete()
 * makes the object final and visible; storage_abort() removes what was
 * written.  Both leave the upload to be released by storage_close().
 * storage_locate() says how a complete object is handed to a downloader, so
 * callers never name a backend.
 */
#ifndef EXPORTD_STORAGE_H
#define EXPORTD_STORAGE_H

#include "common/buf.h"
#include "common/conf.h"
#include "common/status.h"
#include "storage/backend.h"

/* Open a new upload (resume NULL or zero) or resume one from a checkpoint;
 * EX_ENOTFOUND when the checkpointed data is gone (start over). */
enum ex_status storage_open(const struct config *cf, const char *key,
			    const struct storage_ckpt *resume, struct storage_upload **out,
			    struct buf *err) EX_MUST_CHECK;
enum ex_status storage_write(struct storage_upload *up, const void *data, size_t len,
			     struct buf *err) EX_MUST_CHECK;
enum ex_status storage_part_end(struct storage_upload *up, struct storage_ckpt *ckpt,
				struct buf *err) EX_MUST_CHECK;
enum ex_status storage_complete(struct storage_upload *up, struct buf *err) EX_MUST_CHECK;
void storage_abort(struct storage_upload *up);
/* Release the handle (does not remove anything).  up may be NULL. */
void storage_close(struct storage_upload *up);
enum ex_status storage_remove(const struct config *cf, const char *key,
			      struct buf *err) EX_MUST_CHECK;

/* Ready (empty) and release a handover. */
void storage_handover_init(struct storage_handover *h);
void storage_handover_free(struct storage_handover *h);
/* How to hand the complete object key to a downloader, told offer.
 * EX_ENOTFOUND when it is gone (or key cannot name one); any other failure
 * means it cannot be handed over right now, and err says why. */
enum ex_status storage_locate(const struct config *cf, const char *key,
			      const struct storage_offer *offer, struct storage_handover *out,
			      struct buf *err) EX_MUST_CHECK;

#endif
