/* s3.c - S3 storage (see s3.h): requests, the multipart upload, signing. */
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
#include "common/counter.h"
#include "common/crypto.h"
#include "common/log.h"
#include "storage/sigv4.h"

#define S3_MAX_QUERY	4
#define S3_MIN_PART	(5LL * 1024 * 1024) /* S3's minimum for all parts but the last */
#define S3_RESPONSE_CAP (1024 * 1024UL)
#define S3_KEY_CAP	1024 /* S3's own limit on a key */
#define S3_ID_CAP	1024 /* upload ids are ~100 bytes in practice */
#define S3_ETAG_CAP	256  /* quoted MD5 hex, or hex-N for a multipart object */

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
	struct buf etag;
	int etag_toobig;  /* the ETag header did not fit etag */
	long long length; /* Content-Length of the answer, -1 if none */
	int lost;	  /* an attempt failed in transit: it may have been done */
};

struct s3_upload {
	struct storage_upload base; /* first: see storage.h */
	struct buf key;		    /* object key, prefix included */
	struct buf upload_id;	    /* "" until the first part is sent */
	struct json_object *parts;  /* [{"n", "etag", "size"}] */
	struct buf part;	    /* the part being filled */
	struct buf state;	    /* the checkpoint state, JSON */
};

/* Where a request goes: scheme+host, Host, and the object's raw path. */
struct s3_target {
	struct buf base;
	struct buf host;
	struct buf path;
};

static struct s3_upload *s3_of(struct storage_upload *up)
{
	return (struct s3_upload *)(void *)up;
}

/* prefix + key into out (initialised here, freed by the caller). */
static enum ex_status s3_full_key(const struct config *cf, const char *key, struct buf *out,
				  struct buf *err)
{
	enum ex_status st;

	buf_init(out, S3_KEY_CAP);
	st = buf_printf(out, "%s%s", cf->s3_prefix, key);
	if (st) {
		buf_msg(err, "the S3 key %s%s is longer than %d bytes", cf->s3_prefix, key,
			S3_KEY_CAP);
	}
	return st;
}

/* ---- request layer ---- */

static void s3_target_init(struct s3_target *t)
{
	buf_init(&t->base, 512);
	buf_init(&t->host, 512);
	buf_init(&t->path, 2048);
}

static void s3_target_free(struct s3_target *t)
{
	buf_free(&t->base);
	buf_free(&t->host);
	buf_free(&t->path);
}

/* Per endpoint (AWS's own when none is set) and addressing style. */
static enum ex_status s3_target(const struct config *cf, const char *key, struct s3_target *t)
{
	const char *ep = cf->s3_endpoint, *h = strstr(ep, "://");
	int path_style = cf->s3_addressing == CONF_ADDRESSING_PATH;
	enum ex_status st = EX_OK;

	h = h != NULL ? h + 3 : ep;
	if (!path_style) {
		st = buf_printf(&t->host, "%s.", cf->s3_bucket);
		if (st) {
			return st;
		}
	}
	if (ep[0] == '\0') {
		st = buf_printf(&t->host, "s3.%s.amazonaws.com", cf->s3_region);
	} else {
		st = buf_append(&t->host, h, strcspn(h, "/"));
	}
	if (st) {
		return st;
	}
	if (path_style) {
		st = buf_printf(&t->path, "/%s/%s", cf->s3_bucket, key);
	} else {
		st = buf_printf(&t->path, "/%s", key);
	}
	if (st) {
		return st;
	}
	return buf_printf(&t->base, "%s%s", strncmp(ep, "http://", 7) == 0 ? "http://" : "https://",
			  buf_str(&t->host));
}

static size_t s3_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct s3_call *c = arg;
	size_t n = size * nmemb;
	enum ex_status st = buf_append(&c->response, data, n);

	/* Past the cap (or without memory) the rest is dropped: S3 answers we
	 * read are small.  The chunk still counts as taken, or curl would fail
	 * a request that S3 carried out. */
	(void)st;
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
		buf_reset(&c->etag);
		c->etag_toobig = buf_append(&c->etag, data, len) != EX_OK;
	}
	return n;
}

