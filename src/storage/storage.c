/* storage.c - dispatch to the configured backend's ops (see storage.h). */
#include "storage/storage.h"

#include "storage/local.h"
#include "storage/s3.h"

static const struct storage_ops *storage_backend(const struct config *cf)
{
	return cf->storage_backend == CONF_BACKEND_S3 ? &s3_ops : &local_ops;
}

enum ex_status storage_open(const struct config *cf, const char *key,
			    const struct storage_ckpt *resume, struct storage_upload **out,
			    struct buf *err)
{
	return storage_backend(cf)->open(cf, key, resume, out, err);
}

enum ex_status storage_write(struct storage_upload *up, const void *data, size_t len,
			     struct buf *err)
{
	return up->ops->write(up, data, len, err);
}

enum ex_status storage_part_end(struct storage_upload *up, struct storage_ckpt *ckpt,
				struct buf *err)
{
	return up->ops->part_end(up, ckpt, err);
}

enum ex_status storage_complete(struct storage_upload *up, struct buf *err)
{
	return up->ops->complete(up, err);
}

void storage_abort(struct storage_upload *up)
{
	up->ops->abort(up);
}

void storage_close(struct storage_upload *up)
{
	if (up != NULL) {
		up->ops->close(up);
	}
}

enum ex_status storage_remove(const struct config *cf, const char *key, struct buf *err)
{
	return storage_backend(cf)->remove(cf, key, err);
}

void storage_handover_init(struct storage_handover *h)
{
	h->kind = STORAGE_HANDOVER_FILE;
	/* A presigned URL is some 1-2 KiB; a local path at most PATH_MAX. */
	buf_init(&h->where, 8192);
	h->size = 0;
}

void storage_handover_free(struct storage_handover *h)
{
	buf_free(&h->where);
}

enum ex_status storage_locate(const struct config *cf, const char *key,
			      const struct storage_offer *offer, struct storage_handover *out,
			      struct buf *err)
{
	return storage_backend(cf)->locate(cf, key, offer, out, err);
}
