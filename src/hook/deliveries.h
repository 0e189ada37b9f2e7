/* deliveries.h - the webhook outbox (export_webhook_deliveries, statements
 * in sql/statements/deliveries.sql): deliver due events one at a time,
 * and list or redeliver them for exportctl.
 *
 * As with mail (src/mail/outbox.h) the row is locked (FOR UPDATE SKIP
 * LOCKED) in a transaction held open while the endpoint answers, and the
 * outcome is written in that transaction.  If the process dies mid-request
 * the transaction rolls back and the event is sent again later with the
 * same event id: delivery is at least once, and receivers dedupe by
 * Exportd-Event-Id.
 *
 * The body is {"id": event id, "type": event, "created": when the status
 * changed, "data": the job as GET /exports/{id} shows it when sent}.
 * Network errors, timeouts, 5xx, 408 and 429 are retried with exponential
 * backoff and jitter (webhooks.retry_base doubling to webhooks.retry_max;
 * a Retry-After answer is honoured up to webhooks.retry_max) until
 * webhooks.horizon has passed since the event was queued; any other answer
 * but 2xx, and a refused target, is final. */
#ifndef EXPORTD_DELIVERIES_H
#define EXPORTD_DELIVERIES_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/status.h"

/* Deliver the next due event.  *sent_one = 0 when none was due.  EX_EDB
 * when the database failed (the caller reconnects); a failed request is
 * an outcome recorded on the row, not an error here. */
enum ex_status deliveries_deliver_next(PGconn *conn, const struct config *cf, int *sent_one,
				       struct buf *err) EX_MUST_CHECK;

/* exportctl: deliveries that failed or are being retried (all: every one),
 * of every workspace (workspace NULL) or one's, newest first; columns id,
 * job_id, event, status, attempts, last_status, last_error, url,
 * workspace, created_at, next_attempt_at. */
enum ex_status deliveries_admin_list(PGconn *conn, const char *workspace, int all, PGresult **res,
				     struct buf *err) EX_MUST_CHECK;

/* exportctl: make delivery id due at once with a fresh horizon (the same
 * event id); EX_ENOTFOUND when there is none.  Columns id, job_id, event. */
enum ex_status deliveries_admin_redeliver(PGconn *conn, const char *id, PGresult **res,
					  struct buf *err) EX_MUST_CHECK;

#endif
