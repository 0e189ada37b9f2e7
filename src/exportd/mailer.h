/* mailer.h - the exportd child that delivers queued mails (mail/outbox.h).
 * Runs only when mail.smtp_url is set; a slow or absent SMTP server never
 * holds up the export workers. */
#ifndef EXPORTD_MAILER_H
#define EXPORTD_MAILER_H

#include "common/conf.h"

/* Runs until SIGTERM; returns the process exit status. */
int mailer_main(const struct config *cf);

#endif
