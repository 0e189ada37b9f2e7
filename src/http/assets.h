/* assets.h - GET <base_path>/web/<file>: the browser widget (web/exportd.js,
 * web/exportd.css), compiled in by src/http/embed-assets.sh and served by
 * export.fcgi itself, with an ETag (304 on If-None-Match) and a cache
 * lifetime.  No key and no database. */
#ifndef EXPORTD_ASSETS_H
#define EXPORTD_ASSETS_H

#include <stddef.h>

struct app;
struct auth;
struct http_request;

struct assets_file {
	const char *name; /* "exportd.js" */
	const char *content_type;
	const char *etag; /* quoted */
	const char *data;
	size_t len;
};

/* Written by embed-assets.sh; read through assets_handle only. */
extern const struct assets_file assets_files[];
extern const unsigned assets_file_count;

/* The file the request's path ends with. */
void assets_handle(struct app *app, struct http_request *r, const struct auth *who, const char *id);

#endif
