/* exportd - the export worker daemon. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/conf.h"
#include "common/log.h"
#include "exportd/supervisor.h"

static void usage(FILE *to)
{
	fprintf(to, "usage: exportd [-c CONFIG]\n"
		    "Runs the export workers in the foreground; SIGTERM stops, SIGHUP reloads.\n"
		    "CONFIG defaults to $EXPORTD_CONFIG, then " CONF_DEFAULT_PATH ".\n");
}

/* Load the config; on failure log why. */
static enum ex_status main_load_conf(struct config *cf, const char *path)
{
	struct buf err;
	enum ex_status st;

	buf_init(&err, 4096);
	st = conf_load(cf, path, &err);
	if (st) {
		log_error("%s", buf_str(&err));
	}
	buf_free(&err);
	return st;
}

int main(int argc, char **argv)
{
	const char *arg = NULL, *path;
	struct config cf;
	enum ex_status st;
	int opt, rc;

	while ((opt = getopt(argc, argv, "c:hV")) != -1) {
		switch (opt) {
		case 'c':
			arg = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("exportd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	log_init("exportd", LOG_INFO);
	path = conf_path(arg);
	st = main_load_conf(&cf, path);
	if (st) {
		return 1;
	}
	log_set_level((enum log_level)cf.log_level);
	rc = supervisor_run(&cf, path);
	conf_free(&cf);
	return rc;
}
