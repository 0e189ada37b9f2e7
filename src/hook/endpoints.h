/* endpoints.h - a workspace's webhook endpoints (export_webhooks, statements
 * in sql/statements/endpoints.sql; nothing else reads or writes the table
 * but the trigger of migration 014).  For the API (workspace-scoped) and
 * exportctl (any workspace).  Results are endpoint view rows, shown with
 * endpoints_json(); the signing secret is never read back. */
#ifndef EXPORTD_ENDPOINTS_H
#define EXPORTD_ENDPOINTS_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/status.h"

#define ENDPOINTS_URL_MAX    2048
#define ENDPOINTS_SECRET_LEN 70 /* "whsec_" + 64 hex digits */
#define ENDPOINTS_NEVENTS    4

/* The events an endpoint may ask for, in the order they are listed. */
extern const char *const endpoints_events[ENDPOINTS_NEVENTS];

/* Is name one of endpoints_events? */
int endpoints_event_valid(const char *name);

/* Can url be an endpoint under cf?  NULL when it can, else why not (a
 * constant phrase: "must use https", ...).  Where it resolves to is checked
 * at each delivery (src/hook/sender.c). */
const char *endpoints_url_problem(const struct config *cf, const char *url);

/* Register url for events[0..n) (valid, n >= 1) in workspace; secret gets
 * the new signing secret.  *res: the endpoint view row.  EX_ELIMIT when
 * the workspace has max endpoints already. */
enum ex_status endpoints_create(PGconn *conn, const char *workspace, long long max, const char *url,
				const char *const *events, size_t n,
				char secret[ENDPOINTS_SECRET_LEN + 1], PGresult **res,
				struct buf *err) EX_MUST_CHECK;
/* The workspace's endpoints, oldest first. */
enum ex_status endpoints_list(PGconn *conn, const char *workspace, PGresult **res,
			      struct buf *err) EX_MUST_CHECK;
/* Remove one (its deliveries go with it); EX_ENOTFOUND when the workspace
 * has no such endpoint.  *res: the removed endpoint's row. */
enum ex_status endpoints_delete(PGconn *conn, const char *workspace, const char *id, PGresult **res,
				struct buf *err) EX_MUST_CHECK;

/* exportctl: every workspace's endpoints (workspace NULL) or one's. */
enum ex_status endpoints_admin_list(PGconn *conn, const char *workspace, PGresult **res,
				    struct buf *err) EX_MUST_CHECK;
/* exportctl: remove one of any workspace; EX_ENOTFOUND when none has it. */
enum ex_status endpoints_admin_delete(PGconn *conn, const char *id, PGresult **res,
				      struct buf *err) EX_MUST_CHECK;

/* Row row of an endpoint view result as {"id", "url", "events",
 * "created_at"}, a new object (caller puts it). */
struct json_object *endpoints_json(const PGresult *res, int row);
/* The workspace of row row. */
const char *endpoints_workspace(const PGresult *res, int row);

#endif
