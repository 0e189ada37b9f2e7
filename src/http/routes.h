/* routes.h - the API's route table: every path, its methods, who may call
 * it, and its handler.  The dispatcher and the router tests read it. */
#ifndef EXPORTD_ROUTES_H
#define EXPORTD_ROUTES_H

#include <stddef.h>

#include "http/router.h"

extern const struct router_route routes_table[];
extern const size_t routes_count;

#endif
