/* metrics.h - GET /metrics: Prometheus text exposition format 0.0.4,
 * from one query over export_jobs per scrape.  No API key (like
 * /healthz); restrict it at the web server where that matters. */
#ifndef EXPORTD_METRICS_H
#define EXPORTD_METRICS_H

#include "http/app.h"
#include "http/request.h"

/* Answers the request whatever happens: 503 when the query fails, 500 when
 * the text does not fit its buffer.  A route handler (routes.c). */
void metrics_handle(struct app *app, struct http_request *r, const struct auth *who,
		    const char *id);

#endif
