#include "exportd/export.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "db/db.h"
#include "format/format.h"
#include "jobs/registry.h"
#include "jobs/since.h"
#include "exportd/query.h"
#include "exportd/stats.h"
#include "exportd/sink.h"
#include "exportd/xlsxjob.h"
#include "storage/storage.h"

#define EXPORT_STMT_FIRST "export_first"
#define EXPORT_STMT_NEXT  "export_next"

struct export_state {
	const struct export_ctx *ctx;
	PGconn *data;
	struct registry_type type;
	char **names; /* the type's output column names (owned) */
	int ncols;
	int nout;		   /* output columns: ncols, then _deleted_at when incremental */
	int incremental;	   /* the job has a since cursor */
	struct since_cursor since; /* the job's cursor, decoded */
	char *sync_until;	   /* the change-time window's end; NULL: no updated_at_column */
	struct format_column *cols;
	struct format_field *fields;
	struct format_writer writer;
	struct sink_codec codec;
	int zoned; /* timestamptz columns go to the job's zone */
	struct buf out;
	struct query query;
	struct sink sink;
	int sink_open;
	int is_xlsx; /* rows go to xlsx, not through writer and out */
	struct xlsxjob *xlsx;
	char file_key[64];
	long long rows, bytes, part_bytes; /* bytes: in the file; part_bytes: formatted */
	int part;
	struct buf last_key;
	struct buf last_at; /* incremental: last_key's change time */
	long long last_beat_ms;
};

/* The output columns: the job's subset, or all the type's columns. */
static enum ex_status export_columns(struct export_state *s, struct buf *err)
{
	const char *json = s->ctx->job->columns_json;
	struct json_object *arr = json != NULL ? json_tokener_parse(json) : NULL;
	int i, n = arr != NULL ? (int)json_object_array_length(arr) : s->type.ncolumns;
	enum ex_status st = EX_OK;

	s->names = calloc((size_t)n + 1, sizeof(char *));
	if (s->names == NULL) {
		st = EX_ENOMEM;
		goto out;
	}
	s->ncols = n; /* names[] is NULL-filled: cleanup frees what was set */
	for (i = 0; i < n; i++) {
		const char *name =
			arr != NULL ? json_object_get_string(json_object_array_get_idx(arr, i))
				    : s->type.columns[i];

		if (name == NULL || registry_column_index(&s->type, name) < 0) {
			buf_msg(err, "column \"%s\" is not exportable for type %s",
				name != NULL ? name : "(null)", s->type.name);
			st = EX_EPERM;
			goto out;
		}
		s->names[i] = strdup(name);
		if (s->names[i] == NULL) {
			st = EX_ENOMEM;
			goto out;
		}
	}
out:
	json_object_put(arr);
	return st;
}

static enum ex_status export_result_status(PGconn *conn, PGresult *res, ExecStatusType want,
					   struct buf *err)
{
	enum ex_status st;

	if (PQresultStatus(res) == want) {
		return EX_OK;
	}
	st = res != NULL ? db_classify(res) : EX_EDB;
	db_error_text(conn, res, err);
	return st;
}

static enum ex_status export_prepare_one(struct export_state *s, const char *name, int next,
					 struct buf *err)
{
	const struct query *q = &s->query;
	PGresult *res;
	enum ex_status st;

	/* In first, $2 is declared text (unused); in next its type is the key's. */
	res = PQprepare(s->data, name, buf_str(next ? &q->next : &q->first), q->nparams,
			next ? NULL : q->first_types);
	st = export_result_status(s->data, res, PGRES_COMMAND_OK, err);
	PQclear(res);
	return st;
}

/* Prepare both statements and learn the output types from the server. */
static enum ex_status export_prepare(struct export_state *s, struct buf *err)
{
	struct query_window w = {s->since.at, s->since.key, s->sync_until};
	PGresult *desc;
	enum ex_status st;
	int i;

