/* message.c - the mail that tells a requester about an export.
 *
 * Every string that goes into the message is first cleaned: invalid UTF-8
 * becomes U+FFFD, control characters are dropped, and line breaks become
 * spaces (or, in the error text of the body, '\n').  Header values are one
 * line of text, white space collapsed; after cleaning they can hold nothing
 * that ends a header line, and folding adds only CRLF + space.  A header
 * value that is not plain ASCII, could be mistaken for an encoded word or
 * has a word too long to fold becomes RFC 2047 "B" encoded words, each cut
 * at a UTF-8 character boundary.  Both body parts are base64, so nothing in
 * a value can reach the MIME structure at all.
 */
#include "mail/message.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "common/crypto.h"

#define MESSAGE_LINE_MAX    78 /* header line, RFC 5322 2.1.1 */
#define MESSAGE_EW_MAX	    75 /* one encoded word, RFC 2047 2 */
#define MESSAGE_EW_OVERHEAD 12 /* "=?UTF-8?B?" "?=" */
#define MESSAGE_B64_IN	    57 /* bytes per 76-character base64 line */
#define MESSAGE_SUBJECT_COL 9  /* strlen("Subject: ") */
#define MESSAGE_LABEL_WIDTH 13 /* "Export type: " in the text part */

static const char message_replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* ---- cleaning ---------------------------------------------------------- */

enum message_mode {
	MESSAGE_ONELINE,   /* line breaks and tabs become spaces, runs collapsed */
	MESSAGE_MULTILINE, /* line breaks become '\n', lines right-trimmed */
};

/* Length of the valid UTF-8 sequence at s (NUL-terminated), 0 if invalid:
 * no overlong forms, surrogates or code points past U+10FFFF. */
static size_t message_utf8_decode(const unsigned char *s, unsigned int *cp)
{
	unsigned int c = s[0], min = 0x80;
	size_t n = 2, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
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
	c &= 0x3Fu >> (n - 1);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			return 0;
		}
		c = (c << 6) | (s[i] & 0x3Fu);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
		return 0;
	}
	*cp = c;
	return n;
}

enum message_class {
	MESSAGE_CHAR,
	MESSAGE_SPACE,
	MESSAGE_BREAK,
	MESSAGE_DROP,
};

static enum message_class message_classify(unsigned int cp)
{
	if (cp == '\n' || cp == '\r' || cp == 0x85 || cp == 0x2028 || cp == 0x2029) {
		return MESSAGE_BREAK;
	}
	if (cp == ' ' || cp == '\t') {
		return MESSAGE_SPACE;
	}
	if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
		return MESSAGE_DROP;
	}
	return MESSAGE_CHAR;
}

static void message_rtrim(struct buf *b)
{
	size_t len = b->len;

	while (len > 0 && (b->data[len - 1] == ' ' || b->data[len - 1] == '\t')) {
		len--;
	}
	buf_truncate(b, len);
}

struct message_cleaner {
	struct buf *out;
	enum message_mode mode;
	int started; /* something kept already: leading white space is dropped */
	int spaces;  /* ONELINE: white space seen since the last character */
	int breaks;  /* MULTILINE: line breaks seen since the last character */
};

/* What was held back, now that more text follows. */
static enum ex_status message_clean_flush(struct message_cleaner *c)
{
	enum ex_status st = EX_OK;

	if (c->spaces > 0) {
		st = buf_putc(c->out, ' ');
	}
	while (st == EX_OK && c->breaks > 0) {
		st = buf_putc(c->out, '\n');
		c->breaks--;
	}
	c->spaces = 0;
	c->breaks = 0;
	return st;
}

static enum ex_status message_clean_one(struct message_cleaner *c, enum message_class k,
					const char *s, size_t n)
{
	enum ex_status st;

	if (k == MESSAGE_DROP || (k != MESSAGE_CHAR && !c->started)) {
		return EX_OK;
	}
	if (k != MESSAGE_CHAR && c->mode == MESSAGE_ONELINE) {
		c->spaces = 1;
		return EX_OK;
	}
	if (k == MESSAGE_BREAK) {
		message_rtrim(c->out);
		c->breaks++;
		return EX_OK;
	}
	/* A char, or MULTILINE inner spacing: an error may point at a column. */
	st = message_clean_flush(c);
	c->started = 1;
	return st == EX_OK ? buf_append(c->out, s, n) : st;
}

