/* router.h - match (method, REQUEST_URI) against a route table.  Pure.
 *
 * Routing uses the raw REQUEST_URI, which lighttpd, Apache and nginx all
 * pass the same way (SCRIPT_NAME/PATH_INFO differ between them).  The
 * configured base path is stripped first.  The table itself (which handler
 * serves which path) is the API's, in routes.c; this module only matches.
 */
#ifndef EXPORTD_ROUTER_H
#define EXPORTD_ROUTER_H

#include <stddef.h>

struct app;
struct auth;
struct http_request;

/* Methods, as a mask: a row serves one or more. */
enum router_method {
	ROUTER_GET = 1 << 0,
	ROUTER_HEAD = 1 << 1,
	ROUTER_POST = 1 << 2,
	ROUTER_DELETE = 1 << 3,
};

/* Who may call a route. */
enum router_access {
	ROUTER_STATIC,	    /* no key, no database (the widget's files) */
	ROUTER_OPEN,	    /* no key (liveness, metrics) */
	ROUTER_KEY,	    /* Authorization: Bearer <API key> */
	ROUTER_KEY_OR_LINK, /* a key, or ?token= from a signed mail link */
	ROUTER_KEY_JOB,	    /* as ROUTER_KEY; an API key's check reads job {id} along */
};

/* who: the caller's key, or NULL (an open route, or a valid signed link);
 * id: the {id} segment of the path, or "". */
struct router_route {
	const char *name; /* for logs and tests */
	const char *path; /* e.g. "/exports/{id}/download"; {id} is a job id */
	unsigned methods; /* enum router_method bits */
	enum router_access access;
	void (*handle)(struct app *app, struct http_request *r, const struct auth *who,
		       const char *id);
};

struct router_match {
	const struct router_route *route; /* NULL unless status is 0 */
	int status; /* 0: dispatch; 400 (method missing or not a token), 404 or 405: answer that */
	char allow[48]; /* 405: the path's methods, for Allow */
	char id[37];	/* the {id} segment */
};

/* method is REQUEST_METHOD (NULL or "" when absent: 400 before any path
 * is looked at); uri the raw REQUEST_URI. */
void router_match(const struct router_route *table, size_t n, const char *method, const char *uri,
		  const char *base_path, struct router_match *m);

/* Look up name in a query string ("a=1&b=x%20y"), percent-decoding the
 * value into out.  Returns 1 found, 0 absent, -1 malformed or too long. */
int router_query_get(const char *query, const char *name, char *out, size_t outsize);

#endif
