/* buf.h - a growable byte buffer that refuses to grow past its cap.
 *
 * Modelled on curl's dynbuf: buf_init() sets the cap, appends either fit or
 * fail with EX_ETOOBIG / EX_ENOMEM and leave the contents unchanged.  The
 * data is always NUL-terminated (the NUL is not counted in len), so it can
 * be used as a C string when it holds text.  The buffer owns its memory;
 * buf_free() releases it and leaves an empty, reusable buffer.
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

/* Replace the contents with a message, cut short at the cap.  For error
 * text, where a truncated message beats none and there is nothing to check. */
void buf_msg(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Contents as a C string ("" when empty); owned by the buffer. */
const char *buf_str(const struct buf *b);

#endif