/* Append the cleaned form of text (NULL = "") to out, which is empty. */
static enum ex_status message_clean(const char *text, enum message_mode mode, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)(text != NULL ? text : "");
	struct message_cleaner c = {out, mode, 0, 0, 0};
	enum ex_status st = EX_OK;
	unsigned int cp = 0;
	size_t n;

	while (st == EX_OK && *p != '\0') {
		n = message_utf8_decode(p, &cp);
		if (n == 0) {
			st = message_clean_one(&c, MESSAGE_CHAR, message_replacement, 3);
			p++;
			continue;
		}
		if (cp == '\r' && p[1] == '\n') {
			n = 2; /* CRLF is one break */
		}
		st = message_clean_one(&c, message_classify(cp), (const char *)p, n);
		p += n;
	}
	/* Held-back white space at the end is simply never written. */
	message_rtrim(out);
	return st;
}

/* ---- addresses ---------------------------------------------------------- */

/* RFC 5322 atext: what an unquoted local part or domain label may hold. */
static int message_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
		return 1;
	}
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* dot-atom-text: atext runs separated by single dots. */
static int message_dot_atom(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.') {
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !message_atext((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

/* id-left "@" id-right, both dot-atom-text: the shape of addresses and of
 * the message ids we make. */
static int message_valid_id(const char *s, size_t len, size_t max_left)
{
	const char *at = memchr(s, '@', len);
	size_t left;

	if (at == NULL) {
		return 0;
	}
	left = (size_t)(at - s);
	return left <= max_left && message_dot_atom(s, left) &&
	       message_dot_atom(at + 1, len - left - 1);
}

int message_valid_address(const char *addr)
{
	size_t len;

	if (addr == NULL) {
		return 0;
	}
	len = strlen(addr);
	/* 64: the longest local part SMTP servers must accept (RFC 5321). */
	return len <= 254 && message_valid_id(addr, len, 64);
}

/* A message id with or without its angle brackets; *len excludes them. */
static const char *message_msgid(const char *id, size_t *len)
{
	size_t n = strlen(id);

	if (n >= 2 && id[0] == '<' && id[n - 1] == '>') {
		id++;
		n -= 2;
	}
	*len = n;
	return n <= 250 && message_valid_id(id, n, 250) ? id : NULL;
}

/* ---- header lines --------------------------------------------------------- */

/* A header being written: items go on the current line or a new folded one. */
struct message_hdr {
	struct buf *out;
	size_t col;	   /* characters on the current line */
	int sep;	   /* the next item needs a space before it */
	int empty;	   /* nothing after "Name: " yet: never fold there */
	enum ex_status st; /* the first error, sticky */
};

static void message_hdr_put(struct message_hdr *h, const char *s, size_t len)
{
	if (h->st == EX_OK) {
		h->st = buf_append(h->out, s, len);
	}
}

static void message_hdr_begin(struct message_hdr *h, const char *name)
{
	message_hdr_put(h, name, strlen(name));
	message_hdr_put(h, ": ", 2);
	h->col = strlen(name) + 2;
	h->sep = 0;
	h->empty = 1;
}

static void message_hdr_fold(struct message_hdr *h)
{
	message_hdr_put(h, "\r\n ", 3);
	h->col = 1;
	h->sep = 0;
}

/* An unbreakable item; longer than a line only when it cannot be helped
 * (a long address), which RFC 5322 allows up to 998. */
static void message_hdr_item(struct message_hdr *h, const char *s, size_t len)
{
	if (!h->empty && h->col + (size_t)h->sep + len > MESSAGE_LINE_MAX) {
		message_hdr_fold(h);
	}
	if (h->sep) {
		message_hdr_put(h, " ", 1);
		h->col++;
	}
	message_hdr_put(h, s, len);
	h->col += len;
	h->sep = 1;
	h->empty = 0;
}

static void message_hdr_end(struct message_hdr *h)
{
	message_hdr_put(h, "\r\n", 2);
}

/* How many bytes of clean UTF-8 s fit in max without splitting a character. */
static size_t message_utf8_prefix(const char *s, size_t len, size_t max)
{
	size_t i = 0, n;
	unsigned char c;

	while (i < len) {
		c = (unsigned char)s[i];
		n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		if (i + n > max || i + n > len) {
			break;
		}
		i += n;
	}
	return i;
}

/* Bytes an encoded word of at most room characters can carry. */
static size_t message_ew_capacity(size_t room)
{
	if (room > MESSAGE_EW_MAX) {
		room = MESSAGE_EW_MAX;
	}
	return room < MESSAGE_EW_OVERHEAD ? 0 : (room - MESSAGE_EW_OVERHEAD) / 4 * 3;
}

/* Where to end an encoded word that cannot take all of s: after a space
 * in the second half of what fits, so that decoders that wrongly put a
 * space between adjacent words (Python's for display names) split there
 * rather than inside a word; else at the character boundary n. */
static size_t message_ew_cut(const char *s, size_t n)
{
	size_t i;

	for (i = n; i > n / 2; i--) {
		if (s[i - 1] == ' ') {
			return i;
		}
	}
	return n;
}

/* s as encoded words filling the current line, then folded lines. */
static void message_hdr_encoded(struct message_hdr *h, const char *s, size_t len)
{
	char word[MESSAGE_EW_MAX + 1];
	size_t used, room, n;
	int b64;

	while (len > 0 && h->st == EX_OK) {
		used = h->col + (size_t)h->sep;
		room = used < MESSAGE_LINE_MAX ? MESSAGE_LINE_MAX - used : 0;
		n = message_utf8_prefix(s, len, message_ew_capacity(room));
		n = n < len ? message_ew_cut(s, n) : n;
		if (n == 0) {
			message_hdr_fold(h);
			continue;
		}
		memcpy(word, "=?UTF-8?B?", 10);
		b64 = EVP_EncodeBlock((unsigned char *)word + 10, (const unsigned char *)s, (int)n);
		memcpy(word + 10 + b64, "?=", 3);
		message_hdr_item(h, word, (size_t)b64 + 12);
		s += n;
		len -= n;
	}
}

/* Printable ASCII that no decoder would take for an encoded word. */
static int message_plain(const char *s)
{
	const char *p;

	for (p = s; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7E) {
			return 0;
		}
	}
	return strstr(s, "=?") == NULL;
}

/* Plain text whose words can be folded apart: the first fits after the
 * header name, every other one on a continuation line. */
static int message_foldable(const char *s, size_t first)
{
	size_t n, limit = first;

	if (!message_plain(s)) {
		return 0;
	}
	while (*s != '\0') {
		n = strcspn(s, " ");
		if (n > limit) {
			return 0;
		}
		s += n + (s[n] == ' ');
		limit = MESSAGE_LINE_MAX - 1;
	}
	return 1;
}

/* Each space-separated word of s an item: folds go where spaces were. */
static void message_hdr_words(struct message_hdr *h, const char *s)
{
	size_t n;

	while (*s != '\0') {
		n = strcspn(s, " ");
		message_hdr_item(h, s, n);
		s += n + (s[n] == ' ');
	}
}

/* Unstructured text (clean, one line): words, or encoded words. */
static void message_hdr_text(struct message_hdr *h, const char *s)
{
	if (message_foldable(s, MESSAGE_LINE_MAX - h->col)) {
		message_hdr_words(h, s);
	} else {
		message_hdr_encoded(h, s, strlen(s));
	}
}

/* "s" with '"' and '\\' escaped. */
static enum ex_status message_quote(const char *s, struct buf *q)
{
	enum ex_status st = buf_putc(q, '"');

	for (; *s != '\0' && st == EX_OK; s++) {
		if (*s == '"' || *s == '\\') {
			st = buf_putc(q, '\\');
		}
		st = st == EX_OK ? buf_putc(q, *s) : st;
	}
	return st == EX_OK ? buf_putc(q, '"') : st;
}

/* Plain ASCII as a quoted-string, folded at its spaces (RFC 5322 allows
 * FWS inside one); anything else as encoded words, which may hold specials
 * (RFC 2047 5(3)). */
static void message_hdr_phrase(struct message_hdr *h, const char *s)
{
	enum ex_status st = EX_EINVAL;
	struct buf q;

	buf_init(&q, 998);
	if (message_plain(s)) {
		st = message_quote(s, &q);
	}
	if (st == EX_OK && message_foldable(q.data, MESSAGE_LINE_MAX - h->col)) {
		message_hdr_words(h, q.data);
	} else {
		message_hdr_encoded(h, s, strlen(s));
	}
	buf_free(&q);
}

enum ex_status message_encode_header_text(const char *text, struct buf *out)
{
	/* Sized to follow "Subject: ", the longest name it is used with. */
	struct message_hdr h = {out, MESSAGE_SUBJECT_COL, 0, 1, EX_OK};
	struct buf clean;

	buf_init(&clean, out->cap);
	h.st = message_clean(text, MESSAGE_ONELINE, &clean);
	if (h.st == EX_OK) {
		message_hdr_text(&h, buf_str(&clean));
	}
	buf_free(&clean);
	return h.st;
}

/* ---- the values the mail shows --------------------------------------------- */

enum message_value {
	MESSAGE_V_TYPE,
	MESSAGE_V_FORMAT,
	MESSAGE_V_CHECKSUM,
	MESSAGE_V_LINK,
	MESSAGE_V_ID,
	MESSAGE_V_ERROR,
	MESSAGE_V_NAME,
	MESSAGE_V_SUBJECT,
	MESSAGE_V_ROWS,
	MESSAGE_V_SIZE,
	MESSAGE_V_EXPIRES,
	MESSAGE_NVALUES,
};

struct message_body {
	struct buf text;
	struct buf html;
	enum ex_status st; /* the first error, sticky */
};

struct message_ctx {
	const struct message_envelope *env;
	const struct message_job *job;
	struct buf v[MESSAGE_NVALUES]; /* clean; "" = absent */
	struct message_body body;
	char boundary[64];
};

static const char *message_v(const struct message_ctx *c, enum message_value i)
{
	return buf_str(&c->v[i]);
}

static const char *const message_months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const message_days[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* RFC 5322 date-time in UTC; not strftime, whose names follow the locale. */
static enum ex_status message_date(time_t t, struct buf *out)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		return EX_EINVAL;
	}
	return buf_printf(out, "%s, %02d %s %04d %02d:%02d:%02d +0000", message_days[tm.tm_wday],
			  tm.tm_mday, message_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
			  tm.tm_min, tm.tm_sec);
}

/* "2026-11-29 08:30 UTC" */
static enum ex_status message_when(time_t t, struct buf *out)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		return EX_EINVAL;
	}
	return buf_printf(out, "%04d-%02d-%02d %02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1,
			  tm.tm_mday, tm.tm_hour, tm.tm_min);
}

