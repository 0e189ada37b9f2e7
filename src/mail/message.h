/* message.h - build an RFC 5322 / MIME mail about an export.  Pure.
 *
 * The result is multipart/alternative with a text/plain and a text/html
 * part (UTF-8, base64 or quoted-printable), CRLF line endings, lines of at
 * most 78 characters in headers (folded) and 76 in bodies.  Non-ASCII in the
 * display name and the subject becomes RFC 2047 encoded words.  Nothing a
 * requester controls can end a header: CR, LF and other control characters
 * in any input are removed or encoded; addresses are checked by
 * message_valid_address() and refused otherwise.
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
	const char *message_id; /* without <>, e.g. "<job>.complete@example.com" */
};

/* 1 when addr is a plain addr-spec we are willing to put in a header and
 * an SMTP envelope: local@domain, printable ASCII, no spaces, quotes,
 * brackets, commas or control characters, at most 254 bytes. */
int message_valid_address(const char *addr);

/* Append the whole message (headers and body) to out.  EX_EINVAL when an
 * address is not valid. */
enum ex_status message_build(const struct message_envelope *env, const struct message_job *job,
			     struct buf *out) EX_MUST_CHECK;

/* Exposed for tests. */
/* RFC 2047 "=?UTF-8?B?...?=" words (folded as needed) for non-ASCII or
 * unsafe text; plain ASCII text is copied (control characters dropped). */
enum ex_status message_encode_header_text(const char *text, struct buf *out) EX_MUST_CHECK;

#endif
