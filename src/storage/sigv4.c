/* sigv4.c - AWS Signature Version 4 for S3 (see sigv4.h).
 *
 * Both modes build the same chain -- canonical request, string to sign,
 * signing key, signature -- and differ only in where the authentication
 * values travel: in headers (sigv4_sign) or in the query (sigv4_presign).
 * Canonical names and values are written NUL-terminated into one scratch
 * buffer and sorted through an index, so nothing is allocated per entry.
 */
#include "storage/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "common/hex.h"

#define SIGV4_ALGORITHM	  "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR  "aws4_request"
#define SIGV4_SECRET_MAX  128 /* AWS secrets are 40 characters */
#define SIGV4_KEY_LEN	  32  /* HMAC-SHA256 output */
#define SIGV4_OWN_HEADERS 4   /* host, x-amz-content-sha256, x-amz-date, x-amz-security-token */
#define SIGV4_AUTH_PARAMS 6   /* the X-Amz-* parameters of a presigned URL, less the signature */
#define SIGV4_MAX_ENTRIES (SIGV4_MAX_QUERY + SIGV4_AUTH_PARAMS)

/* Header names sigv4 writes itself; a caller passing one would sign a
 * second, conflicting value. */
static const char *const sigv4_own_headers[] = {
	"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "authorization",
};

/* Query names that carry a presigned URL's authentication. */
static const char *const sigv4_auth_params[] = {
	"X-Amz-Algorithm",	"X-Amz-Credential",    "X-Amz-Date",	  "X-Amz-Expires",
	"X-Amz-Security-Token", "X-Amz-SignedHeaders", "X-Amz-Signature",
};

/* A canonical name and value: offsets into the scratch buffer while it may
 * still move, then pointers once it is complete. */
struct sigv4_entry {
	size_t name_off, value_off;
	const char *name, *value;
	size_t order; /* input position, so repeated header names keep it */
};

/* The state of one signing. */
struct sigv4_work {
	const struct sigv4_request *req;
	struct sigv4_signed *out;
	struct buf *err;
	struct buf scratch;	   /* NUL-terminated canonical names and values */
	struct buf cheaders;	   /* the canonical headers block */
	struct buf signed_headers; /* "host;x-amz-date" */
	struct buf scope;	   /* "20130524/us-east-1/s3/aws4_request" */
	struct sigv4_entry entries[SIGV4_MAX_ENTRIES];
	size_t nentries;
};

static int sigv4_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

/* URI-encode s onto b (upper-case hex); '/' is kept when keep_slash. */
static enum ex_status sigv4_encode(struct buf *b, const char *s, int keep_slash)
{
	const unsigned char *p = (const unsigned char *)s;
	enum ex_status st;
	char pct[4] = "%";

	for (; *p != '\0'; p++) {
		if (sigv4_unreserved(*p) || (keep_slash && *p == '/')) {
			st = buf_putc(b, (char)*p);
		} else {
			hex_encode_upper(p, 1, pct + 1);
			st = buf_append(b, pct, 3);
		}
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

static enum ex_status sigv4_fail(struct sigv4_work *w, const char *what)
{
	if (w->err != NULL) {
		buf_msg(w->err, "sigv4: invalid %s", what);
	}
	return EX_EINVAL;
}

/* ---- input checks ---------------------------------------------------- */

/* HTTP token characters (RFC 9110 5.6.2). */
static int sigv4_token(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (*p == '\0') {
		return 0;
	}
	for (; *p != '\0'; p++) {
		if (!sigv4_unreserved(*p) && strchr("!#$%&'*+^`|", *p) == NULL) {
			return 0;
		}
	}
	return 1;
}

/* A header value: no CR, LF or other control bytes but tab. */
static int sigv4_field_value(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
			return 0;
		}
	}
	return 1;
}

/* Printable ASCII without space, '/' and ',' (which would break the
 * credential scope or the Authorization header). */
static int sigv4_word(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL || *p == '\0') {
		return 0;
	}
	for (; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f || *p == '/' || *p == ',') {
			return 0;
		}
	}
	return 1;
}

static int sigv4_method(const char *s)
{
	const char *p = s;

	if (s == NULL || *s == '\0') {
		return 0;
	}
	for (; *p != '\0'; p++) {
		if (*p < 'A' || *p > 'Z') {
			return 0;
		}
	}
	return 1;
}

