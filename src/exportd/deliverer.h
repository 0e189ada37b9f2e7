/* deliverer.h - the exportd child that delivers webhook events
 * (hook/deliveries.h).  Always runs: endpoints are registered at run time
 * through the API.  A slow or absent receiver never holds up the export
 * workers or the mailer. */
#ifndef EXPORTD_DELIVERER_H
#define EXPORTD_DELIVERER_H

#include "common/conf.h"

/* Runs until SIGTERM; returns the process exit status. */
int deliverer_main(const struct config *cf);

#endif
