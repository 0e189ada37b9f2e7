/* exportctl - migrations, API keys and job administration. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportctl/ctl.h"
#include "exportctl/doctor.h"
#include "exportctl/jobs.h"
#include "exportctl/webhook.h"

#include "common/apikey.h"
#include "common/conf.h"
#include "common/log.h"
#include "db/db.h"
#include "db/migrate.h"
#include "mail/address.h"
#include "jobs/jobs.h"
#include "keys/keys.h"
#include "keys/users.h"

static void usage(FILE *to)
{
	fprintf(to,
		"usage: exportctl [-c CONFIG] COMMAND ...\n"
		"  migrate                                   apply database migrations\n"
		"  apikey create --workspace W --email E     create a key (printed once)\n"
		"  apikey revoke KEY_OR_ID                   revoke a key\n"
		"  apikey list [--workspace W] [--json]      list keys (ids, never secrets)\n"
		"  jobs list [--workspace W] [--status S] [--type T] [--older-than INTERVAL]\n"
		"            [--stuck] [--json]              list recent jobs\n"
		"  jobs show ID [--workspace W] [--json]     one job in full, with its internals\n"
		"  jobs retry ID [--workspace W]             run a failed/cancelled job again\n"
		"  jobs cancel ID [--workspace W]            cancel a pending/processing job\n"
		"  jobs fail ID --reason TEXT [--workspace W]  fail a pending or stuck job\n"
		"  user add --workspace W --email E NAME     map a web server user (REMOTE_USER)\n"
		"  user remove NAME                          remove a web server user\n"
		"  user list [--json]                        list web server users\n"
		"  quota [--workspace W] [--json]            usage against the quotas\n"
		"  type grant TYPE                           let exportd read what TYPE exposes\n"
		"  webhook add --workspace W [--events E,...] URL  register an endpoint (secret\n"
		"                                            printed once)\n"
		"  webhook list [--workspace W] [--json]     list endpoints (never secrets)\n"
		"  webhook remove ID                         remove an endpoint\n"
		"  webhook deliveries [--workspace W] [--all] [--json]  failed or retrying\n"
		"                                            deliveries (--all: every one)\n"
		"  webhook redeliver ID                      send a delivery again (same event "
		"id)\n"
		"  config check                              validate and print the config\n"
		"  doctor                                    check the deployment end to end\n");
}

static int ctl_migrate(struct ctl *c)
{
	int applied = 0;

	if (migrate_run(c->conn, &applied, &c->err)) {
		return ctl_fail(c, "migrate");
	}
	printf("migrations: %d applied, %u known\n", applied, migrate_count);
	return 0;
}

/* May ws be a key's workspace (keys/keys.h)?  0: yes, said on stderr
 * when some types can never be read with it; else the exit status. */
static int ctl_workspace_check(struct ctl *c, const char *ws)
{
	struct buf unusable;
	int rc = 0;

	buf_init(&unusable, 4096);
	if (keys_workspace_check(c->conn, ws, &unusable, &c->err)) {
		rc = ctl_fail(c, "apikey create");
		goto out;
	}
	if (unusable.len > 0) {
		fprintf(stderr,
			"exportctl: note: workspace %s does not cast to the tenant column of "
			"type(s) %s: this key cannot export them\n",
			ws, buf_str(&unusable));
	}
out:
	buf_free(&unusable);
	return rc;
}

