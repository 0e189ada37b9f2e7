/* jobjson.h - a job view row (jobs.h) as the API's JSON object. */
#ifndef EXPORTD_JOBJSON_H
#define EXPORTD_JOBJSON_H

#include <json-c/json.h>
#include <libpq-fe.h>

#include "jobs/jobs.h"

/* New object (caller puts it); base is the API's base path for links. */
struct json_object *jobjson_from_row(const PGresult *res, int row, const char *base);

/* A workspace's usage against its limits (README "Quotas"), a new object:
 * {"active", "creates_per_hour", "retained_files", "retained_bytes"}, each
 * {"used": n, "limit": n | null (none)}. */
struct json_object *jobjson_quota(const struct jobs_usage *u, const struct jobs_limits *l);
/* The member of that object quota q is; NULL for JOBS_QUOTA_NONE. */
const char *jobjson_quota_name(enum jobs_quota q);

#endif
