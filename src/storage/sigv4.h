/* sigv4.h - AWS Signature Version 4 for S3: signed headers and presigned URLs.
 *
 * Pure: no I/O, no clock, no libcurl (OpenSSL for SHA-256 and HMAC).  The
 * caller says what it will send; sigv4 returns the bytes to send and the
 * signature over exactly those bytes.  We sign ourselves instead of using
 * libcurl's CURLOPT_AWS_SIGV4 because libcurl 7.88 signs the query string as
 * written, and we want one place that knows S3's canonical form.
 *
 * Canonical forms (S3 flavour):
 *  - path: every byte of the raw path is URI-encoded except the unreserved
 *    A-Z a-z 0-9 - _ . ~ and '/', once (S3 does not double-encode), with
 *    upper-case hex: "/bucket/a b+c=é" -> "/bucket/a%20b%2Bc%3D%C3%A9".  Empty
 *    segments and "." / ".." segments are kept as they are (S3 does not
 *    normalise paths);
 *  - query: names and values URI-encoded the same way but with '/' encoded
 *    too, sorted by encoded name then encoded value, "name=" for an empty
 *    value: "uploads=", "prefix=a%2Fb";
 *  - headers: names lower-cased, values trimmed with runs of spaces and tabs
 *    collapsed to one space, repeated names joined with ',' in input order,
 *    sorted by name.
 *
 * Sending what was signed (libcurl):
 *  - URL = "https://" req->host + out->target.  libcurl sends the target's
 *    bytes unchanged (it does not re-encode %XX), so the path and query on
 *    the wire are the ones that were signed.  Set CURLOPT_PATH_AS_IS: without
 *    it libcurl squashes "/./" and "/../" in the path, which object keys may
 *    contain.  Do not also set CURLOPT_AWS_SIGV4.
 *  - "host" is always signed, but libcurl writes the Host header itself from
 *    the URL: the URL's host[:port] must be req->host byte for byte, and the
 *    caller must not send a different Host header.
 *  - Add each line of out->headers (curl_slist_append) and send every extra
 *    header of req->headers with the value given.  Headers libcurl adds on its
 *    own (Accept, Expect, Content-Length, Transfer-Encoding) are not signed
 *    and do no harm; but a signed header must not be changed by libcurl (for
 *    example sign Content-Type only when setting it explicitly).
 *
 * Secrets: secret_key is used for the HMAC key only: it is never copied to
 * an output or an error message, and the derived keys are wiped.  The session
 * token is a credential too: it is in out->creq and out->headers (header
 * signing) and in out->target and out->creq (presigning) because it must be
 * sent; log out->sts and out->signature, never those.
 */
#ifndef EXPORTD_SIGV4_H
#define EXPORTD_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "common/buf.h"
#include "common/status.h"

#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_AMZ_DATE_LEN     16     /* "20130524T000000Z" */
#define SIGV4_SIGNATURE_LEN    64     /* lower-case hex */
#define SIGV4_EXPIRES_MAX      604800 /* seven days: S3's limit for presigned URLs */
#define SIGV4_MAX_QUERY	       32     /* query parameters per request */
#define SIGV4_MAX_HEADERS      16     /* extra signed headers per request */
#define SIGV4_OUT_HEADERS      4 /* Authorization, x-amz-date, -content-sha256, -security-token */
#define SIGV4_DEFAULT_CAP      16384 /* a reasonable cap for sigv4_signed_init() */

/* A name and a value, raw (not encoded).  value NULL is the same as "". */
struct sigv4_pair {
	const char *name;
	const char *value;
};

