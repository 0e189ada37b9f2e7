/* jobs.c - exportctl jobs list | show | retry | cancel | fail (jobs.h): what
 * an operator needs when something is stuck, each action recorded in the
 * job's history "by operator" (sql/statements/jobs.sql). */
#include "exportctl/jobs.h"

#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "jobs/jobs.h"
#include "storage/storage.h"

static int ctl_jobs_list(struct ctl *c, int argc, char **argv)
{
	struct jobs_filter f;
	PGresult *res = NULL;
	enum ex_status st;

	memset(&f, 0, sizeof(f));
	f.workspace = ctl_option(argc, argv, "--workspace");
	f.status = ctl_option(argc, argv, "--status");
	f.type = ctl_option(argc, argv, "--type");
	f.older_than = ctl_option(argc, argv, "--older-than");
	f.stuck = ctl_flag(argc, argv, "--stuck");
	st = jobs_admin_list(c->conn, &f, &res, &c->err);
	return ctl_listing(c, st, res, ctl_flag(argc, argv, "--json"));
}

/* Why an action found nothing to act on: no such job, or its state. */
static int ctl_jobs_refused(struct ctl *c, const char *action, const char *id,
			    const char *workspace)
{
	static const struct {
		const char *action, *needs;
	} allowed[] = {
		{"retry", "only failed or cancelled jobs can be retried"},
		{"cancel", "only pending or processing jobs can be cancelled"},
		{"fail",
		 "only pending jobs, or processing ones whose lease expired (stuck), can be "
		 "failed; cancel a running one instead"},
	};
	const char *status, *why = "";
	PGresult *res = NULL;
	size_t i;

	if (jobs_admin_show(c->conn, id, workspace, &res, &c->err)) {
		return ctl_fail(c, action);
	}
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		why = strcmp(allowed[i].action, action) == 0 ? allowed[i].needs : why;
	}
	if (PQntuples(res) == 0) {
		fprintf(stderr, "exportctl: jobs %s: no job %s%s%s\n", action, id,
			workspace != NULL ? " in workspace " : "",
			workspace != NULL ? workspace : "");
	} else {
		status = db_text(res, 0, "status");
		fprintf(stderr, "exportctl: jobs %s: job %s is %s%s: %s\n", action, id, status,
			strcmp(db_text(res, 0, "stuck"), "t") == 0 ? " (stuck)" : "", why);
	}
	PQclear(res);
	return 1;
}

static int ctl_jobs_act(struct ctl *c, enum jobs_admin_action a, int argc, char **argv)
{
	static const char *const names[] = {"retry", "cancel", "fail"};
	const char *id = argv[2], *ws = ctl_option(argc, argv, "--workspace");
	const char *reason = ctl_option(argc, argv, "--reason");
	char status[32];
	enum ex_status st;

	if (a == JOBS_ADMIN_FAIL && (reason == NULL || reason[0] == '\0')) {
		fprintf(stderr,
			"exportctl: jobs fail needs --reason TEXT (the requester sees it)\n");
		return 2;
	}
	st = jobs_admin_act(c->conn, a, id, ws, reason, status, sizeof(status), &c->err);
	if (st == EX_ENOTFOUND) {
		return ctl_jobs_refused(c, names[a], id, ws);
	}
	if (st) {
		return ctl_fail(c, names[a]);
	}
	printf("%s %s: %s\n", names[a], id, status);
	return 0;
}

static int ctl_jobs_show(struct ctl *c, int argc, char **argv)
{
	const char *ws = ctl_option(argc, argv, "--workspace");
	PGresult *res = NULL;

	if (jobs_admin_show(c->conn, argv[2], ws, &res, &c->err)) {
		return ctl_fail(c, "jobs show");
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		fprintf(stderr, "exportctl: jobs show: no job %s\n", argv[2]);
		return 1;
	}
	ctl_print_record(res, ctl_flag(argc, argv, "--json"));
	PQclear(res);
	return 0;
}

/* A finished export's file, removed as the janitor removes expired ones. */
static enum ex_status ctl_jobs_remove(const void *arg, const char *id, const char *file_key)
{
	const struct ctl *c = arg;
	struct buf err;
	enum ex_status st;

	if (file_key == NULL) {
		return EX_OK;
	}
	buf_init(&err, 4096);
	st = storage_remove(&c->cf, file_key, &err);
	if (st) {
		fprintf(stderr,
			"exportctl: jobs purge: job %s keeps its row: cannot remove %s: %s\n", id,
			file_key, buf_str(&err));
	}
	buf_free(&err);
	return st;
}

/* Finished jobs' files and rows, older than --before (see jobs.h). */
static int ctl_jobs_purge(struct ctl *c, int argc, char **argv)
{
	const char *before = ctl_option(argc, argv, "--before");
	const char *ws = ctl_option(argc, argv, "--workspace");
	int n = 1, expired = 0, deleted = 0;

	if (before == NULL) {
		fprintf(stderr, "exportctl: jobs purge needs --before DATE\n");
		return 2;
	}
	while (n > 0) {
		if (jobs_admin_expire_before(c->conn, before, ws, ctl_jobs_remove, c, &n,
					     &c->err)) {
			return ctl_fail(c, "jobs purge");
		}
		expired += n;
	}
	for (n = JOBS_FOLD_BATCH; n == JOBS_FOLD_BATCH;) {
		if (jobs_metrics_fold(c->conn, JOBS_FOLD_BATCH, &n, &c->err)) {
			return ctl_fail(c, "jobs purge");
		}
	}
	for (n = 1; n > 0; deleted += n) {
		if (jobs_admin_purge_batch(c->conn, before, ws, &n, &c->err)) {
			return ctl_fail(c, "jobs purge");
		}
	}
	printf("purged %d jobs (%d files removed)\n", deleted, expired);
	return 0;
}

int ctl_jobs(struct ctl *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	int has_id = argc > 2 && argv[2][0] != '-';

	if (strcmp(sub, "list") == 0) {
		return ctl_jobs_list(c, argc, argv);
	}
	if (strcmp(sub, "purge") == 0) {
		return ctl_jobs_purge(c, argc, argv);
	}
	if (!has_id) {
		return 2;
	}
	if (strcmp(sub, "show") == 0) {
		return ctl_jobs_show(c, argc, argv);
	}
	if (strcmp(sub, "retry") == 0) {
		return ctl_jobs_act(c, JOBS_ADMIN_RETRY, argc, argv);
	}
	if (strcmp(sub, "cancel") == 0) {
		return ctl_jobs_act(c, JOBS_ADMIN_CANCEL, argc, argv);
	}
	if (strcmp(sub, "fail") == 0) {
		return ctl_jobs_act(c, JOBS_ADMIN_FAIL, argc, argv);
	}
	return 2;
}
