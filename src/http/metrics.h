/* metrics.h - GET /metrics: Prometheus text exposition format 0.0.4,
 * from one query over export_jobs per scrape.  No API key (like
 * /healthz); restrict it at the web server where that matters. */
#ifndef EXPORTD_METRICS_H
#define EXPORTD_METRICS_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/status.h"
#include "http/handlers.h"

/* Answers the request whatever happens (503 when the query fails). */
void metrics_handle(struct app *app, struct http_request *r);

/* The exposition text for a jobs_metrics() row (jobs.h), appended to out. */
enum ex_status metrics_render(const PGresult *res, struct buf *out) EX_MUST_CHECK;

#endif
