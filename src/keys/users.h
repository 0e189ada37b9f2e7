/* users.h - exportd_web_users: the web server's authenticated user names
 * (REMOTE_USER, with auth.remote_user on) mapped to a workspace and an
 * email; every statement about the table (sql/statements/users.sql), for
 * exportctl (add, remove, list) and the API (lookup). */
#ifndef EXPORTD_USERS_H
#define EXPORTD_USERS_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/status.h"

/* Add name, or change its workspace and email. */
enum ex_status users_add(PGconn *conn, const char *name, const char *workspace, const char *email,
			 struct buf *err) EX_MUST_CHECK;

/* EX_ENOTFOUND when there is no such user. */
enum ex_status users_remove(PGconn *conn, const char *name, struct buf *err) EX_MUST_CHECK;

/* Every user by name: remote_user, workspace, email, created_at. */
enum ex_status users_list(PGconn *conn, PGresult **res, struct buf *err) EX_MUST_CHECK;

/* name's workspace and email (pointing into *res, the caller's to
 * PQclear); EX_ENOTFOUND when name is not a user. */
enum ex_status users_lookup(PGconn *conn, const char *name, const char **workspace,
			    const char **email, PGresult **res, struct buf *err) EX_MUST_CHECK;

#endif
