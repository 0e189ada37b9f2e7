/* doctor.h - exportctl doctor: checks a deployment end to end, one line
 * per check (ok / warn / FAIL and what to do). */
#ifndef EXPORTCTL_DOCTOR_H
#define EXPORTCTL_DOCTOR_H

#include "exportctl/ctl.h"

/* c->conn is the admin connection (may be NULL: it failed to connect,
 * path names the config).  Returns 0 (all ok), 1 (warnings) or 2
 * (failures). */
int ctl_doctor(struct ctl *c, const char *path);

#endif
