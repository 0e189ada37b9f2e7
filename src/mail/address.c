/* address.c - the addr-spec and msg-id shapes we accept (a strict subset
 * of RFC 5322: dot-atoms only, no quoted local parts or domain literals),
 * and quoted-string display names.
 */
#include "mail/address.h"

#include <string.h>

/* RFC 5322 atext: what an unquoted local part or domain label may hold. */
static int address_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
		return 1;
	}
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* dot-atom-text: atext runs separated by single dots. */
static int address_dot_atom(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.') {
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !address_atext((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

/* id-left "@" id-right, both dot-atom-text: the shape of addresses and of
 * the message ids we make. */
static int address_id_shape(const char *s, size_t len, size_t max_left)
{
	const char *at = memchr(s, '@', len);
	size_t left;

	if (at == NULL) {
		return 0;
	}
	left = (size_t)(at - s);
	return left <= max_left && address_dot_atom(s, left) &&
	       address_dot_atom(at + 1, len - left - 1);
}

int address_valid(const char *addr)
{
	size_t len;

	if (addr == NULL) {
		return 0;
	}
	len = strlen(addr);
	/* 64: the longest local part SMTP servers must accept (RFC 5321). */
	return len <= 254 && address_id_shape(addr, len, 64);
}

const char *address_msgid(const char *id, size_t *len)
{
	size_t n = strlen(id);

	if (n >= 2 && id[0] == '<' && id[n - 1] == '>') {
		id++;
		n -= 2;
	}
	*len = n;
	return n <= 250 && address_id_shape(id, n, 250) ? id : NULL;
}

enum ex_status address_quote(const char *s, struct buf *out)
{
	enum ex_status st;

	st = buf_putc(out, '"');
	if (st) {
		return st;
	}
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\') {
			st = buf_putc(out, '\\');
			if (st) {
				return st;
			}
		}
		st = buf_putc(out, *s);
		if (st) {
			return st;
		}
	}
	return buf_putc(out, '"');
}
