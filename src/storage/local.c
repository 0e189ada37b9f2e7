/* local.c - local-disk storage (see local.h). */
#include "storage/local.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCAL_PATH_MAX 4096 /* PATH_MAX: no longer name can be opened */

struct local_upload {
	struct storage_upload base; /* first: see storage.h */
	int fd;
	char path[LOCAL_PATH_MAX]; /* final name */
	char tmp[LOCAL_PATH_MAX];  /* final name + ".part" */
};

static struct local_upload *local_of(struct storage_upload *up)
{
	return (struct local_upload *)(void *)up;
}

static int local_valid_key(const char *key)
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

/* <storage.dir>/<key><suffix> into out; EX_EINVAL for a key that is not a
 * file name, EX_ETOOBIG for a path too long to open. */
static enum ex_status local_name(const struct config *cf, const char *key, const char *suffix,
				 char out[LOCAL_PATH_MAX])
{
	int n;

	if (!local_valid_key(key)) {
		return EX_EINVAL;
	}
	n = snprintf(out, LOCAL_PATH_MAX, "%s/%s%s", cf->storage_dir, key, suffix);
	if (n < 0 || n >= LOCAL_PATH_MAX) {
		return EX_ETOOBIG;
	}
	return EX_OK;
}

static enum ex_status local_paths(const struct config *cf, const char *key,
				  char path[LOCAL_PATH_MAX], char tmp[LOCAL_PATH_MAX])
{
	enum ex_status st = local_name(cf, key, ".part", tmp);

	if (st) {
		return st;
	}
	return local_name(cf, key, "", path);
}

/* Resume: the .part file must hold at least the checkpointed bytes; what
 * lies past them was never checkpointed and is cut off. */
static enum ex_status local_resume(struct local_upload *up, const struct storage_ckpt *ckpt,
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
	up->base.bytes = ckpt->bytes;
	up->base.part = ckpt->part;
	return EX_OK;
}

/* The file-permission model: export files get storage.file_mode exactly
 * (whatever the umask) and storage.file_group, so that the web server's
 * group can read them for X-Sendfile / X-Accel-Redirect.  Changing the
 * group needs exportd's user to be in it (or a setgid directory instead). */
static enum ex_status local_permissions(const struct config *cf, int fd, const char *path,
					struct buf *err)
{
	if (cf->storage_file_gid >= 0 && fchown(fd, (uid_t)-1, (gid_t)cf->storage_file_gid) != 0) {
		buf_msg(err, "chown %s to group %s: %s (exportd's user must be a member)", path,
			cf->storage_file_group, strerror(errno));
		return EX_EIO;
	}
	if (fchmod(fd, (mode_t)cf->storage_file_mode) != 0) {
		return local_fail(err, "chmod", path);
	}
	return EX_OK;
}

/* storage.dir, when missing: 0750, with storage.file_group as its group
 * when set, so that the group's members can reach the files. */
static enum ex_status local_mkdir(const struct config *cf, struct buf *err)
{
	int fd;
	enum ex_status st = EX_OK;

	if (mkdir(cf->storage_dir, 0750) != 0) {
		return errno == EEXIST ? EX_OK : local_fail(err, "mkdir", cf->storage_dir);
	}
	if (cf->storage_file_gid < 0) {
		return EX_OK;
	}
	fd = open(cf->storage_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fchown(fd, (uid_t)-1, (gid_t)cf->storage_file_gid) != 0 ||
	    fchmod(fd, 0750) != 0) {
		st = local_fail(err, "chown/chmod", cf->storage_dir);
	}
	if (fd >= 0) {
		close(fd);
	}
	return st;
}

static enum ex_status local_open(const struct config *cf, const char *key,
				 const struct storage_ckpt *resume, struct storage_upload **out,
				 struct buf *err)
{
	int resuming = resume != NULL && resume->bytes > 0;
	struct local_upload *up = calloc(1, sizeof(*up));
	enum ex_status st;

	*out = NULL;
	if (up == NULL) {
		return EX_ENOMEM;
	}
	up->base.ops = &local_ops;
	up->base.cf = cf;
	up->fd = -1;
	st = local_paths(cf, key, up->path, up->tmp);
	if (st) {
		goto out;
	}
	st = local_mkdir(cf, err);
	if (st) {
		goto out;
	}
	up->fd = open(up->tmp, O_WRONLY | O_CREAT | O_CLOEXEC | (resuming ? 0 : O_TRUNC),
		      (mode_t)cf->storage_file_mode);
	if (up->fd < 0) {
		st = resuming && errno == ENOENT ? EX_ENOTFOUND : local_fail(err, "open", up->tmp);
		goto out;
	}
	st = local_permissions(cf, up->fd, up->tmp, err);
	if (st) {
		goto out;
	}
	if (resuming) {
		st = local_resume(up, resume, err);
		if (st) {
			goto out;
		}
	}
	*out = &up->base;
	up = NULL;
out:
	if (up != NULL) {
		local_ops.close(&up->base);
	}
	return st;
}

static enum ex_status local_write(struct storage_upload *base, const void *data, size_t len,
				  struct buf *err)
{
	struct local_upload *up = local_of(base);
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
		base->bytes += n;
	}
	return EX_OK;
}

static enum ex_status local_part_end(struct storage_upload *base, struct storage_ckpt *ckpt,
				     struct buf *err)
{
	struct local_upload *up = local_of(base);

	if (fdatasync(up->fd) != 0) {
		return local_fail(err, "fsync", up->tmp);
	}
	base->part++;
	ckpt->bytes = base->bytes;
	ckpt->part = base->part;
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

static enum ex_status local_complete(struct storage_upload *base, struct buf *err)
{
	struct local_upload *up = local_of(base);

	if (fsync(up->fd) != 0) {
		return local_fail(err, "fsync", up->tmp);
	}
	if (rename(up->tmp, up->path) != 0) {
		return local_fail(err, "rename", up->tmp);
	}
	return local_sync_dir(base->cf->storage_dir, err);
}

static void local_abort(struct storage_upload *base)
{
	unlink(local_of(base)->tmp);
}

static void local_close(struct storage_upload *base)
{
	struct local_upload *up = local_of(base);

	if (up->fd >= 0) {
		close(up->fd);
	}
	free(up);
}

static enum ex_status local_remove(const struct config *cf, const char *key, struct buf *err)
{
	char path[LOCAL_PATH_MAX], tmp[LOCAL_PATH_MAX];
	enum ex_status st = local_paths(cf, key, path, tmp);

	if (st) {
		return st;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		return local_fail(err, "unlink", path);
	}
	if (unlink(tmp) != 0 && errno != ENOENT) {
		return local_fail(err, "unlink", tmp);
	}
	return EX_OK;
}

/* The file itself; a key that names no file is as gone as a missing one. */
static enum ex_status local_locate(const struct config *cf, const char *key,
				   const struct storage_offer *offer, struct storage_handover *out,
				   struct buf *err)
{
	char path[LOCAL_PATH_MAX];
	struct stat sb;

	(void)offer; /* the web server or download.c writes the headers */
	(void)err;
	if (local_name(cf, key, "", path) != EX_OK) {
		return EX_ENOTFOUND;
	}
	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		return EX_ENOTFOUND;
	}
	buf_reset(&out->where);
	if (buf_puts(&out->where, path) != EX_OK) {
		return EX_ENOTFOUND;
	}
	out->kind = STORAGE_HANDOVER_FILE;
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
	.locate = local_locate,
};