static int sigv4_payload_hash(const char *s)
{
	size_t i;

	if (strcmp(s, SIGV4_UNSIGNED_PAYLOAD) == 0) {
		return 1;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return i == 64;
}

static int sigv4_payload_ok(const char *hash, int presign)
{
	if (presign) {
		/* An S3 presigned URL never covers the body. */
		return hash == NULL || strcmp(hash, SIGV4_UNSIGNED_PAYLOAD) == 0;
	}
	return hash != NULL && sigv4_payload_hash(hash);
}

static int sigv4_in_list(const char *name, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcasecmp(name, list[i]) == 0) {
			return 1;
		}
	}
	return 0;
}

static int sigv4_has_token(const struct sigv4_request *req)
{
	return req->session_token != NULL && req->session_token[0] != '\0';
}

static enum ex_status sigv4_check_credentials(struct sigv4_work *w)
{
	const struct sigv4_request *req = w->req;

	if (!sigv4_word(req->region)) {
		return sigv4_fail(w, "region");
	}
	if (!sigv4_word(req->service)) {
		return sigv4_fail(w, "service");
	}
	if (!sigv4_word(req->access_key_id)) {
		return sigv4_fail(w, "access key id");
	}
	if (req->secret_key == NULL || req->secret_key[0] == '\0' ||
	    strlen(req->secret_key) > SIGV4_SECRET_MAX) {
		return sigv4_fail(w, "secret key");
	}
	if (sigv4_has_token(req) && !sigv4_field_value(req->session_token)) {
		return sigv4_fail(w, "session token");
	}
	return EX_OK;
}

static enum ex_status sigv4_check_lists(struct sigv4_work *w, int presign)
{
	const struct sigv4_request *req = w->req;
	size_t i;

	if (req->nquery > SIGV4_MAX_QUERY || (req->nquery > 0 && req->query == NULL)) {
		return sigv4_fail(w, "query (too many parameters?)");
	}
	for (i = 0; i < req->nquery; i++) {
		if (req->query[i].name == NULL || req->query[i].name[0] == '\0' ||
		    (presign &&
		     sigv4_in_list(req->query[i].name, sigv4_auth_params,
				   sizeof(sigv4_auth_params) / sizeof(sigv4_auth_params[0])))) {
			return sigv4_fail(w, "query parameter name");
		}
	}
	if (req->nheaders > SIGV4_MAX_HEADERS || (req->nheaders > 0 && req->headers == NULL)) {
		return sigv4_fail(w, "headers (too many?)");
	}
	for (i = 0; i < req->nheaders; i++) {
		const struct sigv4_pair *h = &req->headers[i];

		if (h->name == NULL || !sigv4_token(h->name) ||
		    sigv4_in_list(h->name, sigv4_own_headers,
				  sizeof(sigv4_own_headers) / sizeof(sigv4_own_headers[0]))) {
			return sigv4_fail(w, "header name");
		}
		if (h->value != NULL && !sigv4_field_value(h->value)) {
			return sigv4_fail(w, "header value");
		}
	}
	return EX_OK;
}

static enum ex_status sigv4_check(struct sigv4_work *w, int presign)
{
	const struct sigv4_request *req = w->req;

	if (!sigv4_method(req->method)) {
		return sigv4_fail(w, "method");
	}
	if (!sigv4_word(req->host)) {
		return sigv4_fail(w, "host");
	}
	if (req->path == NULL || req->path[0] != '/') {
		return sigv4_fail(w, "path (must start with '/')");
	}
	if (!sigv4_payload_ok(req->payload_hash, presign)) {
		return sigv4_fail(w, "payload hash");
	}
	if (sigv4_check_credentials(w)) {
		return EX_EINVAL;
	}
	return sigv4_check_lists(w, presign);
}

/* ---- canonical pieces ------------------------------------------------ */

static enum ex_status sigv4_amz_date(struct sigv4_work *w)
{
	time_t t = w->req->time;
	struct tm tm;

