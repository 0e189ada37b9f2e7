/* mime.c - header lines and the multipart body of a mail.
 *
 * A header value is laid out as items: words of plain text, encoded
 * words, an address.  An item goes on the current line or, when it would
 * pass 78 characters, on a folded one; never at the start of a value.
 * Both body parts are base64, so nothing in a value can reach the MIME
 * structure at all.
 */
#include "mail/mime.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"
#include "common/utf8.h"
#include "mail/address.h"

#define MIME_LINE_MAX	 78  /* header line, RFC 5322 2.1.1 */
#define MIME_EW_MAX	 75  /* one encoded word, RFC 2047 2 */
#define MIME_EW_OVERHEAD 12  /* "=?UTF-8?B?" "?=" */
#define MIME_B64_IN	 57  /* bytes per 76-character base64 line */
#define MIME_QUOTED_MAX	 998 /* a quoted display name longer cannot be one line */

/* ---- header lines --------------------------------------------------------- */

/* A header being written. */
struct mime_hdr {
	struct buf *out;
	size_t col; /* characters on the current line */
	int sep;    /* the next item needs a space before it */
	int empty;  /* nothing after "Name: " yet: never fold there */
};

static enum ex_status mime_hdr_begin(struct mime_hdr *h, struct buf *out, const char *name)
{
	h->out = out;
	h->col = strlen(name) + 2;
	h->sep = 0;
	h->empty = 1;
	return buf_printf(out, "%s: ", name);
}

static enum ex_status mime_hdr_fold(struct mime_hdr *h)
{
	h->col = 1;
	h->sep = 0;
	return buf_puts(h->out, "\r\n ");
}

/* An unbreakable item; longer than a line only when it cannot be helped
 * (a long address), which RFC 5322 allows up to 998. */
static enum ex_status mime_hdr_item(struct mime_hdr *h, const char *s, size_t len)
{
	enum ex_status st;

	if (!h->empty && h->col + (size_t)h->sep + len > MIME_LINE_MAX) {
		st = mime_hdr_fold(h);
		if (st) {
			return st;
		}
	}
	if (h->sep) {
		st = buf_putc(h->out, ' ');
		if (st) {
			return st;
		}
		h->col++;
	}
	h->col += len;
	h->sep = 1;
	h->empty = 0;
	return buf_append(h->out, s, len);
}

/* Bytes an encoded word of at most room characters can carry. */
static size_t mime_ew_capacity(size_t room)
{
	if (room > MIME_EW_MAX) {
		room = MIME_EW_MAX;
	}
	return room < MIME_EW_OVERHEAD ? 0 : (room - MIME_EW_OVERHEAD) / 4 * 3;
}

/* Where to end an encoded word that cannot take all of s: after a space
 * in the second half of what fits, so that decoders that wrongly put a
 * space between adjacent words (Python's for display names) split there
 * rather than inside a word; else at the character boundary n. */
static size_t mime_ew_cut(const char *s, size_t n)
{
	size_t i;

	for (i = n; i > n / 2; i--) {
		if (s[i - 1] == ' ') {
			return i;
		}
	}
	return n;
}

/* The bytes of the next encoded word from s (clean UTF-8, len bytes) that
 * fit on the current line; 0 when a fold must come first. */
static size_t mime_ew_take(const struct mime_hdr *h, const char *s, size_t len)
{
	size_t used = h->col + (size_t)h->sep, room, n;

	room = used < MIME_LINE_MAX ? MIME_LINE_MAX - used : 0;
	n = utf8_cut(s, len, mime_ew_capacity(room));
	return n < len ? mime_ew_cut(s, n) : n;
}

/* s as encoded words filling the current line, then folded lines. */
static enum ex_status mime_hdr_encoded(struct mime_hdr *h, const char *s, size_t len)
{
	char word[MIME_EW_MAX + 1];
	enum ex_status st;
	size_t n;
	int b64;