static int ctl_apikey_create(struct ctl *c, int argc, char **argv)
{
	const char *ws = ctl_option(argc, argv, "--workspace");
	const char *email = ctl_option(argc, argv, "--email");
	char text[APIKEY_LEN + 1], hash[CRYPTO_SHA256_HEX_LEN + 1];
	struct apikey key;
	int rc;

	if (ws == NULL || email == NULL || ws[0] == '\0') {
		fprintf(stderr, "exportctl: apikey create needs --workspace W and --email E\n");
		return 2;
	}
	if (!address_valid(email)) {
		fprintf(stderr, "exportctl: --email: not an address mail can be sent to: %s\n",
			email);
		return 2;
	}
	rc = ctl_workspace_check(c, ws);
	if (rc) {
		return rc;
	}
	if (apikey_generate(&key, text)) {
		fprintf(stderr, "exportctl: cannot read random bytes\n");
		return 1;
	}
	apikey_hash(&key, hash);
	if (keys_create(c->conn, key.id, hash, ws, email, &c->err)) {
		return ctl_fail(c, "apikey create");
	}
	printf("%s\n", text);
	fprintf(stderr, "key %s created for workspace %s (%s); it is shown only once\n", key.id, ws,
		email);
	return 0;
}

static int ctl_apikey_revoke(struct ctl *c, const char *arg)
{
	struct apikey key;
	const char *id = apikey_parse(arg, &key) == EX_OK ? key.id : arg;
	enum ex_status st;

	st = keys_revoke(c->conn, id, &c->err);
	if (st == EX_ENOTFOUND) {
		fprintf(stderr, "exportctl: no such key: %s\n", id);
		return 1;
	}
	if (st) {
		return ctl_fail(c, "apikey revoke");
	}
	printf("revoked %s\n", id);
	return 0;
}

static int ctl_apikey_list(struct ctl *c, int argc, char **argv)
{
	PGresult *res = NULL;
	enum ex_status st;

	st = keys_list(c->conn, ctl_option(argc, argv, "--workspace"), &res, &c->err);
	return ctl_listing(c, st, res, ctl_flag(argc, argv, "--json"));
}

/* user add --workspace W --email E NAME: NAME last, as the web server
 * spells it (auth.remote_user). */
static int ctl_user_add(struct ctl *c, int argc, char **argv)
{
	const char *ws = ctl_option(argc, argv, "--workspace");
	const char *email = ctl_option(argc, argv, "--email");
	const char *name = argv[argc - 1];
	int rc;

	if (ws == NULL || email == NULL || ws[0] == '\0' || argc != 7 || name[0] == '\0' ||
	    name[0] == '-') {
		fprintf(stderr, "exportctl: user add needs --workspace W --email E NAME\n");
		return 2;
	}
	if (!address_valid(email)) {
		fprintf(stderr, "exportctl: --email: not an address mail can be sent to: %s\n",
			email);
		return 2;
	}
	rc = ctl_workspace_check(c, ws);
	if (rc) {
		return rc;
	}
	if (users_add(c->conn, name, ws, email, &c->err)) {
		return ctl_fail(c, "user add");
	}
	printf("user %s: workspace %s, %s\n", name, ws, email);
	return 0;
}

static int ctl_user_remove(struct ctl *c, const char *name)
{
	enum ex_status st = users_remove(c->conn, name, &c->err);

	if (st == EX_ENOTFOUND) {
		fprintf(stderr, "exportctl: no such user: %s\n", name);
		return 1;
	}
	if (st) {
		return ctl_fail(c, "user remove");
	}
	printf("removed %s\n", name);
	return 0;
}

static int ctl_user_list(struct ctl *c, int argc, char **argv)
{
	PGresult *res = NULL;
	enum ex_status st;

	st = users_list(c->conn, &res, &c->err);
	return ctl_listing(c, st, res, ctl_flag(argc, argv, "--json"));
}

/* Each workspace's usage against the limits of this config (README
 * "Quotas"): the ones export.fcgi enforces when it reads the same file. */
static int ctl_quota(struct ctl *c, int argc, char **argv)
{
	struct jobs_limits l;
	PGresult *res = NULL;
	enum ex_status st;

	jobs_limits_from(&c->cf, &l);
	st = jobs_admin_quota(c->conn, ctl_option(argc, argv, "--workspace"), &l, &res, &c->err);
	return ctl_listing(c, st, res, ctl_flag(argc, argv, "--json"));
}

/* The grants live in SQL (exportd_type_grant, sql/migrations/005_roles.sql)
 * so that the documented statement and this command are one code path. */
