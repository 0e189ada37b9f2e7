/* utf8.h - decoding, cutting and cleaning UTF-8 text.
 *
 * Strict decoding (RFC 3629): no overlong forms, no surrogates, nothing
 * past U+10FFFF.  The cleaner is for text that goes where a reader sees it
 * (mail headers and bodies): it never fails on bad input, it repairs it.
 */
#ifndef EXPORTD_UTF8_H
#define EXPORTD_UTF8_H

#include <stddef.h>

#include "common/buf.h"
#include "common/status.h"

/* Length (1-4) of the valid UTF-8 sequence at the start of s, which has
 * len bytes; *cp gets its code point.  0 when the bytes there are not a
 * valid sequence or len cuts it short (and when len is 0). */
size_t utf8_decode(const char *s, size_t len, unsigned int *cp);

/* Is s (len bytes) strict UTF-8 from end to end?  NUL bytes count as
 * characters (U+0000); a caller that needs a C string checks for them. */
int utf8_valid(const char *s, size_t len);

/* The longest prefix of s (len bytes) of at most max bytes that does not
 * end inside a character: len when len <= max, else max backed off over
 * continuation bytes.  On valid UTF-8 the prefix is whole characters. */
size_t utf8_cut(const char *s, size_t len, size_t max);

enum utf8_mode {
	UTF8_ONELINE,	/* line breaks and tabs become spaces, runs collapsed */
	UTF8_MULTILINE, /* line breaks become '\n', lines right-trimmed */
};

/* Append text (NUL-terminated; NULL = "") to out, which is empty, cleaned:
 * invalid sequences become U+FFFD, control characters (C0, DEL, C1) are
 * dropped, CR LF / CR / LF / NEL / U+2028 / U+2029 are line breaks, and
 * leading and trailing white space and breaks are dropped.  ONELINE text
 * then holds nothing below 0x20; MULTILINE text holds '\n' as the only one.
 * EX_ETOOBIG / EX_ENOMEM from out. */
enum ex_status utf8_clean(const char *text, enum utf8_mode mode, struct buf *out) EX_MUST_CHECK;

#endif
