/* message.h - the mail that tells a requester about an export.  Pure.
 *
 * multipart/alternative with a text/plain and a text/html part, both
 * UTF-8 and base64, CRLF line endings (mail/mime.h); the words come from
 * the templates in src/mail/templates/ (mail/template.h).  Every value is
 * cleaned first (common/utf8.h): invalid UTF-8 becomes U+FFFD, control
 * characters are dropped, line breaks become spaces (or '\n' in the error
 * text), so nothing a requester controls can end a header.  Addresses are
 * checked by address_valid() (mail/address.h) and refused otherwise.
 */
#ifndef EXPORTD_MESSAGE_H
#define EXPORTD_MESSAGE_H

#include <stddef.h>
#include <time.h>

#include "common/buf.h"
#include "common/status.h"

enum message_kind {
	MESSAGE_COMPLETE,
	MESSAGE_FAILED,
};

/* What the mail says.  All strings UTF-8, not owned; NULL = absent. */
struct message_job {
	enum message_kind kind;
	const char *job_id;
	const char *type;     /* export type name */
	const char *format;   /* "csv" / "jsonl" */
	long long row_count;  /* complete: rows; -1 unknown */
	long long file_size;  /* complete: bytes; -1 unknown */
	const char *checksum; /* complete: sha256 hex, or NULL */
	const char *link;     /* complete: download URL */
	time_t link_expires;  /* complete: when the link stops working */
	const char *error;    /* failed: the job's error message */
};

struct message_envelope {
	const char *from_address; /* "exportd@example.com" */
	const char *from_name;	  /* display name, may be non-ASCII */
	const char *to_address;
	time_t date;
	const char *message_id; /* with or without <>, e.g. "<job>.complete@example.com" */
};

/* Append the whole message (headers and body) to out.  EX_EINVAL when an
 * address or the message id is not valid; EX_ETOOBIG / EX_ENOMEM when it
 * does not fit.  On an error out is left as it was. */
enum ex_status message_build(const struct message_envelope *env, const struct message_job *job,
			     struct buf *out) EX_MUST_CHECK;

#endif
