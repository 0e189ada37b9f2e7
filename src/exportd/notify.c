/* notify.c - sd_notify(3) when built with libsystemd, else nothing. */
#include "exportd/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

int notify_enabled(void)
{
#ifdef HAVE_LIBSYSTEMD
	const char *sock = getenv("NOTIFY_SOCKET");

	return sock != NULL && sock[0] != '\0';
#else
	return 0;
#endif
}

void notify_send(const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (!notify_enabled()) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
#ifdef HAVE_LIBSYSTEMD
	/* unset_environment 0: the children notify too (STATUS). */
	(void)sd_notify(0, text);
#endif
}
