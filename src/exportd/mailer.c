#include "exportd/mailer.h"

#include "common/log.h"
#include "db/db.h"
#include "exportd/child.h"
#include "mail/outbox.h"
#include "mail/smtp.h"

/* Deliver due mails until none is left or the database fails. */
static void mailer_drain(PGconn *conn, const struct config *cf)
{
	struct buf err;
	int sent = 1;

	buf_init(&err, 4096);
	while (sent && !child_stop) {
		if (outbox_deliver_next(conn, cf, &sent, &err) != EX_OK) {
			log_warn("mailer: %s", buf_str(&err));
			break;
		}
	}
	buf_free(&err);
}

int mailer_main(const struct config *cf)
{
	PGconn *conn = NULL;

	child_init();
	smtp_global_init();
	log_info("mailer started");
	while (!child_stop) {
		if (!db_ok(conn)) {
			if (conn != NULL) {
				PQfinish(conn);
			}
			conn = child_connect(cf, "exportd-mailer", "LISTEN export_mail");
			continue;
		}
		mailer_drain(conn, cf);
		if (!child_stop && db_ok(conn)) {
			child_wait(conn, cf->mail_poll_interval_ms);
		}
	}
	if (conn != NULL) {
		PQfinish(conn);
	}
	log_info("mailer stopped");
	return 0;
}