	while (len > 0) {
		n = mime_ew_take(h, s, len);
		if (n == 0) {
			st = mime_hdr_fold(h);
			if (st) {
				return st;
			}
			continue;
		}
		/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): "?=" ends it below */
		memcpy(word, "=?UTF-8?B?", 10);
		b64 = EVP_EncodeBlock((unsigned char *)word + 10, (const unsigned char *)s, (int)n);
		memcpy(word + 10 + b64, "?=", 3);
		st = mime_hdr_item(h, word, (size_t)b64 + MIME_EW_OVERHEAD);
		if (st) {
			return st;
		}
		s += n;
		len -= n;
	}
	return EX_OK;
}

/* Printable ASCII that no decoder would take for an encoded word. */
static int mime_plain(const char *s)
{
	const char *p;

	for (p = s; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7E) {
			return 0;
		}
	}
	return strstr(s, "=?") == NULL;
}

/* Plain text whose words can be folded apart: the first fits in first
 * columns, every other one on a continuation line. */
static int mime_foldable(const char *s, size_t first)
{
	size_t n, limit = first;

	if (!mime_plain(s)) {
		return 0;
	}
	while (*s != '\0') {
		n = strcspn(s, " ");
		if (n > limit) {
			return 0;
		}
		s += n + (s[n] == ' ');
		limit = MIME_LINE_MAX - 1;
	}
	return 1;
}

/* Each space-separated word of s an item: folds go where spaces were. */
static enum ex_status mime_hdr_words(struct mime_hdr *h, const char *s)
{
	enum ex_status st;
	size_t n;

	while (*s != '\0') {
		n = strcspn(s, " ");
		st = mime_hdr_item(h, s, n);
		if (st) {
			return st;
		}
		s += n + (s[n] == ' ');
	}
	return EX_OK;
}

/* Unstructured text (clean, one line): words, or encoded words. */
static enum ex_status mime_hdr_text(struct mime_hdr *h, const char *s)
{
	if (mime_foldable(s, MIME_LINE_MAX - h->col)) {
		return mime_hdr_words(h, s);
	}
	return mime_hdr_encoded(h, s, strlen(s));
}

/* Plain ASCII as a quoted-string, folded at its spaces (RFC 5322 allows
 * FWS inside one); anything else as encoded words, which may hold specials
 * (RFC 2047 5(3)).  A name too long to quote is encoded too. */
static enum ex_status mime_hdr_phrase(struct mime_hdr *h, const char *s)
{
	enum ex_status st;
	struct buf q;

	buf_init(&q, MIME_QUOTED_MAX);
	if (mime_plain(s) && address_quote(s, &q) == EX_OK &&
	    mime_foldable(buf_str(&q), MIME_LINE_MAX - h->col)) {
		st = mime_hdr_words(h, buf_str(&q));
	} else {
		st = mime_hdr_encoded(h, s, strlen(s));
	}
	buf_free(&q);
	return st;
}

enum ex_status mime_header(struct buf *out, const char *name, const char *value)
{
	struct mime_hdr h;
	enum ex_status st;

	st = mime_hdr_begin(&h, out, name);
	if (st) {
		return st;
	}
	st = mime_hdr_item(&h, value, strlen(value));
	if (st) {
		return st;
	}
	return buf_puts(out, "\r\n");
}

enum ex_status mime_header_text(struct buf *out, const char *name, const char *text)
{
	struct mime_hdr h;
	enum ex_status st;
	struct buf clean;

	buf_init(&clean, out->cap);
	st = utf8_clean(text, UTF8_ONELINE, &clean);
	if (st) {
		goto out;
	}
	st = mime_hdr_begin(&h, out, name);
	if (st) {
		goto out;
	}
	st = mime_hdr_text(&h, buf_str(&clean));
	if (st) {
		goto out;
	}
	st = buf_puts(out, "\r\n");
out:
	buf_free(&clean);
	return st;
}

/* The display name (clean, not empty) and "<address>" after "Name: ". */
static enum ex_status mime_hdr_mailbox(struct mime_hdr *h, const char *display, const char *address)
{
	enum ex_status st;
	struct buf angle;