/* The text between open and close ("<Code>", "</Code>") in an S3 XML
 * answer, pointed at in place (so never cut short); length 0 if absent. */
static const char *s3_xml_value(const char *xml, const char *open, const char *close, size_t *len)
{
	const char *a = strstr(xml, open), *b = a != NULL ? strstr(a, close) : NULL;

	*len = 0;
	if (a == NULL || b == NULL) {
		return "";
	}
	a += strlen(open);
	*len = (size_t)(b - a);
	return a;
}

static enum ex_status s3_sign(const struct config *cf, struct s3_call *c, const char *host,
			      const char *path, struct buf *path_query, struct curl_slist **headers,
			      struct buf *err);

/* The URL and headers for c, signed.  "Content-Type:" (none): else libcurl
 * labels a POSTFIELDS body x-www-form-urlencoded, and S3 keeps the
 * Content-Type of CreateMultipartUpload as the object's. */
static enum ex_status s3_prepare(const struct config *cf, struct s3_call *c, struct buf *url,
				 struct curl_slist **headers, struct buf *err)
{
	struct s3_target t;
	enum ex_status st;

	s3_target_init(&t);
	*headers = curl_slist_append(NULL, "Content-Type:");
	if (*headers == NULL) {
		st = EX_ENOMEM;
		goto out;
	}
	st = s3_target(cf, c->key, &t);
	if (st) {
		buf_msg(err, "S3 %s %s: the request URL is too long", c->method, c->key);
		goto out;
	}
	st = buf_puts(url, buf_str(&t.base));
	if (st) {
		goto out;
	}
	st = s3_sign(cf, c, buf_str(&t.host), buf_str(&t.path), url, headers, err);
out:
	s3_target_free(&t);
	return st;
}

static void s3_setopts(CURL *curl, const struct config *cf, struct s3_call *c,
		       const struct buf *url, struct curl_slist *headers, char *errbuf)
{
	curl_easy_setopt(curl, CURLOPT_URL, buf_str(url));
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
}

/* One attempt.  Returns the curl code; c->status the HTTP status.  A
 * request that cannot be made counts as CURLE_OUT_OF_MEMORY, with err set. */
static CURLcode s3_attempt(const struct config *cf, struct s3_call *c, struct buf *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	struct buf url;
	CURL *curl = curl_easy_init();
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	curl_off_t length = -1;

	buf_init(&url, 16 * 1024UL);
	buf_reset(&c->response);
	buf_reset(&c->etag);
	c->etag_toobig = 0;
	c->status = 0;
	c->length = -1;
	if (curl == NULL || s3_prepare(cf, c, &url, &headers, err) != EX_OK) {
		goto out;
	}
	s3_setopts(curl, cf, c, &url, headers, errbuf);
	rc = curl_easy_perform(curl);
	if (rc) {
		buf_msg(err, "S3 %s %s: %s%s%s", c->method, c->key, curl_easy_strerror(rc),
			errbuf[0] ? ": " : "", errbuf);
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->status);
	curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
	c->length = (long long)length;
out:
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	buf_free(&url);
	return rc;
}

/* S3's <Code> and <Message> as an operator can read them. */
static void s3_error_text(const struct s3_call *c, struct buf *err)
{
	size_t clen, mlen;
	const char *code = s3_xml_value(buf_str(&c->response), "<Code>", "</Code>", &clen);
	const char *message = s3_xml_value(buf_str(&c->response), "<Message>", "</Message>", &mlen);

	if (c->status == 403) {
		if (clen == 0) {
			code = "Forbidden";
			clen = strlen(code);
		}
		buf_msg(err,
			"S3 refused %s %s (403 %.*s: %.*s): check s3.access_key_id, "
			"s3.secret_access_key, s3.region and the bucket policy",
			c->method, c->key, (int)clen, code, (int)mlen, message);
		return;
	}
	buf_msg(err, "S3 %s %s answered %ld %.*s%s%.*s", c->method, c->key, c->status, (int)clen,
		code, mlen ? ": " : "", (int)mlen, message);
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
	size_t len;
	const char *code = s3_xml_value(buf_str(&c->response), "<Code>", "</Code>", &len);

	return c->status >= 500 || (c->status == 400 && len == strlen("RequestTimeout") &&
				    memcmp(code, "RequestTimeout", len) == 0);
}

