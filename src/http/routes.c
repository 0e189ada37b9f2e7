/* routes.c - the API's route table (see routes.h and README's API). */
#include "http/routes.h"

#include "http/assets.h"
#include "http/create.h"
#include "http/exports.h"
#include "http/health.h"
#include "http/metrics.h"
#include "http/webhooks.h"

const struct router_route routes_table[] = {
	{"healthz", "/healthz", ROUTER_GET | ROUTER_HEAD, ROUTER_OPEN, health_handle},
	{"metrics", "/metrics", ROUTER_GET | ROUTER_HEAD, ROUTER_OPEN, metrics_handle},
	{"widget-js", "/web/exportd.js", ROUTER_GET | ROUTER_HEAD, ROUTER_STATIC, assets_handle},
	{"widget-css", "/web/exportd.css", ROUTER_GET | ROUTER_HEAD, ROUTER_STATIC, assets_handle},
	{"list", "/exports", ROUTER_GET | ROUTER_HEAD, ROUTER_KEY, exports_list},
	{"create", "/exports", ROUTER_POST, ROUTER_KEY, create_handle},
	{"get", "/exports/{id}", ROUTER_GET | ROUTER_HEAD, ROUTER_KEY_JOB, exports_get},
	{"delete", "/exports/{id}", ROUTER_DELETE, ROUTER_KEY, exports_delete},
	{"download", "/exports/{id}/download", ROUTER_GET | ROUTER_HEAD, ROUTER_KEY_OR_LINK,
	 exports_download},
	{"webhooks-list", "/webhooks", ROUTER_GET | ROUTER_HEAD, ROUTER_KEY, webhooks_list},
	{"webhooks-create", "/webhooks", ROUTER_POST, ROUTER_KEY, webhooks_create},
	{"webhooks-delete", "/webhooks/{id}", ROUTER_DELETE, ROUTER_KEY, webhooks_delete},
};

const size_t routes_count = sizeof(routes_table) / sizeof(routes_table[0]);
