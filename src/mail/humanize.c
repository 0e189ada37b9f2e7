/* humanize.c - counts with thousands separators, sizes in decimal units,
 * times to the minute in UTC. */
#include "mail/humanize.h"

#include <stdio.h>

enum ex_status humanize_count(unsigned long long v, struct buf *out)
{
	char digits[32];
	int n = snprintf(digits, sizeof(digits), "%llu", v), i;
	enum ex_status st;

	for (i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0) {
			st = buf_putc(out, ',');
			if (st) {
				return st;
			}
		}
		st = buf_putc(out, digits[i]);
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

enum ex_status humanize_size(long long bytes, struct buf *out)
{
	static const char *const units[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
	unsigned long long b = (unsigned long long)bytes, unit = 1000, tenths = 0;
	enum ex_status st;
	size_t i;

	if (bytes < 1000) {
		return buf_printf(out, "%lld byte%s", bytes, bytes == 1 ? "" : "s");
	}
	for (i = 0;; i++, unit *= 1000) {
		tenths = b / (unit / 10) + (b % (unit / 10) >= unit / 20);
		/* below 1000.0 of this unit once rounded, or the largest unit */
		if (tenths < 10000 || i + 1 == sizeof(units) / sizeof(units[0])) {
			break;
		}
	}
	st = buf_printf(out, "%llu.%llu %s (", tenths / 10, tenths % 10, units[i]);
	if (st) {
		return st;
	}
	st = humanize_count(b, out);
	if (st) {
		return st;
	}
	return buf_puts(out, " bytes)");
}

enum ex_status humanize_time(time_t t, struct buf *out)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		return EX_EINVAL;
	}
	return buf_printf(out, "%04d-%02d-%02d %02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1,
			  tm.tm_mday, tm.tm_hour, tm.tm_min);
}
