/* fuzz_mail.c - what goes into a mail's header from outside: addresses and
 * message ids (mail/address.h), display names and subjects as RFC 2047
 * encoded words (mail/mime.h).
 *
 * Input: display name, subject text, address, text to quote and message id,
 * NUL-separated.  Properties: a header is lines of at most 998 characters
 * (78 for a subject) ending in CRLF, continued with a space, with no other
 * control character; a reader that unfolds it and decodes its encoded words
 * (RFC 2047 6.2: the space between two adjacent ones is dropped) gets the
 * cleaned text back exactly; every encoded word is at most 75 characters and
 * whole UTF-8 characters; no plain word could be taken for an encoded one;
 * a quoted-string unquotes to what was quoted. */
#include "common/utf8.h"
#include "fuzz.h"
#include "mail/address.h"
#include "mail/mime.h"

#define FUZZ_MAIL_CAP 65536

/* The header's lines, checked, unfolded into value (after "Name: "). */
static void fuzz_mail_unfold(const struct buf *h, const char *name, size_t max_line,
			     struct buf *value)
{
	const char *s = buf_str(h);
	size_t i, col = 0, skip = strlen(name) + 2;

	FUZZ_CHECK(h->len >= skip + 2 && strncmp(s, name, skip - 2) == 0);
	FUZZ_CHECK(s[skip - 2] == ':' && s[skip - 1] == ' ');
	FUZZ_CHECK(s[h->len - 2] == '\r' && s[h->len - 1] == '\n');
	for (i = 0; i < h->len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r') {
			FUZZ_CHECK(s[i + 1] == '\n');
			FUZZ_CHECK(i + 2 == h->len || s[i + 2] == ' ');
			FUZZ_CHECK(col <= max_line);
			col = 0;
			i++;
			continue;
		}
		FUZZ_CHECK(c >= 0x20 && c != 0x7f);
		col++;
		if (i >= skip && buf_putc(value, (char)c) != EX_OK) {
			abort();
		}
	}
}

static int fuzz_mail_b64(int c)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c != '\0' ? strchr(alphabet, c) : NULL;

	return p != NULL ? (int)(p - alphabet) : -1;
}

static void fuzz_mail_put(struct buf *out, const void *p, size_t n)
{
	if (buf_append(out, p, n) != EX_OK) {
		abort();
	}
}

/* Strict base64 (RFC 4648 4, padded) of s (len bytes) appended to out. */
static void fuzz_mail_unbase64(const char *s, size_t len, struct buf *out)
{
	unsigned char three[3];
	unsigned long v;
	size_t i, k, pads;
	int d;

	FUZZ_CHECK(len % 4 == 0 && len > 0);
	for (i = 0; i < len; i += 4) {
		v = 0;
		pads = 0;
		for (k = 0; k < 4; k++) {
			d = 0;
			if (s[i + k] == '=') {
				FUZZ_CHECK(i + 4 == len && k >= 2);
				pads++;
			} else {
				FUZZ_CHECK(pads == 0);
				d = fuzz_mail_b64(s[i + k]);
				FUZZ_CHECK(d >= 0);
			}
			v = v << 6 | (unsigned long)d;
		}
		three[0] = (unsigned char)(v >> 16);
		three[1] = (unsigned char)(v >> 8);
		three[2] = (unsigned char)v;
		fuzz_mail_put(out, three, 3 - pads);
	}
}

/* The word at w (len bytes): an encoded word decoded onto out (1), or a
 * plain word copied (0). */
static int fuzz_mail_word(const char *w, size_t len, struct buf *out)
{
	size_t before = out->len;

	if (len < 4 || strncmp(w, "=?", 2) != 0 || strncmp(w + len - 2, "?=", 2) != 0) {
		FUZZ_CHECK(memmem(w, len, "=?", 2) == NULL);
		fuzz_mail_put(out, w, len);
		return 0;
	}
	FUZZ_CHECK(len <= 75 && len > 12 && strncmp(w, "=?UTF-8?B?", 10) == 0);
	fuzz_mail_unbase64(w + 10, len - 12, out);
	FUZZ_CHECK(utf8_valid(out->data + before, out->len - before));
	return 1;
}

/* Space-separated words, encoded ones decoded; the space between two
 * encoded words is dropped (RFC 2047 6.2), every other one kept. */
static void fuzz_mail_decode(const char *s, size_t len, struct buf *out)
{
	const char *end, *sp;
	struct buf piece;
	int prev = -1, enc;
	size_t n;

	if (len == 0) {
		return;
	}
	end = s + len;
	buf_init(&piece, FUZZ_MAIL_CAP);
	while (s < end) {
		sp = memchr(s, ' ', (size_t)(end - s));
		n = sp != NULL ? (size_t)(sp - s) : (size_t)(end - s);
		FUZZ_CHECK(n > 0);
		buf_reset(&piece);
		enc = fuzz_mail_word(s, n, &piece);
		if (prev >= 0 && !(prev && enc)) {
			fuzz_mail_put(out, " ", 1);
		}
		fuzz_mail_put(out, piece.data, piece.len);
		prev = enc;
		s += n + (sp != NULL);
		FUZZ_CHECK(sp == NULL || s < end);
	}
	buf_free(&piece);
}

