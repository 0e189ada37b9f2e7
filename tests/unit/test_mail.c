/* test_mail.c - signed download links and the notification mail.
 *
 * The golden mails in tests/golden/mail/ were written by message_build()
 * and checked independently with Python's email package (see the README
 * there).  To rewrite them after a deliberate change:
 *	EXPORTD_WRITE_GOLDEN=1 srcdir=. tests/unit/test_mail
 * then run the README's check again and read the diff.
 */
#include "mail/address.h"
#include "mail/linktoken.h"
#include "mail/message.h"
#include "mail/mime.h"
#include "mail/template.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#include "unit.h"

#define BIG_CAP (1u << 20)

/* ---- link tokens ----------------------------------------------------------- */

#define JOB    "b3c1e7a2-5d4f-4e8a-9c61-0f2d7e4a8b19"
#define SECRET "correct horse battery staple"

/* Computed outside exportd with:
 *	printf 'exportd-link\n%s\n%s' b3c1e7a2-5d4f-4e8a-9c61-0f2d7e4a8b19 1764405000 |
 *	  openssl dgst -sha256 -hmac 'correct horse battery staple' -binary |
 *	  basenc --base64url | tr -d '='
 */
#define VECTOR_TOKEN "1764405000.Dn86L3xEZFdigtllZL5DVT1_7ywLfAD5NIRBY-Rubtk"

static void test_linktoken_vector(void)
{
	char tok[LINKTOKEN_MAX];

	UNIT_EQ_INT(linktoken_sign(SECRET, JOB, 1764405000, tok), EX_OK);
	UNIT_EQ_STR(tok, VECTOR_TOKEN);
	UNIT_EQ_INT(linktoken_verify(SECRET, JOB, VECTOR_TOKEN, 1764404999), LINKTOKEN_VALID);
	/* Spaces around a secret are not part of it. */
	UNIT_EQ_INT(linktoken_sign("  " SECRET "\t, other", JOB, 1764405000, tok), EX_OK);
	UNIT_EQ_STR(tok, VECTOR_TOKEN);
}

static void test_linktoken_roundtrip(void)
{
	char tok[LINKTOKEN_MAX];

	if (!UNIT_EQ_INT(linktoken_sign("k1", "job-1", 2000000000, tok), EX_OK)) {
		return;
	}
	UNIT_EQ_INT(strlen(tok), 10 + 1 + 43);
	UNIT_CHECK(strncmp(tok, "2000000000.", 11) == 0);
	UNIT_EQ_INT(linktoken_verify("k1", "job-1", tok, 0), LINKTOKEN_VALID);
	UNIT_EQ_INT(linktoken_verify("k1", "job-1", tok, 1999999999), LINKTOKEN_VALID);
	/* URL-safe as it is: digits, '.', base64url. */
	UNIT_EQ_INT(
		strspn(tok, "0123456789.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"),
		strlen(tok));
}

static void test_linktoken_largest_expiry(void)
{
	char tok[LINKTOKEN_MAX];
	time_t big = (time_t)INT64_MAX;

	if (sizeof(time_t) < 8) {
		return;
	}
	if (!UNIT_EQ_INT(linktoken_sign("k", "job", big, tok), EX_OK)) {
		return;
	}
	UNIT_CHECK(strlen(tok) <= LINKTOKEN_MAX - 1);
	UNIT_EQ_INT(linktoken_verify("k", "job", tok, 0), LINKTOKEN_VALID);
	UNIT_EQ_INT(linktoken_verify("k", "job", tok, big), LINKTOKEN_EXPIRED);
}

