/* webhook.h - exportctl's webhook commands: add, list, remove (any
 * workspace's endpoints, hook/endpoints.h), deliveries (what failed or is
 * being retried) and redeliver (hook/deliveries.h). */
#ifndef EXPORTCTL_WEBHOOK_H
#define EXPORTCTL_WEBHOOK_H

#include "exportctl/ctl.h"

/* argv[0] is "webhook"; returns the exit status (2: usage). */
int ctl_webhook(struct ctl *c, int argc, char **argv);

#endif
