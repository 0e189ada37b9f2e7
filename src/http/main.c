/* export.fcgi - the exportd HTTP API as a FastCGI responder.
 *
 * Single-threaded; run several processes under spawn-fcgi.  Each keeps one
 * PostgreSQL connection, reconnecting when it breaks.  Config from
 * $EXPORTD_CONFIG (or the default path).
 */
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "http/dispatch.h"
#include "http/request.h"

static volatile sig_atomic_t main_stop, main_busy;

/* An idle process (waiting for a connection, or for a client's
 * parameters) exits right here; one in the middle of a request finishes it
 * first. */
static void main_on_term(int sig)
{
	(void)sig;
	if (!main_busy) {
		_exit(0);
	}
	main_stop = 1;
}

int main(int argc, char **argv)
{
	struct config cf;
	struct app app;
	struct http_request r;
	FCGX_Request fcgi;
	struct sigaction sa;
	enum ex_status st;

	log_init("export.fcgi", LOG_INFO);
	st = conf_load_logged(&cf,
			      conf_path(argc > 2 && strcmp(argv[1], "-c") == 0 ? argv[2] : NULL));
	if (st) {
		return 1;
	}
	log_set_level((enum log_level)cf.log_level);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_term;
	/* SA_RESTART: a read the signal interrupts in the middle of a request
	 * goes on (without it libfcgi would take the EINTR for a broken
	 * connection and the request would end in a 408); an idle process
	 * exits in the handler itself. */
	sa.sa_flags = SA_RESTART;
	/* SIGTERM (systemd, spawn-fcgi users) and SIGUSR1 (multiwatch's
	 * graceful stop by default) alike. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	st = request_deadlines_init();
	if (st) {
		log_error("cannot set up the FastCGI socket (fd 0: run under spawn-fcgi): %s",
			  status_strerror(st));
		goto out;
	}
	memset(&app, 0, sizeof(app));
	app.cf = &cf;
	FCGX_Init();
	/* FAIL_ACCEPT_ON_INTR: an accept() the deadline interrupts returns
	 * to request_accept instead of starting over (see request.c). */
	FCGX_InitRequest(&fcgi, REQUEST_LISTEN_FD, FCGI_FAIL_ACCEPT_ON_INTR);
	while (!main_stop) {
		st = request_accept(&fcgi, cf.http_body_timeout_ms);
		if (st) {
			log_error("the FastCGI listen socket failed: %s", strerror(errno));
			break;
		}
		main_busy = 1;
		request_init(&r, &fcgi, cf.http_body_timeout_ms);
		dispatch_request(&app, &r);
		request_finish(&fcgi, cf.http_body_timeout_ms);
		main_busy = 0;
	}
	if (app.conn != NULL) {
		PQfinish(app.conn);
	}
out:
	conf_free(&cf);
	return st ? 1 : 0;
}