static void test_linktoken_malformed(void)
{
	char tok[LINKTOKEN_MAX], bad[2 * LINKTOKEN_MAX];
	const char *sig;
	static const char *const prefixes[] = {
		"",			/* no expiry */
		"-2000000000",		/* sign */
		"+2000000000",		/* sign */
		" 2000000000",		/* space */
		"02000000000",		/* leading zero: a second spelling */
		"20000000x0",		/* not a digit */
		"2000000000.5",		/* fraction */
		"9223372036854775808",	/* INT64_MAX + 1 */
		"99999999999999999999", /* 20 digits */
		"18446744073709551617", /* wraps 64 bits to 1 */
	};
	size_t i;

	if (!UNIT_EQ_INT(linktoken_sign("k", "job", 2000000000, tok), EX_OK)) {
		return;
	}
	sig = strchr(tok, '.') + 1;
	UNIT_EQ_INT(linktoken_verify("k", "job", "", 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("k", "job", NULL, 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("k", "job", "2000000000", 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("k", "job", sig, 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("k", "job", "2000000000.", 0), LINKTOKEN_INVALID);
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		snprintf(bad, sizeof(bad), "%s.%s", prefixes[i], sig);
		if (!UNIT_EQ_INT(linktoken_verify("k", "job", bad, 0), LINKTOKEN_INVALID)) {
			fprintf(stderr, "  token %s\n", bad);
		}
	}
	snprintf(bad, sizeof(bad), "%s=", tok); /* padding */
	UNIT_EQ_INT(linktoken_verify("k", "job", bad, 0), LINKTOKEN_INVALID);
	snprintf(bad, sizeof(bad), "%sA", tok); /* extra characters */
	UNIT_EQ_INT(linktoken_verify("k", "job", bad, 0), LINKTOKEN_INVALID);
	snprintf(bad, sizeof(bad), "%.*s", (int)strlen(tok) - 1, tok); /* one short */
	UNIT_EQ_INT(linktoken_verify("k", "job", bad, 0), LINKTOKEN_INVALID);
	snprintf(bad, sizeof(bad), "%s.%s", "2000000000", tok); /* two dots */
	UNIT_EQ_INT(linktoken_verify("k", "job", bad, 0), LINKTOKEN_INVALID);
}

static void test_linktoken_tampered(void)
{
	char tok[LINKTOKEN_MAX], bad[LINKTOKEN_MAX];
	size_t last;

	if (!UNIT_EQ_INT(linktoken_sign("k", "job-1", 2000000000, tok), EX_OK)) {
		return;
	}
	memcpy(bad, tok, sizeof(bad));
	last = strlen(bad) - 1;
	bad[last] = bad[last] == 'A' ? 'B' : 'A';
	UNIT_EQ_INT(linktoken_verify("k", "job-1", bad, 0), LINKTOKEN_INVALID);
	memcpy(bad, tok, sizeof(bad));
	bad[11] = bad[11] == 'A' ? 'B' : 'A';
	UNIT_EQ_INT(linktoken_verify("k", "job-1", bad, 0), LINKTOKEN_INVALID);
	memcpy(bad, tok, sizeof(bad));
	bad[9] = '1'; /* 2000000001: a later expiry */
	UNIT_EQ_INT(linktoken_verify("k", "job-1", bad, 0), LINKTOKEN_INVALID);
	/* A tampered expiry stays INVALID even when it is in the past. */
	UNIT_EQ_INT(linktoken_verify("k", "job-1", bad, 2100000000), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("k", "job-2", tok, 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("k", "job-1\n", tok, 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("k", "", tok, 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("K", "job-1", tok, 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("other", "job-1", tok, 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("", "job-1", tok, 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify(" , ,", "job-1", tok, 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify(NULL, "job-1", tok, 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("k", NULL, tok, 0), LINKTOKEN_INVALID);
}

static void test_linktoken_expired(void)
{
	char tok[LINKTOKEN_MAX];

	if (!UNIT_EQ_INT(linktoken_sign("k", "job", 1000, tok), EX_OK)) {
		return;
	}
	UNIT_EQ_INT(linktoken_verify("k", "job", tok, 999), LINKTOKEN_VALID);
	UNIT_EQ_INT(linktoken_verify("k", "job", tok, 1000), LINKTOKEN_EXPIRED);
	UNIT_EQ_INT(linktoken_verify("k", "job", tok, 1001), LINKTOKEN_EXPIRED);
	UNIT_EQ_INT(linktoken_verify("other", "job", tok, 1001), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_sign("k", "job", 0, tok), EX_OK);
	UNIT_CHECK(strncmp(tok, "0.", 2) == 0);
	UNIT_EQ_INT(linktoken_verify("k", "job", tok, 0), LINKTOKEN_EXPIRED);
}

static void test_linktoken_rotation(void)
{
	char tok[LINKTOKEN_MAX], tok2[LINKTOKEN_MAX];

	/* Links signed before the rotation keep working until dropped. */
	if (!UNIT_EQ_INT(linktoken_sign("old", "job", 2000000000, tok), EX_OK)) {
		return;
	}
	UNIT_EQ_INT(linktoken_verify("new,old", "job", tok, 0), LINKTOKEN_VALID);
	UNIT_EQ_INT(linktoken_verify(" new , , old ,", "job", tok, 0), LINKTOKEN_VALID);
	UNIT_EQ_INT(linktoken_verify("new", "job", tok, 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("new,old", "job", tok, 2000000000), LINKTOKEN_EXPIRED);
	/* New links are signed with the first secret only. */
	if (!UNIT_EQ_INT(linktoken_sign("new,old", "job", 2000000000, tok2), EX_OK)) {
		return;
	}
	UNIT_EQ_INT(linktoken_verify("new,old", "job", tok2, 0), LINKTOKEN_VALID);
	UNIT_EQ_INT(linktoken_verify("old,new", "job", tok2, 0), LINKTOKEN_VALID);
	UNIT_EQ_INT(linktoken_verify("new", "job", tok2, 0), LINKTOKEN_VALID);
	UNIT_EQ_INT(linktoken_verify("old", "job", tok2, 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("new, old", "job", tok, 0), LINKTOKEN_VALID);
	/* A secret is the whole entry: "ne" or "old,x" do not match parts. */
	UNIT_EQ_INT(linktoken_verify("ne,w", "job", tok2, 0), LINKTOKEN_INVALID);
	UNIT_EQ_INT(linktoken_verify("newold", "job", tok2, 0), LINKTOKEN_INVALID);
}

static void test_linktoken_sign_errors(void)
{
	char tok[LINKTOKEN_MAX];

	UNIT_EQ_INT(linktoken_sign("", "job", 1, tok), EX_EINVAL);
	UNIT_EQ_INT(linktoken_sign(" , ,\t", "job", 1, tok), EX_EINVAL);
	UNIT_EQ_INT(linktoken_sign(NULL, "job", 1, tok), EX_EINVAL);
	UNIT_EQ_INT(linktoken_sign("k", NULL, 1, tok), EX_EINVAL);
	UNIT_EQ_INT(linktoken_sign("k", "job", -1, tok), EX_EINVAL);
	/* The first non-empty entry signs. */
	UNIT_EQ_INT(linktoken_sign(", ,k", "job", 5, tok), EX_OK);
	UNIT_EQ_INT(linktoken_verify("k", "job", tok, 0), LINKTOKEN_VALID);
}

/* ---- helpers for mails ------------------------------------------------------ */

static const char *const known_headers[] = {
	"Date",	      "From",		"To",		"Subject",
	"Message-ID", "Auto-Submitted", "MIME-Version", "Content-Type",
};

static int known_header(const char *line, size_t len)
{
	size_t i, n;

	for (i = 0; i < sizeof(known_headers) / sizeof(known_headers[0]); i++) {
		n = strlen(known_headers[i]);
		if (len > n + 1 && strncmp(line, known_headers[i], n) == 0 && line[n] == ':' &&
		    line[n + 1] == ' ') {
			return 1;
		}
	}
	return 0;
}

/* Length of the header block including its final CRLF CRLF; 0 if none. */
static size_t header_len(const char *msg)
{
	const char *end = strstr(msg, "\r\n\r\n");

	return end != NULL ? (size_t)(end - msg) + 4 : 0;
}

/* Every line ends in CRLF; no CR or LF stands alone. */
static int crlf_only(const char *msg, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (msg[i] == '\r' && (i + 1 == len || msg[i + 1] != '\n')) {
			return 0;
		}
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r')) {
			return 0;
		}
	}
	return len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n';
}

/* Each header line is a known header or a non-blank folded continuation,
 * at most 78 characters, and each header appears once. */
static int headers_sane(const char *msg)
{
	size_t hlen = header_len(msg), pos = 0, n, i, seen[8] = {0};
	const char *line;

	if (!UNIT_CHECK(hlen > 0) || !UNIT_CHECK(crlf_only(msg, strlen(msg)))) {
		return 0;
	}
	while (pos + 2 < hlen) {
		line = msg + pos;
		n = (size_t)(strstr(line, "\r\n") - line);
		pos += n + 2;
		if (!UNIT_CHECK(n <= 78)) {
			return 0;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (!UNIT_CHECK(strspn(line, " \t") < n)) {
				return 0;
			}
			continue;
		}
		if (!UNIT_CHECK(known_header(line, n))) {
			fprintf(stderr, "  unexpected header line: %.*s\n", (int)n, line);
			return 0;
		}
		for (i = 0; i < sizeof(known_headers) / sizeof(known_headers[0]); i++) {
			seen[i] += strncmp(line, known_headers[i], strlen(known_headers[i])) == 0 &&
				   line[strlen(known_headers[i])] == ':';
		}
	}
	for (i = 0; i < sizeof(known_headers) / sizeof(known_headers[0]); i++) {
		if (!UNIT_CHECK(seen[i] == 1)) {
			fprintf(stderr, "  header %s seen %zu times\n", known_headers[i], seen[i]);
			return 0;
		}
	}
	return 1;
}

/* The value of header name, unfolded; "" if absent.  Caller frees. */
static char *header_value(const char *msg, const char *name)
{
	size_t hlen = header_len(msg), nlen = strlen(name), i, o = 0;
	const char *p = msg;
	char *v = calloc(1, hlen + 1);

	while (v != NULL && p < msg + hlen) {
		if ((p == msg || p[-1] == '\n') && strncmp(p, name, nlen) == 0 && p[nlen] == ':') {
			break;
		}
		p++;
	}
	if (v == NULL || p >= msg + hlen) {
		return v;
	}
	for (i = nlen + 2; p + i < msg + hlen; i++) {
		if (p[i] == '\r' && p[i + 1] == '\n') {
			if (p[i + 2] != ' ' && p[i + 2] != '\t') {
				break;
			}
			i++;
			continue;
		}
		v[o++] = p[i];
	}
	return v;
}

/* RFC 2047 B words in v decoded; white space between two words dropped. */
static char *decode_words(const char *v)
{
	size_t len = strlen(v), o = 0, n;
	char *out = calloc(1, len + 1);
	const char *end, *next;
	int prev_word = 0, got;

	while (out != NULL && *v != '\0') {
		next = v + strspn(v, " ");
		if (prev_word && next > v && strncmp(next, "=?UTF-8?B?", 10) == 0) {
			v = next;
		}
		end = strncmp(v, "=?UTF-8?B?", 10) == 0 ? strstr(v + 10, "?=") : NULL;
		if (end == NULL) {
			out[o++] = *v++;
			prev_word = 0;
			continue;
		}
		n = (size_t)(end - v - 10);
		got = EVP_DecodeBlock((unsigned char *)out + o, (const unsigned char *)v + 10,
				      (int)n);
		o += (size_t)got - (n > 0 && v[10 + n - 1] == '=') -
		     (n > 1 && v[10 + n - 2] == '=');
		v = end + 2;
		prev_word = 1;
	}
	if (out != NULL) {
		out[o] = '\0';
	}
	return out;
}

/* The base64 content of the part with content type ctype, decoded. */
static char *part_text(const char *msg, const char *ctype)
{
	char head[128];
	const char *p, *eol;
	char *out = calloc(1, strlen(msg) + 1);
	size_t o = 0, n;
	int got;

	snprintf(head, sizeof(head),
		 "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		 ctype);
	p = strstr(msg, head);
	if (out == NULL || !UNIT_CHECK(p != NULL)) {
		free(out);
		return NULL;
	}
	for (p += strlen(head); strncmp(p, "--", 2) != 0; p = eol + 2) {
		eol = strstr(p, "\r\n");
		n = (size_t)(eol - p);
		UNIT_CHECK(n <= 76 && n % 4 == 0);
		got = EVP_DecodeBlock((unsigned char *)out + o, (const unsigned char *)p, (int)n);
		o += (size_t)got - (p[n - 1] == '=') - (p[n - 2] == '=');
	}
	out[o] = '\0';
	return out;
}

static const struct message_envelope env_plain = {
	"exportd@example.com",	     "Exports", "user@example.org", 1795336200,
	JOB ".complete@example.com",
};

static struct message_job job_complete(void)
{
	struct message_job j;

	memset(&j, 0, sizeof(j));
	j.kind = MESSAGE_COMPLETE;
	j.job_id = JOB;
	j.type = "orders";
	j.format = "csv";
	j.row_count = 1234567;
	j.file_size = 23245678;
	j.checksum = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
	j.link = "https://exports.example.com/exports/" JOB "/download?token=" VECTOR_TOKEN;
	j.link_expires = 1795941000;
	return j;
}

static struct message_job job_failed(const char *error)
{
	struct message_job j;

	memset(&j, 0, sizeof(j));
	j.kind = MESSAGE_FAILED;
	j.job_id = JOB;
	j.type = "orders";
	j.format = "jsonl";
	j.row_count = -1;
	j.file_size = -1;
	j.error = error;
	return j;
}

/* ---- addresses ---------------------------------------------------------------- */

static void test_valid_address(void)
{
	static const char *const good[] = {
		"a@b",
		"user@example.com",
		"first.last+tag@mail.example.co.uk",
		"o'brien@example.ie",
		"x_y-z=1@sub-domain.example",
		"!#$%&'*+/=?^_`{|}~-@example.com",
	};
	static const char *const bad[] = {
		"",
		"user",
		"@example.com",
		"user@",
		"a@@b",
		"a@b@c",
		"a b@c",
		"\"a\"@b",
		"<a@b>",
		"a@b>",
		"a@b,c@d",
		"a@b;c",
		"a:b@c",
		"a\\b@c",
		"(c)a@b",
		"a@[192.0.2.1]",
		".a@b",
		"a.@b",
		"a..b@c",
		"a@.b",
		"a@b.",
		"a@b..c",
		"a@b\r\nBcc: x@y",
		"a@b\n",
		"a@b\t",
		"\xc3\xa9@example.com",
		"a@ex\xc3\xa4mple.com",
		"a@b\x7f",
		"a@b\x01",
	};
	char longaddr[300];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!UNIT_CHECK(address_valid(good[i]))) {
			fprintf(stderr, "  refused: %s\n", good[i]);
		}
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!UNIT_CHECK(!address_valid(bad[i]))) {
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		}
	}
	UNIT_CHECK(!address_valid(NULL));
	/* 64-byte local part yes, 65 no; 254 bytes in all yes, 255 no. */
	memset(longaddr, 'a', sizeof(longaddr));
	memcpy(longaddr + 64, "@example.com", 13);
	UNIT_CHECK(address_valid(longaddr));
	memcpy(longaddr + 65, "@example.com", 13);
	UNIT_CHECK(!address_valid(longaddr));
	memset(longaddr, 'a', sizeof(longaddr));
	longaddr[1] = '@';
	longaddr[254] = '\0';
	UNIT_CHECK(address_valid(longaddr));
	longaddr[254] = 'a';
	longaddr[255] = '\0';
	UNIT_CHECK(!address_valid(longaddr));
}

static void test_build_refuses_addresses(void)
{
	static const char *const bad[] = {
		"",
		"user@example.org\r\nBcc: victim@example.net",
		"user@example.org\nBcc: v@x",
		"User <user@example.org>",
		"a@b, c@d",
		NULL,
	};
	struct message_job job = job_complete();
	struct message_envelope env;
	struct buf out;
	size_t i;

	buf_init(&out, BIG_CAP);
	UNIT_EQ_INT(buf_puts(&out, "kept"), EX_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env = env_plain;
		env.to_address = bad[i];
		UNIT_EQ_INT(message_build(&env, &job, &out), EX_EINVAL);
		env = env_plain;
		env.from_address = bad[i];
		UNIT_EQ_INT(message_build(&env, &job, &out), EX_EINVAL);
	}
	env = env_plain;
	env.message_id = "x\r\nBcc: v@x";
	UNIT_EQ_INT(message_build(&env, &job, &out), EX_EINVAL);
	/* A refused message leaves what was in the buffer. */
	UNIT_EQ_STR(buf_str(&out), "kept");
	buf_free(&out);
}

/* ---- golden mails -------------------------------------------------------------- */

static const struct message_envelope golden_env_complete = {
	"exportd@example.com",	     "Café Exports 漢字 📦",
	"anais.dupont@example.org",  1795336200, /* Sun, 22 Nov 2026 08:30:00 +0000 */
	JOB ".complete@example.com",
};

static const struct message_envelope golden_env_failed = {
	"exportd@example.com",	   "ACME, Inc. \"Exports\" – é",
	"ops@example.org",	   1795442709, /* Mon, 23 Nov 2026 14:05:09 +0000 */
	JOB ".failed@example.com",
};

static struct message_job golden_job_complete(void)
{
	struct message_job j = job_complete();

	j.type = "Übersicht der Verkäufe – 漢字 📊 Q3/2026";
	j.link =
		"https://exports.example.com/exports/" JOB "/download?token=" VECTOR_TOKEN "&a=<1>";
	return j;
}

static const char golden_error[] = "relation \"orders\" does not exist\n"
				   "LINE 1: SELECT * FROM orders WHERE a < 1 & b > 'x'\n"
				   "                      ^";

/* Compare with the golden file, or write it when EXPORTD_WRITE_GOLDEN is set. */
static void check_golden_mail(const struct buf *out, const char *file)
{
	const char *dir = getenv("srcdir");
	char path[4096];
	size_t glen = 0;
	char *g;
	FILE *f;

	if (getenv("EXPORTD_WRITE_GOLDEN") != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir != NULL ? dir : ".", file);
		f = fopen(path, "wb");
		UNIT_CHECK(f != NULL && fwrite(out->data, 1, out->len, f) == out->len);
		UNIT_CHECK(f != NULL && fclose(f) == 0);
	}
	g = unit_read_file(file, &glen);
	if (g != NULL) {
		UNIT_EQ_MEM(out->data, out->len, g, glen);
	}
	free(g);
}

static void test_golden_complete(void)
{
	struct message_job job = golden_job_complete();
	struct buf out;
	char *text = NULL;

	buf_init(&out, BIG_CAP);
	if (!UNIT_EQ_INT(message_build(&golden_env_complete, &job, &out), EX_OK)) {
		goto out;
	}
	headers_sane(buf_str(&out));
	check_golden_mail(&out, "tests/golden/mail/complete.eml");
	text = part_text(buf_str(&out), "text/plain");
	UNIT_CHECK(text != NULL && strstr(text, "Übersicht der Verkäufe – 漢字 📊 Q3/2026") != NULL);
out:
	free(text);
	buf_free(&out);
}

static void test_golden_failed(void)
{
	struct message_job job = job_failed(golden_error);
	struct buf out;

	buf_init(&out, BIG_CAP);
	if (UNIT_EQ_INT(message_build(&golden_env_failed, &job, &out), EX_OK)) {
		headers_sane(buf_str(&out));
		check_golden_mail(&out, "tests/golden/mail/failed.eml");
	}
	buf_free(&out);
}

/* ---- header injection, folding, encoding ------------------------------------------ */

/* Build, check the header lines, and return the decoded value of name. */
static char *build_header(const struct message_envelope *env, const struct message_job *job,
			  const char *name)
{
	struct buf out;
	char *raw = NULL, *v = NULL;

	buf_init(&out, BIG_CAP);
	if (UNIT_EQ_INT(message_build(env, job, &out), EX_OK) && headers_sane(buf_str(&out))) {
		raw = header_value(buf_str(&out), name);
		v = raw != NULL ? decode_words(raw) : NULL;
	}
	free(raw);
	buf_free(&out);
	return v;
}

static void test_injection(void)
{
	static const char *const evil[] = {
		"orders\r\nBcc: victim@example.net",
		"orders\nBcc: victim@example.net\n\nbody",
		"orders\rBcc: victim@example.net",
		"ordérs\r\nBcc: victim@example.net",
		"\r\n\r\nX-Injected: 1",
		"a\x01\x1b[31m\x7f\xc2\x85z",
	};
	struct message_envelope env = env_plain;
	struct message_job job = job_failed(NULL);
	char *v;
	size_t i;

	for (i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		job.type = evil[i];
		job.error = evil[i];
		env.from_name = evil[i];
		v = build_header(&env, &job, "Subject");
		if (!UNIT_CHECK(v != NULL && strchr(v, '\r') == NULL && strchr(v, '\n') == NULL)) {
			fprintf(stderr, "  input %zu\n", i);
		}
		free(v);
		v = build_header(&env, &job, "From");
		UNIT_CHECK(v != NULL && strchr(v, '\r') == NULL && strchr(v, '\n') == NULL);
		free(v);
	}
	job.type = "orders\r\nBcc: victim@example.net";
	v = build_header(&env, &job, "Subject");
	UNIT_EQ_STR(v, "Your orders Bcc: victim@example.net export failed");
	free(v);
	job.type = "a\x01\x1b[31m\x7f\xc2\x85z";
	v = build_header(&env, &job, "Subject");
	UNIT_EQ_STR(v, "Your a[31m z export failed");
	free(v);
}

/* Each line of a folded value at most 78 with the "Subject: " in front,
 * each continuation starting with one space, each encoded word at most 75. */
static void check_folded(const char *v)
{
	size_t col = 9, n;
	const char *p, *w, *end;

	for (p = v;; p += n + 2) {
		n = strcspn(p, "\r");
		UNIT_CHECK(col + n <= 78);
		if (p[n] == '\0') {
			break;
		}
		UNIT_CHECK(p[n + 1] == '\n' && p[n + 2] == ' ' && p[n + 3] != ' ');
		col = 0;
	}
	for (w = strstr(v, "=?UTF-8?B?"); w != NULL; w = strstr(end + 2, "=?UTF-8?B?")) {
		end = strstr(w + 10, "?=");
		if (!UNIT_CHECK(end != NULL)) {
			return;
		}
		UNIT_CHECK((size_t)(end - w) + 2 <= 75);
	}
}

/* v unfolded and decoded. */
static char *unfold_decode(const char *v)
{
	size_t i, o = 0;
	char *u = calloc(1, strlen(v) + 1), *d;

	for (i = 0; u != NULL && v[i] != '\0'; i++) {
		if (v[i] == '\r' && v[i + 1] == '\n') {
			i++;
			continue;
		}
		u[o++] = v[i];
	}
	d = u != NULL ? decode_words(u) : NULL;
	free(u);
	return d;
}

/* What mime_header_text() makes of text as a Subject: the value after
 * "Subject: " (column 9), without the CRLF that ends the header. */
static enum ex_status encode_subject(const char *text, struct buf *out)
{
	struct buf line;
	enum ex_status st;

	buf_init(&line, out->cap);
	st = mime_header_text(&line, "Subject", text);
	if (st == EX_OK && UNIT_CHECK(line.len >= 11 && strncmp(line.data, "Subject: ", 9) == 0 &&
				      strcmp(line.data + line.len - 2, "\r\n") == 0)) {
		st = buf_append(out, line.data + 9, line.len - 11);
	}
	buf_free(&line);
	return st;
}

static void check_encode(const char *text, const char *want, int encoded)
{
	struct buf out;
	char *d;

	buf_init(&out, BIG_CAP);
	if (UNIT_EQ_INT(encode_subject(text, &out), EX_OK)) {
		check_folded(buf_str(&out));
		UNIT_EQ_INT(strstr(buf_str(&out), "=?UTF-8?B?") != NULL, encoded);
		d = unfold_decode(buf_str(&out));
		UNIT_EQ_STR(d, want);
		free(d);
	}
	buf_free(&out);
}

static void test_encode_header_text(void)
{
	check_encode("Your orders export is ready", "Your orders export is ready", 0);
	check_encode("", "", 0);
	check_encode(NULL, "", 0);
	check_encode("  a \t b\r\nc  ", "a b c", 0);
	check_encode("tab\there", "tab here", 0);
	check_encode("bell\007 esc\033 del\177", "bell esc del", 0);
	check_encode("Café", "Café", 1);
	check_encode("=?UTF-8?B?SGk=?=", "=?UTF-8?B?SGk=?=", 1);
	check_encode("bad \xff\xfe utf8 \xc3", "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8 \xEF\xBF\xBD", 1);
	check_encode(
		"overlong \xc0\xaf surrogate \xed\xa0\x80",
		"overlong \xEF\xBF\xBD\xEF\xBF\xBD surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD",
		1);
}

static void test_long_subject_folding(void)
{
	char word[100], text[400];
	struct buf out;

	/* Long ASCII folds between words, never inside one. */
	snprintf(text, sizeof(text), "%s",
		 "Your quarterly revenue by region and product line including returns and "
		 "cancellations export is ready for download now");
	check_encode(text, text, 0);
	buf_init(&out, BIG_CAP);
	UNIT_EQ_INT(encode_subject(text, &out), EX_OK);
	UNIT_CHECK(strstr(buf_str(&out), "\r\n ") != NULL);
	buf_free(&out);
	/* A word too long for any line can only be carried as encoded words. */
	memset(word, 'x', sizeof(word) - 1);
	word[sizeof(word) - 1] = '\0';
	snprintf(text, sizeof(text), "Your %s export", word);
	check_encode(text, text, 1);
	/* Non-ASCII over several words: each cut at a character boundary. */
	check_encode("漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字 "
		     "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀 éééééééééééééééééééééééééééééé",
		     "漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字 "
		     "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀 éééééééééééééééééééééééééééééé",
		     1);
}

/* s is whole UTF-8 sequences: no stray continuation byte, none cut short. */
static int utf8_whole(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i;

	while (*p != '\0') {
		n = *p < 0x80 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC0 ? 2 : 0;
		if (n == 0) {
			return 0;
		}
		for (i = 1; i < n; i++) {
			if ((p[i] & 0xC0) != 0x80) {
				return 0;
			}
		}
		p += n;
	}
	return 1;
}

/* Every encoded word in v decodes on its own to whole characters. */
static void check_word_boundaries(const char *v)
{
	const char *w = v, *end;
	char single[128];
	char *d;
	int words = 0;

	for (w = strstr(v, "=?UTF-8?B?"); w != NULL; w = strstr(end + 2, "=?UTF-8?B?")) {
		end = strstr(w + 10, "?=");
		if (!UNIT_CHECK(end != NULL && (size_t)(end - w) + 2 < sizeof(single))) {
			return;
		}
		snprintf(single, sizeof(single), "%.*s", (int)(end - w) + 2, w);
		d = decode_words(single);
		UNIT_CHECK(d != NULL && d[0] != '\0' && utf8_whole(d));
		free(d);
		words++;
	}
	UNIT_CHECK(words > 3);
}

static void test_subject_in_message(void)
{
	struct message_envelope env = env_plain;
	struct message_job job = job_complete();
	char *v;

	job.type = "quarterly revenue by region and product line including returns and "
		   "cancellations";
	v = build_header(&env, &job, "Subject");
	UNIT_EQ_STR(v, "Your quarterly revenue by region and product line including returns and "
		       "cancellations export is ready");
	free(v);
	job.type = "Übersicht der Verkäufe – 漢字 📊 Q3/2026 und noch viel mehr Text dazu";
	v = build_header(&env, &job, "Subject");
	UNIT_EQ_STR(v, "Your Übersicht der Verkäufe – 漢字 📊 Q3/2026 und noch viel mehr Text dazu "
		       "export is ready");
	free(v);
	job.type = NULL;
	v = build_header(&env, &job, "Subject");
	UNIT_EQ_STR(v, "Your data export is ready");
	free(v);
}

static void test_encoded_word_boundaries(void)
{
	struct buf out;

	buf_init(&out, BIG_CAP);
	UNIT_EQ_INT(encode_subject("é漢😀é漢😀é漢😀é漢😀é漢😀é漢😀é漢😀é漢😀é漢😀é漢😀é漢😀"
				   "é漢😀é漢😀é漢😀é漢😀é漢😀é漢😀",
				   &out),
		    EX_OK);
	check_word_boundaries(buf_str(&out));
	buf_free(&out);
}

static void test_from_header(void)
{
	struct message_envelope env = env_plain;
	struct message_job job = job_complete();
	struct buf out;
	char *v;

	env.from_name = "ACME, Inc. \"Exports\" \\ dept";
	buf_init(&out, BIG_CAP);
	UNIT_EQ_INT(message_build(&env, &job, &out), EX_OK);
	v = header_value(buf_str(&out), "From");
	UNIT_EQ_STR(v, "\"ACME, Inc. \\\"Exports\\\" \\\\ dept\" <exportd@example.com>");
	free(v);
	buf_free(&out);
	env.from_name = "";
	v = build_header(&env, &job, "From");
	UNIT_EQ_STR(v, "exportd@example.com");
	free(v);
	env.from_name = NULL;
	v = build_header(&env, &job, "From");
	UNIT_EQ_STR(v, "exportd@example.com");
	free(v);
	env.from_name = "Zoë \"Z\", Exports";
	v = build_header(&env, &job, "From");
	UNIT_EQ_STR(v, "Zoë \"Z\", Exports <exportd@example.com>");
	free(v);
	/* Too long for one line: a quoted-string folds at its spaces ... */
	env.from_name =
		"The Very Long Name Of The Export Department Of A Large Multinational Company";
	v = build_header(&env, &job, "From");
	UNIT_EQ_STR(v, "\"The Very Long Name Of The Export Department Of A Large Multinational "
		       "Company\" <exportd@example.com>");
	free(v);
	/* ... and encoded words end after a space where they can. */
	env.from_name = "Département des exportations de données de la Grande Entreprise";
	buf_init(&out, BIG_CAP);
	UNIT_EQ_INT(message_build(&env, &job, &out), EX_OK);
	UNIT_CHECK(headers_sane(buf_str(&out)));
	v = header_value(buf_str(&out), "From");
	UNIT_CHECK(v != NULL &&
		   strstr(v, "=?UTF-8?B?"
			     "RMOpcGFydGVtZW50IGRlcyBleHBvcnRhdGlvbnMgZGUgZG9ubsOpZXMgZGUg?=") !=
			   NULL);
	free(v);
	buf_free(&out);
	v = build_header(&env, &job, "From");
	UNIT_EQ_STR(v, "Département des exportations de données de la Grande Entreprise "
		       "<exportd@example.com>");
	free(v);
}

static void test_fixed_headers(void)
{
	struct message_envelope env = env_plain;
	struct message_job job = job_complete();
	struct buf out;
	char *v;

	buf_init(&out, BIG_CAP);
	UNIT_EQ_INT(message_build(&env, &job, &out), EX_OK);
	v = header_value(buf_str(&out), "Date");
	UNIT_EQ_STR(v, "Sun, 22 Nov 2026 08:30:00 +0000");
	free(v);
	v = header_value(buf_str(&out), "Message-ID");
	UNIT_EQ_STR(v, "<" JOB ".complete@example.com>");
	free(v);
	v = header_value(buf_str(&out), "To");
	UNIT_EQ_STR(v, "user@example.org");
	free(v);
	v = header_value(buf_str(&out), "Content-Type");
	UNIT_CHECK(v != NULL && strncmp(v, "multipart/alternative; boundary=\"=_", 35) == 0);
	free(v);
	buf_free(&out);
	/* A message id given with its brackets is taken as it is. */
	env.message_id = "<id@example.com>";
	v = build_header(&env, &job, "Message-ID");
	UNIT_EQ_STR(v, "<id@example.com>");
	free(v);
}

/* ---- bodies -------------------------------------------------------------------------- */

/* The text and HTML parts of the message for job. */
static void build_parts(const struct message_job *job, char **text, char **html)
{
	struct buf out;

	*text = NULL;
	*html = NULL;
	buf_init(&out, BIG_CAP);
	if (UNIT_EQ_INT(message_build(&env_plain, job, &out), EX_OK)) {
		*text = part_text(buf_str(&out), "text/plain");
		*html = part_text(buf_str(&out), "text/html");
	}
	buf_free(&out);
}

static int has(const char *hay, const char *needle)
{
	if (hay != NULL && strstr(hay, needle) != NULL) {
		return 1;
	}
	fprintf(stderr, "  missing: %s\n", needle);
	return 0;
}

static void test_complete_body(void)
{
	struct message_job job = job_complete();
	char *text, *html;

	build_parts(&job, &text, &html);
	UNIT_CHECK(has(text, "Your orders export is ready."));
	UNIT_CHECK(has(text, "  Format:      CSV\r\n"));
	UNIT_CHECK(has(text, "  Rows:        1,234,567\r\n"));
	UNIT_CHECK(has(text, "  Size:        23.2 MB (23,245,678 bytes)\r\n"));
	UNIT_CHECK(has(
		text,
		"  SHA-256:     2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"));
	UNIT_CHECK(has(text, "  Export id:   " JOB "\r\n"));
	UNIT_CHECK(has(text, "\r\nhttps://exports.example.com/exports/" JOB
			     "/download?token=" VECTOR_TOKEN "\r\n"));
	UNIT_CHECK(has(text, "until 2026-11-29 08:30 UTC."));
	UNIT_CHECK(has(html, "<a href=\"https://exports.example.com/exports/" JOB
			     "/download?token=" VECTOR_TOKEN "\">"));
	UNIT_CHECK(has(html, "<td>1,234,567</td>"));
	free(text);
	free(html);
}

static void check_size(long long bytes, const char *want)
{
	struct message_job job = job_complete();
	char *text, *html;
	char line[128];

	job.file_size = bytes;
	build_parts(&job, &text, &html);
	snprintf(line, sizeof(line), "  Size:        %s\r\n", want);
	UNIT_CHECK(has(text, line));
	free(text);
	free(html);
}

static void test_sizes(void)
{
	check_size(0, "0 bytes");
	check_size(1, "1 byte");
	check_size(999, "999 bytes");
	check_size(1000, "1.0 kB (1,000 bytes)");
	check_size(1049, "1.0 kB (1,049 bytes)");
	check_size(1050, "1.1 kB (1,050 bytes)");
	check_size(999949, "999.9 kB (999,949 bytes)");
	check_size(999950, "1.0 MB (999,950 bytes)");
	check_size(23245678, "23.2 MB (23,245,678 bytes)");
	check_size(5000000000LL, "5.0 GB (5,000,000,000 bytes)");
	check_size(INT64_MAX, "9.2 EB (9,223,372,036,854,775,807 bytes)");
}

static void test_unknown_figures(void)
{
	struct message_job job = job_complete();
	char *text, *html;

	job.row_count = -1;
	job.file_size = -1;
	job.checksum = NULL;
	job.format = NULL;
	job.link_expires = 0;
	build_parts(&job, &text, &html);
	UNIT_CHECK(text != NULL && strstr(text, "Rows:") == NULL && strstr(text, "Size:") == NULL &&
		   strstr(text, "SHA-256") == NULL && strstr(text, "Format:") == NULL &&
		   strstr(text, "until") == NULL);
	free(text);
	free(html);
	job.row_count = 0;
	build_parts(&job, &text, &html);
	UNIT_CHECK(has(text, "  Rows:        0\r\n"));
	free(text);
	free(html);
}

static void test_html_escaping(void)
{
	struct message_job job = job_failed("<script>alert('x')</script> & \"more\"\nline two");
	char *text, *html;

	job.type = "<b>orders</b> & 'co'";
	build_parts(&job, &text, &html);
	UNIT_CHECK(has(html, "&lt;b&gt;orders&lt;/b&gt; &amp; &#39;co&#39;"));
	UNIT_CHECK(has(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
			     "&quot;more&quot;\r\nline two"));
	UNIT_CHECK(html != NULL && strstr(html, "<script>") == NULL && strstr(html, "<b>") == NULL);
	UNIT_CHECK(has(text, "Your export of <b>orders</b> & 'co' could not be completed."));
	free(text);
	free(html);
	/* Only web addresses become links. */
	job = job_complete();
	job.link = "javascript:alert(1)";
	build_parts(&job, &text, &html);
	UNIT_CHECK(html != NULL && strstr(html, "href") == NULL);
	UNIT_CHECK(has(html, "javascript:alert(1)"));
	free(text);
	free(html);
}

static void test_failed_body(void)
{
	struct message_job job = job_failed("first line\r\n  second, indented  \n\n\nlast\n");
	char *text, *html;

	build_parts(&job, &text, &html);
	UNIT_CHECK(has(text, "Your export of orders could not be completed."));
	UNIT_CHECK(has(text, "  first line\r\n    second, indented\r\n\r\n\r\n  last\r\n"));
	UNIT_CHECK(has(text, "start a new export from the application"));
	UNIT_CHECK(has(text, "contact your administrator and mention the export id"));
	UNIT_CHECK(has(text, "  Export id:   " JOB "\r\n"));
	UNIT_CHECK(has(html, "<pre>first line\r\n  second, indented\r\n\r\n\r\nlast</pre>"));
	free(text);
	free(html);
	job.error = NULL;
	build_parts(&job, &text, &html);
	UNIT_CHECK(has(text, "No error message was recorded."));
	free(text);
	free(html);
}

static void test_out_of_room(void)
{
	struct message_job job = job_complete();
	struct buf out;

	buf_init(&out, 600);
	UNIT_EQ_INT(buf_puts(&out, "kept"), EX_OK);
	UNIT_EQ_INT(message_build(&env_plain, &job, &out), EX_ETOOBIG);
	UNIT_EQ_STR(buf_str(&out), "kept");
	buf_free(&out);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_linktoken_vector),
		UNIT_TEST(test_linktoken_roundtrip),
		UNIT_TEST(test_linktoken_largest_expiry),
		UNIT_TEST(test_linktoken_malformed),
		UNIT_TEST(test_linktoken_tampered),
		UNIT_TEST(test_linktoken_expired),
		UNIT_TEST(test_linktoken_rotation),
		UNIT_TEST(test_linktoken_sign_errors),
		UNIT_TEST(test_valid_address),
		UNIT_TEST(test_build_refuses_addresses),
		UNIT_TEST(test_golden_complete),
		UNIT_TEST(test_golden_failed),
		UNIT_TEST(test_injection),
		UNIT_TEST(test_encode_header_text),
		UNIT_TEST(test_long_subject_folding),
		UNIT_TEST(test_subject_in_message),
		UNIT_TEST(test_encoded_word_boundaries),
		UNIT_TEST(test_from_header),
		UNIT_TEST(test_fixed_headers),
		UNIT_TEST(test_complete_body),
		UNIT_TEST(test_sizes),
		UNIT_TEST(test_unknown_figures),
		UNIT_TEST(test_html_escaping),
		UNIT_TEST(test_failed_body),
		UNIT_TEST(test_out_of_room),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