	st = query_build(s->data, &s->type, s->names, s->ncols, s->ctx->job,
			 s->incremental ? &w : NULL, s->ctx->cf->chunk_rows, &s->query, err);
	if (st) {
		return st;
	}
	st = export_prepare_one(s, EXPORT_STMT_FIRST, 0, err);
	if (st) {
		return st;
	}
	st = export_prepare_one(s, EXPORT_STMT_NEXT, 1, err);
	if (st) {
		return st;
	}
	desc = PQdescribePrepared(s->data, EXPORT_STMT_FIRST);
	st = export_result_status(s->data, desc, PGRES_COMMAND_OK, err);
	if (st) {
		goto out;
	}
	/* + 1: never a 0-byte allocation (a plain-SQL job may list no column) */
	s->nout = s->ncols + s->incremental;
	s->cols = calloc((size_t)s->nout + 1, sizeof(*s->cols));
	s->fields = calloc((size_t)s->nout + 1, sizeof(*s->fields));
	if (s->cols == NULL || s->fields == NULL) {
		st = EX_ENOMEM;
		goto out;
	}
	for (i = 0; i < s->nout; i++) {
		if (i == s->ncols) {
			s->cols[i].name = "_deleted_at"; /* the incremental marker */
		} else {
			s->cols[i].name = strcmp(s->ctx->job->header, "labels") == 0
						  ? registry_label(&s->type, s->names[i])
						  : s->names[i];
		}
		s->cols[i].type = format_type_from_oid(PQftype(desc, i));
		s->cols[i].zoned = s->zoned && PQftype(desc, i) == FORMAT_OID_TIMESTAMPTZ;
		s->cols[i].oid = PQftype(desc, i);
	}
out:
	PQclear(desc);
	return st;
}

/* Renew the lease and report p; with p->last_key, p is a checkpoint. */
static enum ex_status export_beat_at(struct export_state *s, const struct jobs_progress *p,
				     struct buf *err)
{
	const struct export_ctx *ctx = s->ctx;
	int cancel = 0;
	enum ex_status st;

	st = jobs_heartbeat(ctx->ctl, ctx->job, p, ctx->cf->lease_timeout_ms, &cancel, err);
	s->last_beat_ms = timeutil_now_ms();
	if (st) {
		return st;
	}
	stats_beat(ctx->ctl, ctx->cf);
	if (!ctx->job->locked) {
		/* Taken over from a hung holder: hold the lock once it lets go,
		 * so nobody takes the job from us when that holder dies. */
		st = jobs_lock(ctx->ctl, ctx->job, err);
		if (st) {
			return st;
		}
	}
	return cancel ? EX_ECANCEL : EX_OK;
}

/* Row r's key, and its change time (NULL unless incremental). */
static const char *export_key(const struct export_state *s, const PGresult *res, int r)
{
	return PQgetvalue(res, r, s->nout);
}

static const char *export_at(const struct export_state *s, const PGresult *res, int r)
{
	return s->incremental ? PQgetvalue(res, r, s->nout + 1) : NULL;
}

/* Progress only: the checkpoint stays. */
static enum ex_status export_beat(struct export_state *s, struct buf *err)
{
	struct jobs_progress p = {NULL, s->rows, s->bytes, s->part, NULL, NULL, NULL};

	return export_beat_at(s, &p, err);
}

/* A write only follows a heartbeat that is at most heartbeat_interval old,
 * so a worker that was stopped (SIGSTOP, a stalled VM) past its lease
 * learns it lost the job before touching the file. */
static enum ex_status export_beat_due(struct export_state *s, struct buf *err)
{
	if (timeutil_now_ms() - s->last_beat_ms >= s->ctx->cf->heartbeat_interval_ms) {
		return export_beat(s, err);
	}
	return EX_OK;
}

/* export.max_bytes bounds the bytes in the file so far. */
static enum ex_status export_max_bytes(const struct export_state *s, struct buf *err)
{
	if (s->ctx->cf->max_bytes > 0 && s->bytes > s->ctx->cf->max_bytes) {
		buf_msg(err, "the export is larger than the limit of %lld bytes (export.max_bytes)",
			s->ctx->cf->max_bytes);
		return EX_ELIMIT;
	}
	return EX_OK;
}

/* Write out the buffer (after export_beat_due). */
static enum ex_status export_flush(struct export_state *s, struct buf *err)
{
	enum ex_status st;

	st = export_beat_due(s, err);
	if (st) {
		return st;
	}
	if (s->out.len > 0) {
		st = sink_write(&s->sink, s->out.data, s->out.len, err);
		buf_reset(&s->out);
		s->bytes = s->sink.file_bytes;
		if (st) {
			return st;
		}
	}
	return export_max_bytes(s, err);
}

/* Store the parts that are ready and commit the checkpoint of each durable
 * one.  At the end (last), store every part ended, waiting for the
 * compressor, without checkpoints: the job's completion follows. */
static enum ex_status export_store(struct export_state *s, int last, struct buf *err)
{
	struct sink_stored done;
	struct jobs_progress p;
	enum ex_status st;

