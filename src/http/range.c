#include "http/range.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A non-negative decimal; -1 when there is none at *p. */
static long long range_number(const char **p)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)**p)) {
		return -1;
	}
	errno = 0;
	v = strtoll(*p, &end, 10);
	if (errno != 0) {
		return -1;
	}
	*p = end;
	return v;
}

enum range_result range_parse(const char *header, long long size, long long *start, long long *end)
{
	const char *p = header;
	long long a, b = -1;

	if (p == NULL || strncmp(p, "bytes=", 6) != 0 || strchr(p, ',') != NULL) {
		return RANGE_NONE;
	}
	p += 6;
	a = range_number(&p);
	if (*p++ != '-') {
		return RANGE_NONE;
	}
	b = range_number(&p);
	if (*p != '\0' || (a < 0 && b < 0) || (a >= 0 && b >= 0 && b < a)) {
		return RANGE_NONE;
	}
	if (a < 0) { /* suffix: the last b bytes */
		if (b == 0 || size == 0) {
			return RANGE_UNSATISFIABLE;
		}
		*start = b >= size ? 0 : size - b;
		*end = size - 1;
		return RANGE_OK;
	}
	if (a >= size) {
		return RANGE_UNSATISFIABLE;
	}
	*start = a;
	*end = b < 0 || b >= size ? size - 1 : b;
	return RANGE_OK;
}