/* 1234567 -> "1,234,567"; v >= 0. */
static enum ex_status message_thousands(unsigned long long v, struct buf *out)
{
	char digits[32];
	int n = snprintf(digits, sizeof(digits), "%llu", v), i;
	enum ex_status st = EX_OK;

	for (i = 0; i < n && st == EX_OK; i++) {
		if (i > 0 && (n - i) % 3 == 0) {
			st = buf_putc(out, ',');
		}
		st = st == EX_OK ? buf_putc(out, digits[i]) : st;
	}
	return st;
}

/* "23.2 MB (23,245,678 bytes)", decimal units, or "999 bytes" / "1 byte". */
static enum ex_status message_size(long long bytes, struct buf *out)
{
	static const char *const units[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
	unsigned long long b = (unsigned long long)bytes, unit = 1000, tenths = 0;
	enum ex_status st;
	size_t i = 0;

	if (bytes < 1000) {
		return buf_printf(out, "%lld byte%s", bytes, bytes == 1 ? "" : "s");
	}
	for (i = 0;; i++, unit *= 1000) {
		tenths = b / (unit / 10) + (b % (unit / 10) >= unit / 20);
		/* below 1000.0 of this unit once rounded, or the largest unit */
		if (tenths < 10000 || i + 1 == sizeof(units) / sizeof(units[0])) {
			break;
		}
	}
	st = buf_printf(out, "%llu.%llu %s (", tenths / 10, tenths % 10, units[i]);
	st = st == EX_OK ? message_thousands(b, out) : st;
	return st == EX_OK ? buf_puts(out, " bytes)") : st;
}

static void message_upper(struct buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++) {
		if (b->data[i] >= 'a' && b->data[i] <= 'z') {
			b->data[i] = (char)(b->data[i] - 'a' + 'A');
		}
	}
}

