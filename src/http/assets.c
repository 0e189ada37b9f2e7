/* assets.c - the widget's script and stylesheet (see assets.h). */
#include "http/assets.h"

#include <stdio.h>
#include <string.h>

#include "http/problem.h"
#include "http/request.h"

/* The last segment of the path, without the query. */
static const struct assets_file *assets_find(const char *uri)
{
	const char *q = strchr(uri, '?'), *end = q != NULL ? q : uri + strlen(uri), *s = end;
	unsigned i;

	while (s > uri && s[-1] != '/') {
		s--;
	}
	for (i = 0; i < assets_file_count; i++) {
		if (strlen(assets_files[i].name) == (size_t)(end - s) &&
		    memcmp(assets_files[i].name, s, (size_t)(end - s)) == 0) {
			return &assets_files[i];
		}
	}
	return NULL;
}

/* If-None-Match names the file's ETag (a list, or "*"). */
static int assets_fresh(const struct http_request *r, const struct assets_file *f)
{
	return r->if_none_match != NULL &&
	       (strstr(r->if_none_match, f->etag) != NULL || strcmp(r->if_none_match, "*") == 0);
}

void assets_handle(struct app *app, struct http_request *r, const struct auth *who, const char *id)
{
	const struct assets_file *f = assets_find(r->uri);
	char head[512];

	(void)app;
	(void)who;
	(void)id;
	if (f == NULL) {
		problem_reply(r, 404, "not-found", "Not Found", "no such route", "");
		return;
	}
	/* An hour, then revalidated: a new package's widget is picked up
	 * within the hour without a host page changing its tags. */
	snprintf(head, sizeof(head),
		 "ETag: %s\r\nCache-Control: public, max-age=3600\r\n"
		 "X-Content-Type-Options: nosniff\r\n",
		 f->etag);
	if (assets_fresh(r, f)) {
		request_head(r, 304, NULL, head);
		return;
	}
	snprintf(head + strlen(head), sizeof(head) - strlen(head), "Content-Length: %lld\r\n",
		 (long long)f->len);
	request_head(r, 200, f->content_type, head);
	request_write(r, f->data, f->len);
}