/* Count a failed attempt by S3's error code, else its HTTP status, else
 * "network" (no answer). */
static void s3_count_failure(const struct s3_call *c, CURLcode rc)
{
	char code[48], labels[COUNTER_LABELS_MAX];
	size_t len = 0;
	const char *xml = NULL;

	if (rc != CURLE_OK) {
		snprintf(code, sizeof(code), "network");
	} else {
		xml = s3_xml_value(buf_str(&c->response), "<Code>", "</Code>", &len);
		if (len > 0) {
			counter_label(code, sizeof(code), xml, len);
		} else {
			snprintf(code, sizeof(code), "%ld", c->status);
		}
	}
	snprintf(labels, sizeof(labels), "code=\"%s\"", code);
	counter_add(COUNTER_S3_FAILURES, labels, 1);
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
		s3_count_failure(c, rc);
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
	buf_init(&c->etag, S3_ETAG_CAP);
}

static void s3_call_free(struct s3_call *c)
{
	buf_free(&c->response);
	buf_free(&c->etag);
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
static enum ex_status s3_state(struct s3_upload *up)
{
	struct json_object *o = json_object_new_object();
	enum ex_status st;

	json_object_object_add(o, "upload_id", json_object_new_string(buf_str(&up->upload_id)));
	json_object_object_add(o, "parts", json_object_get(up->parts));
	buf_reset(&up->state);
	st = buf_puts(&up->state, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return st;
}

static enum ex_status s3_resume(struct s3_upload *up, const struct storage_ckpt *ckpt,
				struct buf *err)
{
	struct json_object *o = ckpt->state != NULL ? json_tokener_parse(ckpt->state) : NULL;
	struct json_object *id = NULL, *parts = NULL;
	enum ex_status st = EX_ENOTFOUND;

	if (o == NULL || !json_object_object_get_ex(o, "upload_id", &id) ||
	    !json_object_object_get_ex(o, "parts", &parts) ||
	    !json_object_is_type(parts, json_type_array) ||
	    (int)json_object_array_length(parts) != ckpt->part ||
	    buf_puts(&up->upload_id, json_object_get_string(id)) != EX_OK) {
		buf_msg(err, "%s", "the checkpoint has no usable S3 upload state");
		goto out;
	}
	json_object_put(up->parts);
	up->parts = json_object_get(parts);
	up->base.part = ckpt->part;
	up->base.bytes = ckpt->bytes;
	st = EX_OK;
out:
	json_object_put(o);
	return st;
}

static enum ex_status s3_open(const struct config *cf, const char *key,
			      const struct storage_ckpt *resume, struct storage_upload **out,
			      struct buf *err)
{
	struct s3_upload *up = calloc(1, sizeof(*up));
	long long chunk = cf->part_size + cf->write_buffer + cf->max_row_size;
	enum ex_status st;

	*out = NULL;
	if (up == NULL) {
		return EX_ENOMEM;
	}
	up->base.ops = &s3_ops;
	up->base.cf = cf;
	up->parts = json_object_new_array();
	buf_init(&up->upload_id, S3_ID_CAP);
	/* A part ends at the first row past part_size: one row and one
	 * write_buffer more at most, and gzip adds up to ~0.1% (stored blocks).
	 * What is under S3_MIN_PART is held and the next part comes on top. */
	buf_init(&up->part, (size_t)(S3_MIN_PART + chunk + chunk / 256 + 4096));
	buf_init(&up->state, 4UL * 1024 * 1024);
	st = s3_full_key(cf, key, &up->key, err);
	if (st) {
		goto out;
	}
	if (resume != NULL && resume->bytes > 0) {
		st = s3_resume(up, resume, err);
		if (st) {
			goto out;
		}
	}
	*out = &up->base;
	up = NULL;
out:
	if (up != NULL) {
		s3_ops.close(&up->base);
	}
	return st;
}

static enum ex_status s3_write(struct storage_upload *base, const void *data, size_t len,
			       struct buf *err)
{
	enum ex_status st = buf_append(&s3_of(base)->part, data, len);

	if (st) {
		buf_msg(err, "%s",
			"an S3 part outgrew exportd.part_size + write_buffer + max_row_size");
	}
	return st;
}

static enum ex_status s3_create_upload(struct s3_upload *up, struct buf *err)
{
	const char *key = buf_str(&up->key), *id;
	struct s3_call c;
	enum ex_status st;
	size_t len;

	s3_call_init(&c, "POST", key);
	s3_query(&c, "uploads", "");
	st = s3_perform(up->base.cf, &c, err);
	if (st) {
		goto out;
	}
	id = s3_xml_value(buf_str(&c.response), "<UploadId>", "</UploadId>", &len);
	if (len == 0) {
		buf_msg(err, "S3 CreateMultipartUpload for %s returned no UploadId", key);
		st = EX_EIO;
		goto out;
	}
	buf_reset(&up->upload_id);
	st = buf_append(&up->upload_id, id, len);
	if (st) {
		buf_msg(err, "S3 CreateMultipartUpload for %s returned an UploadId over %d bytes",
			key, S3_ID_CAP);
	}
out:
	s3_call_free(&c);
	return st;
}

/* The part was taken: note it in the parts list and start the next. */
static void s3_part_sent(struct s3_upload *up, const struct s3_call *c)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "n", json_object_new_int(up->base.part + 1));
	json_object_object_add(p, "etag", json_object_new_string(buf_str(&c->etag)));
	json_object_object_add(p, "size", json_object_new_int64((int64_t)up->part.len));
	json_object_array_add(up->parts, p);
	up->base.part++;
	up->base.bytes += (long long)up->part.len;
	buf_reset(&up->part);
}

