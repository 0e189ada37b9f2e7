"""Client mistakes get a 4xx problem naming the field at fault, never a 5xx
(issue 11, findings 5, 6 and 9; README "HTTP API", docs/CONTRACTS.md):

  - bytes that are not strict UTF-8 (RFC 3629) anywhere in the body, even
    where json-c lets them through (overlong forms, surrogates, past
    U+10FFFF), and never echoed back;
  - NaN / Infinity, which json-c reads as numbers;
  - a member name holding a NUL (\\u0000);
  - a filter value the column's type refuses (SQLSTATE class 22);
  - numbers kept exactly as sent (1e30, -0, 1.50, 12345678901234567890):
    exact rows or a 400, never a different value;
  - at most 50 entries in `errors`, with "truncated": true past that.
"""

import json

import pytest

import helpers as H

NUMS = "h11_nums"
FIGURES = {}


@pytest.fixture(scope="module")
def nums_type(stack):
    """A type with numeric, bigint, double precision and text columns, all
    filterable; rows whose values sit at the edges the tests probe."""
    stack.pg.query("""
        CREATE TABLE IF NOT EXISTS h11_nums (
            id bigint PRIMARY KEY, ws text NOT NULL,
            n numeric, b bigint, d double precision, t text);
        DELETE FROM h11_nums;
        INSERT INTO h11_nums VALUES
            (1, 'acme', 1e30, 1, 1e30, 'x'),
            (2, 'acme', 18446744073709551614, 2, 2, 'y'),
            (3, 'acme', 0, 0, 0, 'z'),
            (4, 'acme', 1.5, 9223372036854775807, 1.5, '1.50'),
            (5, 'acme', 12345678901234567890, -9223372036854775808, 3, 'w'),
            (6, 'acme', 1e31, 6, 6, 'v');
        INSERT INTO export_types (name, relation, key_column, workspace_column, columns,
                                  filterable_columns)
        VALUES ('h11_nums', 'h11_nums', 'id', 'ws', '{id,n,b,d,t}', '{n,b,d,t}')
        ON CONFLICT (name) DO NOTHING""")
    stack.pg.expose(NUMS)
    yield NUMS
    stack.pg.query("DELETE FROM export_jobs WHERE type = 'h11_nums';"
                   " DELETE FROM export_types WHERE name = 'h11_nums'")


def raw_post(stack, data):
    return H.post(stack, None, raw=data)


# ------------------------------------------------------ strict UTF-8

BAD_UTF8 = [
    pytest.param(b"\xc0\xaf", id="overlong-C0-AF"),
    pytest.param(b"\xe0\x80\xaf", id="overlong-3-bytes"),
    pytest.param(b"\xed\xa0\x80", id="surrogate-ED-A0-80"),
    pytest.param(b"\xed\xbf\xbf", id="surrogate-ED-BF-BF"),
    pytest.param(b"\xf4\x90\x80\x80", id="past-10FFFF-F4-90"),
    pytest.param(b"\xf8\x88\x80\x80\x80", id="five-bytes"),
    # F8-FC once passed for F0-F4 (found by tests/fuzz/fuzz_jsonl.c)
    pytest.param(b"\xf8\x90\x80\x80", id="F8-as-F0"),
    pytest.param(b"\xfc\x8c\x9e\x98", id="FC-as-F4"),
    pytest.param(b"\xc3", id="truncated"),
]


@pytest.mark.parametrize("bad", BAD_UTF8)
@pytest.mark.parametrize("where", ["type", "filter-value", "filter-name", "member-name",
                                   "column"])
def test_invalid_utf8_is_a_400_and_never_echoed(stack, nums_type, bad, where):
    bodies = {
        "type": b'{"type": "h11_nums' + bad + b'"}',
        "filter-value": b'{"type": "h11_nums", "filters": {"t": "a' + bad + b'"}}',
        "filter-name": b'{"type": "h11_nums", "filters": {"t' + bad + b'": "a"}}',
        "member-name": b'{"type": "h11_nums", "x' + bad + b'": 1}',
        "column": b'{"type": "h11_nums", "columns": ["id' + bad + b'"]}',
    }
    r = H.assert_writes_nothing(stack, lambda: raw_post(stack, bodies[where]))
    body = H.field_problem(r, "", 400)
    assert "UTF-8" in body["detail"], body
    assert bad not in r.content, r.content


def test_valid_utf8_still_passes(stack, nums_type):
    # U+10FFFF, U+FFFD, and a 4-byte character: strict is not stricter than RFC 3629
    r = H.post(stack, {"type": "h11_nums", "filters": {"t": "\U0010ffff\ufffd\U0001f4e6"}})
    assert r.status_code == 202, r.text


# --------------------------------------------------- non-finite numbers

