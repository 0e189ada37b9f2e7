/* outbox.h - deliver queued mails (export_notifications), one at a time.
 *
 * The row is locked (FOR UPDATE SKIP LOCKED) in a transaction held open
 * while the SMTP server takes the message; its outcome is written in the
 * same transaction.  If the process dies mid-send, the transaction rolls
 * back and the mail is sent again later, so a mail is lost never and sent
 * twice only if the process dies between the server's "250 OK" and COMMIT.
 * The Message-ID is derived from the job, so even then a reader's client
 * sees the same message.
 */
#ifndef EXPORTD_OUTBOX_H
#define EXPORTD_OUTBOX_H

#include <libpq-fe.h>

#include "common/buf.h"
#include "common/conf.h"
#include "common/status.h"

/* Send the next due mail.  *sent_one = 0 when none was due.  EX_EDB when
 * the database failed (the caller reconnects); SMTP failures are recorded
 * on the row and are not errors here. */
enum ex_status outbox_deliver_next(PGconn *conn, const struct config *cf, int *sent_one,
				   struct buf *err) EX_MUST_CHECK;

#endif