/* The numbers and dates, as text; absent ones stay "". */
static enum ex_status message_figures(struct message_ctx *c)
{
	const struct message_job *job = c->job;
	enum ex_status st = EX_OK;

	if (job->row_count >= 0) {
		st = message_thousands((unsigned long long)job->row_count, &c->v[MESSAGE_V_ROWS]);
	}
	if (st == EX_OK && job->file_size >= 0) {
		st = message_size(job->file_size, &c->v[MESSAGE_V_SIZE]);
	}
	if (st == EX_OK && job->link_expires > 0) {
		st = message_when(job->link_expires, &c->v[MESSAGE_V_EXPIRES]);
	}
	return st;
}

static enum ex_status message_values(struct message_ctx *c)
{
	const struct message_job *job = c->job;
	const char *src[] = {job->type, job->format, job->checksum,
			     job->link, job->job_id, c->env->from_name};
	const enum message_value dst[] = {MESSAGE_V_TYPE, MESSAGE_V_FORMAT, MESSAGE_V_CHECKSUM,
					  MESSAGE_V_LINK, MESSAGE_V_ID,	    MESSAGE_V_NAME};
	enum ex_status st = EX_OK;
	size_t i;

	for (i = 0; i < sizeof(src) / sizeof(src[0]) && st == EX_OK; i++) {
		st = message_clean(src[i], MESSAGE_ONELINE, &c->v[dst[i]]);
	}
	st = st == EX_OK ? message_clean(job->error, MESSAGE_MULTILINE, &c->v[MESSAGE_V_ERROR])
			 : st;
	message_upper(&c->v[MESSAGE_V_FORMAT]);
	if (st == EX_OK && c->v[MESSAGE_V_TYPE].len == 0) {
		st = buf_puts(&c->v[MESSAGE_V_TYPE], "data");
	}
	st = st == EX_OK ? message_figures(c) : st;
	if (st == EX_OK) {
		st = buf_printf(&c->v[MESSAGE_V_SUBJECT], "Your %s export %s",
				message_v(c, MESSAGE_V_TYPE),
				job->kind == MESSAGE_COMPLETE ? "is ready" : "failed");
	}
	return st;
}

