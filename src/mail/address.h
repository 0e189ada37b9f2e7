/* address.h - mail addresses and message ids: which we accept, and how a
 * display name is written in a header.
 *
 * Pure and small on purpose: exportctl checks an address with it without
 * linking the message builder.
 */
#ifndef EXPORTD_ADDRESS_H
#define EXPORTD_ADDRESS_H

#include <stddef.h>

#include "common/buf.h"
#include "common/status.h"

/* 1 when addr is a plain addr-spec we are willing to put in a header and
 * an SMTP envelope: local@domain, both dot-atom-text of printable ASCII
 * (no spaces, quotes, brackets, commas or control characters), a local
 * part of at most 64 bytes, at most 254 bytes in all.  0 for NULL. */
int address_valid(const char *addr);

/* A message id with or without its angle brackets: the id inside them
 * (not NUL-terminated; *len bytes) when it has the shape left@right, both
 * dot-atom-text, at most 250 bytes; NULL otherwise. */
const char *address_msgid(const char *id, size_t *len);

/* Append s (printable ASCII) to out as an RFC 5322 quoted-string: in '"',
 * with '"' and '\\' escaped.  EX_ETOOBIG / EX_ENOMEM from out. */
enum ex_status address_quote(const char *s, struct buf *out) EX_MUST_CHECK;

#endif