	/* Four-digit years only: the format has no room for others. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < 70 || tm.tm_year > 9999 - 1900 ||
	    strftime(w->out->amz_date, sizeof(w->out->amz_date), "%Y%m%dT%H%M%SZ", &tm) !=
		    SIGV4_AMZ_DATE_LEN) {
		return sigv4_fail(w, "time");
	}
	return EX_OK;
}

/* Start an entry: remember where its name begins in the scratch buffer. */
static enum ex_status sigv4_entry_begin(struct sigv4_work *w)
{
	struct sigv4_entry *e;

	if (w->nentries >= SIGV4_MAX_ENTRIES) {
		return EX_ETOOBIG;
	}
	e = &w->entries[w->nentries];
	e->name_off = w->scratch.len;
	e->value_off = 0;
	e->order = w->nentries;
	w->nentries++;
	return EX_OK;
}

/* End the current entry's name (NUL) and start its value. */
static enum ex_status sigv4_entry_value(struct sigv4_work *w)
{
	enum ex_status st = buf_putc(&w->scratch, '\0');

	w->entries[w->nentries - 1].value_off = w->scratch.len;
	return st;
}

/* The scratch buffer will not move any more: turn offsets into pointers. */
static void sigv4_entries_resolve(struct sigv4_work *w)
{
	size_t i;

	for (i = 0; i < w->nentries; i++) {
		w->entries[i].name = w->scratch.data + w->entries[i].name_off;
		w->entries[i].value = w->scratch.data + w->entries[i].value_off;
	}
}

/* Header value, trimmed, runs of spaces and tabs made one space. */
static enum ex_status sigv4_put_trimmed(struct buf *b, const char *v)
{
	enum ex_status st;
	int pending = 0;

	while (*v == ' ' || *v == '\t') {
		v++;
	}
	for (; *v != '\0'; v++) {
		if (*v == ' ' || *v == '\t') {
			pending = 1;
			continue;
		}
		if (pending) {
			st = buf_putc(b, ' ');
			if (st) {
				return st;
			}
			pending = 0;
		}
		st = buf_putc(b, *v);
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

static enum ex_status sigv4_add_header(struct sigv4_work *w, const char *name, const char *value)
{
	enum ex_status st = sigv4_entry_begin(w);
	const char *p;

	if (st) {
		return st;
	}
	for (p = name; *p != '\0'; p++) {
		st = buf_putc(&w->scratch, (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p));
		if (st) {
			return st;
		}
	}
	st = sigv4_entry_value(w);
	if (st) {
		return st;
	}
	st = sigv4_put_trimmed(&w->scratch, value != NULL ? value : "");
	if (st) {
		return st;
	}
	return buf_putc(&w->scratch, '\0');
}

static enum ex_status sigv4_add_param(struct sigv4_work *w, const char *name, const char *value)
{
	enum ex_status st = sigv4_entry_begin(w);

	if (st) {
		return st;
	}
	st = sigv4_encode(&w->scratch, name, 0);
	if (st) {
		return st;
	}
	st = sigv4_entry_value(w);
	if (st) {
		return st;
	}
	st = sigv4_encode(&w->scratch, value != NULL ? value : "", 0);
	if (st) {
		return st;
	}
	return buf_putc(&w->scratch, '\0');
}

/* Headers: by name, repeats in input order.  Query: by name, then value. */
static int sigv4_cmp_header(const void *a, const void *b)
{
	const struct sigv4_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0) {
		return c;
	}
	return x->order < y->order ? -1 : x->order > y->order;
}

static int sigv4_cmp_param(const void *a, const void *b)
{
	const struct sigv4_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->value, y->value);
}

/* Gather the headers to sign: the caller's plus sigv4's own (own = 0 for a
 * presigned URL, which signs host alone of them). */
static enum ex_status sigv4_gather_headers(struct sigv4_work *w, int own)
{
	const struct sigv4_request *req = w->req;
	enum ex_status st = sigv4_add_header(w, "host", req->host);
	size_t i;

