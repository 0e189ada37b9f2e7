/* buf.h - a growable byte buffer that refuses to grow past its cap.
 *
 * Modelled on curl's dynbuf: buf_init() sets the cap, appends either fit or
 * fail with EX_ETOOBIG / EX_ENOMEM and leave the contents unchanged.  The
 * data is always NUL-terminated (the NUL is not counted in len), so it can
 * be used as a C string when it holds text.  The buffer owns its memory;
 * buf_free() releases it and leaves an empty, reusable buffer.
 *
 * Code outside buf.c MUST NOT write the members directly (as curl's
 * DYNBUF.md says of its struct): the length, the NUL and the cap are kept
 * together only by these functions.  Reading data/len is fine.  To write in
 * place -- a hot path filling bytes itself -- buf_reserve() room, write at
 * buf_tail(), then count the bytes with buf_extend(); buf_truncate() cuts
 * the contents short.
 */
#ifndef EXPORTD_BUF_H
#define EXPORTD_BUF_H

#include <stddef.h>

#include "common/status.h"

struct buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t alloc;
	size_t cap; /* the most len may ever be */
};

void buf_init(struct buf *b, size_t cap);
void buf_free(struct buf *b);
/* Forget the contents, keep the allocation. */
void buf_reset(struct buf *b);

enum ex_status buf_append(struct buf *b, const void *data, size_t len) EX_MUST_CHECK;
enum ex_status buf_putc(struct buf *b, char c) EX_MUST_CHECK;
enum ex_status buf_puts(struct buf *b, const char *s) EX_MUST_CHECK;
enum ex_status buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3))) EX_MUST_CHECK;
/* Make room for n more bytes without changing len. */
enum ex_status buf_reserve(struct buf *b, size_t n) EX_MUST_CHECK;

/* Where the next byte goes: the reserved room starts here.  Only valid
 * after a successful buf_reserve(), until the next call that may grow b. */
static inline char *buf_tail(struct buf *b)
{
	return b->data + b->len;
}

/* Count n bytes written at buf_tail() into the room buf_reserve() made, and
 * terminate them.  EX_EINVAL (and no change) when n exceeds that room.
 * Inline: the formats call it for every field of every row. */
static inline enum ex_status buf_extend(struct buf *b, size_t n)
{
	/* Never allocated: alloc and len are 0, so this also refuses any n > 0. */
	if (n >= b->alloc - b->len) {
		return n == 0 ? EX_OK : EX_EINVAL;
	}
	b->len += n;
	b->data[b->len] = '\0';
	return EX_OK;
}

/* Cut the contents to their first len bytes; len >= the length changes
 * nothing. */
void buf_truncate(struct buf *b, size_t len);

/* Replace the contents with a message, cut short at the cap.  For error
 * text, where a truncated message beats none and there is nothing to check. */
void buf_msg(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Contents as a C string ("" when empty); owned by the buffer. */
const char *buf_str(const struct buf *b);

#endif
