/* xlsxjob.c - the job's workbook file in the work directory. */
#include "exportd/xlsxjob.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct xlsxjob {
	struct xlsx *x;
	char dir[PATH_MAX];
	char path[PATH_MAX];
	int fd; /* the finished workbook, read back; -1 before */
};

static enum ex_status xlsxjob_sys(struct buf *err, const char *what, const char *path)
{
	buf_msg(err, "%s %s: %s", what, path, strerror(errno));
	return EX_EIO;
}

/* export.work_dir, or storage.dir/.work, into dir; 0 when too long. */
static int xlsxjob_dir_path(const struct config *cf, char *dir, size_t size)
{
	int n = cf->work_dir[0] != '\0' ? snprintf(dir, size, "%s", cf->work_dir)
					: snprintf(dir, size, "%s/.work", cf->storage_dir);

	return n >= 0 && (size_t)n < size;
}

/* The work directory, made when missing (storage.dir too, as the local
 * backend would, when an S3 deployment has none). */
static enum ex_status xlsxjob_dir(struct xlsxjob *j, const struct config *cf, struct buf *err)
{
	if (!xlsxjob_dir_path(cf, j->dir, sizeof(j->dir))) {
		buf_msg(err, "%s", "export.work_dir: the path is too long");
		return EX_EINVAL;
	}
	if (cf->work_dir[0] == '\0' && mkdir(cf->storage_dir, 0750) != 0 && errno != EEXIST) {
		return xlsxjob_sys(err, "mkdir", cf->storage_dir);
	}
	if (mkdir(j->dir, 0700) != 0 && errno != EEXIST) {
		return xlsxjob_sys(err, "mkdir", j->dir);
	}
	return EX_OK;
}

enum ex_status xlsxjob_open(struct xlsxjob **out, const struct config *cf, const char *job_id,
			    const char *sheet, const struct format_column *columns, size_t ncolumns,
			    struct buf *err)
{
	struct xlsx_options o = {NULL, NULL, sheet, XLSX_SHEET_ROWS};
	struct xlsxjob *j = calloc(1, sizeof(*j));
	enum ex_status st;
	int n;

	*out = NULL;
	if (j == NULL) {
		return EX_ENOMEM;
	}
	j->fd = -1;
	st = xlsxjob_dir(j, cf, err);
	if (st) {
		goto out;
	}
	n = snprintf(j->path, sizeof(j->path), "%s/%s.xlsx", j->dir, job_id);
	if (n < 0 || (size_t)n >= sizeof(j->path)) {
		buf_msg(err, "%s", "export.work_dir: the path is too long");
		j->path[0] = '\0';
		st = EX_EINVAL;
		goto out;
	}
	o.path = j->path;
	o.tmpdir = j->dir;
	st = xlsx_open(&o, columns, ncolumns, &j->x, err);
out:
	if (st) {
		xlsxjob_close(j);
		return st;
	}
	*out = j;
	return EX_OK;
}

enum ex_status xlsxjob_row(struct xlsxjob *j, const struct format_field *fields, const char *key,
			   struct buf *err)
{
	return xlsx_row(j->x, fields, key, err);
}

enum ex_status xlsxjob_finish(struct xlsxjob *j, struct buf *err)
{
	enum ex_status st = xlsx_close(j->x, err);

	j->x = NULL;
	if (st) {
		return st;
	}
	j->fd = open(j->path, O_RDONLY | O_CLOEXEC);
	return j->fd < 0 ? xlsxjob_sys(err, "open", j->path) : EX_OK;
}

enum ex_status xlsxjob_read(struct xlsxjob *j, struct buf *out, size_t max, size_t *n,
			    struct buf *err)
{
	enum ex_status st = buf_reserve(out, max);
	ssize_t r;

	*n = 0;
	if (st) {
		buf_msg(err, "%s", "no memory to read the workbook back");
		return st;
	}
	do {
		r = read(j->fd, buf_tail(out), max);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		return xlsxjob_sys(err, "read", j->path);
	}
	*n = (size_t)r;
	return buf_extend(out, *n);
}

void xlsxjob_close(struct xlsxjob *j)
{
	if (j == NULL) {
		return;
	}
	xlsx_free(j->x);
	if (j->fd >= 0) {
		close(j->fd);
	}
	if (j->path[0] != '\0') {
		unlink(j->path);
	}
	free(j);
}

void xlsxjob_discard(const struct config *cf, const char *job_id)
{
	char dir[PATH_MAX], path[PATH_MAX];
	int n;

	if (!xlsxjob_dir_path(cf, dir, sizeof(dir))) {
		return;
	}
	n = snprintf(path, sizeof(path), "%s/%s.xlsx", dir, job_id);
	if (n > 0 && (size_t)n < sizeof(path)) {
		unlink(path);
	}
}