	if (st) {
		return st;
	}
	for (i = 0; i < req->nheaders; i++) {
		st = sigv4_add_header(w, req->headers[i].name, req->headers[i].value);
		if (st) {
			return st;
		}
	}
	if (!own) {
		return EX_OK;
	}
	if (strcmp(req->service, "s3") == 0) {
		st = sigv4_add_header(w, "x-amz-content-sha256", req->payload_hash);
		if (st) {
			return st;
		}
	}
	st = sigv4_add_header(w, "x-amz-date", w->out->amz_date);
	if (st) {
		return st;
	}
	if (sigv4_has_token(req)) {
		st = sigv4_add_header(w, "x-amz-security-token", req->session_token);
	}
	return st;
}

/* Canonical headers ("name:value\n" each) and the signed header list. */
static enum ex_status sigv4_headers(struct sigv4_work *w, int own)
{
	const struct sigv4_entry *e = w->entries;
	enum ex_status st;
	size_t i;

	w->nentries = 0;
	buf_reset(&w->scratch);
	st = sigv4_gather_headers(w, own);
	if (st) {
		return st;
	}
	sigv4_entries_resolve(w);
	qsort(w->entries, w->nentries, sizeof(w->entries[0]), sigv4_cmp_header);
	for (i = 0; i < w->nentries; i++) {
		if (i > 0 && strcmp(e[i].name, e[i - 1].name) == 0) {
			st = buf_printf(&w->cheaders, ",%s", e[i].value);
			if (st) {
				return st;
			}
			continue;
		}
		st = buf_printf(&w->cheaders, "%s%s:%s", i > 0 ? "\n" : "", e[i].name, e[i].value);
		if (st) {
			return st;
		}
		st = buf_printf(&w->signed_headers, "%s%s", i > 0 ? ";" : "", e[i].name);
		if (st) {
			return st;
		}
	}
	return buf_putc(&w->cheaders, '\n');
}

/* The presigned URL's authentication parameters (all but the signature). */
static enum ex_status sigv4_add_auth_params(struct sigv4_work *w, long expires)
{
	const struct sigv4_request *req = w->req;
	struct buf cred;
	char num[24];
	enum ex_status st;

	buf_init(&cred, w->scope.cap);
	st = buf_printf(&cred, "%s/%s", req->access_key_id, buf_str(&w->scope));
	if (st) {
		goto out;
	}
	snprintf(num, sizeof(num), "%ld", expires);
	st = sigv4_add_param(w, "X-Amz-Algorithm", SIGV4_ALGORITHM);
	if (st) {
		goto out;
	}
	st = sigv4_add_param(w, "X-Amz-Credential", buf_str(&cred));
	if (st) {
		goto out;
	}
	st = sigv4_add_param(w, "X-Amz-Date", w->out->amz_date);
	if (st) {
		goto out;
	}
	st = sigv4_add_param(w, "X-Amz-Expires", num);
	if (st) {
		goto out;
	}
	if (sigv4_has_token(req)) {
		st = sigv4_add_param(w, "X-Amz-Security-Token", req->session_token);
		if (st) {
			goto out;
		}
	}
	st = sigv4_add_param(w, "X-Amz-SignedHeaders", buf_str(&w->signed_headers));
out:
	buf_free(&cred);
	return st;
}

/* The canonical query into out->query; expires > 0 adds the presigned
 * URL's parameters. */
static enum ex_status sigv4_query(struct sigv4_work *w, long expires)
{
	const struct sigv4_request *req = w->req;
	const struct sigv4_entry *e = w->entries;
	enum ex_status st;
	size_t i;

	w->nentries = 0;
	buf_reset(&w->scratch);
	for (i = 0; i < req->nquery; i++) {
		st = sigv4_add_param(w, req->query[i].name, req->query[i].value);
		if (st) {
			return st;
		}
	}
	if (expires > 0) {
		st = sigv4_add_auth_params(w, expires);
		if (st) {
			return st;
		}
	}
	sigv4_entries_resolve(w);
	qsort(w->entries, w->nentries, sizeof(w->entries[0]), sigv4_cmp_param);
	for (i = 0; i < w->nentries; i++) {
		st = buf_printf(&w->out->query, "%s%s=%s", i > 0 ? "&" : "", e[i].name, e[i].value);
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

/* ---- signing --------------------------------------------------------- */

static enum ex_status sigv4_hmac(const void *key, size_t keylen, const char *msg, size_t len,
				 unsigned char out[SIGV4_KEY_LEN])
{
	unsigned int n = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, len, out, &n) ==
		    NULL ||
	    n != SIGV4_KEY_LEN) {
		return EX_EINVAL;
	}
	return EX_OK;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service),
 * "aws4_request"); then the signature is hex(HMAC(kSigning, sts)). */
