#include "storage/local.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct storage_upload {
	const struct storage_ops *ops; /* first: see storage.c */
	int fd;
	long long bytes;
	int part;
	char path[4096]; /* final name */
	char tmp[4096];	 /* final name + ".part" */
	char dir[4096];
};

int local_valid_key(const char *key)
{
	const char *p;

	if (key[0] == '\0' || key[0] == '.' || strlen(key) > 255) {
		return 0;
	}
	for (p = key; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-')) {
			return 0;
		}
	}
	return 1;
}

static enum ex_status local_fail(struct buf *err, const char *what, const char *path)
{
	buf_msg(err, "%s %s: %s", what, path, strerror(errno));
	return EX_EIO;
}

static enum ex_status local_paths(const struct config *cf, const char *key,
				  struct storage_upload *up)
{
	int n;

	if (!local_valid_key(key)) {
		return EX_EINVAL;
	}
	snprintf(up->dir, sizeof(up->dir), "%s", cf->storage_dir);
	n = snprintf(up->tmp, sizeof(up->tmp), "%s/%s.part", cf->storage_dir, key);
	if (n < 0 || (size_t)n >= sizeof(up->path)) {
		return EX_ETOOBIG;
	}
	snprintf(up->path, sizeof(up->path), "%s/%s", cf->storage_dir, key);
	return EX_OK;
}

/* Resume: the .part file must hold at least the checkpointed bytes; what
 * lies past them was never checkpointed and is cut off. */
static enum ex_status local_resume(struct storage_upload *up, const struct storage_ckpt *ckpt,
				   struct buf *err)
{
	struct stat sb;

	if (fstat(up->fd, &sb) != 0) {
		return local_fail(err, "stat", up->tmp);
	}
	if (sb.st_size < ckpt->bytes) {
		buf_msg(err, "%s holds %lld bytes, checkpoint says %lld", up->tmp,
			(long long)sb.st_size, ckpt->bytes);
		return EX_ENOTFOUND;
	}
	if (ftruncate(up->fd, ckpt->bytes) != 0 || lseek(up->fd, ckpt->bytes, SEEK_SET) < 0) {
		return local_fail(err, "truncate", up->tmp);
	}
	up->bytes = ckpt->bytes;
	up->part = ckpt->part;
	return EX_OK;
}

static enum ex_status local_open(const struct config *cf, const char *key,
				 const struct storage_ckpt *resume, struct storage_upload **out,
				 struct buf *err)
{
	int resuming = resume != NULL && resume->bytes > 0;
	struct storage_upload *up = calloc(1, sizeof(*up));
	enum ex_status st;

	if (up == NULL) {
		return EX_ENOMEM;
	}
	up->ops = &local_ops;
	up->fd = -1;
	st = local_paths(cf, key, up);
	if (st != EX_OK) {
		goto out;
	}
	if (mkdir(cf->storage_dir, 0750) != 0 && errno != EEXIST) {
		st = local_fail(err, "mkdir", cf->storage_dir);
		goto out;
	}
	up->fd = open(up->tmp, O_WRONLY | O_CREAT | O_CLOEXEC | (resuming ? 0 : O_TRUNC), 0640);
	if (up->fd < 0) {
		st = resuming && errno == ENOENT ? EX_ENOTFOUND : local_fail(err, "open", up->tmp);
		goto out;
	}
	if (resuming) {
		st = local_resume(up, resume, err);
	}
out:
	if (st != EX_OK) {
		local_ops.close(up);
		up = NULL;
	}
	*out = up;
	return st;
}

static enum ex_status local_write(struct storage_upload *up, const void *data, size_t len,
				  struct buf *err)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(up->fd, p, len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return local_fail(err, "write", up->tmp);
		}
		p += n;
		len -= (size_t)n;
		up->bytes += n;
	}
	return EX_OK;
}

static enum ex_status local_part_end(struct storage_upload *up, struct storage_ckpt *ckpt,
				     struct buf *err)
{
	if (fdatasync(up->fd) != 0) {
		return local_fail(err, "fsync", up->tmp);
	}
	up->part++;
	ckpt->bytes = up->bytes;
	ckpt->part = up->part;
	ckpt->state = NULL;
	ckpt->durable = 1;
	return EX_OK;
}

static enum ex_status local_sync_dir(const char *dir, struct buf *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0) {
		return local_fail(err, "open", dir);
	}
	rc = fsync(fd);
	close(fd);
	return rc == 0 ? EX_OK : local_fail(err, "fsync", dir);
}

static enum ex_status local_complete(struct storage_upload *up, struct buf *err)
{
	if (fsync(up->fd) != 0) {
		return local_fail(err, "fsync", up->tmp);
	}
	if (rename(up->tmp, up->path) != 0) {
		return local_fail(err, "rename", up->tmp);
	}
	return local_sync_dir(up->dir, err);
}

static void local_abort(struct storage_upload *up)
{
	unlink(up->tmp);
}

static void local_close(struct storage_upload *up)
{
	if (up->fd >= 0) {
		close(up->fd);
	}
	free(up);
}

static enum ex_status local_remove(const struct config *cf, const char *key, struct buf *err)
{
	struct storage_upload up;
	enum ex_status st = local_paths(cf, key, &up);

	if (st != EX_OK) {
		return st;
	}
	if (unlink(up.path) != 0 && errno != ENOENT) {
		return local_fail(err, "unlink", up.path);
	}
	if (unlink(up.tmp) != 0 && errno != ENOENT) {
		return local_fail(err, "unlink", up.tmp);
	}
	return EX_OK;
}

enum ex_status local_locate(const struct config *cf, const char *key, struct storage_object *out)
{
	struct stat sb;
	int n;

	if (!local_valid_key(key)) {
		return EX_EINVAL;
	}
	n = snprintf(out->path, sizeof(out->path), "%s/%s", cf->storage_dir, key);
	if (n < 0 || (size_t)n >= sizeof(out->path)) {
		return EX_ETOOBIG;
	}
	if (stat(out->path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		return EX_ENOTFOUND;
	}
	out->size = (long long)sb.st_size;
	return EX_OK;
}

const struct storage_ops local_ops = {
	.open = local_open,
	.write = local_write,
	.part_end = local_part_end,
	.complete = local_complete,
	.abort = local_abort,
	.close = local_close,
	.remove = local_remove,
};
