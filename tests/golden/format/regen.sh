#!/bin/sh
# regen.sh - rebuild the format golden files from a real PostgreSQL 15.
#
# Usage: tests/golden/format/regen.sh [PG_BINDIR]
# Starts a throwaway cluster (as user postgres when run as root), loads
# golden.sql, lets PostgreSQL itself print the expected bytes, checks the
# JSON Lines with python3's json module, then stops and removes the cluster.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bindir=${1:-/usr/lib/postgresql/15/bin}
port=${PGPORT_GOLDEN:-55999}
tmp=$(mktemp -d)
chmod 755 "$tmp"

as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

cleanup() {
	as_pg "$bindir/pg_ctl" -D "$tmp/data" -w stop -m fast >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ "$(id -u)" = 0 ]; then
	chown postgres "$tmp"
fi
as_pg "$bindir/initdb" -D "$tmp/data" -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/log" -w \
	-o "-p $port -k $tmp -c listen_addresses=''" start >/dev/null

q() {
	"$bindir/psql" -h "$tmp" -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"
}
# Every session: the settings exportd's reader uses.
settings="SET client_encoding = 'UTF8'; SET DateStyle = 'ISO'; SET TimeZone = 'UTC';
SET extra_float_digits = 1;"

q -f "$here/golden.sql" >/dev/null

# CSV: COPY's own bytes; timestamps go through to_json() first because the
# writer rewrites them into that form.
q -c "$settings" -c "COPY (SELECT id, txt, num, flt, flag, doc,
	to_json(ts) #>> '{}' AS ts, to_json(tsn) #>> '{}' AS tsn, \"odd, \"\"name\"\"\"
	FROM golden ORDER BY id) TO STDOUT (FORMAT csv, HEADER)" >"$here/golden.csv"
# The other delimiters a job may choose (csv.delimiter): COPY's DELIMITER.
for d in "semicolon:';'" "tab:E'\\t'" "pipe:'|'"; do
	q -c "$settings" -c "COPY (SELECT id, txt, num, flt, flag, doc,
	to_json(ts) #>> '{}' AS ts, to_json(tsn) #>> '{}' AS tsn, \"odd, \"\"name\"\"\"
	FROM golden ORDER BY id) TO STDOUT (FORMAT csv, HEADER, DELIMITER ${d#*:})" \
		>"$here/golden_${d%%:*}.csv"
done
# Job time zones: the instants of table zoned as UTC text (the writer's
# input), and as to_json() prints them with TimeZone set to each zone.
q -A -t -c "$settings" -c "SELECT coalesce(ts::text, '') FROM zoned ORDER BY id" \
	>"$here/zoned_utc.txt"
for z in Europe/Paris America/New_York Asia/Kolkata; do
	q -c "$settings" -c "SET TimeZone = '$z'" -c "COPY (SELECT to_json(ts) #>> '{}' AS ts
	FROM zoned ORDER BY id) TO STDOUT (FORMAT csv, HEADER)" \
		>"$here/zoned_$(echo "$z" | tr '/A-Z' '_a-z').csv"
done
q -c "$settings" -c "COPY (SELECT \"\\.\" FROM single ORDER BY id)
	TO STDOUT (FORMAT csv, HEADER)" >"$here/single.csv"

# JSON Lines: row_to_json() prints numbers, booleans, jsonb and timestamps
# the way the writer must (compact, no spaces between members).
q -A -t -c "$settings" -c "SELECT row_to_json(g) FROM (SELECT * FROM golden ORDER BY id) g" \
	>"$here/golden.jsonl"

# The values as text, for the checks below (bool::text says "true", its
# output function "t", hence the CASE).
q -A -t -c "$settings" -c "SELECT json_agg(json_build_array(id::text, txt, num::text,
	flt::text, CASE flag WHEN true THEN 't' WHEN false THEN 'f' END,
	doc::text, ts::text, tsn::text, \"odd, \"\"name\"\"\",
	to_json(ts) #>> '{}', to_json(tsn) #>> '{}') ORDER BY id) FROM golden" >"$tmp/values.json"

/usr/bin/python3 - "$here" "$tmp/values.json" <<'EOF'
import csv, io, json, sys

here, values_path = sys.argv[1], sys.argv[2]
rows = json.load(open(values_path, encoding="utf-8"))
names = ["id", "txt", "num", "flt", "flag", "doc", "ts", "tsn", 'odd, "name"']

# CRLF variant: only record terminators change, not LFs inside quoted fields.
raw = open(f"{here}/golden.csv", "rb").read()
out, quoted = bytearray(), False
for b in raw:
    if b == ord('"'):
        quoted = not quoted
    if b == ord("\n") and not quoted:
        out += b"\r"
    out.append(b)
open(f"{here}/golden_crlf.csv", "wb").write(out)

# CSV parses back to the values (NULL and "" both read as "" here).
parsed = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
assert parsed[0] == names, parsed[0]
for row, p in zip(rows, parsed[1:]):
    want = row[:6] + row[9:11] + row[8:9]
    assert p == [v if v is not None else "" for v in want], (p, want)
assert len(parsed) == len(rows) + 1
for name, delim in (("semicolon", ";"), ("tab", "\t"), ("pipe", "|")):
    raw_d = open(f"{here}/golden_{name}.csv", "rb").read().decode("utf-8")
    assert list(csv.reader(io.StringIO(raw_d, newline=""), delimiter=delim)) == parsed, name

# JSONL: one object per line, keys in column order, values typed.
lines = open(f"{here}/golden.jsonl", "rb").read().split(b"\n")
assert lines[-1] == b"" and len(lines) == len(rows) + 1
for row, line in zip(rows, lines):
    obj = json.loads(line.decode("utf-8"), object_pairs_hook=list,
                     parse_float=str, parse_int=str, parse_constant=str)
    assert [k for k, _ in obj] == names, obj
    got = dict(obj)
    idv, txt, num, flt, flag, doc, ts, tsn, odd, tsj, tsnj = row
    assert got["id"] == idv
    assert got["txt"] == txt and got['odd, "name"'] == odd
    for key, v in (("num", num), ("flt", flt)):
        assert got[key] == v, (key, got[key], v)
        if v in ("NaN", "Infinity", "-Infinity"):
            assert b'"%s":"%s"' % (key.encode(), v.encode()) in line
    assert got["flag"] == {None: None, "t": True, "f": False}[flag]
    docv = None if doc is None else json.loads(doc, object_pairs_hook=list,
                                               parse_float=str, parse_int=str)
    assert got["doc"] == docv, (got["doc"], docv)
    assert got["ts"] == tsj and got["tsn"] == tsnj
print(f"golden: {len(rows)} rows checked")
EOF
