/* router.h - map (method, REQUEST_URI) to a route.  Pure.
 *
 * Routing uses the raw REQUEST_URI, which lighttpd, Apache and nginx all
 * pass the same way (SCRIPT_NAME/PATH_INFO differ between them).  The
 * configured base path is stripped first.
 */
#ifndef EXPORTD_ROUTER_H
#define EXPORTD_ROUTER_H

#include <stddef.h>

enum router_route {
	ROUTE_NONE,	/* 404 */
	ROUTE_HEALTHZ,	/* /healthz */
	ROUTE_EXPORTS,	/* /exports */
	ROUTE_EXPORT,	/* /exports/{id} */
	ROUTE_DOWNLOAD, /* /exports/{id}/download */
	ROUTE_METRICS,	/* /metrics */
};

struct router_match {
	enum router_route route;
	int status;	   /* 0: dispatch; 404 or 405: answer that */
	const char *allow; /* the route's methods, for 405's Allow header */
	char id[37];	   /* ROUTE_EXPORT / ROUTE_DOWNLOAD */
};

void router_match(const char *method, const char *uri, const char *base_path,
		  struct router_match *m);

/* Look up name in a query string ("a=1&b=x%20y"), percent-decoding the
 * value into out.  Returns 1 found, 0 absent, -1 malformed or too long. */
int router_query_get(const char *query, const char *name, char *out, size_t outsize);

#endif
