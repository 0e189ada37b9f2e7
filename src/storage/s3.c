#include "storage/s3.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/backoff.h"
#include "common/crypto.h"
#include "common/log.h"
#include "storage/sigv4.h"

#define S3_MAX_QUERY	4
#define S3_MIN_PART	(5LL * 1024 * 1024) /* S3's minimum for all parts but the last */
#define S3_RESPONSE_CAP (1024 * 1024)

/* One S3 request and its answer. */
struct s3_call {
	const char *method;
	const char *key; /* object key, prefix included */
	const char *query[S3_MAX_QUERY][2];
	int nquery;
	const void *body;
	size_t body_len;
	long status;
	struct buf response;
	char etag[256];
	long long length; /* Content-Length of the answer, -1 if none */
	int lost;	  /* an attempt failed in transit: it may have been done */
};

struct storage_upload {
	const struct storage_ops *ops; /* first: see storage.c */
	const struct config *cf;
	char key[1024];
	char upload_id[1024];	   /* "" until the first part is sent */
	struct json_object *parts; /* [{"n", "etag", "size"}] */
	struct buf part;	   /* the part being filled */
	struct buf state;	   /* the checkpoint state, JSON */
	long long bytes;
	int npart;
};

/* ---- request layer ---- */

/* Scheme+host and the object's raw path, per endpoint and addressing. */
static void s3_target(const struct config *cf, const char *key, char *base, size_t bsize,
		      char *host, size_t hsize, char *path, size_t psize)
{
	const char *ep = cf->s3_endpoint, *scheme = "https://", *h;
	int path_style = cf->s3_addressing == CONF_ADDRESSING_PATH;
	char aws[256];

	if (ep[0] == '\0') {
		snprintf(aws, sizeof(aws), "https://s3.%s.amazonaws.com", cf->s3_region);
		ep = aws;
	}
	if (strncmp(ep, "http://", 7) == 0) {
		scheme = "http://";
	}
	h = strstr(ep, "://") != NULL ? strstr(ep, "://") + 3 : ep;
	if (path_style) {
		snprintf(host, hsize, "%.*s", (int)strcspn(h, "/"), h);
		snprintf(path, psize, "/%s/%s", cf->s3_bucket, key);
	} else {
		snprintf(host, hsize, "%s.%.*s", cf->s3_bucket, (int)strcspn(h, "/"), h);
		snprintf(path, psize, "/%s", key);
	}
	snprintf(base, bsize, "%s%s", scheme, host);
}

static size_t s3_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct s3_call *c = arg;
	size_t n = size * nmemb;

	/* Past the cap the rest is dropped: S3 answers we read are small. */
	if (buf_append(&c->response, data, n) != EX_OK) {
		return n;
	}
	return n;
}

static size_t s3_on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct s3_call *c = arg;
	size_t n = size * nmemb, len;

	if (n > 5 && strncasecmp(data, "etag:", 5) == 0) {
		data += 5;
		len = n - 5;
		while (len > 0 && (*data == ' ' || *data == '\t')) {
			data++;
			len--;
		}
		while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n')) {
			len--;
		}
		snprintf(c->etag, sizeof(c->etag), "%.*s", (int)len, data);
	}
	return n;
}

/* Text between <tag> and </tag> in an S3 XML answer, or "". */
static void s3_xml_value(const char *xml, const char *tag, char *out, size_t size)
{
	char open[64], close[64];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = strstr(xml, open);
	b = a != NULL ? strstr(a, close) : NULL;
	out[0] = '\0';
	if (a != NULL && b != NULL) {
		a += strlen(open);
		snprintf(out, size, "%.*s", (int)(b - a), a);
	}
}

static enum ex_status s3_sign(const struct config *cf, struct s3_call *c, const char *host,
			      const char *path, struct buf *path_query, struct curl_slist **headers,
			      struct buf *err);

