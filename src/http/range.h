/* range.h - parse an HTTP Range header (RFC 9110 14.2) for one byte range. */
#ifndef EXPORTD_RANGE_H
#define EXPORTD_RANGE_H

enum range_result {
	RANGE_NONE,	     /* absent, multi-range or unparsable: send it all (200) */
	RANGE_OK,	     /* 206 with [*start, *end] */
	RANGE_UNSATISFIABLE, /* 416 */
};

enum range_result range_parse(const char *header, long long size, long long *start, long long *end);

#endif