	buf_init(&angle, strlen(address) + 2);
	st = mime_hdr_phrase(h, display);
	if (st) {
		goto out;
	}
	st = buf_printf(&angle, "<%s>", address);
	if (st) {
		goto out;
	}
	st = mime_hdr_item(h, buf_str(&angle), angle.len);
out:
	buf_free(&angle);
	return st;
}

enum ex_status mime_header_mailbox(struct buf *out, const char *name, const char *display,
				   const char *address)
{
	struct mime_hdr h;
	enum ex_status st;
	struct buf clean;

	buf_init(&clean, out->cap);
	st = utf8_clean(display, UTF8_ONELINE, &clean);
	if (st) {
		goto out;
	}
	st = mime_hdr_begin(&h, out, name);
	if (st) {
		goto out;
	}
	if (clean.len == 0) {
		st = mime_hdr_item(&h, address, strlen(address));
	} else {
		st = mime_hdr_mailbox(&h, buf_str(&clean), address);
	}
	if (st) {
		goto out;
	}
	st = buf_puts(out, "\r\n");
out:
	buf_free(&clean);
	return st;
}

static const char *const mime_months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const mime_days[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

enum ex_status mime_header_date(struct buf *out, const char *name, time_t t)
{
	struct tm tm;

	/* Not strftime, whose names follow the locale. */
	if (gmtime_r(&t, &tm) == NULL) {
		return EX_EINVAL;
	}
	return buf_printf(out, "%s: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", name,
			  mime_days[tm.tm_wday], tm.tm_mday, mime_months[tm.tm_mon],
			  tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- body ------------------------------------------------------------------- */

void mime_boundary(const char *seed, char boundary[MIME_BOUNDARY_MAX])
{
	char hash[CRYPTO_SHA256_HEX_LEN + 1];

	/* Neither base64 nor our headers can hold "=_". */
	crypto_sha256_hex(seed, strlen(seed), hash);
	snprintf(boundary, MIME_BOUNDARY_MAX, "=_exportd_%.32s", hash);
}

enum ex_status mime_alternative_begin(struct buf *out, const char *boundary)
{
	struct mime_hdr h;
	enum ex_status st;
	struct buf param;

	buf_init(&param, strlen(boundary) + sizeof("boundary=\"\""));
	st = mime_header(out, "MIME-Version", "1.0");
	if (st) {
		goto out;
	}
	st = mime_hdr_begin(&h, out, "Content-Type");
	if (st) {
		goto out;
	}
	st = mime_hdr_item(&h, "multipart/alternative;", 22);
	if (st) {
		goto out;
	}
	st = buf_printf(&param, "boundary=\"%s\"", boundary);
	if (st) {
		goto out;
	}
	st = mime_hdr_item(&h, buf_str(&param), param.len);
	if (st) {
		goto out;
	}
	st = buf_puts(out, "\r\n\r\n");
out:
	buf_free(&param);
	return st;
}

enum ex_status mime_part_base64(struct buf *out, const char *boundary, const char *type,
				const struct buf *content)
{
	unsigned char line[MIME_B64_IN / 3 * 4 + 1];
	enum ex_status st;
	size_t off, n;
	int len;

	st = buf_printf(out,
			"--%s\r\nContent-Type: %s; charset=utf-8\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n",
			boundary, type);
	if (st) {
		return st;
	}
	for (off = 0; off < content->len; off += n) {
		n = content->len - off < MIME_B64_IN ? content->len - off : MIME_B64_IN;
		len = EVP_EncodeBlock(line, (const unsigned char *)content->data + off, (int)n);
		st = buf_append(out, line, (size_t)len);
		if (st) {
			return st;
		}
		st = buf_puts(out, "\r\n");
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

enum ex_status mime_alternative_end(struct buf *out, const char *boundary)
{
	return buf_printf(out, "--%s--\r\n", boundary);
}
