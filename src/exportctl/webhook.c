/* webhook.c - exportctl webhook ... (see webhook.h). */
#include "exportctl/webhook.h"

#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "hook/deliveries.h"
#include "hook/endpoints.h"
#include "jobs/jobs.h"

/* --events a,b,...: each valid, no repeats, into events; 0 (said on
 * stderr) when the list is not one. */
static int ctl_webhook_events(const char *list, char copy[256], const char **events, size_t *n)
{
	char *p, *comma;
	size_t i;

	*n = 0;
	if (snprintf(copy, 256, "%s", list) >= 256) {
		return 0;
	}
	for (p = copy; p != NULL; p = comma != NULL ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		if (comma != NULL) {
			*comma = '\0';
		}
		for (i = 0; i < *n && strcmp(events[i], p) != 0; i++) {
		}
		if (!endpoints_event_valid(p) || *n == ENDPOINTS_NEVENTS) {
			fprintf(stderr, "exportctl: --events: not an event: %s\n", p);
			return 0;
		}
		if (i == *n) {
			events[(*n)++] = p;
		}
	}
	return 1;
}

/* webhook add --workspace W [--events E,...] URL: URL last. */
static int ctl_webhook_add(struct ctl *c, int argc, char **argv)
{
	const char *ws = ctl_option(argc, argv, "--workspace");
	const char *list = ctl_option(argc, argv, "--events");
	const char *url = argv[argc - 1], *why, *events[ENDPOINTS_NEVENTS];
	char secret[ENDPOINTS_SECRET_LEN + 1], copy[256];
	PGresult *res = NULL;
	size_t n = ENDPOINTS_NEVENTS;

	if (ws == NULL || ws[0] == '\0' || argc != 5 + 2 * (list != NULL) || url[0] == '-') {
		fprintf(stderr,
			"exportctl: webhook add needs --workspace W [--events E,...] URL\n");
		return 2;
	}
	memcpy(events, endpoints_events, sizeof(events));
	if (list != NULL && !ctl_webhook_events(list, copy, events, &n)) {
		return 2;
	}
	why = endpoints_url_problem(&c->cf, url);
	if (why != NULL) {
		fprintf(stderr, "exportctl: the URL %s\n", why);
		return 2;
	}
	if (endpoints_create(c->conn, ws, c->cf.webhooks_max_per_workspace, url, events, n, secret,
			     &res, &c->err)) {
		return ctl_fail(c, "webhook add");
	}
	printf("%s\n", secret);
	fprintf(stderr,
		"webhook %s added for workspace %s; its signing secret is shown only once\n",
		db_text(res, 0, "id"), ws);
	PQclear(res);
	return 0;
}

static int ctl_webhook_remove(struct ctl *c, const char *id)
{
	PGresult *res = NULL;
	enum ex_status st;

	st = jobs_valid_id(id) ? endpoints_admin_delete(c->conn, id, &res, &c->err) : EX_ENOTFOUND;
	if (st == EX_ENOTFOUND) {
		fprintf(stderr, "exportctl: no such webhook: %s\n", id);
		return 1;
	}
	if (st) {
		return ctl_fail(c, "webhook remove");
	}
	printf("removed %s (%s)\n", id, db_text(res, 0, "url"));
	PQclear(res);
	return 0;
}

static int ctl_webhook_redeliver(struct ctl *c, const char *id)
{
	PGresult *res = NULL;
	enum ex_status st;

	st = jobs_valid_id(id) ? deliveries_admin_redeliver(c->conn, id, &res, &c->err)
			       : EX_ENOTFOUND;
	if (st == EX_ENOTFOUND) {
		fprintf(stderr, "exportctl: no such delivery: %s\n", id);
		return 1;
	}
	if (st) {
		return ctl_fail(c, "webhook redeliver");
	}
	printf("queued %s again (%s of job %s)\n", id, db_text(res, 0, "event"),
	       db_text(res, 0, "job_id"));
	PQclear(res);
	return 0;
}

int ctl_webhook(struct ctl *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	const char *ws = ctl_option(argc, argv, "--workspace");
	int json = ctl_flag(argc, argv, "--json");
	PGresult *res = NULL;
	enum ex_status st;

	if (strcmp(sub, "add") == 0) {
		return ctl_webhook_add(c, argc, argv);
	}
	if (strcmp(sub, "list") == 0) {
		st = endpoints_admin_list(c->conn, ws, &res, &c->err);
		return ctl_listing(c, st, res, json);
	}
	if (strcmp(sub, "deliveries") == 0) {
		st = deliveries_admin_list(c->conn, ws, ctl_flag(argc, argv, "--all"), &res,
					   &c->err);
		return ctl_listing(c, st, res, json);
	}
	if (strcmp(sub, "remove") == 0 && argc == 3) {
		return ctl_webhook_remove(c, argv[2]);
	}
	if (strcmp(sub, "redeliver") == 0 && argc == 3) {
		return ctl_webhook_redeliver(c, argv[2]);
	}
	return 2;
}
