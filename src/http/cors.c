/* cors.c - the origin allow-list (see cors.h). */
#include "http/cors.h"

#include <string.h>

#include "common/crypto.h"

int cors_allowed(const char *list, const char *origin)
{
	const char *pos = list, *s;
	size_t len;

	if (list == NULL || origin == NULL || origin[0] == '\0') {
		return 0;
	}
	while (crypto_secret_next(&pos, &s, &len)) { /* any comma-separated list */
		if (strlen(origin) == len && memcmp(origin, s, len) == 0) {
			return 1;
		}
	}
	return 0;
}
