#include "exportd/mailer.h"

#include "common/log.h"
#include "db/db.h"
#include "exportd/child.h"
#include "mail/outbox.h"
#include "mail/smtp.h"

/* Deliver due mails until none is left or the database fails. */
static long long mailer_round(PGconn *conn, const struct config *cf, void *arg, enum child_why why)
{
	(void)arg;
	(void)why;
	child_drain(conn, cf, outbox_deliver_next, "mailer");
	return cf->mail_poll_interval_ms;
}

int mailer_main(const struct config *cf)
{
	static const struct child_loop loop = {.appname = "exportd-mailer",
					       .listen_sql = "LISTEN export_mail",
					       .round = mailer_round,
					       .session = 1};
	int rc;

	smtp_global_init();
	log_info("mailer started");
	rc = child_run(cf, &loop);
	log_info("mailer stopped");
	return rc;
}
