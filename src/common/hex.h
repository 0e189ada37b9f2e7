/* hex.h - bytes as hexadecimal digits and back: digests, random ids, saved
 * hash states, percent-encoding. */
#ifndef EXPORTD_HEX_H
#define EXPORTD_HEX_H

#include <stddef.h>

#include "common/status.h"

/* len bytes of in as 2*len lower-case digits plus a NUL; out has room for
 * 2*len+1. */
void hex_encode(const void *in, size_t len, char *out);
/* The same in upper case, as RFC 3986 2.1 wants in percent-encoding. */
void hex_encode_upper(const void *in, size_t len, char *out);
/* The 2*len lower-case digits at in (hex_encode's form; upper case is
 * refused, as every stored form here is lower case) as len bytes in out.
 * EX_EINVAL on anything else; out is then undefined. */
enum ex_status hex_decode(const char *in, void *out, size_t len) EX_MUST_CHECK;
/* The value of one digit of either case (percent-encoding allows both),
 * or -1. */
int hex_digit(char c);

#endif
