/* db helpers that need no server: rows read by column name into structs,
 * and {{name}} placeholders filled with quoted identifiers. */
#include <libpq-fe.h>
#include <stddef.h>
#include <stdlib.h>

#include "db/db.h"
#include "unit.h"

struct row {
	const char *name;
	char *copy;
	long long n, maybe;
	int small, flag;
	double real;
};

#define ROW(col, kind, member)                                                                     \
	{                                                                                          \
		col, kind, offsetof(struct row, member)                                            \
	}
static const struct db_field fields[] = {
	ROW("name", DB_TEXT, name),	  ROW("copy", DB_DUP, copy),   ROW("n", DB_LLONG, n),
	ROW("maybe", DB_LLONG_OR, maybe), ROW("small", DB_INT, small), ROW("flag", DB_BOOL, flag),
	ROW("real", DB_DOUBLE, real),
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* A result as libpq would hand it over, columns in the order given (not
 * the order of fields: reading is by name). */
static PGresult *make_result(const char *const *names, int ncols, const char *const *values)
{
	PGresAttDesc attrs[8];
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	int i;

	memset(attrs, 0, sizeof(attrs));
	for (i = 0; i < ncols; i++) {
		attrs[i].name = (char *)names[i];
		attrs[i].typid = 25;
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	if (res == NULL || !PQsetResultAttrs(res, ncols, attrs)) {
		return NULL;
	}
	for (i = 0; i < ncols; i++) {
		/* len -1 (NULL_LEN) makes a SQL NULL. */
		if (!PQsetvalue(res, 0, i, (char *)values[i],
				values[i] != NULL ? (int)strlen(values[i]) : -1)) {
			PQclear(res);
			return NULL;
		}
	}
	return res;
}

static void test_read_by_name(void)
{
	static const char *const names[] = {"flag", "real", "small", "maybe", "n", "copy", "name"};
	static const char *const values[] = {"t", "2.5", "42", NULL, "9000000000", "c", "x"};
	PGresult *res = make_result(names, 7, values);
	struct row r;
	struct buf err;

	buf_init(&err, 1024);
	if (!UNIT_CHECK(res != NULL)) {
		return;
	}
	UNIT_EQ_INT(db_fields_check(res, fields, NFIELDS, &err), EX_OK);
	memset(&r, 0, sizeof(r));
	UNIT_EQ_INT(db_fields_read(res, 0, fields, NFIELDS, &r), EX_OK);
	UNIT_EQ_STR(r.name, "x");
	UNIT_EQ_STR(r.copy, "c");
	UNIT_EQ_INT(r.n, 9000000000LL);
	UNIT_CHECK(r.maybe == DB_NULL);
	UNIT_EQ_INT(r.small, 42);
	UNIT_EQ_INT(r.flag, 1);
	UNIT_CHECK(r.real == 2.5);
	UNIT_EQ_STR(db_text(res, 0, "name"), "x");
	UNIT_CHECK(db_text(res, 0, "maybe") == NULL);
	UNIT_CHECK(db_text(res, 0, "absent") == NULL);
	free(r.copy);
	PQclear(res);
	buf_free(&err);
}

static void test_missing_column(void)
{
	static const char *const names[] = {"name", "copy"};
	static const char *const values[] = {"x", NULL};
	PGresult *res = make_result(names, 2, values);
	struct row r;
	struct buf err;

	buf_init(&err, 1024);
	if (!UNIT_CHECK(res != NULL)) {
		return;
	}
	UNIT_EQ_INT(db_fields_check(res, fields, NFIELDS, &err), EX_EDB);
	UNIT_EQ_STR(buf_str(&err), "the statement's result has no column \"n\"");
	/* Read anyway: what is missing reads as NULL, nothing crashes. */
	memset(&r, 0, sizeof(r));
	UNIT_EQ_INT(db_fields_read(res, 0, fields, NFIELDS, &r), EX_OK);
	UNIT_EQ_STR(r.name, "x");
	UNIT_CHECK(r.copy == NULL);
	UNIT_CHECK(r.maybe == DB_NULL);
	UNIT_EQ_INT(r.flag, 0);
	PQclear(res);
	buf_free(&err);
}

static void test_fill(void)
{
	static const char *const names[] = {"rel", "col"};
	static const char *const values[] = {"my \"table\"", "id"};
	/* Quoting needs a PGconn for its encoding, not a server. */
	PGconn *conn = PQconnectdb("host=/nonexistent/exportd-unit-test connect_timeout=1");
	struct buf out;

	buf_init(&out, 1024);
	if (!UNIT_CHECK(conn != NULL)) {
		return;
	}
	UNIT_EQ_INT(db_fill(conn, "SELECT {{col}} FROM {{rel}} WHERE {{col}} = $1", names, values,
			    2, &out),
		    EX_OK);
	UNIT_EQ_STR(buf_str(&out), "SELECT \"id\" FROM \"my \"\"table\"\"\" WHERE \"id\" = $1");
	buf_reset(&out);
	UNIT_EQ_INT(db_fill(conn, "SELECT 1", names, values, 2, &out), EX_OK);
	UNIT_EQ_STR(buf_str(&out), "SELECT 1");
	buf_reset(&out);
	UNIT_EQ_INT(db_fill(conn, "SELECT {{nope}}", names, values, 2, &out), EX_EINVAL);
	buf_reset(&out);
	UNIT_EQ_INT(db_fill(conn, "SELECT {{col", names, values, 2, &out), EX_EINVAL);
	PQfinish(conn);
	buf_free(&out);
}

int main(void)
{
	static const struct unit_test tests[] = {
		UNIT_TEST(test_read_by_name),
		UNIT_TEST(test_missing_column),
		UNIT_TEST(test_fill),
	};

	return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
