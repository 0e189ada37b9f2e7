/* jobjson.h - a job view row (jobs.h) as the API's JSON object. */
#ifndef EXPORTD_JOBJSON_H
#define EXPORTD_JOBJSON_H

#include <json-c/json.h>
#include <libpq-fe.h>

/* New object (caller puts it); base is the API's base path for links. */
struct json_object *jobjson_from_row(const PGresult *res, int row, const char *base);

#endif
