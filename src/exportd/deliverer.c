/* deliverer.c - the webhook child process (see deliverer.h). */
#include "exportd/deliverer.h"

#include "common/log.h"
#include "db/db.h"
#include "exportd/child.h"
#include "hook/deliveries.h"
#include "hook/sender.h"

/* Deliver due events until none is left or the database fails. */
static long long deliverer_round(PGconn *conn, const struct config *cf, void *arg,
				 enum child_why why)
{
	(void)arg;
	(void)why;
	child_drain(conn, cf, deliveries_deliver_next, "webhooks");
	return cf->webhooks_poll_interval_ms;
}

int deliverer_main(const struct config *cf)
{
	static const struct child_loop loop = {.appname = "exportd-webhook",
					       .listen_sql = "LISTEN export_webhook",
					       .round = deliverer_round,
					       .session = 1};
	int rc;

	sender_global_init();
	log_info("webhook deliverer started");
	rc = child_run(cf, &loop);
	log_info("webhook deliverer stopped");
	return rc;
}