static enum ex_status s3_upload_part(struct s3_upload *up, struct buf *err)
{
	const char *key = buf_str(&up->key);
	char number[16];
	struct s3_call c;
	enum ex_status st;

	snprintf(number, sizeof(number), "%d", up->base.part + 1);
	s3_call_init(&c, "PUT", key);
	s3_query(&c, "partNumber", number);
	s3_query(&c, "uploadId", buf_str(&up->upload_id));
	c.body = up->part.data;
	c.body_len = up->part.len;
	st = s3_perform(up->base.cf, &c, err);
	if (st) {
		goto out;
	}
	if (c.etag_toobig) {
		buf_msg(err, "S3 UploadPart %s of %s returned an ETag over %d bytes", number, key,
			S3_ETAG_CAP);
		st = EX_ETOOBIG;
		goto out;
	}
	if (c.etag.len == 0) {
		buf_msg(err, "S3 UploadPart %s of %s returned no ETag", number, key);
		st = EX_EIO;
		goto out;
	}
	s3_part_sent(up, &c);
out:
	s3_call_free(&c);
	return st;
}

/* Create the upload when needed, send the part, update the state. */
static enum ex_status s3_send_part(struct s3_upload *up, struct buf *err)
{
	enum ex_status st;

	if (up->upload_id.len == 0) {
		st = s3_create_upload(up, err);
		if (st) {
			return st;
		}
	}
	st = s3_upload_part(up, err);
	if (st) {
		return st;
	}
	return s3_state(up);
}

static enum ex_status s3_part_end(struct storage_upload *base, struct storage_ckpt *ckpt,
				  struct buf *err)
{
	struct s3_upload *up = s3_of(base);
	enum ex_status st;

