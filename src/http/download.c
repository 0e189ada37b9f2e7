#include "http/download.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/hex.h"
#include "common/log.h"
#include "db/db.h"
#include "format/format.h"
#include "http/problem.h"
#include "http/range.h"
#include "jobs/jobs.h"
#include "storage/storage.h"

/* The file name offered to the user, <type>-<YYYYMMDD>.<ext>[.gz|.zst], and its
 * Content-Type.  Type names are restricted by the registry, but anything
 * outside [A-Za-z0-9_-] is replaced all the same. */
static void download_name(const PGresult *job, char *name, size_t size, const char **ctype)
{
	enum format_compression comp = FORMAT_PLAIN;
	const char *ext = "bin";
	struct jobs_view v;
	enum format_kind kind;
	size_t i;

	jobs_view_read(job, 0, &v);
	*ctype = "application/octet-stream";
	if (format_parse_kind(v.format, &kind) == EX_OK) {
		ext = format_extension(kind);
		*ctype = format_content_type(kind);
	}
	/* A compressed export is a .gz / .zst file, not a Content-Encoding:
	 * clients keep the bytes that were stored (and that the checksum is
	 * of). */
	if (format_parse_compression(v.compression, &comp) == EX_OK &&
	    format_compression_type(comp) != NULL) {
		*ctype = format_compression_type(comp);
	}
	snprintf(name, size, "%.100s-%s.%s%s", v.type, v.created_date, ext,
		 format_compression_suffix(comp));
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.')) {
			name[i] = '_';
		}
	}
}

/* Content-Type and Content-Disposition for the job's file. */
static void download_headers(const struct storage_offer *offer, char *out, size_t size)
{
	snprintf(out, size,
		 "Content-Type: %s\r\nContent-Disposition: %s\r\n"
		 "Cache-Control: private, no-store\r\n",
		 offer->content_type, offer->disposition);
}

/* The object is served elsewhere: a 302 to the URL the backend made,
 * which makes that server send our Content-Disposition and Content-Type. */
static void download_redirect(struct http_request *r, const struct storage_handover *h)
{
	char extra[16384];

	snprintf(extra, sizeof(extra), "Location: %s\r\nCache-Control: no-store\r\n",
		 buf_str(&h->where));
	request_head(r, 302, NULL, extra);
}

/* Repr-Digest (RFC 9530) and Digest (RFC 3230) header lines for the
 * job's checksum (sha256 hex), or "" when it has none. */
static void download_digest(const PGresult *job, char *out, size_t size)
{
	struct jobs_view v;
	const char *hex;
	unsigned char raw[32];
	char b64[64];
	size_t i;

	jobs_view_read(job, 0, &v);
	hex = v.checksum;
	out[0] = '\0';
	if (hex == NULL || strlen(hex) != 64 || hex_decode(hex, raw, sizeof(raw)) != EX_OK) {
		return;
	}
	if (crypto_b64url_encode(raw, sizeof(raw), b64, sizeof(b64) - 1) != EX_OK) {
		return;
	}
	/* base64url without padding -> base64: 32 bytes are 43 digits + "=". */
	for (i = 0; b64[i] != '\0'; i++) {
		if (b64[i] == '-') {
			b64[i] = '+';
		} else if (b64[i] == '_') {
			b64[i] = '/';
		}
	}
	snprintf(out, size, "Repr-Digest: sha-256=:%s=:\r\nDigest: sha-256=%s=\r\n", b64, b64);
}

/* The web server sends the file and passes our headers on, digest
 * included (it describes the whole file, so it holds for a 206 too). */
static void download_sendfile(struct app *app, struct http_request *r,
			      const struct storage_handover *obj, const char *key,
			      const char *headers, const char *digest)
{
	char extra[8192];

	if (app->cf->http_download == CONF_DOWNLOAD_XSENDFILE) {
		snprintf(extra, sizeof(extra), "%s%sX-Sendfile: %s\r\n", headers, digest,
			 buf_str(&obj->where));
	} else {
		snprintf(extra, sizeof(extra), "%s%sX-Accel-Redirect: %s/%s\r\n", headers, digest,
			 app->cf->http_accel_prefix, key);
	}
	request_head(r, 200, NULL, extra);
}

/* Web servers that ignore one of the two handover headers and send the
 * app's empty body as the answer instead (seen: nginx with X-Sendfile, a
 * 200 without a byte), by the start of the SERVER_SOFTWARE they pass, with
 * the one they act on.  Other servers are trusted with either. */
struct download_server {
	const char *software;
	enum conf_download acts_on;
};

