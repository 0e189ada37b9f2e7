/* utf8.c - strict UTF-8 decoding, cutting at character boundaries, and the
 * cleaner that turns any bytes into text safe to show in one line or many.
 */
#include "common/utf8.h"

#include <string.h>

static const char utf8_replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

size_t utf8_decode(const char *s, size_t len, unsigned int *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned int c, min = 0x80;
	size_t n = 2, i;

	if (len == 0) {
		return 0;
	}
	c = u[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c > 0xF4) {
		return 0; /* F5-FF start nothing: F8-FC would pass for F0-F4 below */
	}
	if (c >= 0xF0) {
		n = 4;
		min = 0x10000;
	} else if (c >= 0xE0) {
		n = 3;
		min = 0x800;
	} else if (c < 0xC0) {
		return 0;
	}
	if (n > len) {
		return 0;
	}
	c &= 0x3Fu >> (n - 1);
	for (i = 1; i < n; i++) {
		if ((u[i] & 0xC0) != 0x80) {
			return 0;
		}
		c = (c << 6) | (u[i] & 0x3Fu);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
		return 0;
	}
	*cp = c;
	return n;
}

int utf8_valid(const char *s, size_t len)
{
	unsigned int cp;
	size_t n;

	while (len > 0) {
		n = utf8_decode(s, len, &cp);
		if (n == 0) {
			return 0;
		}
		s += n;
		len -= n;
	}
	return 1;
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max) {
		return len;
	}
	/* s[max] is the first byte left out: back off until it starts one. */
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) {
		max--;
	}
	return max;
}

/* ---- cleaning ---------------------------------------------------------- */

enum utf8_class {
	UTF8_CHAR,
	UTF8_SPACE,
	UTF8_BREAK,
	UTF8_DROP,
};

static enum utf8_class utf8_classify(unsigned int cp)
{
	if (cp == '\n' || cp == '\r' || cp == 0x85 || cp == 0x2028 || cp == 0x2029) {
		return UTF8_BREAK;
	}
	if (cp == ' ' || cp == '\t') {
		return UTF8_SPACE;
	}
	if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
		return UTF8_DROP;
	}
	return UTF8_CHAR;
}

/* Drop the spaces and tabs that end b: what a line break or the end of the
 * text leaves behind.  Only ever shortens what this module appended. */
static void utf8_rtrim(struct buf *b)
{
	const char *s = buf_str(b);
	size_t n = b->len;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
		n--;
	}
	buf_truncate(b, n);
}

struct utf8_cleaner {
	struct buf *out;
	enum utf8_mode mode;
	int started; /* something kept already: leading white space is dropped */
	int spaces;  /* ONELINE: white space seen since the last character */
	int breaks;  /* MULTILINE: line breaks seen since the last character */
};

/* What was held back, now that more text follows. */
static enum ex_status utf8_clean_flush(struct utf8_cleaner *c)
{
	enum ex_status st;

	if (c->spaces > 0) {
		st = buf_putc(c->out, ' ');
		if (st) {
			return st;
		}
		c->spaces = 0;
	}
	for (; c->breaks > 0; c->breaks--) {
		st = buf_putc(c->out, '\n');
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

static enum ex_status utf8_clean_one(struct utf8_cleaner *c, enum utf8_class k, const char *s,
				     size_t n)
{
	enum ex_status st;

	if (k == UTF8_DROP || (k != UTF8_CHAR && !c->started)) {
		return EX_OK;
	}
	if (k != UTF8_CHAR && c->mode == UTF8_ONELINE) {
		c->spaces = 1;
		return EX_OK;
	}
	if (k == UTF8_BREAK) {
		utf8_rtrim(c->out);
		c->breaks++;
		return EX_OK;
	}
	/* A char, or MULTILINE inner spacing: an error may point at a column. */
	st = utf8_clean_flush(c);
	if (st) {
		return st;
	}
	c->started = 1;
	return buf_append(c->out, s, n);
}

enum ex_status utf8_clean(const char *text, enum utf8_mode mode, struct buf *out)
{
	const char *p = text != NULL ? text : "";
	struct utf8_cleaner c = {out, mode, 0, 0, 0};
	size_t left = strlen(p), n;
	enum ex_status st;
	unsigned int cp = 0;

	while (left > 0) {
		n = utf8_decode(p, left, &cp);
		if (n == 0) {
			st = utf8_clean_one(&c, UTF8_CHAR, utf8_replacement, 3);
			n = 1;
		} else {
			if (cp == '\r' && n < left && p[1] == '\n') {
				n = 2; /* CRLF is one break */
			}
			st = utf8_clean_one(&c, utf8_classify(cp), p, n);
		}
		if (st) {
			return st;
		}
		p += n;
		left -= n;
	}
	/* Held-back white space and breaks at the end are never written. */
	utf8_rtrim(out);
	return EX_OK;
}
