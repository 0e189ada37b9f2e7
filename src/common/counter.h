/* counter.h - this process's event counters, waiting to be written to the
 * database (exportd_counters, migration 015) by whoever owns a connection
 * (src/exportd/stats.c).  Modules that cannot reach the database (storage,
 * mail) count here; the scrape (/metrics) adds every node's rows.
 *
 * A counter is a metric name and one label set, rendered as Prometheus
 * writes it ("" or `code="SlowDown"`).  The table is fixed-size: an event
 * whose counter does not fit is dropped and counted in counter_dropped(),
 * so memory stays bounded whatever the label values.  Not thread-safe:
 * exportd's processes are single-threaded. */
#ifndef EXPORTD_COUNTER_H
#define EXPORTD_COUNTER_H

#include <stddef.h>

/* What exportd's processes count (rendered by src/http/metrics.c). */
#define COUNTER_TAKEOVERS     "exportd_lease_takeovers_total"
#define COUNTER_RETRIES	      "exportd_job_retries_total"
#define COUNTER_QUEUE_LATENCY "exportd_queue_latency_seconds"
#define COUNTER_MAIL	      "exportd_mail_deliveries_total" /* outcome="sent|retried|failed" */
/* outcome="delivered|retried|failed" */
#define COUNTER_WEBHOOKS "exportd_webhook_deliveries_total"
#define COUNTER_S3_FAILURES                                                                        \
	"exportd_s3_request_failures_total" /* code="<S3 code|status|network>" */

/* The upper bounds of exportd_queue_latency_seconds, as label text. */
#define COUNTER_QUEUE_BOUNDS                                                                       \
	{                                                                                          \
		"0.1", "0.5", "1", "5", "15", "60", "300", "900", "3600"                           \
	}
#define COUNTER_QUEUE_NBOUNDS 9

#define COUNTER_MAX	   64
#define COUNTER_NAME_MAX   64
#define COUNTER_LABELS_MAX 96

struct counter {
	char metric[COUNTER_NAME_MAX];
	char labels[COUNTER_LABELS_MAX];
	double value; /* added since the last counter_commit() */
};

/* Add delta to metric{labels}.  labels: "" or name="value" pairs that the
 * caller made safe (counter_label() for values from outside). */
void counter_add(const char *metric, const char *labels, double delta);

/* Copy a label value into out (size >= 2) with every byte outside
 * [A-Za-z0-9_.-] replaced by '_' and at most size - 1 bytes; "" becomes
 * "unknown".  For values a remote server chose (S3 error codes). */
void counter_label(char *out, size_t size, const char *value, size_t len);

/* One observation of a histogram: metric_bucket{le="b"} for every bound
 * b >= value (bounds ascending, as their label text), +Inf, _sum, _count. */
void counter_observe(const char *metric, double value, const double *bounds,
		     const char *const *bound_labels, size_t nbounds);

/* Copy the counters with something to write into out (COUNTER_MAX of
 * them at most) and return how many. */
size_t counter_pending(struct counter *out);

/* out[0..n) from counter_pending() was written: subtract it (events added
 * since stay) and drop the counters that are now zero. */
void counter_commit(const struct counter *written, size_t n);

/* Events dropped because the table was full. */
unsigned long long counter_dropped(void);

/* Forget everything (tests, and a forked child that must not write its
 * parent's events twice). */
void counter_reset(void);

#endif
