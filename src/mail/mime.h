/* mime.h - the bytes of an RFC 5322 / MIME message: header lines (folded,
 * RFC 2047 encoded words) and a multipart/alternative body of base64 parts.
 *
 * Every function appends to out and returns EX_ETOOBIG / EX_ENOMEM from
 * it; on an error out may hold part of a line, so a caller that must leave
 * out unchanged builds into a buffer of its own.  Lines end in CRLF; header
 * lines are folded to at most 78 characters where the value allows it
 * (RFC 5322 2.1.1), encoded words are at most 75 (RFC 2047 2), base64
 * lines 76.  Text given to the mime_header_text and mime_header_mailbox is
 * cleaned first (common/utf8.h, one line), so nothing in it can end a
 * header line; folding adds only CRLF + space.
 */
#ifndef EXPORTD_MIME_H
#define EXPORTD_MIME_H

#include <stddef.h>
#include <time.h>

#include "common/buf.h"
#include "common/status.h"

#define MIME_BOUNDARY_MAX 64 /* a boundary from mime_boundary(), with its NUL */

/* "Name: value" with value one item that is never folded inside (an
 * address, a message id, a token): printable ASCII, checked by the caller. */
enum ex_status mime_header(struct buf *out, const char *name, const char *value) EX_MUST_CHECK;

/* "Name: text" for unstructured text (NULL = ""): plain ASCII folded at its
 * spaces; text that is not plain ASCII, could be taken for an encoded word
 * or has a word too long to fold becomes "=?UTF-8?B?...?=" words, each cut
 * at a character boundary. */
enum ex_status mime_header_text(struct buf *out, const char *name, const char *text) EX_MUST_CHECK;

/* "Name: display <address>", or "Name: address" when display (NULL = "")
 * is empty once cleaned.  Plain ASCII display names become a quoted-string,
 * others encoded words.  address is valid (mail/address.h). */
enum ex_status mime_header_mailbox(struct buf *out, const char *name, const char *display,
				   const char *address) EX_MUST_CHECK;

/* "Name: Sun, 22 Nov 2026 08:30:00 +0000": RFC 5322 date-time in UTC, in
 * English whatever the locale.  EX_EINVAL when t cannot be represented. */
enum ex_status mime_header_date(struct buf *out, const char *name, time_t t) EX_MUST_CHECK;

/* A boundary that depends only on seed (so a message is reproducible) and
 * cannot occur in base64 or in our headers: "=_exportd_" + 32 hex. */
void mime_boundary(const char *seed, char boundary[MIME_BOUNDARY_MAX]);

/* MIME-Version and the multipart/alternative Content-Type, then the empty
 * line that ends the header block. */
enum ex_status mime_alternative_begin(struct buf *out, const char *boundary) EX_MUST_CHECK;

/* One part: "Content-Type: <type>; charset=utf-8", base64 content. */
enum ex_status mime_part_base64(struct buf *out, const char *boundary, const char *type,
				const struct buf *content) EX_MUST_CHECK;

/* The closing boundary line. */
enum ex_status mime_alternative_end(struct buf *out, const char *boundary) EX_MUST_CHECK;

#endif
