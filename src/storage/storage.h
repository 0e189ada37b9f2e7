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

/* The part of an upload that every backend has.  A backend's upload embeds
 * it as its first member (struct local_upload { struct storage_upload base;
 * ... }) and its ops get the base back: container_of by a cast of the first
 * member, the one conversion C guarantees. */
struct storage_upload {
	const struct storage_ops *ops;
	const struct config *cf; /* outlives the upload */
	long long bytes;	 /* bytes the object holds so far (S3: in parts sent) */
	int part;		 /* parts ended so far (S3: parts sent) */
};

/* How a complete object reaches a downloader. */
enum storage_handover_kind {
	/* A local file at where: the web server sends it (X-Sendfile,
	 * X-Accel-Redirect) or it is streamed from here. */
	STORAGE_HANDOVER_FILE,
	/* A URL that serves the object itself (a presigned S3 GET): the client
	 * is redirected to where. */
	STORAGE_HANDOVER_URL,
};

/* What the downloader is to be told about the file, for backends whose URL
 * makes the answer itself (S3's response-content-* parameters). */
struct storage_offer {
	const char *disposition;  /* Content-Disposition value */
	const char *content_type; /* Content-Type value */
};

struct storage_handover {
	enum storage_handover_kind kind;
	struct buf where; /* FILE: the absolute path; URL: the URL */
	long long size;	  /* FILE: its size in bytes */
};

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
	enum ex_status (*locate)(const struct config *cf, const char *key,
				 const struct storage_offer *offer, struct storage_handover *out,
				 struct buf *err);
};

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
