/* fuzz_range.c - the Range header of a streamed download (http/range.h).
 *
 * Input: one byte choosing the file size (or 8 more bytes giving it), then
 * the header.  Property: a range is only ever returned inside the file. */
#include <limits.h>

#include "fuzz.h"
#include "http/range.h"

static long long fuzz_range_size(struct fuzz_in *in)
{
	static const long long sizes[] = {0, 1, 2, 100, 1LL << 40, LLONG_MAX};
	unsigned pick = fuzz_byte(in);
	unsigned long long v = 0;
	int i;

	if (pick < sizeof(sizes) / sizeof(sizes[0])) {
		return sizes[pick];
	}
	for (i = 0; i < 8; i++) {
		v = v << 8 | fuzz_byte(in);
	}
	return (long long)(v & (unsigned long long)LLONG_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	long long file = fuzz_range_size(&in), start = -1, end = -1;
	char *header = fuzz_str(&in, NULL);
	enum range_result r = range_parse(header, file, &start, &end);

	FUZZ_CHECK(r == RANGE_NONE || r == RANGE_OK || r == RANGE_UNSATISFIABLE);
	if (r == RANGE_OK) {
		FUZZ_CHECK(0 <= start && start <= end && end < file);
	}
	free(header);
	return 0;
}
