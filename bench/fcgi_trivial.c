/* fcgi_trivial.c - the ceiling for the API load benchmark (scripts/bench).
 *
 * A FastCGI responder that does nothing: every request, whatever its method,
 * path or body, answers 200 with a short JSON body.  Run like export.fcgi,
 * under `spawn-fcgi -s SOCK -M 0666 -F 4 -P PIDFILE -- fcgi_trivial`, behind
 * the same fcgi-conf/lighttpd.conf; what lighttpd + libfcgi + the socket cost
 * per request is then the most export.fcgi could reach on the machine.
 *
 * Built by scripts/bench (gcc -O2 ... -lfcgi), not by the project's Makefile.
 */
#include <fcgiapp.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

int main(void)
{
	static const char body[] = "{\"status\": \"ok\"}\n";
	FCGX_Request req;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	FCGX_Init();
	FCGX_InitRequest(&req, 0, 0);
	while (FCGX_Accept_r(&req) >= 0) {
		/* %zu is not supported by libfcgi's printf: cast to unsigned long. */
		FCGX_FPrintF(req.out,
			     "Status: 200 OK\r\n"
			     "Content-Type: application/json\r\n"
			     "Content-Length: %lu\r\n"
			     "\r\n",
			     (unsigned long)(sizeof(body) - 1));
		FCGX_PutStr(body, (int)(sizeof(body) - 1), req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}
