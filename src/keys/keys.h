/* keys.h - api_keys: every statement about the table
 * (sql/statements/keys.sql), for exportctl (create, list, revoke) and the
 * API (lookup and last use of the key a request presents).  Ids and secret
 * hashes come from common/apikey.h; secrets never reach this module. */
#ifndef EXPORTD_KEYS_H
#define EXPORTD_KEYS_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/status.h"

/* May a key name workspace?  Refused (EX_EINVAL, err says for which type)
 * when, for any registered type, it casts to the tenant column's type but
 * is not that value's canonical text ("042" for an integer column): it
 * would read another spelling's tenant.  A workspace that does not cast for
 * a type ("acme" for an integer column) can never read that type's rows,
 * so it is allowed: those types are listed in unusable ("a, b"; empty when
 * none) for the caller to tell. */
enum ex_status keys_workspace_check(PGconn *conn, const char *workspace, struct buf *unusable,
				    struct buf *err) EX_MUST_CHECK;

/* Store a new key. */
enum ex_status keys_create(PGconn *conn, const char *id, const char *secret_hash,
			   const char *workspace, const char *email, struct buf *err) EX_MUST_CHECK;

/* Revoke a key (again is fine); EX_ENOTFOUND when there is no such id. */
enum ex_status keys_revoke(PGconn *conn, const char *id, struct buf *err) EX_MUST_CHECK;

/* Every key, or workspace's (NULL: all), oldest first: id, workspace,
 * email, created_at, revoked_at, last_used_at, named so for a table
 * header. */
enum ex_status keys_list(PGconn *conn, const char *workspace, PGresult **res,
			 struct buf *err) EX_MUST_CHECK;

/* A live key as a request's authentication needs it.  Strings point into
 * the PGresult of keys_lookup(). */
struct keys_entry {
	const char *secret_hash; /* for apikey_matches() */
	const char *workspace, *email;
	int stale_use; /* last use unrecorded for a minute: call keys_touch() */
};

/* The key with this id unless revoked; EX_ENOTFOUND when there is none.
 * *res (the caller's to PQclear) holds k's strings. */
enum ex_status keys_lookup(PGconn *conn, const char *id, struct keys_entry *k, PGresult **res,
			   struct buf *err) EX_MUST_CHECK;

/* The key columns of row 0 of res (keys_lookup()'s, or another statement
 * with the same columns) into *k; EX_EDB naming a missing column. */
enum ex_status keys_entry_read(const PGresult *res, struct keys_entry *k,
			       struct buf *err) EX_MUST_CHECK;

/* Record that the key was used now. */
enum ex_status keys_touch(PGconn *conn, const char *id, struct buf *err) EX_MUST_CHECK;

#endif
