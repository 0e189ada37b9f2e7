/* backend.h - what a storage backend implements: the ops table and the
 * types it shares with storage.c.  Backends (local.c, s3.c) include this,
 * not storage.h, so that storage.c can choose among them without an
 * include cycle.  Callers use storage.h.
 */
#ifndef EXPORTD_BACKEND_H
#define EXPORTD_BACKEND_H

#include <stddef.h>

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

#endif
