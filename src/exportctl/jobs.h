/* jobs.h - exportctl's job commands: list, show, retry, cancel, fail. */
#ifndef EXPORTCTL_JOBS_H
#define EXPORTCTL_JOBS_H

#include "exportctl/ctl.h"

/* argv[0] is "jobs"; returns the exit status (2: usage). */
int ctl_jobs(struct ctl *c, int argc, char **argv);

#endif