/* ---- body ------------------------------------------------------------------ */

static void message_body_put(struct message_body *b, const char *text, const char *html)
{
	if (b->st == EX_OK && text != NULL) {
		b->st = buf_puts(&b->text, text);
	}
	if (b->st == EX_OK && html != NULL) {
		b->st = buf_puts(&b->html, html);
	}
}

/* What c, one of & < > " ' and '\n', becomes in HTML. */
static const char *message_html_entity(char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		return "\r\n";
	}
}

/* v escaped for HTML text and attribute values; '\n' becomes CRLF. */
static enum ex_status message_html_escape(const char *v, struct buf *out)
{
	enum ex_status st = EX_OK;
	size_t n;

	while (st == EX_OK && *v != '\0') {
		n = strcspn(v, "&<>\"'\n");
		st = buf_append(out, v, n);
		v += n;
		if (st == EX_OK && *v != '\0') {
			st = buf_puts(out, message_html_entity(*v));
			v++;
		}
	}
	return st;
}

/* A value: as it is in the text part, escaped in the HTML part. */
static void message_body_value(struct message_body *b, const char *v)
{
	message_body_put(b, v, NULL);
	if (b->st == EX_OK) {
		b->st = message_html_escape(v, &b->html);
	}
}

/* A paragraph of literal words around at most one value (NULL: none). */
static void message_body_para(struct message_body *b, const char *before, const char *v,
			      const char *after)
{
	message_body_put(b, NULL, "<p>");
	message_body_put(b, before, before);
	if (v != NULL) {
		message_body_value(b, v);
	}
	message_body_put(b, after, after);
	message_body_put(b, "\r\n\r\n", "</p>\r\n");
}