/* One attempt.  Returns the curl code; c->status the HTTP status. */
static CURLcode s3_attempt(const struct config *cf, struct s3_call *c, struct buf *err)
{
	char base[512], host[512], path[2048], errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	struct buf url;
	CURL *curl = curl_easy_init();
	CURLcode rc = CURLE_OUT_OF_MEMORY;

	buf_init(&url, 16 * 1024);
	buf_reset(&c->response);
	c->etag[0] = '\0';
	c->status = 0;
	c->length = -1;
	s3_target(cf, c->key, base, sizeof(base), host, sizeof(host), path, sizeof(path));
	/* "Content-Type:" (none): else libcurl labels a POSTFIELDS body
	 * x-www-form-urlencoded, and S3 keeps the Content-Type of
	 * CreateMultipartUpload as the object's. */
	headers = curl_slist_append(NULL, "Content-Type:");
	if (curl == NULL || headers == NULL || buf_puts(&url, base) != EX_OK ||
	    s3_sign(cf, c, host, path, &url, &headers, err) != EX_OK) {
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_URL, buf_str(&url));
	curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L); /* send the path that was signed */
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, c->method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	if (strcmp(c->method, "PUT") == 0 || strcmp(c->method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, c->body != NULL ? c->body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
	} else if (strcmp(c->method, "HEAD") == 0) {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	}
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s3_on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, s3_on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)cf->s3_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK) {
		curl_off_t length = -1;

		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->status);
		curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
		c->length = (long long)length;
	} else {
		buf_msg(err, "S3 %s %s: %s%s%s", c->method, c->key, curl_easy_strerror(rc),
			errbuf[0] ? ": " : "", errbuf);
	}
out:
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	buf_free(&url);
	return rc;
}

/* S3's <Code> and <Message> as an operator can read them. */
static void s3_error_text(const struct s3_call *c, struct buf *err)
{
	char code[128], message[512];

	s3_xml_value(buf_str(&c->response), "Code", code, sizeof(code));
	s3_xml_value(buf_str(&c->response), "Message", message, sizeof(message));
	if (c->status == 403) {
		buf_msg(err,
			"S3 refused %s %s (403 %s: %s): check s3.access_key_id, "
			"s3.secret_access_key, s3.region and the bucket policy",
			c->method, c->key, code[0] ? code : "Forbidden", message);
		return;
	}
	buf_msg(err, "S3 %s %s answered %ld %s%s%s", c->method, c->key, c->status, code,
		message[0] ? ": " : "", message);
}

/* Sleep before retry n: at most 10 s, and at most 512 times the base (the
 * exponent always stopped at 9). */
static void s3_backoff(const struct config *cf, int n)
{
	long long base = cf->s3_retry_base_ms, cap = base * 512 < 10000 ? base * 512 : 10000;

	poll(NULL, 0, (int)backoff_jitter_ms(base, cap, n));
}

/* 5xx, and S3's 400 RequestTimeout (the connection sat idle too long; the
 * AWS SDKs retry it), are worth another try; other 4xx are not. */
static int s3_retryable(const struct s3_call *c)
{
	char code[64];

	s3_xml_value(buf_str(&c->response), "Code", code, sizeof(code));
	return c->status >= 500 || (c->status == 400 && strcmp(code, "RequestTimeout") == 0);
}

/* Perform with retries.  EX_OK for 2xx; EX_EREFUSED for 4xx (not retried);
 * EX_EIO once retries ran out on 5xx / network failures. */
static enum ex_status s3_perform(const struct config *cf, struct s3_call *c, struct buf *err)
{
	CURLcode rc;
	int attempt;

	for (attempt = 0;; attempt++) {
		if (attempt > 0) {
			s3_backoff(cf, attempt);
		}
		rc = s3_attempt(cf, c, err);
		if (rc == CURLE_OK && c->status >= 200 && c->status < 300) {
			return EX_OK;
		}
		if (rc == CURLE_OK) {
			s3_error_text(c, err);
		}
		if (rc == CURLE_OK && !s3_retryable(c)) {
			return EX_EREFUSED;
		}
		c->lost |= rc != CURLE_OK;
		if (attempt >= cf->s3_max_retries) {
			return EX_EIO;
		}
		log_warn("%s; retrying", buf_str(err));
	}
}

/* ---- the upload ---- */

static void s3_call_init(struct s3_call *c, const char *method, const char *key)
{
	memset(c, 0, sizeof(*c));
	c->method = method;
	c->key = key;
	buf_init(&c->response, S3_RESPONSE_CAP);
}

static void s3_query(struct s3_call *c, const char *name, const char *value)
{
	if (c->nquery < S3_MAX_QUERY) {
		c->query[c->nquery][0] = name;
		c->query[c->nquery][1] = value;
		c->nquery++;
	}
}

/* The checkpoint state: {"upload_id": ..., "parts": [...]}. */
static enum ex_status s3_state(struct storage_upload *up)
{
	struct json_object *o = json_object_new_object();
	enum ex_status st;