	while (sink_next(&s->sink, last)) {
		st = export_beat_due(s, err);
		if (st) {
			return st;
		}
		st = sink_store_next(&s->sink, &done, err);
		if (st) {
			return st;
		}
		s->bytes = s->sink.file_bytes;
		st = export_max_bytes(s, err);
		if (st) {
			return st;
		}
		if (last || !done.ckpt.durable) {
			continue; /* not durable: the backend holds it for the next part */
		}
		s->part = done.ckpt.part;
		p = (struct jobs_progress){done.key,	   done.rows,	   done.ckpt.bytes,
					   done.ckpt.part, done.sha_state, done.ckpt.state,
					   done.at};
		st = export_beat_at(s, &p, err);
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

/* The part is full: end it, then store and checkpoint what is ready (key:
 * the last row's; at: its change time, incremental). */
static enum ex_status export_part_end(struct export_state *s, const char *key, const char *at,
				      struct buf *err)
{
	enum ex_status st;

	st = export_flush(s, err);
	if (st) {
		return st;
	}
	st = sink_part_end(&s->sink, s->rows, key, at, err);
	if (st) {
		return st;
	}
	s->part_bytes = 0;
	return export_store(s, 0, err);
}

static enum ex_status export_row(struct export_state *s, const PGresult *res, int r,
				 struct buf *err)
{
	size_t before = s->out.len;
	enum ex_status st;
	int i;

	for (i = 0; i < s->nout; i++) {
		s->fields[i].is_null = PQgetisnull(res, r, i);
		s->fields[i].value = PQgetvalue(res, r, i);
		s->fields[i].len = (size_t)PQgetlength(res, r, i);
	}
	st = s->is_xlsx ? xlsxjob_row(s->xlsx, s->fields, export_key(s, res, r), err)
			: format_row(&s->writer, s->fields, &s->out);
	if (st == EX_ETOOBIG && !s->is_xlsx) {
		buf_msg(err, "row %lld is larger than exportd.max_row_size", s->rows + 1);
	}
	if (st) {
		return st;
	}
	s->rows++;
	s->part_bytes += (long long)(s->out.len - before);
	if (s->ctx->cf->max_rows > 0 && s->rows > s->ctx->cf->max_rows) {
		buf_msg(err, "the export has more than the limit of %lld rows (export.max_rows)",
			s->ctx->cf->max_rows);
		return EX_ELIMIT;
	}
	if (s->part_bytes >= s->ctx->cf->part_size) {
		return export_part_end(s, export_key(s, res, r), export_at(s, res, r), err);
	}
	if ((long long)s->out.len >= s->ctx->cf->write_buffer) {
		return export_flush(s, err);
	}
	return EX_OK;
}

/* The next chunk, after the key after (and its change time after_at). */
static enum ex_status export_send(struct export_state *s, const char *after, const char *after_at,
				  struct buf *err)
{
	struct query *q = &s->query;
	int ok;

	q->values[0] = s->ctx->job->workspace;
	q->values[1] = after;
	if (s->incremental) {
		q->values[2] = after_at;
	}
	ok = PQsendQueryPrepared(s->data, after == NULL ? EXPORT_STMT_FIRST : EXPORT_STMT_NEXT,
				 q->nparams, q->values, NULL, NULL, 0);
	if (!ok) {
		buf_msg(err, "%s", PQerrorMessage(s->data));
		return EX_EDB;
	}
	return EX_OK;
}

/* Wait for the chunk in flight; *res is the caller's to clear. */
static enum ex_status export_receive(struct export_state *s, PGresult **res, struct buf *err)
{
	PGresult *extra;
	enum ex_status st;

	*res = PQgetResult(s->data);
	st = export_result_status(s->data, *res, PGRES_TUPLES_OK, err);
	while ((extra = PQgetResult(s->data)) != NULL) {
		PQclear(extra);
	}
	if (st) {
		PQclear(*res);
		*res = NULL;
	}
	return st;
}

/* Did a NOTIFY export_cancel for this job arrive?  Other notifications are
 * only wake-up hints and can be dropped while a job runs. */
static int export_cancel_hint(const struct export_state *s)
{
	PGconn *ctl = s->ctx->ctl;
	PGnotify *n;
	int hit = 0;

	if (!PQconsumeInput(ctl)) {
		return 0;
	}
	while ((n = PQnotifies(ctl)) != NULL) {
		hit |= strcmp(n->relname, "export_cancel") == 0 &&
		       strcmp(n->extra, s->ctx->job->id) == 0;
		PQfreemem(n);
	}
	return hit;
}

/* key: the key of the last row written, at its change time. */
static enum ex_status export_between_chunks(struct export_state *s, const char *key, const char *at,
					    struct buf *err)
{
	enum ex_status st;

	if (*s->ctx->stop) {
		/* Shutdown: make what was written durable and checkpoint it, so
		 * the next holder goes on from here.  The cut is not at part_size,
		 * harmless for plain local files; a gzip member (zstd frame)
		 * boundary would change the file's bytes, so a compressed
		 * export goes back to its checkpoint. */
		if (s->part_bytes > 0 && s->codec.comp == FORMAT_PLAIN) {
			st = export_part_end(s, key, at, err);
			if (st) {
				return st;
			}
		}
		return EX_ESTOP;
	}
	if (export_cancel_hint(s) ||
	    timeutil_now_ms() - s->last_beat_ms >= s->ctx->cf->heartbeat_interval_ms) {
		return export_beat(s, err);
	}
	return EX_OK;
}

/* Where an incremental export is: its last row, for next_since. */
static enum ex_status export_remember(struct export_state *s, const PGresult *res, int r)
{
	enum ex_status st;

	buf_reset(&s->last_key);
	buf_reset(&s->last_at);
	st = buf_puts(&s->last_key, export_key(s, res, r));
	if (st) {
		return st;
	}
	return buf_puts(&s->last_at, export_at(s, res, r));
}

/* Write one chunk; *more: a full chunk, so the next one is requested
 * before this one is written. */
static enum ex_status export_chunk(struct export_state *s, const PGresult *res, int *more,
				   struct buf *err)
{
	int r, n = PQntuples(res);
	enum ex_status st;

	*more = n == s->ctx->cf->chunk_rows;
	if (*more) {
		st = export_send(s, export_key(s, res, n - 1), export_at(s, res, n - 1), err);
		if (st) {
			return st;
		}
	}
	for (r = 0; r < n; r++) {
		st = export_row(s, res, r, err);
		if (st) {
			return st;
		}
		/* libpq reads the socket only when asked: drain it now and
		 * then, so the server keeps sending the next chunk while
		 * this one is formatted instead of stalling on a full
		 * socket buffer. */
		if (*more && (r & 255) == 255 && !PQconsumeInput(s->data)) {
			break; /* the connection failed: PQgetResult says how */
		}
	}
	if (s->incremental && n > 0) {
		st = export_remember(s, res, n - 1);
		if (st) {
			return st;
		}
	}
	if (!*more) {
		return EX_OK;
	}
	return export_between_chunks(s, export_key(s, res, n - 1), export_at(s, res, n - 1), err);
}

/* Stream every chunk. */
static enum ex_status export_rows(struct export_state *s, struct buf *err)
{
	PGresult *res;
	int more = 1;
	enum ex_status st;

	st = export_send(s, s->last_key.len ? buf_str(&s->last_key) : NULL,
			 s->last_key.len ? buf_str(&s->last_at) : NULL, err);
	if (st) {
		return st;
	}
	while (more) {
		st = export_receive(s, &res, err);
		if (st) {
			return st;
		}
		st = export_chunk(s, res, &more, err);
		PQclear(res);
		if (st) {
			return st;
		}
	}
	return EX_OK;
}

/* Resume the upload from the checkpoint; EX_ENOTFOUND if its data is gone. */
static enum ex_status export_resume(struct export_state *s, struct buf *err)
{
	const struct jobs_claim *job = s->ctx->job;
	struct storage_ckpt ckpt = {job->ckpt_bytes, job->ckpt_part, job->ckpt_storage, 1};
	enum ex_status st;

	st = sink_open(&s->sink, s->ctx->cf, s->file_key, &s->codec, &ckpt, job->ckpt_sha256, err);
	if (st) {
		sink_close(&s->sink);
		return st;
	}
	s->rows = job->ckpt_rows;
	s->bytes = job->ckpt_bytes;
	s->part = job->ckpt_part;
	log_info("job %s: resuming after row %lld (%lld bytes, part %d)", job->id, s->rows,
		 s->bytes, s->part);
	if (s->incremental) {
		st = buf_puts(&s->last_at, job->ckpt_last_at);
		if (st) {
			return st;
		}
	}
	return buf_puts(&s->last_key, job->ckpt_last_key);
}

/* Open the upload: resume from the checkpoint if its data is still there. */
static enum ex_status export_open(struct export_state *s, struct buf *err)
{
	const struct jobs_claim *job = s->ctx->job;
	enum ex_status st;

	s->sink_open = 1;
	if (job->ckpt_bytes > 0 && job->ckpt_last_key != NULL && !s->is_xlsx &&
	    (!s->incremental || job->ckpt_last_at != NULL)) {
		st = export_resume(s, err);
		if (st != EX_ENOTFOUND) {
			return st;
		}
		log_warn("job %s: checkpoint data is gone (%s); starting over", job->id,
			 buf_str(err));
	}
	if (s->is_xlsx) { /* stored once built: export_xlsx_store() */
		struct xlsxjob *x = NULL;

		st = xlsxjob_open(&x, s->ctx->cf, job->id, s->type.name, s->cols, (size_t)s->nout,
				  err);
		s->xlsx = x;
		return st;
	}
	st = sink_open(&s->sink, s->ctx->cf, s->file_key, &s->codec, NULL, NULL, err);
	if (st) {
		return st;
	}
	/* A UTF-8 byte order mark for Excel, then the header. */
	if (job->csv_bom && s->writer.kind == FORMAT_CSV) {
		st = buf_append(&s->out, "\xEF\xBB\xBF", 3);
		if (st) {
			return st;
		}
	}
	st = format_header(&s->writer, &s->out);
	if (st) {
		return st;
	}
	s->part_bytes = (long long)s->out.len;
	return EX_OK;
}

/* A job inserted by plain SQL gets its as-of key at its first run (an
 * API-created one has it from its creation). */
static enum ex_status export_fix_as_of(struct export_state *s, struct buf *err)
{
	struct jobs_claim *job = s->ctx->job;
	char *key = NULL;
	enum ex_status st;

	if (job->as_of_key_set || job->ckpt_last_key != NULL) {
		return EX_OK;
	}
	st = registry_as_of_key(s->data, &s->type, job->workspace, &key, err);
	if (st) {
		return st;
	}
	st = jobs_set_as_of_key(s->ctx->ctl, job, key, err);
	if (st) {
		free(key);
		return st;
	}
	free(job->as_of_key);
	job->as_of_key = key;
	job->as_of_key_set = 1;
	return EX_OK;
}

/* EXPLAIN (FORMAT JSON) of the job's rows. */
static enum ex_status export_explain_sql(const struct export_state *s, struct buf *sql)
{
	enum ex_status st;

	st = buf_puts(sql, "EXPLAIN (FORMAT JSON) SELECT 1 FROM ");
	if (st) {
		return st;
	}
	st = db_quote_ident(s->data, s->type.schema_name, sql);
	if (st) {
		return st;
	}
	st = buf_putc(sql, '.');
	if (st) {
		return st;
	}
	st = db_quote_ident(s->data, s->type.relation, sql);
	if (st) {
		return st;
	}
	st = buf_puts(sql, " WHERE ");
	if (st) {
		return st;
	}
	st = db_quote_ident(s->data, s->type.workspace_column, sql);
	if (st) {
		return st;
	}
	return buf_puts(sql, " = $1");
}

/* The planner's row estimate; *found = 0 when the plan has none. */
static enum ex_status export_plan_rows(struct export_state *s, long long *rows, int *found,
				       struct buf *err)
{
	const char *params[1] = {s->ctx->job->workspace};
	struct json_object *plan = NULL, *node, *n;
	PGresult *res = NULL;
	struct buf sql;
	enum ex_status st;

	*found = 0;
	buf_init(&sql, 4096);
	st = export_explain_sql(s, &sql);
	if (st) {
		goto out;
	}
	st = db_exec(s->data, buf_str(&sql), 1, params, &res, err);
	if (st) {
		goto out;
	}
	plan = json_tokener_parse(PQgetvalue(res, 0, 0));
	node = plan != NULL ? json_object_array_get_idx(plan, 0) : NULL;
	if (node != NULL && json_object_object_get_ex(node, "Plan", &node) &&
	    json_object_object_get_ex(node, "Plan Rows", &n)) {
		*rows = json_object_get_int64(n);
		*found = 1;
	}
out:
	json_object_put(plan);
	PQclear(res);
	buf_free(&sql);
	return st;
}

/* A cheap row estimate from the planner, for progress.  Only losing the
 * lease is an error here; without an estimate progress has no percent. */
static enum ex_status export_estimate(struct export_state *s)
{
	long long rows = 0;
	int found = 0;
	struct buf err;
	enum ex_status st;

	buf_init(&err, 1024);
	st = EX_OK;
	if (s->incremental) {
		goto out; /* the window's rows: the workspace's would mislead */
	}
	st = export_plan_rows(s, &rows, &found, &err);
	if (st || !found) {
		st = EX_OK; /* no estimate */
		goto out;
	}
	st = jobs_set_estimate(s->ctx->ctl, s->ctx->job, rows, &err);
	if (st && st != EX_ELEASE) {
		log_warn("job %s: cannot record the estimate: %s", s->ctx->job->id, buf_str(&err));
		st = EX_OK;
	}
out:
	buf_free(&err);
	return st;
}

/* XLSX: the finished workbook goes to storage part by part, without
 * checkpoints (a rerun rebuilds it: xlsxjob.h). */
static enum ex_status export_xlsx_store(struct export_state *s, struct buf *err)
{
	enum ex_status st;
	size_t n;

	st = xlsxjob_finish(s->xlsx, err);
	if (st) {
		return st;
	}
	/* Opening truncates the file: the job must still be ours. */
	st = export_beat(s, err);
	if (st) {
		return st;
	}
	st = sink_open(&s->sink, s->ctx->cf, s->file_key, &s->codec, NULL, NULL, err);
	if (st) {
		return st;
	}
	for (;;) {
		st = xlsxjob_read(s->xlsx, &s->out, (size_t)s->ctx->cf->write_buffer, &n, err);
		if (st || n == 0) {
			return st;
		}
		s->part_bytes += (long long)n;
		st = export_flush(s, err);
		if (st) {
			return st;
		}
		if (s->part_bytes >= s->ctx->cf->part_size) {
			st = sink_part_end(&s->sink, s->rows, NULL, NULL, err);
			if (st) {
				return st;
			}
			s->part_bytes = 0;
			st = export_store(s, 1, err); /* no checkpoint */
			if (st) {
				return st;
			}
		}
	}
}

/* The cursor of the export after this one (README "Incremental
 * exports"): after the last row an incremental export wrote, or where it
 * started when it wrote none; for a full export, the change times before
 * its window's end.  Empty: the type has no updated_at_column. */
static enum ex_status export_next_since(const struct export_state *s, struct buf *out)
{
	const struct jobs_claim *job = s->ctx->job;

	if (s->sync_until == NULL) {
		return EX_OK;
	}
	if (!s->incremental) {
		return since_encode(job->type, job->workspace, s->sync_until, NULL, out);
	}
	if (s->rows == 0) {
		return buf_puts(out, job->since);
	}
	return since_encode(job->type, job->workspace, buf_str(&s->last_at), buf_str(&s->last_key),
			    out);
}

/* Last part, then complete the job with next_since (NULL: none). */
static enum ex_status export_finish(struct export_state *s, const char *next_since, struct buf *err)
{
	const struct export_ctx *ctx = s->ctx;
	char checksum[65];
	struct jobs_result r = {s->file_key, 0, 0, checksum, next_since};
	enum ex_status st;

	if (s->is_xlsx) {
		st = export_xlsx_store(s, err);
		if (st) {
			return st;
		}
	}
	st = export_flush(s, err);
	if (st) {
		return st;
	}
	if (s->part_bytes > 0 || (s->part == 0 && s->sink.ended == 0)) {
		st = sink_part_end(&s->sink, s->rows, NULL, NULL, err);
		if (st) {
			return st;
		}
	}
	st = export_store(s, 1, err);
	if (st) {
		return st;
	}
	/* The checksum is known before the file is final. */
	sha256_hex(&s->sink.sha, checksum);
	r.rows = s->rows;
	r.bytes = s->bytes = s->sink.file_bytes;
	st = jobs_complete_begin(ctx->ctl, ctx->job, &r, ctx->cf->retention_ms,
				 ctx->cf->mail_smtp_url[0] != '\0', err);
	if (st) {
		return st;
	}
	/* The row is locked under our token: make the file final, then commit. */
	st = sink_complete(&s->sink, checksum, err);
	if (st) {
		jobs_rollback(ctx->ctl);
		return st;
	}
	return jobs_commit(ctx->ctl, err);
}

static enum ex_status export_complete(struct export_state *s, struct buf *err)
{
	struct buf next;
	enum ex_status st;

	buf_init(&next, SINCE_MAX);
	st = export_next_since(s, &next);
	if (st) {
		buf_msg(err, "%s", "cannot make next_since");
		goto out;
	}
	st = export_finish(s, next.len > 0 ? buf_str(&next) : NULL, err);
out:
	buf_free(&next);
	return st;
}

/* <job id>.<extension>[.gz|.zst]; EX_EINVAL for an unknown format or
 * compression. */
static enum ex_status export_file_key(const struct jobs_claim *job, char *out, size_t size)
{
	enum format_compression comp;
	enum format_kind kind;

	if (format_parse_kind(job->format, &kind) ||
	    format_parse_compression(job->compression, &comp)) {
		return EX_EINVAL;
	}
	snprintf(out, size, "%s.%s%s", job->id, format_extension(kind),
		 format_compression_suffix(comp));
	return EX_OK;
}

/* The checkpointed upload, if any: an S3 multipart upload is aborted.
 * One that cannot be opened has nothing to abort. */
static void export_abort_ckpt(const struct config *cf, const struct jobs_claim *job,
			      const char *key, struct buf *err)
{
	struct storage_ckpt ckpt = {job->ckpt_bytes, job->ckpt_part, job->ckpt_storage, 1};
	struct storage_upload *up = NULL;
	enum ex_status st;

	st = storage_open(cf, key, &ckpt, &up, err);
	if (st) {
		return;
	}
	storage_abort(up);
	storage_close(up);
}

void export_discard(const struct config *cf, const struct jobs_claim *job)
{
	char key[64];
	struct buf err;
	enum ex_status st;

	buf_init(&err, 1024);
	st = export_file_key(job, key, sizeof(key));
	if (st) {
		goto out;
	}
	if (job->ckpt_bytes > 0) {
		export_abort_ckpt(cf, job, key, &err);
	}
	st = storage_remove(cf, key, &err);
	if (st) {
		log_warn("job %s: cannot remove its partial file: %s", job->id, buf_str(&err));
	}
	if (strcmp(job->format, "xlsx") == 0) {
		xlsxjob_discard(cf, job->id);
	}
out:
	buf_free(&err);
}

/* The job's stored options, the ones a resume must write with too: the
 * compression and the CSV delimiter (the table's CHECKs hold them to the
 * API's values). */
static enum ex_status export_options(struct export_state *s, enum format_kind *kind,
				     struct buf *err)
{
	const struct jobs_claim *job = s->ctx->job;

	if (format_parse_kind(job->format, kind)) {
		buf_msg(err, "unknown format \"%s\"", job->format);
		return EX_EINVAL;
	}
	s->is_xlsx = *kind == FORMAT_XLSX;
	if (format_parse_compression(job->compression, &s->codec.comp)) {
		buf_msg(err, "unknown compression \"%s\"", job->compression);
		return EX_EINVAL;
	}
	s->codec.level = (int)(s->codec.comp == FORMAT_ZSTD ? s->ctx->cf->zstd_level
							    : s->ctx->cf->gzip_level);
	if (!format_valid_delimiter(job->csv_delimiter)) {
		buf_msg(err, "unknown CSV delimiter \"%s\"", job->csv_delimiter);
		return EX_EINVAL;
	}
	s->writer.delimiter = job->csv_delimiter[0];
	return export_file_key(job, s->file_key, sizeof(s->file_key));
}

/* timestamptz values in the job's zone: the session stays in UTC (filters,
 * the as-of bound and keys mean the same in every job) and the writer
 * moves values with localtime_r under TZ.  This host's zone data must say
 * what PostgreSQL's says, checked at two instants half a year apart (a
 * zone glibc lacks would silently read as UTC). */
static enum ex_status export_zone(struct export_state *s, struct buf *err)
{
	const char *zone = s->ctx->job->timezone;
	time_t at[2];
	long long pg;
	struct tm lt;
	enum ex_status st;
	int i;

	s->zoned = strcmp(zone, "UTC") != 0;
	if (!s->zoned) {
		return EX_OK;
	}
	if (setenv("TZ", zone, 1) != 0) {
		return EX_ENOMEM;
	}
	tzset();
	at[0] = time(NULL);
	at[1] = at[0] + 182L * 86400;
	for (i = 0; i < 2; i++) {
		st = registry_timezone_offset(s->data, zone, (long long)at[i], &pg, err);
		if (st) {
			return st;
		}
		if (localtime_r(&at[i], &lt) == NULL || lt.tm_gmtoff != pg) {
			buf_msg(err,
				"time zone \"%s\": this host's zone data (tzdata) gives UTC offset "
				"%lds where PostgreSQL's gives %llds",
				zone, lt.tm_gmtoff, pg);
			return EX_EINVAL;
		}
	}
	return EX_OK;
}

/* A job asked with since (plain SQL too) is checked as POST /exports
 * checks it.  Every export of a type with an updated_at_column fixes the
 * end of its change-time window, for next_since. */
static enum ex_status export_window(struct export_state *s, struct buf *err)
{
	const struct jobs_claim *job = s->ctx->job;
	struct buf why;
	enum ex_status st = EX_OK;

	buf_init(&why, 512);
	if (job->since != NULL && s->type.updated_at_column == NULL) {
		buf_msg(err, "since: type %s has no updated_at_column: it is only exported whole",
			s->type.name);
		st = EX_EINVAL;
		goto out;
	}
	if (job->since != NULL) {
		st = since_decode(job->since, &s->since, &why);
		if (st == EX_OK) {
			st = since_check(&s->since, job->type, job->workspace, &why);
		}
		if (st) {
			buf_msg(err, "since %s", buf_str(&why));
			goto out;
		}
		s->incremental = 1;
	}
	if (s->type.updated_at_column != NULL) {
		st = jobs_set_sync_until(s->ctx->ctl, job, s->ctx->cf->incremental_lag_ms,
					 &s->sync_until, err);
	}
out:
	buf_free(&why);
	return st;
}

static enum ex_status export_setup(struct export_state *s, struct buf *err)
{
	const struct export_ctx *ctx = s->ctx;
	enum format_kind kind;
	enum ex_status st;

	st = export_options(s, &kind, err);
	if (st) {
		return st;
	}
	/* The keyset chunk is a named prepared statement: session-bound; on a
	 * standby once it has replayed past the job's creation. */
	st = replica_connect(ctx->cf, ctx->job, "exportd-data", ctx->stop, ctx->source, err);
	if (st) {
		return st;
	}
	s->data = ctx->source->conn;
	st = export_zone(s, err);
	if (st) {
		return st;
	}
	st = registry_load(ctx->ctl, ctx->job->type, &s->type, err);
	if (st == EX_ENOTFOUND) {
		buf_msg(err, "export type \"%s\" does not exist", ctx->job->type);
		return EX_EPERM;
	}
	if (st) {
		return st;
	}
	/* Before any row is read: a job inserted past the API's check (and
	 * the table's trigger) must not read another spelling's tenant. */
	st = registry_workspace_check(ctx->ctl, ctx->job->type, ctx->job->workspace, err);
	if (st) {
		return st;
	}
	st = export_window(s, err);
	if (st) {
		return st;
	}
	st = export_columns(s, err);
	if (st) {
		return st;
	}
	st = export_fix_as_of(s, err); /* before the query that uses it */
	if (st) {
		return st;
	}
	st = export_prepare(s, err);
	if (st) {
		return st;
	}
	s->writer.kind = kind;
	s->writer.crlf = ctx->cf->csv_crlf;
	s->writer.formula_guard = ctx->job->csv_formula_guard;
	s->writer.columns = s->cols;
	s->writer.ncolumns = (size_t)s->nout;
	return EX_OK;
}

static void export_cleanup(struct export_state *s)
{
	int i;

	if (s->sink_open) {
		sink_close(&s->sink);
	}
	xlsxjob_close(s->xlsx);
	query_free(&s->query);
	if (s->data != NULL) {
		replica_release(s->ctx->source);
	}
	for (i = 0; s->names != NULL && i < s->ncols; i++) {
		free(s->names[i]);
	}
	free(s->names);
	free(s->cols);
	free(s->fields);
	registry_free(&s->type);
	buf_free(&s->out);
	buf_free(&s->last_key);
	buf_free(&s->last_at);
	since_free(&s->since);
	free(s->sync_until);
}

enum ex_status export_run(const struct export_ctx *ctx, struct buf *err)
{
	struct export_state s;
	enum ex_status st;

	memset(&s, 0, sizeof(s));
	s.ctx = ctx;
	buf_init(&s.out, (size_t)(ctx->cf->write_buffer + ctx->cf->max_row_size));
	buf_init(&s.last_key, 64 * 1024UL);
	buf_init(&s.last_at, 256);
	s.last_beat_ms = ctx->job->claimed_ms;
	st = export_setup(&s, err);
	if (st) {
		goto out;
	}
	st = export_estimate(&s);
	if (st) {
		goto out;
	}
	/* Opening may truncate the file: be sure, right before, that the job
	 * is still ours (this process may have been stopped since the claim,
	 * and the job taken over). */
	st = export_beat(&s, err);
	if (st) {
		goto out;
	}
	st = export_open(&s, err);
	if (st) {
		goto out;
	}
	st = export_rows(&s, err);
	if (st) {
		goto out;
	}
	st = export_complete(&s, err);
	if (st) {
		goto out;
	}
	log_info("job %s: complete, %lld rows, %lld bytes", ctx->job->id, s.rows, s.bytes);
out:
	if (st == EX_ECANCEL && s.sink.up != NULL) {
		sink_abort(&s.sink);
	}
	export_cleanup(&s);
	return st;
}
