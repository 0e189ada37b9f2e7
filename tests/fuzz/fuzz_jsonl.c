/* fuzz_jsonl.c - the JSON Lines writer (format/jsonl.c) read back by
 * json-c.
 *
 * Input: a byte of column count, a byte of column types (text, number,
 * boolean), then NUL-separated pieces: the column names, then the rows'
 * fields; a piece that is the one byte 0x01 is NULL.  Field values are what
 * PostgreSQL prints, so NUL-free; the writer escapes '"', '\\' and control
 * characters and passes every other byte on as it is.  Properties: each
 * row is one line holding one object whose members are the columns in
 * order; json-c reads back every name and string byte for byte, numbers as
 * numbers (their text kept; integers by value within 64 bits, json-c's
 * limit), "t"/"f" of a boolean column as true/false, NULL as null; with
 * json-c's strict mode and UTF-8 check on, a line whose names and values
 * are all valid UTF-8 is read too (nothing else makes it invalid JSON). */
#include <errno.h>
#include <json-c/json.h>

#include "common/utf8.h"
#include "format/format.h"
#include "fuzz.h"

#define FUZZ_JSONL_COLUMNS 6
#define FUZZ_JSONL_ROWS	   64
#define FUZZ_JSONL_CAP	   (1 << 22)

struct fuzz_jsonl_case {
	struct format_writer w;
	struct format_column cols[FUZZ_JSONL_COLUMNS];
	char names[FUZZ_JSONL_COLUMNS][4200];
	struct format_field fields[FUZZ_JSONL_ROWS][FUZZ_JSONL_COLUMNS];
	char *pieces[FUZZ_JSONL_COLUMNS * (FUZZ_JSONL_ROWS + 1)];
	size_t npieces, nrows;
};

static void fuzz_jsonl_string(struct json_object *v, const char *want, size_t len)
{
	FUZZ_CHECK(json_object_is_type(v, json_type_string));
	FUZZ_CHECK((size_t)json_object_get_string_len(v) == len);
	FUZZ_CHECK(memcmp(json_object_get_string(v), want, len) == 0);
}

/* A number column's value sent bare: json-c's number, kept as sent. */
static void fuzz_jsonl_number(struct json_object *v, const char *text)
{
	long long i;
	char *end;

	if (json_object_is_type(v, json_type_double)) {
		FUZZ_CHECK(strcmp(json_object_to_json_string(v), text) == 0);
		return;
	}
	FUZZ_CHECK(json_object_is_type(v, json_type_int));
	errno = 0;
	i = strtoll(text, &end, 10);
	if (errno == 0 && *end == '\0') {
		FUZZ_CHECK(json_object_get_int64(v) == i);
	}
}

static void fuzz_jsonl_value(struct json_object *v, enum format_type type,
			     const struct format_field *f)
{
	if (f->is_null) {
		FUZZ_CHECK(v == NULL);
		return;
	}
	if (type == FORMAT_BOOL && f->len == 1 && (f->value[0] == 't' || f->value[0] == 'f')) {
		FUZZ_CHECK(json_object_is_type(v, json_type_boolean));
		FUZZ_CHECK(json_object_get_boolean(v) == (f->value[0] == 't'));
		return;
	}
	if (type == FORMAT_NUMBER && !json_object_is_type(v, json_type_string)) {
		fuzz_jsonl_number(v, f->value);
		return;
	}
	fuzz_jsonl_string(v, f->value, f->len);
}

static struct json_object *fuzz_jsonl_parse(const char *line, size_t len, int flags)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	FUZZ_CHECK(tok != NULL);
	json_tokener_set_flags(tok, flags);
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* Is every name and non-NULL value of row valid UTF-8? */
static int fuzz_jsonl_valid(const struct fuzz_jsonl_case *k, const struct format_field *row)
{
	size_t i;

	for (i = 0; i < k->w.ncolumns; i++) {
		if (!utf8_valid(k->cols[i].name, strlen(k->cols[i].name)) ||
		    (!row[i].is_null && !utf8_valid(row[i].value, row[i].len))) {
			return 0;
		}
	}
	return 1;
}

