/* xlsxjob.h - an export job's XLSX workbook: built in the work directory,
 * then read back to go through the sink like formatted bytes.
 *
 * An XLSX is a ZIP archive written whole at the end, so it cannot be
 * appended to or cut in parts like CSV: a job never checkpoints while its
 * workbook is built, and a run that dies (crash, kill -9, SIGTERM, lost
 * lease) leaves the next run to rebuild it from the first row.  The
 * workbook is <work dir>/<job id>.xlsx (export.work_dir, by default
 * storage.dir/.work); libxlsxwriter's temporary files go there too.
 */
#ifndef EXPORTD_XLSXJOB_H
#define EXPORTD_XLSXJOB_H

#include "common/buf.h"
#include "common/conf.h"
#include "common/status.h"
#include "format/format.h"
#include "format/xlsx.h"

struct xlsxjob;

/* Start the job's workbook from scratch; sheet: the first sheet's name.
 * The columns must outlive *out.  *out is NULL on failure. */
enum ex_status xlsxjob_open(struct xlsxjob **out, const struct config *cf, const char *job_id,
			    const char *sheet, const struct format_column *columns, size_t ncolumns,
			    struct buf *err) EX_MUST_CHECK;
/* One row; key (the row's key) names it in errors. */
enum ex_status xlsxjob_row(struct xlsxjob *j, const struct format_field *fields, const char *key,
			   struct buf *err) EX_MUST_CHECK;
/* Write the workbook file and open it to be read back. */
enum ex_status xlsxjob_finish(struct xlsxjob *j, struct buf *err) EX_MUST_CHECK;
/* Append up to max bytes of the finished file to out; *n = 0 at its end. */
enum ex_status xlsxjob_read(struct xlsxjob *j, struct buf *out, size_t max, size_t *n,
			    struct buf *err) EX_MUST_CHECK;
/* Remove the workbook a run of the job left (killed while building it). */
void xlsxjob_discard(const struct config *cf, const char *job_id);
/* Release j and remove the workbook file.  j may be NULL. */
void xlsxjob_close(struct xlsxjob *j);

#endif