static void fuzz_mail_clean(const char *text, struct buf *out)
{
	if (utf8_clean(text, UTF8_ONELINE, out) != EX_OK) {
		abort();
	}
}

static void fuzz_mail_equal(const struct buf *got, const struct buf *want)
{
	if (got->len != want->len || memcmp(buf_str(got), buf_str(want), got->len) != 0) {
		fprintf(stderr, "decoded \"%s\"\nwanted  \"%s\"\n", buf_str(got), buf_str(want));
		abort();
	}
}

static void fuzz_mail_subject(const char *text)
{
	struct buf h, value, got, want;

	buf_init(&h, FUZZ_MAIL_CAP);
	buf_init(&value, FUZZ_MAIL_CAP);
	buf_init(&got, FUZZ_MAIL_CAP);
	buf_init(&want, FUZZ_MAIL_CAP);
	if (mime_header_text(&h, "Subject", text) == EX_OK) {
		fuzz_mail_unfold(&h, "Subject", 78, &value);
		fuzz_mail_decode(value.data, value.len, &got);
		fuzz_mail_clean(text, &want);
		fuzz_mail_equal(&got, &want);
	}
	buf_free(&h);
	buf_free(&value);
	buf_free(&got);
	buf_free(&want);
}

/* A quoted-string (RFC 5322 3.2.4) that is all of s, unquoted onto out. */
static void fuzz_mail_unquote(const char *s, size_t len, struct buf *out)
{
	size_t i;

	FUZZ_CHECK(len >= 2 && s[0] == '"' && s[len - 1] == '"');
	for (i = 1; i < len - 1; i++) {
		FUZZ_CHECK(s[i] != '"');
		if (s[i] == '\\') {
			i++;
			FUZZ_CHECK(i < len - 1);
		}
		fuzz_mail_put(out, s + i, 1);
	}
}

/* "display <address>": the display name decoded, or the address alone. */
static void fuzz_mail_mailbox(const char *display, const char *address)
{
	struct buf h, value, got, want;
	size_t alen = strlen(address), plen;

	buf_init(&h, FUZZ_MAIL_CAP);
	buf_init(&value, FUZZ_MAIL_CAP);
	buf_init(&got, FUZZ_MAIL_CAP);
	buf_init(&want, FUZZ_MAIL_CAP);
	if (mime_header_mailbox(&h, "From", display, address) != EX_OK) {
		goto out;
	}
	fuzz_mail_unfold(&h, "From", 998, &value);
	fuzz_mail_clean(display, &want);
	if (want.len == 0) {
		FUZZ_CHECK(value.len == alen && memcmp(value.data, address, alen) == 0);
		goto out;
	}
	FUZZ_CHECK(value.len > alen + 3);
	plen = value.len - alen - 3;
	FUZZ_CHECK(memcmp(value.data + plen, " <", 2) == 0 && value.data[value.len - 1] == '>');
	FUZZ_CHECK(memcmp(value.data + plen + 2, address, alen) == 0);
	if (value.data[0] == '"') {
		fuzz_mail_unquote(value.data, plen, &got);
	} else {
		fuzz_mail_decode(value.data, plen, &got);
		FUZZ_CHECK(memchr(value.data, '"', plen) == NULL);
	}
	fuzz_mail_equal(&got, &want);
out:
	buf_free(&h);
	buf_free(&value);
	buf_free(&got);
	buf_free(&want);
}

static void fuzz_mail_quote(const char *s)
{
	struct buf q, back;
	const char *p;

	for (p = s; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e) {
			return; /* address_quote takes printable ASCII */
		}
	}
	buf_init(&q, FUZZ_MAIL_CAP);
	buf_init(&back, FUZZ_MAIL_CAP);
	if (address_quote(s, &q) == EX_OK) {
		fuzz_mail_unquote(q.data, q.len, &back);
		FUZZ_CHECK(back.len == strlen(s) && memcmp(buf_str(&back), s, back.len) == 0);
	}
	buf_free(&q);
	buf_free(&back);
}

static void fuzz_mail_ids(const char *addr, const char *id)
{
	const char *inner, *p;
	size_t len;

	if (address_valid(addr)) {
		FUZZ_CHECK(strlen(addr) <= 254 && strchr(addr, '@') != NULL);
		for (p = addr; *p != '\0'; p++) {
			FUZZ_CHECK(*p > 0x20 && *p < 0x7f && strchr("\"(),:;<>[\\]", *p) == NULL);
		}
		fuzz_mail_mailbox("", addr);
	}
	inner = address_msgid(id, &len);
	if (inner != NULL) {
		FUZZ_CHECK(inner >= id && inner + len <= id + strlen(id) && len <= 250);
		FUZZ_CHECK(memchr(inner, '@', len) != NULL && memchr(inner, '>', len) == NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	char *display = fuzz_str(&in, NULL);
	char *text = fuzz_str(&in, NULL);
	char *addr = fuzz_str(&in, NULL);
	char *quote = fuzz_str(&in, NULL);
	char *id = fuzz_str(&in, NULL);

	fuzz_mail_subject(text);
	fuzz_mail_mailbox(display, address_valid(addr) ? addr : "someone@example.org");
	fuzz_mail_quote(quote);
	fuzz_mail_ids(addr, id);
	free(display);
	free(text);
	free(addr);
	free(quote);
	free(id);
	return 0;
}
