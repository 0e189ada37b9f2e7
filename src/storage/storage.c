#include "storage/storage.h"

#include "storage/local.h"
#include "storage/s3.h"

/* The upload remembers its ops so callers need not. */
struct storage_upload_head {
	const struct storage_ops *ops;
};

const struct storage_ops *storage_backend(const struct config *cf)
{
	return cf->storage_backend == CONF_BACKEND_S3 ? &s3_ops : &local_ops;
}

enum ex_status storage_open(const struct config *cf, const char *key,
			    const struct storage_ckpt *resume, struct storage_upload **out,
			    struct buf *err)
{
	return storage_backend(cf)->open(cf, key, resume, out, err);
}

static const struct storage_ops *storage_ops_of(struct storage_upload *up)
{
	return ((struct storage_upload_head *)(void *)up)->ops;
}

enum ex_status storage_write(struct storage_upload *up, const void *data, size_t len,
			     struct buf *err)
{
	return storage_ops_of(up)->write(up, data, len, err);
}

enum ex_status storage_part_end(struct storage_upload *up, struct storage_ckpt *ckpt,
				struct buf *err)
{
	return storage_ops_of(up)->part_end(up, ckpt, err);
}

enum ex_status storage_complete(struct storage_upload *up, struct buf *err)
{
	return storage_ops_of(up)->complete(up, err);
}

void storage_abort(struct storage_upload *up)
{
	storage_ops_of(up)->abort(up);
}

void storage_close(struct storage_upload *up)
{
	if (up != NULL) {
		storage_ops_of(up)->close(up);
	}
}

enum ex_status storage_remove(const struct config *cf, const char *key, struct buf *err)
{
	return storage_backend(cf)->remove(cf, key, err);
}

enum ex_status storage_locate(const struct config *cf, const char *key, struct storage_object *out)
{
	return local_locate(cf, key, out);
}