	ckpt->bytes = base->bytes;
	ckpt->part = base->part;
	ckpt->state = NULL;
	ckpt->durable = 0;
	if ((long long)up->part.len < S3_MIN_PART) {
		return EX_OK; /* goes out with the next part, or as the last */
	}
	st = s3_send_part(up, err);
	if (st) {
		return st;
	}
	ckpt->bytes = base->bytes;
	ckpt->part = base->part;
	ckpt->state = buf_str(&up->state);
	ckpt->durable = 1;
	return EX_OK;
}

/* ETags are quoted hex: only the quotes need escaping. */
static enum ex_status s3_xml_etag(struct buf *xml, const char *etag)
{
	enum ex_status st;

	for (; *etag != '\0'; etag++) {
		st = *etag == '"' ? buf_puts(xml, "&quot;") : buf_putc(xml, *etag);
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

/* <CompleteMultipartUpload><Part><PartNumber>n</PartNumber><ETag>..</ETag></Part>... */
static enum ex_status s3_complete_body(struct s3_upload *up, struct buf *xml)
{
	enum ex_status st = buf_puts(xml, "<CompleteMultipartUpload>");
	struct json_object *p, *n, *etag;
	size_t i;

	if (st) {
		return st;
	}
	for (i = 0; i < json_object_array_length(up->parts); i++) {
		p = json_object_array_get_idx(up->parts, i);
		json_object_object_get_ex(p, "n", &n);
		json_object_object_get_ex(p, "etag", &etag);
		st = buf_printf(xml, "<Part><PartNumber>%d</PartNumber><ETag>",
				json_object_get_int(n));
		if (st) {
			return st;
		}
		st = s3_xml_etag(xml, json_object_get_string(etag));
		if (st) {
			return st;
		}
		st = buf_puts(xml, "</ETag></Part>");
		if (st) {
			return st;
		}
	}
	return buf_puts(xml, "</CompleteMultipartUpload>");
}

/* A CompleteMultipartUpload whose answer was lost may have been done: then
 * the retries fail (S3 no longer knows the upload).  It was done if the
 * object is there with every byte of the parts (the key is the job's own). */
static int s3_completed_anyway(struct s3_upload *up)
{
	struct buf err;
	struct s3_call c;
	int done;

	buf_init(&err, 2048);
	s3_call_init(&c, "HEAD", buf_str(&up->key));
	done = s3_perform(up->base.cf, &c, &err) == EX_OK && c.length == up->base.bytes;
	if (done) {
		log_warn("S3 %s: the answer to CompleteMultipartUpload was lost, but the object "
			 "is complete (%lld bytes)",
			 buf_str(&up->key), up->base.bytes);
	}
	s3_call_free(&c);
	buf_free(&err);
	return done;
}

static enum ex_status s3_complete(struct storage_upload *base, struct buf *err)
{
	struct s3_upload *up = s3_of(base);
	struct buf xml;
	struct s3_call c;
	enum ex_status st;

	buf_init(&xml, 2UL * 1024 * 1024);
	s3_call_init(&c, "POST", buf_str(&up->key));
	/* What is left (or all of a small export) is the last part; an empty
	 * export still needs one. */
	if (up->part.len > 0 || base->part == 0) {
		st = s3_send_part(up, err);
		if (st) {
			goto out;
		}
	}
	st = s3_complete_body(up, &xml);
	if (st) {
		goto out;
	}
	s3_query(&c, "uploadId", buf_str(&up->upload_id));
	c.body = xml.data;
	c.body_len = xml.len;
	st = s3_perform(base->cf, &c, err);
	/* S3 may answer 200 with an <Error> body when completing fails late. */
	if (!st && strstr(buf_str(&c.response), "<Error>") != NULL) {
		s3_error_text(&c, err);
		st = EX_EIO;
	}
	if (st && c.lost && s3_completed_anyway(up)) {
		st = EX_OK;
	}
out:
	s3_call_free(&c);
	buf_free(&xml);
	return st;
}

static void s3_abort(struct storage_upload *base)
{
	struct s3_upload *up = s3_of(base);
	struct buf err;
	struct s3_call c;

	if (up->upload_id.len == 0) {
		return;
	}
	buf_init(&err, 2048);
	s3_call_init(&c, "DELETE", buf_str(&up->key));
	s3_query(&c, "uploadId", buf_str(&up->upload_id));
	if (s3_perform(base->cf, &c, &err) != EX_OK) {
		log_warn("abort of the S3 upload of %s: %s", buf_str(&up->key), buf_str(&err));
	}
	s3_call_free(&c);
	buf_free(&err);
}

static void s3_close(struct storage_upload *base)
{
	struct s3_upload *up = s3_of(base);

	json_object_put(up->parts);
	buf_free(&up->key);
	buf_free(&up->upload_id);
	buf_free(&up->part);
	buf_free(&up->state);
	free(up);
}

static enum ex_status s3_remove(const struct config *cf, const char *key, struct buf *err)
{
	struct buf full;
	struct s3_call c;
	enum ex_status st = s3_full_key(cf, key, &full, err);

	s3_call_init(&c, "DELETE", buf_str(&full));
	if (st) {
		goto out;
	}
	st = s3_perform(cf, &c, err);
out:
	s3_call_free(&c);
	buf_free(&full);
	return st;
}

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

/* The signed headers, appended to the list curl sends. */
static enum ex_status s3_add_headers(const struct sigv4_signed *out, struct curl_slist **headers)
{
	struct curl_slist *l;
	size_t i;

	for (i = 0; i < out->nheaders; i++) {
		l = curl_slist_append(*headers, buf_str(&out->headers[i]));
		if (l == NULL) {
			return EX_ENOMEM;
		}
		*headers = l;
	}
	return EX_OK;
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
	if (st) {
		goto out;
	}
	st = buf_puts(url, buf_str(&out.target));
	if (st) {
		goto out;
	}
	st = s3_add_headers(&out, headers);
out:
	sigv4_signed_free(&out);
	return st;
}

/* A presigned GET for full (prefix included), valid s3.presign_ttl, that
 * makes S3 answer with the offer's Content-Disposition and Content-Type. */
static enum ex_status s3_presign_get(const struct config *cf, const char *full,
				     const struct storage_offer *offer, struct buf *url,
				     struct buf *err)
{
	struct sigv4_pair query[2] = {{"response-content-disposition", offer->disposition},
				      {"response-content-type", offer->content_type}};
	struct sigv4_request req;
	struct sigv4_signed out;
	struct s3_target t;
	enum ex_status st;

	s3_target_init(&t);
	sigv4_signed_init(&out, SIGV4_DEFAULT_CAP);
	st = s3_target(cf, full, &t);
	if (st) {
		buf_msg(err, "the URL of %s is too long", full);
		goto out;
	}
	s3_sigv4_request(cf, "GET", buf_str(&t.host), buf_str(&t.path), &req);
	req.query = query;
	req.nquery = 2;
	st = sigv4_presign(&req, (long)(cf->s3_presign_ttl_ms / 1000), &out, err);
	if (st) {
		goto out;
	}
	st = buf_puts(url, buf_str(&t.base));
	if (st) {
		goto out;
	}
	st = buf_puts(url, buf_str(&out.target));
out:
	sigv4_signed_free(&out);
	s3_target_free(&t);
	return st;
}

/* S3 serves the object itself: the downloader gets a presigned URL.  It
 * is never "gone" here (S3 would answer 404 to the URL), only not makeable. */
static enum ex_status s3_locate(const struct config *cf, const char *key,
				const struct storage_offer *offer, struct storage_handover *out,
				struct buf *err)
{
	struct buf full, why;
	enum ex_status st;

	buf_init(&why, err->cap);
	buf_reset(&out->where);
	st = s3_full_key(cf, key, &full, &why);
	if (st) {
		goto out;
	}
	st = s3_presign_get(cf, buf_str(&full), offer, &out->where, &why);
	if (st) {
		goto out;
	}
	out->kind = STORAGE_HANDOVER_URL;
	out->size = -1;
out:
	if (st) {
		buf_msg(err, "cannot presign: %s", buf_str(&why));
	}
	buf_free(&why);
	buf_free(&full);
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
	.locate = s3_locate,
};
