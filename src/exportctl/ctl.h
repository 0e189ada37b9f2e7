/* ctl.h - what exportctl's commands share: the connection, the config,
 * argument lookup, and printing results (TSV for people, JSON for
 * scripts). */
#ifndef EXPORTCTL_CTL_H
#define EXPORTCTL_CTL_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/status.h"

struct ctl {
	struct config cf;
	PGconn *conn;
	struct buf err;
};

/* "--name VALUE" in argv; NULL when absent. */
const char *ctl_option(int argc, char **argv, const char *name);
/* Is the bare flag "--name" in argv? */
int ctl_flag(int argc, char **argv, const char *name);
/* "exportctl: what: <c->err>" on stderr; returns the exit status 1. */
int ctl_fail(struct ctl *c, const char *what);
/* A result as tab-separated lines under a header, or (json) as a JSON
 * array of objects, one per row, typed by column (numbers, booleans,
 * json/jsonb as themselves, NULL as null); frees res.  A failed st is
 * reported instead.  Returns the exit status. */
int ctl_listing(struct ctl *c, enum ex_status st, PGresult *res, int json);
/* Row 0 of res as "name: value" lines, or (json) one JSON object. */
void ctl_print_record(const PGresult *res, int json);

#endif