	json_object_object_add(o, "upload_id", json_object_new_string(up->upload_id));
	json_object_object_add(o, "parts", json_object_get(up->parts));
	buf_reset(&up->state);
	st = buf_puts(&up->state, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return st;
}

static enum ex_status s3_resume(struct storage_upload *up, const struct storage_ckpt *ckpt,
				struct buf *err)
{
	struct json_object *o = ckpt->state != NULL ? json_tokener_parse(ckpt->state) : NULL;
	struct json_object *id = NULL, *parts = NULL;
	enum ex_status st = EX_ENOTFOUND;

	if (o != NULL && json_object_object_get_ex(o, "upload_id", &id) &&
	    json_object_object_get_ex(o, "parts", &parts) &&
	    json_object_is_type(parts, json_type_array) &&
	    (int)json_object_array_length(parts) == ckpt->part) {
		snprintf(up->upload_id, sizeof(up->upload_id), "%s", json_object_get_string(id));
		json_object_put(up->parts);
		up->parts = json_object_get(parts);
		up->npart = ckpt->part;
		up->bytes = ckpt->bytes;
		st = EX_OK;
	} else {
		buf_msg(err, "%s", "the checkpoint has no usable S3 upload state");
	}
	json_object_put(o);
	return st;
}

static enum ex_status s3_open(const struct config *cf, const char *key,
			      const struct storage_ckpt *resume, struct storage_upload **out,
			      struct buf *err)
{
	struct storage_upload *up = calloc(1, sizeof(*up));
	long long chunk = cf->part_size + cf->write_buffer + cf->max_row_size;
	enum ex_status st = EX_OK;

	*out = NULL;
	if (up == NULL) {
		return EX_ENOMEM;
	}
	up->ops = &s3_ops;
	up->cf = cf;
	snprintf(up->key, sizeof(up->key), "%s%s", cf->s3_prefix, key);
	up->parts = json_object_new_array();
	/* A part ends at the first row past part_size: one row and one
	 * write_buffer more at most, and gzip adds up to ~0.1% (stored blocks).
	 * What is under S3_MIN_PART is held and the next part comes on top. */
	buf_init(&up->part, (size_t)(S3_MIN_PART + chunk + chunk / 256 + 4096));
	buf_init(&up->state, 4 * 1024 * 1024);
	if (resume != NULL && resume->bytes > 0) {
		st = s3_resume(up, resume, err);
	}
	if (st != EX_OK) {
		s3_ops.close(up);
		return st;
	}
	*out = up;
	return EX_OK;
}

static enum ex_status s3_write(struct storage_upload *up, const void *data, size_t len,
			       struct buf *err)
{
	enum ex_status st = buf_append(&up->part, data, len);

	if (st != EX_OK) {
		buf_msg(err, "%s",
			"an S3 part outgrew exportd.part_size + write_buffer + max_row_size");
	}
	return st;
}

static enum ex_status s3_create_upload(struct storage_upload *up, struct buf *err)
{
	struct s3_call c;
	enum ex_status st;

	s3_call_init(&c, "POST", up->key);
	s3_query(&c, "uploads", "");
	st = s3_perform(up->cf, &c, err);
	if (st == EX_OK) {
		s3_xml_value(buf_str(&c.response), "UploadId", up->upload_id,
			     sizeof(up->upload_id));
		if (up->upload_id[0] == '\0') {
			buf_msg(err, "S3 CreateMultipartUpload for %s returned no UploadId",
				up->key);
			st = EX_EIO;
		}
	}
	buf_free(&c.response);
	return st;
}

static enum ex_status s3_upload_part(struct storage_upload *up, struct buf *err)
{
	struct json_object *p;
	char number[16];
	struct s3_call c;
	enum ex_status st;

	snprintf(number, sizeof(number), "%d", up->npart + 1);
	s3_call_init(&c, "PUT", up->key);
	s3_query(&c, "partNumber", number);
	s3_query(&c, "uploadId", up->upload_id);
	c.body = up->part.data;
	c.body_len = up->part.len;
	st = s3_perform(up->cf, &c, err);
	if (st == EX_OK && c.etag[0] == '\0') {
		buf_msg(err, "S3 UploadPart %s of %s returned no ETag", number, up->key);
		st = EX_EIO;
	}
	if (st == EX_OK) {
		p = json_object_new_object();
		json_object_object_add(p, "n", json_object_new_int(up->npart + 1));
		json_object_object_add(p, "etag", json_object_new_string(c.etag));
		json_object_object_add(p, "size", json_object_new_int64((int64_t)up->part.len));
		json_object_array_add(up->parts, p);
		up->npart++;
		up->bytes += (long long)up->part.len;
		buf_reset(&up->part);
	}
	buf_free(&c.response);
	return st;
}

/* Create the upload when needed, send the part, update the state. */
static enum ex_status s3_send_part(struct storage_upload *up, struct buf *err)
{
	enum ex_status st = EX_OK;

