/* smtp.h - deliver one message through the configured SMTP server (libcurl).
 *
 * smtp:// with STARTTLS per mail.starttls (try / require / never), or
 * smtps://; AUTH when mail.username is set.  The password is handed to
 * libcurl only and never logged.  libcurl converts line endings and
 * dot-stuffs the data as SMTP requires.
 */
#ifndef EXPORTD_SMTP_H
#define EXPORTD_SMTP_H

#include "common/buf.h"
#include "common/conf.h"
#include "common/status.h"

/* Call once per process before smtp_send. */
void smtp_global_init(void);

/* EX_OK: the server accepted the message; EX_EIO otherwise (refused AUTH
 * and 5xx included: the caller retries per mail.max_attempts, since the
 * operator may be fixing the cause).  err gets a one-line reason. */
enum ex_status smtp_send(const struct config *cf, const char *to, const struct buf *message,
			 struct buf *err) EX_MUST_CHECK;

/* exportctl doctor: connect to mail.smtp_url, EHLO, STARTTLS and AUTH as
 * smtp_send would, then NOOP and QUIT: no mail is sent.  EX_EIO with a
 * one-line reason when any of it fails. */
enum ex_status smtp_check(const struct config *cf, struct buf *err) EX_MUST_CHECK;

#endif
