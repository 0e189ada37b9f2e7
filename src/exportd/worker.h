/* worker.h - one exportd worker process: wait for jobs, claim, export. */
#ifndef EXPORTD_WORKER_H
#define EXPORTD_WORKER_H

#include "common/conf.h"

/* Runs until SIGTERM; returns the process exit status. */
int worker_main(const struct config *cf, int slot);

#endif
