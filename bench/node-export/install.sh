#!/bin/sh
# Install pg, pg-query-stream and csv-stringify (the Node.js reference of
# scripts/bench, bench/node-export/export.js) into bench/node-export/node_modules,
# exactly as pinned by bench/node-export/package-lock.json.
#
# Idempotent and fast when already done: `npm ci` runs only when
# node_modules is missing or was installed from another package-lock.json
# (a copy of the lockfile it was installed from is kept as a stamp).
# Needs the Debian packages nodejs and npm (and the npm registry).
set -eu
cd "$(dirname "$0")"

stamp=node_modules/.exportd-installed-lock.json
if [ -f node_modules/pg-query-stream/package.json ] && [ -f "$stamp" ] &&
	cmp -s package-lock.json "$stamp"; then
	exit 0
fi
for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench/node-export/install.sh: $tool not found: install the Debian packages nodejs and npm" >&2
		exit 1
	fi
done
echo "bench/node-export/install.sh: npm ci (pg, pg-query-stream, csv-stringify) in $(pwd)" >&2
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
