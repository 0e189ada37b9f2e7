/* message.c - composes the mail about an export: cleans the job's values,
 * puts the figures into words, renders the templates for its kind, and
 * hands the result to the MIME writer.  What the mail says lives in
 * src/mail/templates/; how it is encoded, in mime.c.
 */
#include "mail/message.h"

#include <stdio.h>
#include <string.h>

#include "common/utf8.h"
#include "mail/address.h"
#include "mail/humanize.h"
#include "mail/mime.h"
#include "mail/template.h"

/* The values the templates can name. */
enum message_value {
	MESSAGE_V_TYPE,
	MESSAGE_V_FORMAT,
	MESSAGE_V_CHECKSUM,
	MESSAGE_V_LINK,
	MESSAGE_V_WEB_LINK,
	MESSAGE_V_ID,
	MESSAGE_V_ERROR,
	MESSAGE_V_ROWS,
	MESSAGE_V_SIZE,
	MESSAGE_V_EXPIRES,
	MESSAGE_V_SUBJECT,
	MESSAGE_NVALUES,
};

static const char *const message_names[MESSAGE_NVALUES] = {
	[MESSAGE_V_TYPE] = "type",	   [MESSAGE_V_FORMAT] = "format",
	[MESSAGE_V_CHECKSUM] = "checksum", [MESSAGE_V_LINK] = "link",
	[MESSAGE_V_WEB_LINK] = "web_link", [MESSAGE_V_ID] = "id",
	[MESSAGE_V_ERROR] = "error",	   [MESSAGE_V_ROWS] = "rows",
	[MESSAGE_V_SIZE] = "size",	   [MESSAGE_V_EXPIRES] = "expires",
	[MESSAGE_V_SUBJECT] = "subject",
};

struct message_ctx {
	struct buf v[MESSAGE_NVALUES]; /* clean; "" = absent */
	struct template_value tv[MESSAGE_NVALUES];
	const char *kind; /* template name prefix: "complete" / "failed" */
	struct buf text;  /* the rendered parts */
	struct buf html;
};

/* The strings of the job, cleaned; the error keeps its lines. */
static enum ex_status message_clean(struct message_ctx *c, const struct message_job *job)
{
	const char *src[MESSAGE_NVALUES] = {
		[MESSAGE_V_TYPE] = job->type,	      [MESSAGE_V_FORMAT] = job->format,
		[MESSAGE_V_CHECKSUM] = job->checksum, [MESSAGE_V_LINK] = job->link,
		[MESSAGE_V_ID] = job->job_id,
	};
	enum ex_status st;
	size_t i;

	for (i = 0; i < MESSAGE_NVALUES; i++) {
		if (src[i] != NULL) {
			st = utf8_clean(src[i], UTF8_ONELINE, &c->v[i]);
			if (st) {
				return st;
			}
		}
	}
	return utf8_clean(job->error, UTF8_MULTILINE, &c->v[MESSAGE_V_ERROR]);
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

/* The numbers and dates in words; absent ones stay "". */
static enum ex_status message_figures(struct message_ctx *c, const struct message_job *job)
{
	enum ex_status st;

	if (job->row_count >= 0) {
		st = humanize_count((unsigned long long)job->row_count, &c->v[MESSAGE_V_ROWS]);
		if (st) {
			return st;
		}
	}
	if (job->file_size >= 0) {
		st = humanize_size(job->file_size, &c->v[MESSAGE_V_SIZE]);
		if (st) {
			return st;
		}
	}
	if (job->link_expires > 0) {
		return humanize_time(job->link_expires, &c->v[MESSAGE_V_EXPIRES]);
	}
	return EX_OK;
}

/* Template kind.suffix rendered into out. */
static enum ex_status message_render(const struct message_ctx *c, const char *suffix,
				     struct buf *out)
{
	char name[64];

	snprintf(name, sizeof(name), "%s.%s", c->kind, suffix);
	return template_render(name, c->tv, MESSAGE_NVALUES, out);
}

/* The subject, one clean line whatever the template holds. */
static enum ex_status message_subject(struct message_ctx *c)
{
	enum ex_status st;
	struct buf raw;

	buf_init(&raw, c->v[MESSAGE_V_SUBJECT].cap);
	st = message_render(c, "subject", &raw);
	if (st) {
		goto out;
	}
	st = utf8_clean(buf_str(&raw), UTF8_ONELINE, &c->v[MESSAGE_V_SUBJECT]);
out:
	buf_free(&raw);
	return st;
}

static enum ex_status message_values(struct message_ctx *c, const struct message_job *job)
{
	const char *link;
	enum ex_status st;
	size_t i;