	if (up->upload_id[0] == '\0') {
		st = s3_create_upload(up, err);
	}
	st = st == EX_OK ? s3_upload_part(up, err) : st;
	return st == EX_OK ? s3_state(up) : st;
}

static enum ex_status s3_part_end(struct storage_upload *up, struct storage_ckpt *ckpt,
				  struct buf *err)
{
	enum ex_status st = EX_OK;

	ckpt->bytes = up->bytes;
	ckpt->part = up->npart;
	ckpt->state = NULL;
	ckpt->durable = 0;
	if ((long long)up->part.len < S3_MIN_PART) {
		return EX_OK; /* goes out with the next part, or as the last */
	}
	st = s3_send_part(up, err);
	if (st == EX_OK) {
		ckpt->bytes = up->bytes;
		ckpt->part = up->npart;
		ckpt->state = buf_str(&up->state);
		ckpt->durable = 1;
	}
	return st;
}

/* <CompleteMultipartUpload><Part><PartNumber>n</PartNumber><ETag>..</ETag></Part>... */
static enum ex_status s3_complete_body(struct storage_upload *up, struct buf *xml)
{
	enum ex_status st = buf_puts(xml, "<CompleteMultipartUpload>");
	struct json_object *p, *n, *etag;
	size_t i;

	for (i = 0; st == EX_OK && i < json_object_array_length(up->parts); i++) {
		p = json_object_array_get_idx(up->parts, i);
		json_object_object_get_ex(p, "n", &n);
		json_object_object_get_ex(p, "etag", &etag);
		st = buf_printf(xml, "<Part><PartNumber>%d</PartNumber><ETag>",
				json_object_get_int(n));
		/* ETags are quoted hex: only the quotes need escaping. */
		for (const char *e = json_object_get_string(etag); st == EX_OK && *e; e++) {
			st = *e == '"' ? buf_puts(xml, "&quot;") : buf_putc(xml, *e);
		}
		st = st == EX_OK ? buf_puts(xml, "</ETag></Part>") : st;
	}
	return st == EX_OK ? buf_puts(xml, "</CompleteMultipartUpload>") : st;
}

/* A CompleteMultipartUpload whose answer was lost may have been done: then
 * the retries fail (S3 no longer knows the upload).  It was done if the
 * object is there with every byte of the parts (the key is the job's own). */
static int s3_completed_anyway(struct storage_upload *up)
{
	struct buf err;
	struct s3_call c;
	int done;

	buf_init(&err, 2048);
	s3_call_init(&c, "HEAD", up->key);
	done = s3_perform(up->cf, &c, &err) == EX_OK && c.length == up->bytes;
	if (done) {
		log_warn("S3 %s: the answer to CompleteMultipartUpload was lost, but the object "
			 "is complete (%lld bytes)",
			 up->key, up->bytes);
	}
	buf_free(&c.response);
	buf_free(&err);
	return done;
}

static enum ex_status s3_complete(struct storage_upload *up, struct buf *err)
{
	struct buf xml;
	struct s3_call c;
	enum ex_status st;

