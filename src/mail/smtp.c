/* smtp.c - one message handed to libcurl's SMTP client (see smtp.h). */
#include "mail/smtp.h"

#include <curl/curl.h>
#include <string.h>

struct smtp_reader {
	const struct buf *message;
	size_t offset;
};

static size_t smtp_read(char *dest, size_t size, size_t nmemb, void *arg)
{
	struct smtp_reader *r = arg;
	size_t room = size * nmemb, left = r->message->len - r->offset;
	size_t n = left < room ? left : room;

	memcpy(dest, r->message->data + r->offset, n);
	r->offset += n;
	return n;
}

void smtp_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static long smtp_use_ssl(const struct config *cf)
{
	if (strncmp(cf->mail_smtp_url, "smtps://", 8) == 0) {
		return (long)CURLUSESSL_ALL;
	}
	switch (cf->mail_starttls) {
	case CONF_STARTTLS_REQUIRE:
		return (long)CURLUSESSL_ALL;
	case CONF_STARTTLS_NEVER:
		return (long)CURLUSESSL_NONE;
	default:
		return (long)CURLUSESSL_TRY;
	}
}

static void smtp_setup(CURL *curl, const struct config *cf, struct curl_slist *rcpt,
		       struct smtp_reader *reader, char *errbuf)
{
	curl_easy_setopt(curl, CURLOPT_URL, cf->mail_smtp_url);
	curl_easy_setopt(curl, CURLOPT_USE_SSL, smtp_use_ssl(cf));
	if (cf->mail_username[0] != '\0') {
		curl_easy_setopt(curl, CURLOPT_USERNAME, cf->mail_username);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, cf->mail_password);
	}
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, cf->mail_from_address);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, smtp_read);
	curl_easy_setopt(curl, CURLOPT_READDATA, reader);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)cf->mail_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)cf->mail_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
}

enum ex_status smtp_check(const struct config *cf, struct buf *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *curl = curl_easy_init();
	long response = 0;
	CURLcode rc;

	if (curl == NULL) {
		return EX_ENOMEM;
	}
	curl_easy_setopt(curl, CURLOPT_URL, cf->mail_smtp_url);
	curl_easy_setopt(curl, CURLOPT_USE_SSL, smtp_use_ssl(cf));
	if (cf->mail_username[0] != '\0') {
		curl_easy_setopt(curl, CURLOPT_USERNAME, cf->mail_username);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, cf->mail_password);
	}
	/* No recipient, no upload: libcurl sends the custom command. */
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "NOOP");
	curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)cf->mail_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response);
		buf_msg(err, "SMTP: %s%s%s (server code %ld)", curl_easy_strerror(rc),
			errbuf[0] ? ": " : "", errbuf, response);
	}
	curl_easy_cleanup(curl);
	return rc == CURLE_OK ? EX_OK : EX_EIO;
}

enum ex_status smtp_send(const struct config *cf, const char *to, const struct buf *message,
			 struct buf *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct smtp_reader reader = {message, 0};
	struct curl_slist *rcpt = NULL;
	CURL *curl = curl_easy_init();
	enum ex_status st = EX_OK;
	long response = 0;
	CURLcode rc;

	rcpt = curl_slist_append(NULL, to);
	if (curl == NULL || rcpt == NULL) {
		st = EX_ENOMEM;
		goto out;
	}
	smtp_setup(curl, cf, rcpt, &reader, errbuf);
	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response);
		buf_msg(err, "SMTP: %s%s%s (server code %ld)", curl_easy_strerror(rc),
			errbuf[0] ? ": " : "", errbuf, response);
		/* Even "535 login denied" or a 5xx may be an operator's mistake
		 * being fixed right now: retry per mail.max_attempts. */
		st = EX_EIO;
	}
out:
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(curl);
	return st;
}
