#include "http/download.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "db/db.h"
#include "format/format.h"
#include "http/problem.h"
#include "http/range.h"
#include "jobs/jobs.h"
#include "storage/storage.h"

/* Content-Type and Content-Disposition for the job's file.  The name is
 * <type>-<YYYYMMDD>.<ext>; type names are restricted by the registry, but
 * anything outside [A-Za-z0-9_-] is replaced all the same. */
static void download_headers(const PGresult *job, char *out, size_t size)
{
	char name[160];
	const char *type = PQgetvalue(job, 0, JOBS_VIEW_TYPE), *ctype = "application/octet-stream";
	const char *ext = "bin";
	enum format_kind kind;
	size_t i;

	if (format_parse_kind(PQgetvalue(job, 0, JOBS_VIEW_FORMAT), &kind) == EX_OK) {
		ext = format_extension(kind);
		ctype = format_content_type(kind);
	}
	snprintf(name, sizeof(name), "%.100s-%s.%s", type, PQgetvalue(job, 0, JOBS_VIEW_DATE), ext);
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.')) {
			name[i] = '_';
		}
	}
	snprintf(out, size,
		 "Content-Type: %s\r\nContent-Disposition: attachment; filename=\"%s\"\r\n"
		 "Cache-Control: private, no-store\r\n",
		 ctype, name);
}

static void download_sendfile(struct app *app, struct http_request *r,
			      const struct storage_object *obj, const char *key,
			      const char *headers)
{
	char extra[8192];

	if (app->cf->http_download == CONF_DOWNLOAD_XSENDFILE) {
		snprintf(extra, sizeof(extra), "%sX-Sendfile: %s\r\n", headers, obj->path);
	} else {
		snprintf(extra, sizeof(extra), "%sX-Accel-Redirect: %s/%s\r\n", headers,
			 app->cf->http_accel_prefix, key);
	}
	request_head(r, 200, NULL, extra);
}

/* Copy [start, end] of fd to the client in stream_chunk pieces. */
static void download_copy(struct app *app, struct http_request *r, int fd, long long start,
			  long long end)
{
	size_t chunk = (size_t)app->cf->http_stream_chunk;
	char *b = malloc(chunk);
	long long left = end - start + 1;
	ssize_t n;

	if (b == NULL) {
		return;
	}
	while (left > 0) {
		n = pread(fd, b, (size_t)left < chunk ? (size_t)left : chunk, start);
		if (n <= 0) {
			log_error("request %s: read error while streaming: %s", r->id,
				  n < 0 ? strerror(errno) : "file shrank");
			break;
		}
		if (FCGX_PutStr(b, (int)n, r->fcgi->out) < 0) {
			break; /* client went away */
		}
		start += n;
		left -= n;
	}
	free(b);
}

static void download_stream(struct app *app, struct http_request *r,
			    const struct storage_object *obj, const char *headers)
{
	long long start = 0, end = obj->size - 1;
	enum range_result rr = range_parse(r->range, obj->size, &start, &end);
	char extra[8192], detail[128];
	int fd;

	if (rr == RANGE_UNSATISFIABLE) {
		snprintf(extra, sizeof(extra), "Content-Range: bytes */%lld\r\n", obj->size);
		snprintf(detail, sizeof(detail), "the file has %lld bytes", obj->size);
		problem_reply(r, 416, "range-not-satisfiable", "Range Not Satisfiable", detail,
			      extra);
		return;
	}
	fd = open(obj->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		problem_reply(r, 410, "gone", "Gone", "the export file is no longer available", "");
		return;
	}
	if (rr == RANGE_OK) {
		snprintf(extra, sizeof(extra),
			 "%sAccept-Ranges: bytes\r\nContent-Length: %lld\r\n"
			 "Content-Range: bytes %lld-%lld/%lld\r\n",
			 headers, end - start + 1, start, end, obj->size);
	} else {
		snprintf(extra, sizeof(extra), "%sAccept-Ranges: bytes\r\nContent-Length: %lld\r\n",
			 headers, obj->size);
	}
	request_head(r, rr == RANGE_OK ? 206 : 200, NULL, extra);
	if (!r->head && obj->size > 0) {
		download_copy(app, r, fd, start, end);
	}
	close(fd);
}

void download_serve(struct app *app, struct http_request *r, const PGresult *job)
{
	const char *status = PQgetvalue(job, 0, JOBS_VIEW_STATUS);
	const char *key = db_value(job, 0, JOBS_VIEW_FILE_KEY);
	struct storage_object obj;
	char headers[1024], detail[160];

	if (strcmp(status, "expired") == 0) {
		problem_reply(
			r, 410, "expired", "Gone",
			"this export has expired and its file was removed; create a new export",
			"");
		return;
	}
	if (strcmp(status, "complete") != 0) {
		snprintf(detail, sizeof(detail), "the export is %s, not complete", status);
		problem_reply(r, 409, "not-ready", "Export not ready", detail, "");
		return;
	}
	if (key == NULL || storage_locate(app->cf, key, &obj) != EX_OK) {
		problem_reply(r, 410, "gone", "Gone", "the export file is no longer available", "");
		return;
	}
	download_headers(job, headers, sizeof(headers));
	if (app->cf->http_download == CONF_DOWNLOAD_STREAM) {
		download_stream(app, r, &obj, headers);
	} else {
		download_sendfile(app, r, &obj, key, headers);
	}
}
