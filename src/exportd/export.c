#include "exportd/export.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "db/db.h"
#include "format/format.h"
#include "jobs/registry.h"
#include "exportd/query.h"
#include "exportd/sink.h"
#include "storage/storage.h"

#define EXPORT_STMT_FIRST "export_first"
#define EXPORT_STMT_NEXT  "export_next"

struct export_state {
	const struct export_ctx *ctx;
	PGconn *data;
	struct registry_type type;
	char **names; /* output column names (owned) */
	int ncols;
	struct format_column *cols;
	struct format_field *fields;
	struct format_writer writer;
	struct buf out;
	struct query query;
	struct sink sink;
	int sink_open;
	char file_key[64];
	long long rows, bytes, part_bytes; /* bytes: in the file; part_bytes: formatted */
	int part;
	struct buf last_key;
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
	for (i = 0; i < n && st == EX_OK; i++) {
		const char *name =
			arr != NULL ? json_object_get_string(json_object_array_get_idx(arr, i))
				    : s->type.columns[i];

		if (name == NULL || registry_column_index(&s->type, name) < 0) {
			buf_msg(err, "column \"%s\" is not exportable for type %s",
				name != NULL ? name : "(null)", s->type.name);
			st = EX_EPERM;
		} else if ((s->names[i] = strdup(name)) == NULL) {
			st = EX_ENOMEM;
		}
	}
	s->ncols = n;
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
	PGresult *desc;
	enum ex_status st;
	int i;

	st = query_build(s->data, &s->type, s->names, s->ncols, s->ctx->job, s->ctx->cf->chunk_rows,
			 &s->query, err);
	if (st == EX_OK) {
		st = export_prepare_one(s, EXPORT_STMT_FIRST, 0, err);
	}
	if (st == EX_OK) {
		st = export_prepare_one(s, EXPORT_STMT_NEXT, 1, err);
	}
	if (st != EX_OK) {
		return st;
	}
	desc = PQdescribePrepared(s->data, EXPORT_STMT_FIRST);
	st = export_result_status(s->data, desc, PGRES_COMMAND_OK, err);
	s->cols = calloc((size_t)s->ncols, sizeof(*s->cols));
	s->fields = calloc((size_t)s->ncols, sizeof(*s->fields));
	if (st == EX_OK && (s->cols == NULL || s->fields == NULL)) {
		st = EX_ENOMEM;
	}
	for (i = 0; st == EX_OK && i < s->ncols; i++) {
		s->cols[i].name = s->names[i];
		s->cols[i].type = format_type_from_oid(PQftype(desc, i));
	}
	PQclear(desc);
	return st;
}

static enum ex_status export_beat(struct export_state *s, const char *ckpt_key,
				  const char *sha_state, const char *storage_state,
				  struct buf *err);

/* Write out the buffer.  A write only follows a heartbeat that is at most
 * heartbeat_interval old, so a worker that was stopped (SIGSTOP, a stalled
 * VM) past its lease learns it lost the job before touching the file. */
static enum ex_status export_flush(struct export_state *s, struct buf *err)
{
	enum ex_status st = EX_OK;

	if (timeutil_now_ms() - s->last_beat_ms >= s->ctx->cf->heartbeat_interval_ms) {
		st = export_beat(s, NULL, NULL, NULL, err);
	}
	if (st == EX_OK && s->out.len > 0) {
		st = sink_write(&s->sink, s->out.data, s->out.len, err);
		buf_reset(&s->out);
		s->bytes = s->sink.file_bytes;
	}
	if (st == EX_OK && s->ctx->cf->max_bytes > 0 && s->bytes > s->ctx->cf->max_bytes) {
		buf_msg(err, "the export is larger than the limit of %lld bytes (export.max_bytes)",
			s->ctx->cf->max_bytes);
		st = EX_ELIMIT;
	}
	return st;
}

static enum ex_status export_beat(struct export_state *s, const char *ckpt_key,
				  const char *sha_state, const char *storage_state, struct buf *err)
{
	const struct export_ctx *ctx = s->ctx;
	struct jobs_progress p = {ckpt_key, s->rows, s->bytes, s->part, sha_state, storage_state};
	int cancel = 0;
	enum ex_status st;

	st = jobs_heartbeat(ctx->ctl, ctx->job, &p, ctx->cf->lease_timeout_ms, &cancel, err);
	s->last_beat_ms = timeutil_now_ms();
	if (st == EX_OK && !ctx->job->locked) {
		/* Taken over from a hung holder: hold the lock once it lets go,
		 * so nobody takes the job from us when that holder dies. */
		st = jobs_lock(ctx->ctl, ctx->job, err);
	}
	if (st == EX_OK && cancel) {
		st = EX_ECANCEL;
	}
	return st;
}