static enum ex_status sigv4_signature(struct sigv4_work *w)
{
	const struct sigv4_request *req = w->req;
	const char *steps[3] = {req->region, req->service, SIGV4_TERMINATOR};
	unsigned char seed[4 + SIGV4_SECRET_MAX], a[SIGV4_KEY_LEN], b[SIGV4_KEY_LEN];
	size_t slen = strlen(req->secret_key), i;
	enum ex_status st;

	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): an HMAC key, not a string */
	memcpy(seed, "AWS4", 4);
	memcpy(seed + 4, req->secret_key, slen);
	st = sigv4_hmac(seed, 4 + slen, w->out->amz_date, 8, a);
	if (st) {
		goto out;
	}
	for (i = 0; i < 3; i++) {
		st = sigv4_hmac(a, sizeof(a), steps[i], strlen(steps[i]), b);
		if (st) {
			goto out;
		}
		memcpy(a, b, sizeof(a));
	}
	st = sigv4_hmac(a, sizeof(a), w->out->sts.data, w->out->sts.len, b);
	if (st) {
		goto out;
	}
	hex_encode(b, sizeof(b), w->out->signature);
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	return st;
}

/* Canonical request, string to sign and signature from the pieces built. */
static enum ex_status sigv4_finish(struct sigv4_work *w, const char *payload)
{
	struct sigv4_signed *out = w->out;
	char hash[CRYPTO_SHA256_HEX_LEN + 1];
	enum ex_status st;

	st = buf_printf(&out->creq, "%s\n%s\n%s\n%s\n%s\n%s", w->req->method, buf_str(&out->path),
			buf_str(&out->query), buf_str(&w->cheaders), buf_str(&w->signed_headers),
			payload);
	if (st) {
		return st;
	}
	crypto_sha256_hex(out->creq.data, out->creq.len, hash);
	st = buf_printf(&out->sts, SIGV4_ALGORITHM "\n%s\n%s\n%s", out->amz_date,
			buf_str(&w->scope), hash);
	if (st) {
		return st;
	}
	return sigv4_signature(w);
}

static void sigv4_reset(struct sigv4_signed *out)
{
	size_t i;

	buf_reset(&out->target);
	buf_reset(&out->path);
	buf_reset(&out->query);
	for (i = 0; i < SIGV4_OUT_HEADERS; i++) {
		buf_reset(&out->headers[i]);
	}
	out->nheaders = 0;
	buf_reset(&out->authorization);
	buf_reset(&out->creq);
	buf_reset(&out->sts);
	out->amz_date[0] = '\0';
	out->signature[0] = '\0';
}

/* Checks, date, encoded path and scope: what both modes start from. */
static enum ex_status sigv4_begin(struct sigv4_work *w, const struct sigv4_request *req,
				  struct sigv4_signed *out, struct buf *err, int presign)
{
	size_t cap = out->creq.cap;
	enum ex_status st;

	w->req = req;
	w->out = out;
	w->err = err;
	w->nentries = 0;
	buf_init(&w->scratch, cap);
	buf_init(&w->cheaders, cap);
	buf_init(&w->signed_headers, cap);
	buf_init(&w->scope, cap);
	sigv4_reset(out);
	st = sigv4_check(w, presign);
	if (st) {
		return st;
	}
	st = sigv4_amz_date(w);
	if (st) {
		return st;
	}
	st = sigv4_encode(&out->path, req->path, 1);
	if (st) {
		return st;
	}
	return buf_printf(&w->scope, "%.8s/%s/%s/" SIGV4_TERMINATOR, out->amz_date, req->region,
			  req->service);
}

static void sigv4_end(struct sigv4_work *w)
{
	buf_free(&w->scratch);
	buf_free(&w->cheaders);
	buf_free(&w->signed_headers);
	buf_free(&w->scope);
}

static enum ex_status sigv4_add_line(struct sigv4_signed *out, const char *name, const char *value)
{
	enum ex_status st = buf_printf(&out->headers[out->nheaders], "%s: %s", name, value);

	if (st) {
		return st;
	}
	out->nheaders++;
	return EX_OK;
}

