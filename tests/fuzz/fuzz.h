/* fuzz.h - what the libFuzzer harnesses share: taking the input apart and
 * failing loudly when a property does not hold.
 *
 * Each harness is one program (fuzz_<name>.c) that defines
 * LLVMFuzzerTestOneInput; libFuzzer supplies main.  Inputs are split at NUL
 * bytes, so each piece is a C string as the module under test gets it; a
 * property that fails aborts, which libFuzzer reports as a crash with the
 * input that caused it.
 */
#ifndef EXPORTD_FUZZ_H
#define EXPORTD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__,        \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The input, eaten from the front. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

/* The next byte, 0 once the input is used up. */
static inline unsigned fuzz_byte(struct fuzz_in *in)
{
	unsigned c;

	if (in->n == 0) {
		return 0;
	}
	c = in->p[0];
	in->p++;
	in->n--;
	return c;
}

/* A NUL-terminated copy of n bytes at p (which may hold NULs); never NULL. */
static inline char *fuzz_dup(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL) {
		abort();
	}
	if (n > 0) {
		memcpy(s, p, n);
	}
	s[n] = '\0';
	return s;
}

/* The bytes up to the next NUL (or the end), as a new string; the NUL is
 * eaten.  *len (when not NULL) gets the string's length. */
static inline char *fuzz_str(struct fuzz_in *in, size_t *len)
{
	const uint8_t *nul = in->n > 0 ? memchr(in->p, '\0', in->n) : NULL;
	size_t n = nul != NULL ? (size_t)(nul - in->p) : in->n;
	char *s = fuzz_dup(in->p, n);

	in->p += n;
	in->n -= n;
	if (nul != NULL) {
		in->p++;
		in->n--;
	}
	if (len != NULL) {
		*len = n;
	}
	return s;
}

#endif
