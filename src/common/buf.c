#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b, b->cap);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL) {
		b->data[0] = '\0';
	}
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

enum ex_status buf_reserve(struct buf *b, size_t n)
{
	size_t need, nalloc;
	char *p;

	if (n > b->cap || b->len > b->cap - n) {
		return EX_ETOOBIG;
	}
	need = b->len + n + 1;
	if (need <= b->alloc) {
		return EX_OK;
	}
	nalloc = b->alloc ? b->alloc : 256;
	while (nalloc < need) {
		nalloc *= 2;
	}
	if (nalloc > b->cap + 1) {
		nalloc = b->cap + 1;
	}
	p = realloc(b->data, nalloc);
	if (p == NULL) {
		return EX_ENOMEM;
	}
	b->data = p;
	b->alloc = nalloc;
	return EX_OK;
}

enum ex_status buf_append(struct buf *b, const void *data, size_t len)
{
	enum ex_status st = buf_reserve(b, len);

	if (st) {
		return st;
	}
	if (len > 0) {
		memcpy(b->data + b->len, data, len);
	}
	b->len += len;
	b->data[b->len] = '\0';
	return EX_OK;
}

enum ex_status buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

enum ex_status buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

enum ex_status buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	enum ex_status st;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return EX_EINVAL;
	}
	st = buf_reserve(b, (size_t)n);
	if (st) {
		return st;
	}
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return EX_OK;
}

const char *buf_str(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

void buf_msg(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	buf_reset(b);
	if (b->cap == 0 || buf_reserve(b, b->cap) != EX_OK) {
		/* fall back to whatever room there is */
		if (b->alloc == 0) {
			return;
		}
	}
	va_start(ap, fmt);
	n = vsnprintf(b->data, b->alloc, fmt, ap);
	va_end(ap);
	if (n < 0) {
		n = 0;
	}
	b->len = (size_t)n < b->alloc ? (size_t)n : b->alloc - 1;
}
