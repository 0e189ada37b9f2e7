#!/bin/sh
# embed-statements.sh OUT.h FILE.sql - the named statements of FILE as C
# constants, for the one module that owns FILE's tables.
#
#   -- name: jobs_get          starts statement jobs_get; C: jobs_get_sql[]
#   -- fragment: jobs_view     starts a piece of SQL used by statements
#   -- use: jobs_view          (a line of its own) inserts that piece
#
# Names begin with FILE's base name and "_" (jobs.sql: jobs_*), so a C
# identifier says which file a statement is in.  Other lines beginning with
# "--" and blank lines are dropped; a statement's trailing ";" too.  An
# unknown name, a duplicate or SQL before the first name fails the build.
set -e
out=$1
file=$2
prefix=$(basename "$file" .sql)_
# C string escapes first; awk then only arranges lines.
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' "$file" | awk -v prefix="$prefix" -v src="$file" '
function fail(msg) {
	printf "%s:%d: %s\n", src, NR, msg > "/dev/stderr"
	failed = 1
	exit 1
}
function finish(   i) {
	if (name == "" || failed) {
		return
	}
	if (n == 0) {
		fail("statement " name " is empty")
	}
	if (kind == "fragment") {
		frag[name] = n
		for (i = 1; i <= n; i++) {
			fragline[name, i] = lines[i]
		}
	} else {
		sub(/;[ \t]*$/, "", lines[n])
		printf "static const char %s_sql[] =\n", name
		for (i = 1; i <= n; i++) {
			printf "\t\"%s%s\"%s\n", lines[i], (i < n ? "\\n" : ""), (i < n ? "" : ";")
		}
	}
	n = 0
	name = ""
}
BEGIN {
	print "/* generated from " src " by src/db/embed-statements.sh: do not edit */"
}
/^-- (name|fragment): / {
	finish()
	kind = ($2 == "name:") ? "statement" : "fragment"
	name = $3
	if (name !~ ("^" prefix "[a-z0-9_]+$")) {
		fail("\"" name "\" must be a lower-case name beginning with " prefix)
	}
	if (name in seen) {
		fail("\"" name "\" is defined twice")
	}
	seen[name] = 1
	next
}
/^[ \t]*-- use: / {
	if (!($3 in frag)) {
		fail("no fragment \"" $3 "\" above this line")
	}
	for (i = 1; i <= frag[$3]; i++) {
		lines[++n] = fragline[$3, i]
	}
	next
}
/^[ \t]*--/ || /^[ \t]*$/ {
	next
}
{
	if (name == "") {
		fail("SQL before the first \"-- name:\" line")
	}
	lines[++n] = $0
}
END {
	if (!failed) {
		finish()
	}
	exit failed
}
' >"$out.tmp" || { rm -f "$out.tmp"; exit 1; }
mv "$out.tmp" "$out"
