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
	st = conf_load_logged(&cf, path);
	if (st) {
		return 1;
	}
	log_set_level((enum log_level)cf.log_level);
	rc = supervisor_run(&cf, path);
	conf_free(&cf);
	return rc;
}