/* What will be sent.  Strings are borrowed for the duration of the call. */
struct sigv4_request {
	const char *method; /* upper-case: "GET", "PUT", "POST", "DELETE", "HEAD" */
	/* The Host header as libcurl will send it: host name (as in the URL),
	 * with ":port" only when it is not the scheme's default port:
	 * "bucket.s3.eu-west-1.amazonaws.com", "127.0.0.1:9000". */
	const char *host;
	/* Raw path starting with '/', not encoded: "/bucket/exports/a b.csv"
	 * (path style) or "/exports/a b.csv" (virtual-hosted style). */
	const char *path;
	/* Raw query parameters in any order, repeats allowed; "uploads" is
	 * {"uploads", ""}.  query may be NULL when nquery is 0. */
	const struct sigv4_pair *query;
	size_t nquery; /* at most SIGV4_MAX_QUERY */
	/* Extra headers to sign besides the ones sigv4 adds (Range, Content-Type,
	 * Content-MD5, x-amz-meta-*...).  Any case; must not be host, x-amz-date,
	 * x-amz-content-sha256, x-amz-security-token or authorization. */
	const struct sigv4_pair *headers;
	size_t nheaders; /* at most SIGV4_MAX_HEADERS */
	/* sigv4_sign(): hex SHA-256 of the body (64 lower-case digits) or
	 * SIGV4_UNSIGNED_PAYLOAD.  sigv4_presign(): NULL or UNSIGNED-PAYLOAD. */
	const char *payload_hash;
	time_t time;	     /* the signing time (seconds since the epoch, UTC) */
	const char *region;  /* "us-east-1" */
	const char *service; /* "s3"; other names are for AWS's generic test suite */
	const char *access_key_id;
	const char *secret_key;
	const char *session_token; /* NULL or "" without temporary credentials */
};

/* The result.  Every buffer is capped (sigv4_signed_init) and owned here. */
struct sigv4_signed {
	/* Path and query as they go on the wire: path "?" query, or just the
	 * path when there is no query.  Presigned: ends with &X-Amz-Signature=. */
	struct buf target;
	struct buf path;  /* the encoded path (canonical URI) */
	struct buf query; /* the canonical query, "" for none; presigned: without X-Amz-Signature */
	/* Header signing: "Name: value" lines to add, in this order:
	 * Authorization, x-amz-date, x-amz-content-sha256 (service "s3" only),
	 * x-amz-security-token (with a session token only).  Presigned: none. */
	struct buf headers[SIGV4_OUT_HEADERS];
	size_t nheaders;
	struct buf authorization; /* the Authorization value; presigned: "" */
	struct buf creq;	  /* canonical request (holds the session token) */
	struct buf sts;		  /* string to sign: safe to log */
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	char signature[SIGV4_SIGNATURE_LEN + 1];
};

/* Empty result whose buffers each refuse to grow past cap bytes. */
void sigv4_signed_init(struct sigv4_signed *out, size_t cap);
/* Release the buffers; out may be reused after sigv4_signed_init(). */
void sigv4_signed_free(struct sigv4_signed *out);

/* Sign req for the Authorization header.  Fills every field of out (reset
 * first, so out can be reused).  EX_EINVAL for bad input (err names the
 * field, never a secret); EX_ETOOBIG when an output passes its cap;
 * EX_ENOMEM.  On error out's contents are unspecified.  err may be NULL. */
enum ex_status sigv4_sign(const struct sigv4_request *req, struct sigv4_signed *out,
			  struct buf *err) EX_MUST_CHECK;

/* Presign req as a URL valid for expires seconds (1..SIGV4_EXPIRES_MAX) from
 * req->time: out->target is path?query with X-Amz-Algorithm, -Credential,
 * -Date, -Expires, -Security-Token (with a session token), -SignedHeaders
 * (host and req->headers) and -Signature, the payload UNSIGNED-PAYLOAD.  The
 * query is in canonical order, so what is sent is what was signed.  req->query
 * carries extra parameters such as response-content-disposition; it must not
 * hold X-Amz-* authentication parameters.  Errors as sigv4_sign(). */
enum ex_status sigv4_presign(const struct sigv4_request *req, long expires,
			     struct sigv4_signed *out, struct buf *err) EX_MUST_CHECK;

#endif