	buf_init(&xml, 2 * 1024 * 1024);
	/* What is left (or all of a small export) is the last part; an empty
	 * export still needs one. */
	st = up->part.len > 0 || up->npart == 0 ? s3_send_part(up, err) : EX_OK;
	st = st == EX_OK ? s3_complete_body(up, &xml) : st;
	s3_call_init(&c, "POST", up->key);
	s3_query(&c, "uploadId", up->upload_id);
	c.body = xml.data;
	c.body_len = xml.len;
	st = st == EX_OK ? s3_perform(up->cf, &c, err) : st;
	/* S3 may answer 200 with an <Error> body when completing fails late. */
	if (st == EX_OK && strstr(buf_str(&c.response), "<Error>") != NULL) {
		s3_error_text(&c, err);
		st = EX_EIO;
	}
	if (st != EX_OK && c.lost && s3_completed_anyway(up)) {
		st = EX_OK;
	}
	buf_free(&c.response);
	buf_free(&xml);
	return st;
}

static void s3_abort(struct storage_upload *up)
{
	struct buf err;
	struct s3_call c;

	if (up->upload_id[0] == '\0') {
		return;
	}
	buf_init(&err, 2048);
	s3_call_init(&c, "DELETE", up->key);
	s3_query(&c, "uploadId", up->upload_id);
	if (s3_perform(up->cf, &c, &err) != EX_OK) {
		log_warn("abort of the S3 upload of %s: %s", up->key, buf_str(&err));
	}
	buf_free(&c.response);
	buf_free(&err);
}

static void s3_close(struct storage_upload *up)
{
	json_object_put(up->parts);
	buf_free(&up->part);
	buf_free(&up->state);
	free(up);
}

static enum ex_status s3_remove(const struct config *cf, const char *key, struct buf *err)
{
	char full[1024];
	struct s3_call c;
	enum ex_status st;

	snprintf(full, sizeof(full), "%s%s", cf->s3_prefix, key);
	s3_call_init(&c, "DELETE", full);
	st = s3_perform(cf, &c, err);
	buf_free(&c.response);
	return st;
}

const struct storage_ops s3_ops = {
	.open = s3_open,
	.write = s3_write,
	.part_end = s3_part_end,
	.complete = s3_complete,
	.abort = s3_abort,
	.close = s3_close,
	.remove = s3_remove,
};

/* ---- signing ---- */

static void s3_sigv4_request(const struct config *cf, const char *method, const char *host,
			     const char *path, struct sigv4_request *req)
{
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->host = host;
	req->path = path;
	req->time = time(NULL);
	req->region = cf->s3_region;
	req->service = "s3";
	req->access_key_id = cf->s3_access_key_id;
	req->secret_key = cf->s3_secret_access_key;
	req->session_token = cf->s3_session_token;
}

/* Sign c; append the target (path?query) to url and the headers to send. */
static enum ex_status s3_sign(const struct config *cf, struct s3_call *c, const char *host,
			      const char *path, struct buf *url, struct curl_slist **headers,
			      struct buf *err)
{
	struct sigv4_pair query[S3_MAX_QUERY];
	char payload[CRYPTO_SHA256_HEX_LEN + 1];
	struct sigv4_request req;
	struct sigv4_signed out;
	enum ex_status st;
	size_t i;
	int q;

	for (q = 0; q < c->nquery; q++) {
		query[q].name = c->query[q][0];
		query[q].value = c->query[q][1];
	}
	crypto_sha256_hex(c->body != NULL ? c->body : "", c->body_len, payload);
	s3_sigv4_request(cf, c->method, host, path, &req);
	req.query = query;
	req.nquery = (size_t)c->nquery;
	req.payload_hash = payload;
	sigv4_signed_init(&out, SIGV4_DEFAULT_CAP);
	st = sigv4_sign(&req, &out, err);
	st = st == EX_OK ? buf_puts(url, buf_str(&out.target)) : st;
	for (i = 0; st == EX_OK && i < out.nheaders; i++) {
		struct curl_slist *l = curl_slist_append(*headers, buf_str(&out.headers[i]));

		st = l != NULL ? EX_OK : EX_ENOMEM;
		*headers = l != NULL ? l : *headers;
	}
	sigv4_signed_free(&out);
	return st;
}

enum ex_status s3_presign_get(const struct config *cf, const char *key, const char *disposition,
			      const char *content_type, struct buf *url, struct buf *err)
{
	char base[512], host[512], path[2048], full[1024];
	struct sigv4_pair query[2] = {{"response-content-disposition", disposition},
				      {"response-content-type", content_type}};
	struct sigv4_request req;
	struct sigv4_signed out;
	enum ex_status st;

	snprintf(full, sizeof(full), "%s%s", cf->s3_prefix, key);
	s3_target(cf, full, base, sizeof(base), host, sizeof(host), path, sizeof(path));
	s3_sigv4_request(cf, "GET", host, path, &req);
	req.query = query;
	req.nquery = 2;
	sigv4_signed_init(&out, SIGV4_DEFAULT_CAP);
	st = sigv4_presign(&req, (long)(cf->s3_presign_ttl_ms / 1000), &out, err);
	st = st == EX_OK ? buf_puts(url, base) : st;
	st = st == EX_OK ? buf_puts(url, buf_str(&out.target)) : st;
	sigv4_signed_free(&out);
	return st;
}
