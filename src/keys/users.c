/* users.c - owns exportd_web_users: runs sql/statements/users.sql. */
#include "keys/users.h"

#include "db/db.h"
#include "keys/users_sql.h"

enum ex_status users_add(PGconn *conn, const char *name, const char *workspace, const char *email,
			 struct buf *err)
{
	const char *params[3] = {name, workspace, email};

	return db_exec(conn, users_add_sql, 3, params, NULL, err);
}

enum ex_status users_remove(PGconn *conn, const char *name, struct buf *err)
{
	const char *params[1] = {name};
	PGresult *res = NULL;
	enum ex_status st;

	st = db_exec(conn, users_remove_sql, 1, params, &res, err);
	if (st == EX_OK && PQntuples(res) == 0) {
		buf_msg(err, "no user \"%s\"", name);
		st = EX_ENOTFOUND;
	}
	PQclear(res);
	return st;
}

enum ex_status users_list(PGconn *conn, PGresult **res, struct buf *err)
{
	return db_exec(conn, users_list_sql, 0, NULL, res, err);
}

enum ex_status users_lookup(PGconn *conn, const char *name, const char **workspace,
			    const char **email, PGresult **res, struct buf *err)
{
	const char *params[1] = {name};
	enum ex_status st;

	st = db_exec(conn, users_lookup_sql, 1, params, res, err);
	if (st) {
		return st;
	}
	if (PQntuples(*res) == 0) {
		return EX_ENOTFOUND;
	}
	*workspace = db_text(*res, 0, "workspace");
	*email = db_text(*res, 0, "email");
	return EX_OK;
}