/* The part is full: make it durable, then commit the checkpoint. */
static enum ex_status export_part_end(struct export_state *s, const char *key, struct buf *err)
{
	char sha_state[SHA256_STATE_HEX + 1];
	struct storage_ckpt ckpt;
	enum ex_status st = export_flush(s, err);

	if (st == EX_OK) {
		st = sink_part_end(&s->sink, &ckpt, sha_state, err);
	}
	if (st != EX_OK) {
		return st;
	}
	s->part_bytes = 0;
	s->bytes = s->sink.file_bytes;
	if (s->ctx->cf->max_bytes > 0 && s->bytes > s->ctx->cf->max_bytes) {
		buf_msg(err, "the export is larger than the limit of %lld bytes (export.max_bytes)",
			s->ctx->cf->max_bytes);
		return EX_ELIMIT;
	}
	if (!ckpt.durable) {
		return EX_OK; /* the backend holds it for the next part */
	}
	s->part = ckpt.part;
	s->bytes = ckpt.bytes;
	return export_beat(s, key, sha_state, ckpt.state, err);
}

static enum ex_status export_row(struct export_state *s, const PGresult *res, int r,
				 struct buf *err)
{
	size_t before = s->out.len;
	enum ex_status st;
	int i;

	for (i = 0; i < s->ncols; i++) {
		s->fields[i].is_null = PQgetisnull(res, r, i);
		s->fields[i].value = PQgetvalue(res, r, i);
		s->fields[i].len = (size_t)PQgetlength(res, r, i);
	}
	st = format_row(&s->writer, s->fields, &s->out);
	if (st == EX_ETOOBIG) {
		buf_msg(err, "row %lld is larger than exportd.max_row_size", s->rows + 1);
		return st;
	}
	if (st != EX_OK) {
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
		return export_part_end(s, PQgetvalue(res, r, s->ncols), err);
	}
	if ((long long)s->out.len >= s->ctx->cf->write_buffer) {
		return export_flush(s, err);
	}
	return EX_OK;
}

static enum ex_status export_send(struct export_state *s, const char *after, struct buf *err)
{
	struct query *q = &s->query;
	int ok;