/* "  Label:      value" / a table row; skipped when v is "". */
static void message_body_row(struct message_body *b, const char *label, const char *v)
{
	size_t pad = MESSAGE_LABEL_WIDTH - strlen(label) - 1;

	if (v[0] == '\0') {
		return;
	}
	if (b->st == EX_OK) {
		b->st = buf_printf(&b->text, "  %s:%*s", label, (int)pad, "");
	}
	message_body_put(b, NULL, "<tr><th align=\"left\">");
	message_body_put(b, NULL, label);
	message_body_put(b, NULL, "</th><td>");
	message_body_value(b, v);
	message_body_put(b, "\r\n", "</td></tr>\r\n");
}

static void message_body_details(struct message_body *b, const struct message_ctx *c)
{
	message_body_put(b, NULL, "<table>\r\n");
	message_body_row(b, "Export type", message_v(c, MESSAGE_V_TYPE));
	message_body_row(b, "Format", message_v(c, MESSAGE_V_FORMAT));
	if (c->job->kind == MESSAGE_COMPLETE) {
		message_body_row(b, "Rows", message_v(c, MESSAGE_V_ROWS));
		message_body_row(b, "Size", message_v(c, MESSAGE_V_SIZE));
		message_body_row(b, "SHA-256", message_v(c, MESSAGE_V_CHECKSUM));
	}
	message_body_row(b, "Export id", message_v(c, MESSAGE_V_ID));
	message_body_put(b, "\r\n", "</table>\r\n");
}

/* The link on a line of its own; a link only if it is a web address. */
static void message_body_link(struct message_body *b, const char *link)
{
	int web = strncmp(link, "https://", 8) == 0 || strncmp(link, "http://", 7) == 0;

	message_body_put(b, "Download it here:\r\n", "<p>Download it here:<br>\r\n");
	if (web) {
		message_body_put(b, NULL, "<a href=\"");
		if (b->st == EX_OK) {
			b->st = message_html_escape(link, &b->html);
		}
		message_body_put(b, NULL, "\">");
	}
	message_body_value(b, link);
	message_body_put(b, "\r\n\r\n", web ? "</a></p>\r\n" : "</p>\r\n");
}

static void message_body_complete(struct message_body *b, const struct message_ctx *c)
{
	message_body_para(b, "Your ", message_v(c, MESSAGE_V_TYPE), " export is ready.");
	message_body_details(b, c);
	if (c->v[MESSAGE_V_LINK].len == 0) {
		message_body_para(b, "You can download it from the application.", NULL, "");
		return;
	}
	message_body_link(b, message_v(c, MESSAGE_V_LINK));
	if (c->v[MESSAGE_V_EXPIRES].len > 0) {
		message_body_para(b, "The link works until ", message_v(c, MESSAGE_V_EXPIRES),
				  ". After that, start a new export from the application to "
				  "get a new link.");
	}
}

