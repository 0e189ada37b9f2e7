/* local.h - local-disk storage: <storage.dir>/<key>, written as <key>.part
 * and renamed when complete; fsync at every part end. */
#ifndef EXPORTD_LOCAL_H
#define EXPORTD_LOCAL_H

#include "storage/storage.h"

extern const struct storage_ops local_ops;

/* Keys are file names: [A-Za-z0-9._-], no leading dot. */
int local_valid_key(const char *key);
enum ex_status local_locate(const struct config *cf, const char *key,
			    struct storage_object *out) EX_MUST_CHECK;

#endif