/* The Authorization value and the header lines of a header-signed request. */
static enum ex_status sigv4_out_headers(struct sigv4_work *w)
{
	const struct sigv4_request *req = w->req;
	struct sigv4_signed *out = w->out;
	enum ex_status st;

	st = buf_printf(&out->authorization,
			SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
			req->access_key_id, buf_str(&w->scope), buf_str(&w->signed_headers),
			out->signature);
	if (st) {
		return st;
	}
	st = sigv4_add_line(out, "Authorization", buf_str(&out->authorization));
	if (st) {
		return st;
	}
	st = sigv4_add_line(out, "x-amz-date", out->amz_date);
	if (st) {
		return st;
	}
	if (strcmp(req->service, "s3") == 0) {
		st = sigv4_add_line(out, "x-amz-content-sha256", req->payload_hash);
		if (st) {
			return st;
		}
	}
	if (sigv4_has_token(req)) {
		st = sigv4_add_line(out, "x-amz-security-token", req->session_token);
	}
	return st;
}

void sigv4_signed_init(struct sigv4_signed *out, size_t cap)
{
	size_t i;

	buf_init(&out->target, cap);
	buf_init(&out->path, cap);
	buf_init(&out->query, cap);
	for (i = 0; i < SIGV4_OUT_HEADERS; i++) {
		buf_init(&out->headers[i], cap);
	}
	out->nheaders = 0;
	buf_init(&out->authorization, cap);
	buf_init(&out->creq, cap);
	buf_init(&out->sts, cap);
	out->amz_date[0] = '\0';
	out->signature[0] = '\0';
}

void sigv4_signed_free(struct sigv4_signed *out)
{
	size_t i;

	buf_free(&out->target);
	buf_free(&out->path);
	buf_free(&out->query);
	for (i = 0; i < SIGV4_OUT_HEADERS; i++) {
		buf_free(&out->headers[i]);
	}
	out->nheaders = 0;
	buf_free(&out->authorization);
	buf_free(&out->creq);
	buf_free(&out->sts);
}

enum ex_status sigv4_sign(const struct sigv4_request *req, struct sigv4_signed *out,
			  struct buf *err)
{
	struct sigv4_work w;
	enum ex_status st;

	st = sigv4_begin(&w, req, out, err, 0);
	if (st) {
		goto done;
	}
	st = sigv4_headers(&w, 1);
	if (st) {
		goto done;
	}
	st = sigv4_query(&w, 0);
	if (st) {
		goto done;
	}
	st = sigv4_finish(&w, req->payload_hash);
	if (st) {
		goto done;
	}
	st = sigv4_out_headers(&w);
	if (st) {
		goto done;
	}
	st = buf_printf(&out->target, "%s%s%s", buf_str(&out->path), out->query.len > 0 ? "?" : "",
			buf_str(&out->query));
done:
	if (st == EX_ETOOBIG && err != NULL) {
		buf_msg(err, "sigv4: request too large (cap %zu bytes)", out->creq.cap);
	}
	sigv4_end(&w);
	return st;
}

enum ex_status sigv4_presign(const struct sigv4_request *req, long expires,
			     struct sigv4_signed *out, struct buf *err)
{
	struct sigv4_work w;
	enum ex_status st;

	st = sigv4_begin(&w, req, out, err, 1);
	if (st) {
		goto done;
	}
	if (expires < 1 || expires > SIGV4_EXPIRES_MAX) {
		st = sigv4_fail(&w, "expires (1..604800 seconds)");
		goto done;
	}
	st = sigv4_headers(&w, 0);
	if (st) {
		goto done;
	}
	st = sigv4_query(&w, expires);
	if (st) {
		goto done;
	}
	st = sigv4_finish(&w, SIGV4_UNSIGNED_PAYLOAD);
	if (st) {
		goto done;
	}
	st = buf_printf(&out->target, "%s?%s&X-Amz-Signature=%s", buf_str(&out->path),
			buf_str(&out->query), out->signature);
done:
	if (st == EX_ETOOBIG && err != NULL) {
		buf_msg(err, "sigv4: request too large (cap %zu bytes)", out->creq.cap);
	}
	sigv4_end(&w);
	return st;
}