/* The error as given, line by line, indented in the text part. */
static void message_body_error(struct message_body *b, const char *error)
{
	const char *p = error;
	size_t n;

	message_body_put(b, "The error reported was:\r\n\r\n",
			 "<p>The error reported was:</p>\r\n<pre>");
	while (b->st == EX_OK && *p != '\0') {
		n = strcspn(p, "\n");
		b->st = n > 0 ? buf_puts(&b->text, "  ") : EX_OK;
		b->st = b->st == EX_OK ? buf_append(&b->text, p, n) : b->st;
		b->st = b->st == EX_OK ? buf_puts(&b->text, "\r\n") : b->st;
		p += n + (p[n] == '\n');
	}
	if (b->st == EX_OK) {
		b->st = message_html_escape(error, &b->html);
	}
	message_body_put(b, "\r\n", "</pre>\r\n");
}

static void message_body_failed(struct message_body *b, const struct message_ctx *c)
{
	message_body_para(b, "Your export of ", message_v(c, MESSAGE_V_TYPE),
			  " could not be completed.");
	if (c->v[MESSAGE_V_ERROR].len > 0) {
		message_body_error(b, message_v(c, MESSAGE_V_ERROR));
	} else {
		message_body_para(b, "No error message was recorded.", NULL, "");
	}
	message_body_para(b,
			  "What you can do: start a new export from the application. If it "
			  "fails again, please contact your administrator and mention the "
			  "export id below.",
			  NULL, "");
	message_body_details(b, c);
}

static enum ex_status message_body_build(struct message_ctx *c)
{
	struct message_body *b = &c->body;

	message_body_put(b, NULL,
			 "<!DOCTYPE html>\r\n<html>\r\n<head>\r\n<meta charset=\"utf-8\">\r\n"
			 "<title>");
	if (b->st == EX_OK) {
		b->st = message_html_escape(message_v(c, MESSAGE_V_SUBJECT), &b->html);
	}
	message_body_put(b, NULL, "</title>\r\n</head>\r\n<body>\r\n");
	message_body_para(b, "Hello,", NULL, "");
	if (c->job->kind == MESSAGE_COMPLETE) {
		message_body_complete(b, c);
	} else {
		message_body_failed(b, c);
	}
	message_body_para(b, "This message was sent automatically; please do not reply to it.",
			  NULL, "");
	message_body_put(b, NULL, "</body>\r\n</html>\r\n");
	return b->st;
}

/* ---- assembly ---------------------------------------------------------------- */

/* Neither base64 nor our headers can hold "=_", so the boundary cannot
 * occur inside a part. */
static void message_boundary(struct message_ctx *c)
{
	char hash[CRYPTO_SHA256_HEX_LEN + 1];
	const char *id = message_v(c, MESSAGE_V_ID);

	crypto_sha256_hex(id, strlen(id), hash);
	snprintf(c->boundary, sizeof(c->boundary), "=_exportd_%.32s", hash);
}

static void message_hdr_simple(struct message_hdr *h, const char *name, const char *value)
{
	message_hdr_begin(h, name);
	message_hdr_item(h, value, strlen(value));
	message_hdr_end(h);
}

static void message_hdr_from(struct message_hdr *h, const struct message_ctx *c)
{
	struct buf addr;

	buf_init(&addr, 512);
	message_hdr_begin(h, "From");
	if (c->v[MESSAGE_V_NAME].len == 0) {
		message_hdr_item(h, c->env->from_address, strlen(c->env->from_address));
		goto out;
	}
	message_hdr_phrase(h, message_v(c, MESSAGE_V_NAME));
	if (h->st == EX_OK) {
		h->st = buf_printf(&addr, "<%s>", c->env->from_address);
	}
	message_hdr_item(h, buf_str(&addr), addr.len);
out:
	message_hdr_end(h);
	buf_free(&addr);
}

static void message_hdr_msgid(struct message_hdr *h, const char *id, size_t len)
{
	message_hdr_begin(h, "Message-ID");
	message_hdr_put(h, "<", 1);
	message_hdr_put(h, id, len);
	message_hdr_put(h, ">", 1);
	message_hdr_end(h);
}