static void fuzz_jsonl_line(const struct fuzz_jsonl_case *k, const struct format_field *row,
			    const char *line, size_t len)
{
	struct json_object *o = fuzz_jsonl_parse(line, len, 0), *strict;
	size_t i = 0;

	FUZZ_CHECK(json_object_is_type(o, json_type_object));
	FUZZ_CHECK((size_t)json_object_object_length(o) == k->w.ncolumns);
	json_object_object_foreach(o, key, val)
	{
		FUZZ_CHECK(strcmp(key, k->cols[i].name) == 0);
		fuzz_jsonl_value(val, k->cols[i].type, &row[i]);
		i++;
	}
	strict = fuzz_jsonl_parse(line, len, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* Only one way: json-c's check lets overlong forms and surrogates through. */
	if (strict == NULL && fuzz_jsonl_valid(k, row)) {
		fprintf(stderr, "strict json-c refused: %.*s\n", (int)len, line);
	}
	FUZZ_CHECK(strict != NULL || !fuzz_jsonl_valid(k, row));
	json_object_put(strict);
	json_object_put(o);
}

static void fuzz_jsonl_build(struct fuzz_jsonl_case *k, struct fuzz_in *in)
{
	static const enum format_type types[] = {FORMAT_TEXT, FORMAT_NUMBER, FORMAT_BOOL};
	size_t i, n = 1 + fuzz_byte(in) % FUZZ_JSONL_COLUMNS;
	unsigned kinds = fuzz_byte(in);
	struct format_field *f;
	char *p;

	kinds |= fuzz_byte(in) << 8;
	k->w = (struct format_writer){
		.kind = FORMAT_JSONL, .delimiter = ',', .columns = k->cols, .ncolumns = n};
	while (in->n > 0 && k->npieces < n * (FUZZ_JSONL_ROWS + 1)) {
		k->pieces[k->npieces++] = fuzz_str(in, NULL);
	}
	for (i = 0; i < n; i++) {
		/* Unique names: json-c keeps one member per name. */
		snprintf(k->names[i], sizeof(k->names[i]), "%.4096s#%zu",
			 i < k->npieces ? k->pieces[i] : "", i);
		k->cols[i].name = k->names[i];
		k->cols[i].type = types[(kinds >> (2 * i) & 3) % 3];
	}
	k->nrows = k->npieces > n ? (k->npieces - n) / n : 0;
	for (i = 0; i < k->nrows * n; i++) {
		p = k->pieces[n + i];
		f = &k->fields[i / n][i % n];
		f->is_null = strcmp(p, "\x01") == 0;
		f->value = f->is_null ? NULL : p;
		f->len = f->is_null ? 0 : strlen(p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_jsonl_case k;
	struct fuzz_in in = {data, size};
	struct buf file;
	const char *s, *nl;
	size_t i;

	memset(&k, 0, sizeof(k));
	fuzz_jsonl_build(&k, &in);
	buf_init(&file, FUZZ_JSONL_CAP);
	FUZZ_CHECK(format_header(&k.w, &file) == EX_OK && file.len == 0);
	for (i = 0; i < k.nrows; i++) {
		FUZZ_CHECK(format_row(&k.w, k.fields[i], &file) == EX_OK);
	}
	s = file.data;
	for (i = 0; i < k.nrows; i++) {
		nl = memchr(s, '\n', file.len - (size_t)(s - file.data));
		FUZZ_CHECK(nl != NULL);
		fuzz_jsonl_line(&k, k.fields[i], s, (size_t)(nl - s));
		s = nl + 1;
	}
	FUZZ_CHECK(k.nrows == 0 || s == file.data + file.len);
	buf_free(&file);
	for (i = 0; i < k.npieces; i++) {
		free(k.pieces[i]);
	}
	return 0;
}
