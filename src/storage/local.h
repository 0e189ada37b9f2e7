/* local.h - local-disk storage: <storage.dir>/<key>, written as <key>.part
 * and renamed when complete; fsync at every part end.  Keys are file
 * names: [A-Za-z0-9._-], no leading dot, at most 255 bytes.  A complete
 * object is handed over as its file. */
#ifndef EXPORTD_LOCAL_H
#define EXPORTD_LOCAL_H

#include "storage/backend.h"

extern const struct storage_ops local_ops;

#endif