@pytest.mark.parametrize("lit", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("col", ["n", "d", "t"])
def test_non_finite_numbers_are_a_400(stack, nums_type, lit, col):
    data = ('{"type": "h11_nums", "filters": {"%s": %s}}' % (col, lit)).encode()
    r = H.assert_writes_nothing(stack, lambda: raw_post(stack, data))
    body = H.field_problem(r, "filters/" + col)
    assert "finite" in json.dumps(body["errors"]), body


# ----------------------------------------------------- NUL in a name

@pytest.mark.parametrize("data", [
    '{"type": "h11_nums", "filters": {"t\\u0000x": "x"}}',
    '{"type": "h11_nums", "a\\u0000b": 1}',
    '{"type": "h11_nums", "csv": {"bom\\u0000": true}}',
    '{"type\\u0000junk": "h11_nums"}',
], ids=["filter-name", "member-name", "csv-option", "type-name"])
def test_member_name_with_nul_is_a_400(stack, nums_type, data):
    r = H.assert_writes_nothing(stack, lambda: raw_post(stack, data.encode()))
    body = H.problem(r, 400)
    assert "NUL" in body["detail"] or "NUL" in json.dumps(body.get("errors")), body


# ---------------------------------------------- values the column refuses

@pytest.mark.parametrize("col,value", [
    ("b", "abc"), ("b", 1.5), ("b", "99999999999999999999"), ("n", "1e"),
    ("d", "1e400"), ("b", ""),
])
def test_values_that_do_not_cast_are_a_400(stack, nums_type, col, value):
    r = H.post(stack, {"type": "h11_nums", "filters": {col: value}})
    H.field_problem(r, "filters/" + col)


# ------------------------------------------------------- exact numbers

def exported_ids(stack, job):
    done = stack.wait_for_job(job["id"])
    assert done["status"] == "complete", done
    data = H.download(stack, done).content.decode()
    lines = data.splitlines()[1:]
    return sorted(int(l.split(",")[0]) for l in lines), done


# (column, JSON text of the value, ids the export must hold; None: a 400)
EXACT = [
    ("n", "1e30", [1]),
    ("n", "1E30", [1]),
    ("n", "1e31", [6]),
    ("n", "-0", [3]),
    ("n", "1.50", [4]),
    ("n", "12345678901234567890", [5]),
    ("n", "18446744073709551614", [2]),
    # json-c reads an integer past 64 bits as this bound: it cannot tell
    # them apart, so the bound itself is refused (send it as a string)
    ("n", "18446744073709551615", None),
    ("n", '"18446744073709551615"', []),
    ("n", '"12345678901234567890"', [5]),
    ("n", '"1e30"', [1]),
    ("d", "1e30", [1]),
    ("d", "1.50", [4]),
    ("b", "-0", [3]),
    ("b", "9223372036854775807", [4]),
    ("b", "1e30", None),
    ("b", "1.50", None),
    ("b", "12345678901234567890", None),
    ("b", "-9223372036854775809", None),
    ("n", "-12345678901234567890123", None),
]


@pytest.mark.parametrize("col,text,ids", EXACT,
                         ids=["%s=%s" % (c, t) for c, t, _ in EXACT])
def test_numbers_are_kept_exactly(stack, nums_type, col, text, ids):
    data = ('{"type": "h11_nums", "columns": ["id"], "filters": {"%s": %s}}'
            % (col, text)).encode()
    r = raw_post(stack, data)
    if ids is None:
        H.field_problem(r, "filters/" + col)
        return
    assert r.status_code == 202, r.text
    got, done = exported_ids(stack, r.json())
    assert got == ids, (text, got)
    # GET shows the value as it was sent: a number with the same value
    shown = json.loads(H.call(stack, stack.api, "GET", "/exports/" + done["id"]).text,
                       parse_float=str, parse_int=str)["filters"][col]
    if text.startswith('"'):
        assert shown == json.loads(text), (shown, text)
    else:
        assert float(shown) == float(text), (shown, text)


def test_plain_sql_job_with_a_number_json_c_cannot_read_fails_clearly(stack, nums_type):
    """jsonb keeps 1e30 as 1000000000000000000000000000000; read back as a
    bare number it does not fit 64 bits: the job fails, it does not export
    the rows of another value."""
    job_id = str(stack.pg.query(
        "INSERT INTO export_jobs (workspace, type, format, filters) VALUES"
        " ('acme', 'h11_nums', 'csv', '{\"equals\": {\"n\": 1e30}}') RETURNING id")[0][0])
    done = stack.wait_for_job(job_id)
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "invalid_job", done
    assert "exact" in done["error"]["message"], done


# ------------------------------------------------------------ error cap

def test_errors_are_capped_at_50(stack, nums_type):
    cols = ["nope%d" % i for i in range(5000)]
    data = json.dumps({"type": "h11_nums", "columns": cols}).encode()
    assert len(data) <= 64 * 1024
    r = raw_post(stack, data)
    body = H.field_problem(r, "columns")
    assert len(body["errors"]) == 50, len(body["errors"])
    assert body["truncated"] is True, body
    assert len(r.content) < 16 * 1024, len(r.content)
    H.figure(FIGURES, "answer to a %d-byte body of %d unknown columns" % (len(data), len(cols)),
             "%d bytes" % len(r.content))


def test_errors_under_the_cap_are_not_truncated(stack, nums_type):
    r = H.post(stack, {"type": "h11_nums", "columns": ["nope%d" % i for i in range(50)]})
    body = H.field_problem(r, "columns")
    assert len(body["errors"]) == 50 and "truncated" not in body, body


def test_filter_errors_are_capped_too(stack, nums_type):
    r = H.post(stack, {"type": "h11_nums", "filters": {"x%d" % i: 1 for i in range(300)}})
    body = H.field_problem(r, None)
    assert len(body["errors"]) == 50 and body["truncated"] is True, len(body["errors"])