static const struct download_server download_servers[] = {
	{"nginx", CONF_DOWNLOAD_XACCEL},
	{"lighttpd", CONF_DOWNLOAD_XSENDFILE},
	{"Apache", CONF_DOWNLOAD_XSENDFILE},
};

static const char *download_mode_name(int mode)
{
	return mode == CONF_DOWNLOAD_XSENDFILE ? "x-sendfile" : "x-accel-redirect";
}

/* The known server that passed software and ignores the header of mode, or NULL. */
static const struct download_server *download_ignored_by(int mode, const char *software)
{
	const struct download_server *s;
	size_t i;

	for (i = 0; i < sizeof(download_servers) / sizeof(download_servers[0]); i++) {
		s = &download_servers[i];
		if (strncasecmp(software, s->software, strlen(s->software)) == 0 &&
		    (int)s->acts_on != mode) {
			return s;
		}
	}
	return NULL;
}

/* A handover the web server would drop is a 500 and an error line naming
 * the setting, never an empty 200 (nor the storage path sent to the client). */
static int download_handover_refused(struct app *app, struct http_request *r)
{
	const struct download_server *s =
		download_ignored_by(app->cf->http_download, r->server_software);

	if (s == NULL) {
		return 0;
	}
	log_error("request %s: http.download = %s, but the web server (SERVER_SOFTWARE %.60s) "
		  "ignores that header and would send an empty body: set http.download = %s "
		  "(or stream)",
		  r->id, download_mode_name(app->cf->http_download), r->server_software,
		  download_mode_name(s->acts_on));
	problem_reply(r, 500, "download-misconfigured", "Internal Server Error",
		      "the server is not set up to send export files; its log says why", "");
	return 1;
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

/* digest goes on a 200 (and its HEAD), not on a 206. */
static void download_stream(struct app *app, struct http_request *r,
			    const struct storage_handover *obj, const char *headers,
			    const char *digest)
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
	fd = open(buf_str(&obj->where), O_RDONLY | O_CLOEXEC);
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
		snprintf(extra, sizeof(extra),
			 "%s%sAccept-Ranges: bytes\r\nContent-Length: %lld\r\n", headers, digest,
			 obj->size);
	}
	request_head(r, rr == RANGE_OK ? 206 : 200, NULL, extra);
	if (!r->head && obj->size > 0) {
		download_copy(app, r, fd, start, end);
	}
	close(fd);
}

/* The file offered: its name, type and headers; the handover itself. */
static void download_hand_over(struct app *app, struct http_request *r, const PGresult *job,
			       const char *key)
{
	char headers[1024], digest[256], name[160], disposition[256];
	struct storage_offer offer = {disposition, NULL};
	struct storage_handover h;
	struct buf err;
	enum ex_status st;

	storage_handover_init(&h);
	buf_init(&err, 2048);
	download_name(job, name, sizeof(name), &offer.content_type);
	snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s\"", name);
	st = storage_locate(app->cf, key, &offer, &h, &err);
	if (st == EX_ENOTFOUND) {
		problem_reply(r, 410, "gone", "Gone", "the export file is no longer available", "");
	} else if (st) {
		log_error("request %s: %s", r->id, buf_str(&err));
		problem_reply(r, 503, "unavailable", "Service Unavailable",
			      "the download link cannot be made right now; try again shortly",
			      "Retry-After: 5\r\n");
	} else if (h.kind == STORAGE_HANDOVER_URL) {
		download_redirect(r, &h);
	} else {
		download_headers(&offer, headers, sizeof(headers));
		download_digest(job, digest, sizeof(digest));
		if (app->cf->http_download == CONF_DOWNLOAD_STREAM) {
			download_stream(app, r, &h, headers, digest);
		} else if (!download_handover_refused(app, r)) {
			download_sendfile(app, r, &h, key, headers, digest);
		}
	}
	buf_free(&err);
	storage_handover_free(&h);
}

void download_serve(struct app *app, struct http_request *r, const PGresult *job)
{
	struct jobs_view v;
	const char *status, *key;
	char detail[160];

	jobs_view_read(job, 0, &v);
	status = v.status;
	key = v.file_key;
	if (strcmp(status, "expired") == 0) {
		problem_reply(r, 410, "expired", "Gone",
			      "this export has expired or was deleted, and its file was removed; "
			      "create a new export to get the data",
			      "");
		return;
	}
	if (strcmp(status, "complete") != 0) {
		snprintf(detail, sizeof(detail), "the export is %s, not complete", status);
		problem_reply(r, 409, "not-ready", "Export not ready", detail, "");
		return;
	}
	if (key == NULL) {
		problem_reply(r, 410, "gone", "Gone", "the export file is no longer available", "");
		return;
	}
	download_hand_over(app, r, job, key);
}
