/* humanize.h - numbers and times as a reader of the mail sees them.
 * English, whatever the locale; each appends to out and returns
 * EX_ETOOBIG / EX_ENOMEM from it. */
#ifndef EXPORTD_HUMANIZE_H
#define EXPORTD_HUMANIZE_H

#include <time.h>

#include "common/buf.h"
#include "common/status.h"

/* 1234567 -> "1,234,567". */
enum ex_status humanize_count(unsigned long long v, struct buf *out) EX_MUST_CHECK;

/* bytes >= 0 -> "23.2 MB (23,245,678 bytes)" in decimal units rounded to
 * tenths, or "999 bytes" / "1 byte" below 1000. */
enum ex_status humanize_size(long long bytes, struct buf *out) EX_MUST_CHECK;

/* "2026-11-29 08:30 UTC".  EX_EINVAL when t cannot be represented. */
enum ex_status humanize_time(time_t t, struct buf *out) EX_MUST_CHECK;

#endif