	q->values[0] = s->ctx->job->workspace;
	q->values[1] = after;
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
	if (st != EX_OK) {
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

/* key: the key of the last row written. */
static enum ex_status export_between_chunks(struct export_state *s, const char *key,
					    struct buf *err)
{
	enum ex_status st;

	if (*s->ctx->stop) {
		/* Shutdown: make what was written durable and checkpoint it, so
		 * the next holder goes on from here.  The cut is not at part_size,
		 * harmless for plain local files; a gzip member boundary would
		 * change the file's bytes, so gzip goes back to its checkpoint. */
		st = s->part_bytes > 0 && !s->ctx->job->gzip ? export_part_end(s, key, err) : EX_OK;
		return st == EX_OK ? EX_ESTOP : st;
	}
	if (export_cancel_hint(s) ||
	    timeutil_now_ms() - s->last_beat_ms >= s->ctx->cf->heartbeat_interval_ms) {
		return export_beat(s, NULL, NULL, NULL, err);
	}
	return EX_OK;
}

/* Stream every chunk; the next one is requested before this one is written. */
static enum ex_status export_rows(struct export_state *s, struct buf *err)
{
	PGresult *res = NULL;
	int n, r, more = 1;
	enum ex_status st = export_send(s, s->last_key.len ? buf_str(&s->last_key) : NULL, err);

	while (st == EX_OK && more) {
		st = export_receive(s, &res, err);
		if (st != EX_OK) {
			break;
		}
		n = PQntuples(res);
		more = n == s->ctx->cf->chunk_rows;
		if (more) {
			st = export_send(s, PQgetvalue(res, n - 1, s->ncols), err);
		}
		for (r = 0; st == EX_OK && r < n; r++) {
			st = export_row(s, res, r, err);
			/* libpq reads the socket only when asked: drain it now and
			 * then, so the server keeps sending the next chunk while
			 * this one is formatted instead of stalling on a full
			 * socket buffer. */
			if (more && (r & 255) == 255 && !PQconsumeInput(s->data)) {
				break; /* the connection failed: PQgetResult says how */
			}
		}
		if (st == EX_OK && more) {
			st = export_between_chunks(s, PQgetvalue(res, n - 1, s->ncols), err);
		}
		PQclear(res);
		res = NULL;
	}
	return st;
}

/* The gzip level, or 0 for none. */
static int export_gzip(const struct export_state *s)
{
	return s->ctx->job->gzip ? (int)s->ctx->cf->gzip_level : 0;
}

/* Open the upload: resume from the checkpoint if its data is still there. */
static enum ex_status export_open(struct export_state *s, struct buf *err)
{
	const struct config *cf = s->ctx->cf;
	struct jobs_claim *job = s->ctx->job;
	struct storage_ckpt ckpt = {job->ckpt_bytes, job->ckpt_part, job->ckpt_storage, 1};
	enum ex_status st;

	s->sink_open = 1;
	if (job->ckpt_bytes > 0 && job->ckpt_last_key != NULL) {
		st = sink_open(&s->sink, cf, s->file_key, export_gzip(s), &ckpt, job->ckpt_sha256,
			       err);
		if (st == EX_OK) {
			s->rows = job->ckpt_rows;
			s->bytes = job->ckpt_bytes;
			s->part = job->ckpt_part;
			log_info("job %s: resuming after row %lld (%lld bytes, part %d)", job->id,
				 s->rows, s->bytes, s->part);
			return buf_puts(&s->last_key, job->ckpt_last_key);
		}
		sink_close(&s->sink);
		if (st != EX_ENOTFOUND) {
			return st;
		}
		log_warn("job %s: checkpoint data is gone (%s); starting over", job->id,
			 buf_str(err));
	}
	st = sink_open(&s->sink, cf, s->file_key, export_gzip(s), NULL, NULL, err);
	/* A UTF-8 byte order mark for Excel, then the header. */
	if (st == EX_OK && job->csv_bom && s->writer.kind == FORMAT_CSV) {
		st = buf_append(&s->out, "\xEF\xBB\xBF", 3);
	}
	if (st == EX_OK) {
		st = format_header(&s->writer, &s->out);
	}
	if (st == EX_OK) {
		s->part_bytes = (long long)s->out.len;
	}
	return st;
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

/* A cheap row estimate from the planner, for progress.  Only losing the
 * lease is an error here; without an estimate progress has no percent. */
static enum ex_status export_estimate(struct export_state *s)
{
	enum ex_status st = EX_OK;
	const char *params[1] = {s->ctx->job->workspace};
	struct buf sql, err;
	PGresult *res = NULL;
	struct json_object *plan = NULL, *node = NULL, *rows = NULL;

	buf_init(&sql, 4096);
	buf_init(&err, 1024);
	if (buf_puts(&sql, "EXPLAIN (FORMAT JSON) SELECT 1 FROM ") != EX_OK ||
	    db_quote_ident(s->data, s->type.schema_name, &sql) != EX_OK ||
	    buf_putc(&sql, '.') != EX_OK ||
	    db_quote_ident(s->data, s->type.relation, &sql) != EX_OK ||
	    buf_puts(&sql, " WHERE ") != EX_OK ||
	    db_quote_ident(s->data, s->type.workspace_column, &sql) != EX_OK ||
	    buf_puts(&sql, " = $1") != EX_OK) {
		goto out;
	}
	if (db_exec(s->data, buf_str(&sql), 1, params, &res, &err) != EX_OK) {
		goto out;
	}
	plan = json_tokener_parse(PQgetvalue(res, 0, 0));
	node = plan != NULL ? json_object_array_get_idx(plan, 0) : NULL;
	if (node != NULL && json_object_object_get_ex(node, "Plan", &node) &&
	    json_object_object_get_ex(node, "Plan Rows", &rows)) {
		st = jobs_set_estimate(s->ctx->ctl, s->ctx->job, json_object_get_int64(rows), &err);
		if (st != EX_OK && st != EX_ELEASE) {
			log_warn("job %s: cannot record the estimate: %s", s->ctx->job->id,
				 buf_str(&err));
			st = EX_OK;
		}
	}
out:
	json_object_put(plan);
	PQclear(res);
	buf_free(&sql);
	buf_free(&err);
	return st;
}

static enum ex_status export_finish(struct export_state *s, struct buf *err)
{
	const struct export_ctx *ctx = s->ctx;
	char checksum[65], sha_state[SHA256_STATE_HEX + 1];
	struct jobs_result r = {s->file_key, 0, 0, checksum};
	struct storage_ckpt ckpt;
	enum ex_status st = export_flush(s, err);

	if (st == EX_OK && (s->part_bytes > 0 || s->part == 0)) {
		st = sink_part_end(&s->sink, &ckpt, sha_state, err);
	}
	if (st == EX_OK) {
		/* The checksum is known before the file is final. */
		sha256_hex(&s->sink.sha, checksum);
		r.rows = s->rows;
		r.bytes = s->bytes = s->sink.file_bytes;
		st = jobs_complete_begin(ctx->ctl, ctx->job, &r, ctx->cf->retention_ms,
					 ctx->cf->mail_smtp_url[0] != '\0', err);
	}
	if (st != EX_OK) {
		return st;
	}
	/* The row is locked under our token: make the file final, then commit. */
	st = sink_complete(&s->sink, checksum, err);
	if (st == EX_OK) {
		st = jobs_commit(ctx->ctl, err);
	} else {
		jobs_rollback(ctx->ctl);
	}
	return st;
}

/* <job id>.<extension>[.gz]; EX_EINVAL for an unknown format. */
static enum ex_status export_file_key(const struct jobs_claim *job, char *out, size_t size)
{
	enum format_kind kind;

	if (format_parse_kind(job->format, &kind) != EX_OK) {
		return EX_EINVAL;
	}
	snprintf(out, size, "%s.%s%s", job->id, format_extension(kind), job->gzip ? ".gz" : "");
	return EX_OK;
}

void export_discard(const struct config *cf, const struct jobs_claim *job)
{
	struct storage_ckpt ckpt = {job->ckpt_bytes, job->ckpt_part, job->ckpt_storage, 1};
	struct storage_upload *up = NULL;
	char key[64];
	struct buf err;

	buf_init(&err, 1024);
	if (export_file_key(job, key, sizeof(key)) != EX_OK) {
		goto out;
	}
	/* The checkpointed upload, if any: an S3 multipart upload is aborted. */
	if (job->ckpt_bytes > 0 && storage_open(cf, key, &ckpt, &up, &err) == EX_OK) {
		storage_abort(up);
		storage_close(up);
	}
	if (storage_remove(cf, key, &err) != EX_OK) {
		log_warn("job %s: cannot remove its partial file: %s", job->id, buf_str(&err));
	}
out:
	buf_free(&err);
}

static enum ex_status export_setup(struct export_state *s, struct buf *err)
{
	const struct export_ctx *ctx = s->ctx;
	enum format_kind kind;
	enum ex_status st;

	if (format_parse_kind(ctx->job->format, &kind) != EX_OK) {
		buf_msg(err, "unknown format \"%s\"", ctx->job->format);
		return EX_EINVAL;
	}
	export_file_key(ctx->job, s->file_key, sizeof(s->file_key));
	st = db_connect(ctx->cf->db_url, "exportd-data", &s->data, err);
	if (st != EX_OK) {
		return st;
	}
	st = registry_load(ctx->ctl, ctx->job->type, &s->type, err);
	if (st == EX_ENOTFOUND) {
		buf_msg(err, "export type \"%s\" does not exist", ctx->job->type);
		return EX_EPERM;
	}
	if (st == EX_OK) {
		st = export_columns(s, err);
	}
	if (st == EX_OK) {
		st = export_fix_as_of(s, err); /* before the query that uses it */
	}
	if (st == EX_OK) {
		st = export_prepare(s, err);
	}
	s->writer.kind = kind;
	s->writer.crlf = ctx->cf->csv_crlf;
	s->writer.formula_guard = ctx->job->csv_formula_guard;
	s->writer.columns = s->cols;
	s->writer.ncolumns = (size_t)s->ncols;
	return st;
}

static void export_cleanup(struct export_state *s)
{
	int i;

	if (s->sink_open) {
		sink_close(&s->sink);
	}
	query_free(&s->query);
	if (s->data != NULL) {
		PQfinish(s->data);
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
}

enum ex_status export_run(const struct export_ctx *ctx, struct buf *err)
{
	struct export_state s;
	enum ex_status st;

	memset(&s, 0, sizeof(s));
	s.ctx = ctx;
	buf_init(&s.out, (size_t)(ctx->cf->write_buffer + ctx->cf->max_row_size));
	buf_init(&s.last_key, 64 * 1024);
	s.last_beat_ms = ctx->job->claimed_ms;
	st = export_setup(&s, err);
	if (st == EX_OK) {
		st = export_estimate(&s);
	}
	if (st == EX_OK) {
		/* Opening may truncate the file: be sure, right before, that the
		 * job is still ours (this process may have been stopped since the
		 * claim, and the job taken over). */
		st = export_beat(&s, NULL, NULL, NULL, err);
	}
	if (st == EX_OK) {
		st = export_open(&s, err);
	}
	if (st == EX_OK) {
		st = export_rows(&s, err);
	}
	if (st == EX_OK) {
		st = export_finish(&s, err);
	}
	if (st == EX_ECANCEL && s.sink.up != NULL) {
		sink_abort(&s.sink);
	}
	if (st == EX_OK) {
		log_info("job %s: complete, %lld rows, %lld bytes", ctx->job->id, s.rows, s.bytes);
	}
	export_cleanup(&s);
	return st;
}
