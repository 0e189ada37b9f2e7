/* keys.c - owns api_keys: runs sql/statements/keys.sql. */
#include "keys/keys.h"

#include <stddef.h>
#include <string.h>

#include "db/db.h"
#include "keys/keys_sql.h"

#define KEYS_ENTRY(name, kind, member)                                                             \
	{                                                                                          \
		name, kind, offsetof(struct keys_entry, member)                                    \
	}
static const struct db_field keys_entry_fields[] = {
	KEYS_ENTRY("secret_hash", DB_TEXT, secret_hash),
	KEYS_ENTRY("workspace", DB_TEXT, workspace),
	KEYS_ENTRY("email", DB_TEXT, email),
	KEYS_ENTRY("stale_use", DB_BOOL, stale_use),
};
#define KEYS_NFIELDS (sizeof(keys_entry_fields) / sizeof(keys_entry_fields[0]))

/* The refusal for row i of keys_workspace_types: an alias of a tenant. */
static void keys_alias(const PGresult *res, int i, const char *workspace, struct buf *err)
{
	buf_msg(err,
		"workspace \"%s\" is not the canonical text of type %s's tenant column (%s): "
		"that tenant is spelled \"%s\"",
		workspace, db_text(res, i, "name"), db_text(res, i, "column_type"),
		db_text(res, i, "canonical"));
}

enum ex_status keys_workspace_check(PGconn *conn, const char *workspace, struct buf *unusable,
				    struct buf *err)
{
	const char *params[1] = {workspace};
	PGresult *res = NULL;
	enum ex_status st;
	int i;

	st = db_exec(conn, keys_workspace_types_sql, 1, params, &res, err);
	if (st) {
		return st;
	}
	/* Aliases come first (ORDER BY canonical IS NULL). */
	if (PQntuples(res) > 0 && db_text(res, 0, "canonical") != NULL) {
		keys_alias(res, 0, workspace, err);
		st = EX_EINVAL;
		goto out;
	}
	for (i = 0; i < PQntuples(res); i++) {
		st = buf_printf(unusable, "%s%s", i > 0 ? ", " : "", db_text(res, i, "name"));
		if (st) {
			goto out;
		}
	}
out:
	PQclear(res);
	return st;
}

enum ex_status keys_create(PGconn *conn, const char *id, const char *secret_hash,
			   const char *workspace, const char *email, struct buf *err)
{
	const char *params[4] = {id, secret_hash, workspace, email};

	return db_exec(conn, keys_create_sql, 4, params, NULL, err);
}

enum ex_status keys_revoke(PGconn *conn, const char *id, struct buf *err)
{
	const char *params[1] = {id};
	PGresult *res = NULL;
	enum ex_status st;

	st = db_exec(conn, keys_revoke_sql, 1, params, &res, err);
	if (st) {
		return st;
	}
	st = PQntuples(res) == 0 ? EX_ENOTFOUND : EX_OK;
	PQclear(res);
	return st;
}

enum ex_status keys_list(PGconn *conn, const char *workspace, PGresult **res, struct buf *err)
{
	const char *params[1] = {workspace};

	return db_exec(conn, keys_list_sql, 1, params, res, err);
}

enum ex_status keys_lookup(PGconn *conn, const char *id, struct keys_entry *k, PGresult **res,
			   struct buf *err)
{
	const char *params[1] = {id};
	enum ex_status st;

	memset(k, 0, sizeof(*k));
	st = db_exec(conn, keys_lookup_sql, 1, params, res, err);
	if (st) {
		return st;
	}
	if (PQntuples(*res) != 1) {
		st = EX_ENOTFOUND;
		goto fail;
	}
	st = keys_entry_read(*res, k, err);
	if (st) {
		goto fail;
	}
	return EX_OK;
fail:
	PQclear(*res);
	*res = NULL;
	return st;
}

enum ex_status keys_entry_read(const PGresult *res, struct keys_entry *k, struct buf *err)
{
	enum ex_status st;

	memset(k, 0, sizeof(*k));
	st = db_fields_check(res, keys_entry_fields, KEYS_NFIELDS, err);
	if (st) {
		return st;
	}
	return db_fields_read(res, 0, keys_entry_fields, KEYS_NFIELDS, k);
}

enum ex_status keys_touch(PGconn *conn, const char *id, struct buf *err)
{
	const char *params[1] = {id};

	return db_exec(conn, keys_touch_sql, 1, params, NULL, err);
}
