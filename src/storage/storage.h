/* storage.h - where finished exports live: one interface, per-backend ops.
 *
 * An upload is written as a sequence of parts.  Bytes go in with
 * storage_write(); storage_part_end() makes everything written so far
 * durable (local: fsync; S3: the part is uploaded) and fills a checkpoint
 * that storage_open() can resume from after a crash.  storage_complete()
 * makes the object final and visible; storage_abort() removes what was
 * written.  Both leave the upload to be released by storage_close().
 */
#ifndef EXPORTD_STORAGE_H
#define EXPORTD_STORAGE_H

#include "common/buf.h"
#include "common/conf.h"
#include "common/status.h"

struct storage_ckpt {
	long long bytes; /* bytes durable in the object so far */
	int part;	 /* parts durable so far */
	/* Backend state (JSON) to keep with the checkpoint, or NULL.  From
	 * part_end it points into the upload, valid until the upload's next
	 * call; for open it is the stored state. */
	const char *state;
	/* From part_end: 1 when the part is durable and the checkpoint may be
	 * taken; 0 when the backend kept it to send with the next (an S3 part
	 * must be 5 MiB unless it is the last, and gzip parts can be smaller). */
	int durable;
};

struct storage_upload;

struct storage_ops {
	enum ex_status (*open)(const struct config *cf, const char *key,
			       const struct storage_ckpt *resume, struct storage_upload **out,
			       struct buf *err);
	enum ex_status (*write)(struct storage_upload *up, const void *data, size_t len,
				struct buf *err);
	enum ex_status (*part_end)(struct storage_upload *up, struct storage_ckpt *ckpt,
				   struct buf *err);
	enum ex_status (*complete)(struct storage_upload *up, struct buf *err);
	void (*abort)(struct storage_upload *up);
	void (*close)(struct storage_upload *up);
	enum ex_status (*remove)(const struct config *cf, const char *key, struct buf *err);
};

/* How to hand a stored object to a downloader. */
struct storage_object {
	char path[4096]; /* local: absolute file path */
	long long size;
};

/* The ops for the configured backend. */
const struct storage_ops *storage_backend(const struct config *cf);

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
/* Find a complete object for download; EX_ENOTFOUND when it is gone. */
enum ex_status storage_locate(const struct config *cf, const char *key,
			      struct storage_object *out) EX_MUST_CHECK;

#endif
