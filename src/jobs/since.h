/* since.h - the cursor of an incremental export (README "Incremental
 * exports"): opaque to clients, versioned, bound to one type and one
 * workspace.
 *
 *	"c1." base64url(JSON ["<type>", "<workspace>", "<at>", "<key>" | null])
 *
 * at is a timestamptz as PostgreSQL prints it in a UTC session, key the
 * row key's text.  The cursor says: every change up to and including
 * (at, key) in (change time, key) order is covered; with key null, every
 * change before at (the ones at exactly at are read again).  Not signed:
 * it only narrows what a workspace reads of its own rows, and every query
 * stays scoped to the key's workspace.
 */
#ifndef EXPORTD_SINCE_H
#define EXPORTD_SINCE_H

#include "common/buf.h"
#include "common/status.h"

#define SINCE_MAX 4096 /* bytes of a cursor (export_jobs.since's CHECK) */

struct since_cursor {
	char *type, *workspace;
	char *at;  /* the change time, timestamptz text */
	char *key; /* NULL: the rows changed at `at` are not covered */
};

/* The cursor of (type, workspace, at, key) into out (reset first);
 * EX_ETOOBIG past SINCE_MAX, EX_EINVAL for an empty type, workspace or at
 * (no cursor holds one). */
enum ex_status since_encode(const char *type, const char *workspace, const char *at,
			    const char *key, struct buf *out) EX_MUST_CHECK;
/* Decode text into c (since_free it, even on failure); EX_EINVAL with a
 * reason in err when it is no cursor of this version. */
enum ex_status since_decode(const char *text, struct since_cursor *c,
			    struct buf *err) EX_MUST_CHECK;
/* A decoded cursor used for (type, workspace): EX_EINVAL, err saying
 * which, when it was given out for another. */
enum ex_status since_check(const struct since_cursor *c, const char *type, const char *workspace,
			   struct buf *err) EX_MUST_CHECK;
void since_free(struct since_cursor *c);

#endif