static int ctl_type_grant(struct ctl *c, const char *type)
{
	const char *params[1] = {type};
	const char *granted;
	PGresult *res = NULL;

	if (db_exec(c->conn, "SELECT exportd_type_grant($1) AS granted", 1, params, &res,
		    &c->err)) {
		return ctl_fail(c, "type grant");
	}
	granted = db_text(res, 0, "granted");
	printf("%s\n", granted != NULL ? granted : "");
	PQclear(res);
	return 0;
}

static int ctl_config_check(struct ctl *c)
{
	struct buf out;
	int rc = 0;

	buf_init(&out, 64 * 1024UL);
	if (conf_dump(&c->cf, &out)) {
		rc = 1;
	}
	fputs(buf_str(&out), stdout);
	buf_free(&out);
	return rc;
}

static int ctl_dispatch(struct ctl *c, int argc, char **argv)
{
	const char *cmd = argv[0], *sub = argc > 1 ? argv[1] : "";
	int rc;

	if (strcmp(cmd, "migrate") == 0) {
		return ctl_migrate(c);
	}
	if (strcmp(cmd, "apikey") == 0 && strcmp(sub, "create") == 0) {
		return ctl_apikey_create(c, argc, argv);
	}
	if (strcmp(cmd, "apikey") == 0 && strcmp(sub, "revoke") == 0 && argc == 3) {
		return ctl_apikey_revoke(c, argv[2]);
	}
	if (strcmp(cmd, "apikey") == 0 && strcmp(sub, "list") == 0) {
		return ctl_apikey_list(c, argc, argv);
	}
	if (strcmp(cmd, "user") == 0 && strcmp(sub, "add") == 0) {
		return ctl_user_add(c, argc, argv);
	}
	if (strcmp(cmd, "user") == 0 && strcmp(sub, "remove") == 0 && argc == 3) {
		return ctl_user_remove(c, argv[2]);
	}
	if (strcmp(cmd, "user") == 0 && strcmp(sub, "list") == 0) {
		return ctl_user_list(c, argc, argv);
	}
	if (strcmp(cmd, "jobs") == 0 && (rc = ctl_jobs(c, argc, argv)) != 2) {
		return rc;
	}
	if (strcmp(cmd, "webhook") == 0 && (rc = ctl_webhook(c, argc, argv)) != 2) {
		return rc;
	}
	if (strcmp(cmd, "quota") == 0) {
		return ctl_quota(c, argc, argv);
	}
	if (strcmp(cmd, "type") == 0 && strcmp(sub, "grant") == 0 && argc == 3) {
		return ctl_type_grant(c, argv[2]);
	}
	usage(stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct ctl c;
	const char *arg = NULL;
	int opt, rc;

	while ((opt = getopt(argc, argv, "+c:h")) != -1) {
		if (opt == 'c') {
			arg = optarg;
		} else {
			usage(opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	log_init("exportctl", LOG_INFO);
	memset(&c, 0, sizeof(c));
	buf_init(&c.err, 8192);
	if (conf_load(&c.cf, conf_path(arg), &c.err)) {
		rc = ctl_fail(&c, "config");
		goto out;
	}
	if (strcmp(argv[optind], "config") == 0) {
		rc = ctl_config_check(&c);
		goto out;
	}
	if (db_connect(c.cf.db_admin_url, "exportctl", &c.conn, &c.err)) {
		if (strcmp(argv[optind], "doctor") == 0) {
			rc = ctl_doctor(&c,
					conf_path(arg)); /* says what failed, and checks no more */
			goto out;
		}
		rc = ctl_fail(&c, "database");
		goto out;
	}
	if (strcmp(argv[optind], "doctor") == 0) {
		rc = ctl_doctor(&c, conf_path(arg));
		goto out;
	}
	rc = ctl_dispatch(&c, argc - optind, argv + optind);
out:
	if (c.conn != NULL) {
		PQfinish(c.conn);
	}
	conf_free(&c.cf);
	buf_free(&c.err);
	return rc;
}
