/* fuzz_csv.c - the CSV writer (format/csv.c) read back by a small strict
 * RFC 4180 reader written here.
 *
 * Input: a byte of column count, a byte of options (line ending, formula
 * guard, which columns are numbers), a byte choosing the delimiter (one of
 * FORMAT_DELIMITERS), then NUL-separated pieces: the column
 * names, then the rows' fields; a piece that is the one byte 0x01 is NULL.
 * Properties: the reader gets back every name and field, a NULL as an
 * unquoted empty field and an empty string as a quoted one; a guarded text
 * cell that a spreadsheet would read as a formula comes back with a leading
 * apostrophe; a single-column file never has a bare "\." line; an
 * unquoted field never holds the delimiter. */
#include "format/format.h"
#include "fuzz.h"

#define FUZZ_CSV_COLUMNS 6
#define FUZZ_CSV_ROWS	 64
#define FUZZ_CSV_CAP	 (1 << 22)

/* One field read back. */
struct fuzz_csv_cell {
	struct buf text;
	int quoted;
};

struct fuzz_csv_reader {
	const char *s, *end;
	const char *eol;
	char delimiter;
};

static void fuzz_csv_put(struct buf *b, const char *p, size_t n)
{
	if (buf_append(b, p, n) != EX_OK) {
		abort();
	}
}

/* A quoted field: '"' ... '"' with '""' for a quote. */
static void fuzz_csv_quoted(struct fuzz_csv_reader *r, struct fuzz_csv_cell *c)
{
	r->s++;
	for (;;) {
		FUZZ_CHECK(r->s < r->end);
		if (*r->s == '"') {
			if (r->s + 1 < r->end && r->s[1] == '"') {
				fuzz_csv_put(&c->text, "\"", 1);
				r->s += 2;
				continue;
			}
			r->s++;
			return;
		}
		fuzz_csv_put(&c->text, r->s, 1);
		r->s++;
	}
}

/* One field, then its end: 1 after the delimiter, 0 after the line ending. */
static int fuzz_csv_field(struct fuzz_csv_reader *r, struct fuzz_csv_cell *c)
{
	size_t eol = strlen(r->eol);
	const char *start;

	buf_reset(&c->text);
	c->quoted = r->s < r->end && *r->s == '"';
	if (c->quoted) {
		fuzz_csv_quoted(r, c);
	} else {
		start = r->s;
		while (r->s < r->end && *r->s != r->delimiter && *r->s != '\r' && *r->s != '\n') {
			FUZZ_CHECK(*r->s != '"');
			r->s++;
		}
		fuzz_csv_put(&c->text, start, (size_t)(r->s - start));
	}
	FUZZ_CHECK(r->s < r->end);
	if (*r->s == r->delimiter) {
		r->s++;
		return 1;
	}
	FUZZ_CHECK((size_t)(r->end - r->s) >= eol && memcmp(r->s, r->eol, eol) == 0);
	r->s += eol;
	return 0;
}

/* A record of exactly n fields. */
static void fuzz_csv_record(struct fuzz_csv_reader *r, struct fuzz_csv_cell *cells, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		FUZZ_CHECK(fuzz_csv_field(r, &cells[i]) == (i + 1 < n));
	}
	if (n == 1) {
		FUZZ_CHECK(cells[0].quoted || strcmp(buf_str(&cells[0].text), "\\.") != 0);
	}
}

static void fuzz_csv_expect(const struct fuzz_csv_cell *c, const char *want, int guard)
{
	int formula = guard && want != NULL && want[0] != '\0' && strchr("=+-@\t\r", want[0]);

	if (want == NULL) {
		FUZZ_CHECK(!c->quoted && c->text.len == 0);
		return;
	}
	FUZZ_CHECK(c->text.len == strlen(want) + (size_t)formula);
	FUZZ_CHECK(!formula || c->text.data[0] == '\'');
	FUZZ_CHECK(memcmp(buf_str(&c->text) + formula, want, strlen(want)) == 0);
	FUZZ_CHECK(c->text.len > 0 || c->quoted);
}

struct fuzz_csv_case {
	struct format_writer w;
	struct format_column cols[FUZZ_CSV_COLUMNS];
	struct format_field fields[FUZZ_CSV_ROWS][FUZZ_CSV_COLUMNS];
	char *pieces[FUZZ_CSV_COLUMNS * (FUZZ_CSV_ROWS + 1)];
	size_t npieces, nrows;
};

/* The file written, read back and compared. */
static void fuzz_csv_check(const struct fuzz_csv_case *k, const struct buf *file)
{
	struct fuzz_csv_reader r = {file->data, file->data + file->len, k->w.crlf ? "\r\n" : "\n",
				    k->w.delimiter};
	struct fuzz_csv_cell cells[FUZZ_CSV_COLUMNS];
	size_t i, row, n = k->w.ncolumns;
	int guard;

	for (i = 0; i < n; i++) {
		buf_init(&cells[i].text, FUZZ_CSV_CAP);
	}
	fuzz_csv_record(&r, cells, n);
	for (i = 0; i < n; i++) {
		fuzz_csv_expect(&cells[i], k->cols[i].name, 0);
	}
	for (row = 0; row < k->nrows; row++) {
		fuzz_csv_record(&r, cells, n);
		for (i = 0; i < n; i++) {
			guard = k->w.formula_guard && k->cols[i].type == FORMAT_TEXT;
			fuzz_csv_expect(&cells[i], k->fields[row][i].value, guard);
		}
	}
	FUZZ_CHECK(r.s == r.end);
	for (i = 0; i < n; i++) {
		buf_free(&cells[i].text);
	}
}

static void fuzz_csv_build(struct fuzz_csv_case *k, struct fuzz_in *in)
{
	size_t i, n = 1 + fuzz_byte(in) % FUZZ_CSV_COLUMNS;
	unsigned opts = fuzz_byte(in);
	char delimiter = FORMAT_DELIMITERS[fuzz_byte(in) % (sizeof(FORMAT_DELIMITERS) - 1)];
	struct format_field *f;
	char *p;

	k->w = (struct format_writer){.kind = FORMAT_CSV,
				      .crlf = (int)(opts & 1),
				      .delimiter = delimiter,
				      .columns = k->cols,
				      .ncolumns = n,
				      .formula_guard = (int)(opts >> 1 & 1)};
	while (in->n > 0 && k->npieces < n * (FUZZ_CSV_ROWS + 1)) {
		k->pieces[k->npieces++] = fuzz_str(in, NULL);
	}
	for (i = 0; i < n; i++) {
		k->cols[i].name = i < k->npieces ? k->pieces[i] : "c";
		k->cols[i].type = opts >> (2 + i) & 1 ? FORMAT_NUMBER : FORMAT_TEXT;
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
	static struct fuzz_csv_case k;
	struct fuzz_in in = {data, size};
	struct buf file;
	enum ex_status st;
	size_t i;

	memset(&k, 0, sizeof(k));
	fuzz_csv_build(&k, &in);
	buf_init(&file, FUZZ_CSV_CAP);
	st = format_header(&k.w, &file);
	FUZZ_CHECK(st == EX_OK);
	for (i = 0; i < k.nrows; i++) {
		st = format_row(&k.w, k.fields[i], &file);
		FUZZ_CHECK(st == EX_OK);
	}
	fuzz_csv_check(&k, &file);
	buf_free(&file);
	for (i = 0; i < k.npieces; i++) {
		free(k.pieces[i]);
	}
	return 0;
}