	st = message_clean(c, job);
	if (st) {
		return st;
	}
	message_upper(&c->v[MESSAGE_V_FORMAT]);
	if (c->v[MESSAGE_V_TYPE].len == 0) {
		st = buf_puts(&c->v[MESSAGE_V_TYPE], "data");
		if (st) {
			return st;
		}
	}
	st = message_figures(c, job);
	if (st) {
		return st;
	}
	/* Only a web address becomes a link in the HTML part. */
	link = buf_str(&c->v[MESSAGE_V_LINK]);
	if (strncmp(link, "https://", 8) == 0 || strncmp(link, "http://", 7) == 0) {
		st = buf_puts(&c->v[MESSAGE_V_WEB_LINK], "1");
		if (st) {
			return st;
		}
	}
	for (i = 0; i < MESSAGE_NVALUES; i++) {
		c->tv[i].name = message_names[i];
		c->tv[i].value = buf_str(&c->v[i]);
	}
	st = message_subject(c);
	c->tv[MESSAGE_V_SUBJECT].value = buf_str(&c->v[MESSAGE_V_SUBJECT]);
	return st;
}

static enum ex_status message_headers(const struct message_ctx *c,
				      const struct message_envelope *env, const char *msgid,
				      size_t msgid_len, struct buf *out)
{
	char angle[256 + 2];
	enum ex_status st;

	st = mime_header_date(out, "Date", env->date);
	if (st) {
		return st;
	}
	st = mime_header_mailbox(out, "From", env->from_name, env->from_address);
	if (st) {
		return st;
	}
	st = mime_header(out, "To", env->to_address);
	if (st) {
		return st;
	}
	st = mime_header_text(out, "Subject", buf_str(&c->v[MESSAGE_V_SUBJECT]));
	if (st) {
		return st;
	}
	if (msgid != NULL) {
		snprintf(angle, sizeof(angle), "<%.*s>", (int)msgid_len, msgid);
		st = mime_header(out, "Message-ID", angle);
		if (st) {
			return st;
		}
	}
	/* RFC 3834: keeps vacation responders from answering. */
	return mime_header(out, "Auto-Submitted", "auto-generated");
}

/* The headers, then the two parts. */
static enum ex_status message_assemble(struct message_ctx *c, const struct message_envelope *env,
				       const char *msgid, size_t msgid_len, struct buf *out)
{
	char boundary[MIME_BOUNDARY_MAX];
	enum ex_status st;

	st = message_render(c, "txt", &c->text);
	if (st) {
		return st;
	}
	st = message_render(c, "html", &c->html);
	if (st) {
		return st;
	}
	mime_boundary(buf_str(&c->v[MESSAGE_V_ID]), boundary);
	st = message_headers(c, env, msgid, msgid_len, out);
	if (st) {
		return st;
	}
	st = mime_alternative_begin(out, boundary);
	if (st) {
		return st;
	}
	st = mime_part_base64(out, boundary, "text/plain", &c->text);
	if (st) {
		return st;
	}
	st = mime_part_base64(out, boundary, "text/html", &c->html);
	if (st) {
		return st;
	}
	return mime_alternative_end(out, boundary);
}

static void message_init(struct message_ctx *c, const struct message_job *job, size_t cap)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < MESSAGE_NVALUES; i++) {
		buf_init(&c->v[i], cap);
	}
	buf_init(&c->text, cap);
	buf_init(&c->html, cap);
	c->kind = job->kind == MESSAGE_COMPLETE ? "complete" : "failed";
}

static void message_free(struct message_ctx *c)
{
	size_t i;

	for (i = 0; i < MESSAGE_NVALUES; i++) {
		buf_free(&c->v[i]);
	}
	buf_free(&c->text);
	buf_free(&c->html);
}

enum ex_status message_build(const struct message_envelope *env, const struct message_job *job,
			     struct buf *out)
{
	const char *msgid = NULL;
	struct message_ctx c;
	enum ex_status st = EX_EINVAL;
	size_t msgid_len = 0;
	struct buf msg;

	message_init(&c, job, out->cap);
	/* Built apart, so that a message that fails leaves out as it was. */
	buf_init(&msg, out->cap - out->len);
	if (!address_valid(env->from_address) || !address_valid(env->to_address)) {
		goto out;
	}
	if (env->message_id != NULL) {
		msgid = address_msgid(env->message_id, &msgid_len);
		if (msgid == NULL) {
			goto out;
		}
	}
	st = message_values(&c, job);
	if (st) {
		goto out;
	}
	st = message_assemble(&c, env, msgid, msgid_len, &msg);
	if (st) {
		goto out;
	}
	st = buf_append(out, msg.data, msg.len);
out:
	buf_free(&msg);
	message_free(&c);
	return st;
}