static enum ex_status message_headers(const struct message_ctx *c, const char *msgid,
				      size_t msgid_len, struct buf *out)
{
	struct message_hdr h = {out, 0, 0, 1, EX_OK};
	struct buf tmp;

	buf_init(&tmp, 256);
	message_hdr_begin(&h, "Date");
	h.st = h.st == EX_OK ? message_date(c->env->date, out) : h.st;
	message_hdr_end(&h);
	message_hdr_from(&h, c);
	message_hdr_simple(&h, "To", c->env->to_address);
	message_hdr_begin(&h, "Subject");
	message_hdr_text(&h, message_v(c, MESSAGE_V_SUBJECT));
	message_hdr_end(&h);
	if (msgid != NULL) {
		message_hdr_msgid(&h, msgid, msgid_len);
	}
	/* RFC 3834: keeps vacation responders from answering. */
	message_hdr_simple(&h, "Auto-Submitted", "auto-generated");
	message_hdr_simple(&h, "MIME-Version", "1.0");
	message_hdr_begin(&h, "Content-Type");
	message_hdr_item(&h, "multipart/alternative;", 22);
	h.st = h.st == EX_OK ? buf_printf(&tmp, "boundary=\"%s\"", c->boundary) : h.st;
	message_hdr_item(&h, buf_str(&tmp), tmp.len);
	message_hdr_end(&h);
	message_hdr_put(&h, "\r\n", 2);
	buf_free(&tmp);
	return h.st;
}

/* One body part: its headers, then content as base64 lines of 76. */
static enum ex_status message_part(const char *boundary, const char *type,
				   const struct buf *content, struct buf *out)
{
	unsigned char line[MESSAGE_B64_IN / 3 * 4 + 1];
	enum ex_status st;
	size_t off, n;
	int len;

	st = buf_printf(out,
			"--%s\r\nContent-Type: %s; charset=utf-8\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n",
			boundary, type);
	for (off = 0; st == EX_OK && off < content->len; off += n) {
		n = content->len - off < MESSAGE_B64_IN ? content->len - off : MESSAGE_B64_IN;
		len = EVP_EncodeBlock(line, (const unsigned char *)content->data + off, (int)n);
		st = buf_append(out, line, (size_t)len);
		st = st == EX_OK ? buf_puts(out, "\r\n") : st;
	}
	return st;
}

static enum ex_status message_assemble(struct message_ctx *c, const char *msgid, size_t msgid_len,
				       struct buf *out)
{
	enum ex_status st;

	st = message_values(c);
	st = st == EX_OK ? message_body_build(c) : st;
	if (st != EX_OK) {
		return st;
	}
	message_boundary(c);
	st = message_headers(c, msgid, msgid_len, out);
	st = st == EX_OK ? message_part(c->boundary, "text/plain", &c->body.text, out) : st;
	st = st == EX_OK ? message_part(c->boundary, "text/html", &c->body.html, out) : st;
	return st == EX_OK ? buf_printf(out, "--%s--\r\n", c->boundary) : st;
}

enum ex_status message_build(const struct message_envelope *env, const struct message_job *job,
			     struct buf *out)
{
	struct message_ctx c;
	const char *msgid = NULL;
	size_t start = out->len, msgid_len = 0, i;
	enum ex_status st = EX_EINVAL;

	memset(&c, 0, sizeof(c));
	c.env = env;
	c.job = job;
	for (i = 0; i < MESSAGE_NVALUES; i++) {
		buf_init(&c.v[i], out->cap);
	}
	buf_init(&c.body.text, out->cap);
	buf_init(&c.body.html, out->cap);
	if (!message_valid_address(env->from_address) || !message_valid_address(env->to_address)) {
		goto out;
	}
	if (env->message_id != NULL) {
		msgid = message_msgid(env->message_id, &msgid_len);
		if (msgid == NULL) {
			goto out;
		}
	}
	st = message_assemble(&c, msgid, msgid_len, out);
out:
	if (st != EX_OK) {
		buf_truncate(out, start);
	}
	for (i = 0; i < MESSAGE_NVALUES; i++) {
		buf_free(&c.v[i]);
	}
	buf_free(&c.body.text);
	buf_free(&c.body.html);
	return st;
}
