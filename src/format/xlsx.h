/* xlsx.h - write rows into an XLSX workbook (libxlsxwriter, constant memory).
 *
 * Cells are typed from the column's pg_type.oid: integers, floats and
 * numerics are numbers (an integer or numeric with more than 15 significant
 * digits, or out of a double's range, is written as text: a double would
 * round it silently); booleans are booleans; date, timestamp and timestamptz
 * are Excel date cells with a visible number format (timestamptz as the wall
 * time of the process's local zone, see format.h; years before 1900-03-01,
 * BC and infinity as text); everything else is text, never a formula.  NULL
 * (and empty text) is an empty cell.  The header row is bold, frozen and
 * carries an autofilter.  A sheet holds at most sheet_rows rows including
 * its header; the rows go on in "name (2)", "name (3)", ... with the header
 * repeated.  In constant-memory mode one row is held in memory; the sheets'
 * data goes to temporary files in tmpdir until xlsx_close() writes the file.
 */
#ifndef EXPORTD_XLSX_H
#define EXPORTD_XLSX_H

#include <stddef.h>

#include "common/buf.h"
#include "common/status.h"
#include "format/format.h"

/* Excel's limits: rows per sheet (with the header), characters (UTF-16
 * code units) per cell. */
#define XLSX_SHEET_ROWS 1048576LL
#define XLSX_CELL_MAX	32767

struct xlsx_options {
	const char *path;     /* the workbook file xlsx_close() writes */
	const char *tmpdir;   /* libxlsxwriter's temporary files */
	const char *sheet;    /* the first sheet's name (cut to Excel's 31 characters) */
	long long sheet_rows; /* rows per sheet including the header: 2..XLSX_SHEET_ROWS */
};

struct xlsx;

/* Start a workbook with the header row of columns (not copied: they must
 * outlive the writer). */
enum ex_status xlsx_open(const struct xlsx_options *o, const struct format_column *columns,
			 size_t ncolumns, struct xlsx **out, struct buf *err) EX_MUST_CHECK;
/* One row of ncolumns fields.  EX_ETOOBIG: a cell is longer than
 * XLSX_CELL_MAX; err names key (the row's key) and the column. */
enum ex_status xlsx_row(struct xlsx *x, const struct format_field *fields, const char *key,
			struct buf *err) EX_MUST_CHECK;
/* Rows written so far, headers not counted. */
long long xlsx_rows(const struct xlsx *x);
/* Write the file and free x (also on failure). */
enum ex_status xlsx_close(struct xlsx *x, struct buf *err) EX_MUST_CHECK;
/* Free x without writing the file.  x may be NULL. */
void xlsx_free(struct xlsx *x);

/* Internal, exposed for tests. */
/* Is the text of an integer or numeric exactly a double (at most 15
 * significant digits, within range)?  *d gets it. */
int xlsx_exact_number(const char *s, size_t len, double *d);
/* "YYYY-MM-DD[THH:MM:SS[.f]][zone]" -> Excel's serial date (days since
 * 1899-12-30, the time as the fraction); 0 when it is not such a text or
 * before 1900-03-01 (Excel's calendar counts a 29 February 1900) or after
 * 9999-12-31. */
int xlsx_serial(const char *s, size_t len, double *serial);
/* Text in UTF-16 code units, the way Excel counts a cell's characters. */
size_t xlsx_text_units(const char *s, size_t len);

#endif
