/* fuzz_sigv4.c - SigV4's canonical URI and query (storage/sigv4.h), read
 * from sigv4_sign's out->path and out->query, against a reference written
 * from the header's description of the S3 canonical forms.
 *
 * Input: a count of query parameters and of extra headers, then the path,
 * the parameters' names and values and the headers' names and values, all
 * NUL-separated.  Properties: the canonical path is every byte but the
 * unreserved ones and '/' percent-encoded once with upper-case hex; the
 * canonical query is the encoded pairs sorted by name then value, "name="
 * for an empty value; a presigned URL's target is that path and query plus
 * its signature; a refusal says why. */
#include "fuzz.h"
#include "storage/sigv4.h"

#define FUZZ_SIGV4_PAIRS (SIGV4_MAX_QUERY + 4)

struct fuzz_sigv4_param {
	struct buf name, value; /* encoded */
};

static int fuzz_sigv4_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("-_.~", c) != NULL;
}

static void fuzz_sigv4_encode(const char *s, int keep_slash, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	char pct[3] = {'%'};
	enum ex_status st;

	for (; *p != '\0'; p++) {
		if (fuzz_sigv4_unreserved(*p) || (keep_slash && *p == '/')) {
			st = buf_putc(out, (char)*p);
		} else {
			pct[1] = hex[*p >> 4];
			pct[2] = hex[*p & 15];
			st = buf_append(out, pct, 3);
		}
		FUZZ_CHECK(st == EX_OK);
	}
}

static int fuzz_sigv4_cmp(const void *a, const void *b)
{
	const struct fuzz_sigv4_param *x = a, *y = b;
	int c = strcmp(buf_str(&x->name), buf_str(&y->name));

	return c != 0 ? c : strcmp(buf_str(&x->value), buf_str(&y->value));
}

/* The canonical query of req's parameters, by the reference rule. */
static void fuzz_sigv4_query(const struct sigv4_request *req, struct buf *out)
{
	struct fuzz_sigv4_param p[FUZZ_SIGV4_PAIRS];
	enum ex_status st;
	size_t i;

	for (i = 0; i < req->nquery; i++) {
		buf_init(&p[i].name, 1 << 16);
		buf_init(&p[i].value, 1 << 16);
		fuzz_sigv4_encode(req->query[i].name, 0, &p[i].name);
		fuzz_sigv4_encode(req->query[i].value, 0, &p[i].value);
	}
	qsort(p, req->nquery, sizeof(p[0]), fuzz_sigv4_cmp);
	for (i = 0; i < req->nquery; i++) {
		st = buf_printf(out, "%s%s=%s", i > 0 ? "&" : "", buf_str(&p[i].name),
				buf_str(&p[i].value));
		FUZZ_CHECK(st == EX_OK);
		buf_free(&p[i].name);
		buf_free(&p[i].value);
	}
}

static void fuzz_sigv4_same(const struct buf *got, const struct buf *want)
{
	if (got->len != want->len || strcmp(buf_str(got), buf_str(want)) != 0) {
		fprintf(stderr, "got  %s\nwant %s\n", buf_str(got), buf_str(want));
		abort();
	}
}

static void fuzz_sigv4_sign(const struct sigv4_request *req)
{
	struct sigv4_signed out;
	struct buf err, path, query, target;
	enum ex_status st;

	sigv4_signed_init(&out, SIGV4_DEFAULT_CAP * 16);
	buf_init(&err, 1024);
	buf_init(&path, 1 << 20);
	buf_init(&query, 1 << 20);
	buf_init(&target, 1 << 20);
	st = sigv4_sign(req, &out, &err);
	if (st) {
		FUZZ_CHECK(st == EX_EINVAL || st == EX_ETOOBIG);
		FUZZ_CHECK(err.len > 0);
		goto out;
	}
	fuzz_sigv4_encode(req->path, 1, &path);
	fuzz_sigv4_same(&out.path, &path);
	fuzz_sigv4_query(req, &query);
	fuzz_sigv4_same(&out.query, &query);
	FUZZ_CHECK(strlen(out.signature) == SIGV4_SIGNATURE_LEN);
	/* The signature is all the presigned URL adds after its own parameters. */
	st = sigv4_presign(req, 3600, &out, &err);
	if (st == EX_OK) {
		FUZZ_CHECK(buf_printf(&target, "%s?%s&X-Amz-Signature=%s", buf_str(&out.path),
				      buf_str(&out.query), out.signature) == EX_OK);
		fuzz_sigv4_same(&out.target, &target);
	}
out:
	sigv4_signed_free(&out);
	buf_free(&err);
	buf_free(&path);
	buf_free(&query);
	buf_free(&target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct sigv4_pair query[FUZZ_SIGV4_PAIRS], headers[SIGV4_MAX_HEADERS + 2];
	size_t nquery = fuzz_byte(&in) % FUZZ_SIGV4_PAIRS;
	size_t nheaders = fuzz_byte(&in) % (SIGV4_MAX_HEADERS + 2);
	struct sigv4_request req = {
		.method = "GET",
		.host = "examplebucket.s3.amazonaws.com",
		.payload_hash = SIGV4_UNSIGNED_PAYLOAD,
		.time = 1369353600,
		.region = "us-east-1",
		.service = "s3",
		.access_key_id = "AKIAIOSFODNN7EXAMPLE",
		.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		.query = query,
		.nquery = nquery,
		.headers = headers,
		.nheaders = nheaders,
	};
	char *path = fuzz_str(&in, NULL);
	size_t i;

	req.path = path;
	for (i = 0; i < nquery; i++) {
		query[i].name = fuzz_str(&in, NULL);
		query[i].value = fuzz_str(&in, NULL);
	}
	for (i = 0; i < nheaders; i++) {
		headers[i].name = fuzz_str(&in, NULL);
		headers[i].value = fuzz_str(&in, NULL);
	}
	fuzz_sigv4_sign(&req);
	for (i = 0; i < nquery; i++) {
		free((char *)query[i].name);
		free((char *)query[i].value);
	}
	for (i = 0; i < nheaders; i++) {
		free((char *)headers[i].name);
		free((char *)headers[i].value);
	}
	free(path);
	return 0;
}
