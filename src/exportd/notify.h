/* notify.h - the service manager's notification protocol (sd_notify(3)):
 * READY, RELOADING, STOPPING, STATUS for a Type=notify unit.  Without
 * libsystemd at build time, or outside such a unit ($NOTIFY_SOCKET
 * unset), every call does nothing. */
#ifndef EXPORTD_NOTIFY_H
#define EXPORTD_NOTIFY_H

/* Whether notifications go anywhere (built with libsystemd, and
 * $NOTIFY_SOCKET set): callers skip work that only feeds STATUS. */
int notify_enabled(void);

/* One notification: newline-separated VAR=value assignments, e.g.
 * "READY=1\nSTATUS=2 workers".  Errors are ignored (sd_notify's too). */
void notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
