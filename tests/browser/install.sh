#!/bin/sh
# Install playwright-core and axe-core (the browser tests) into
# tests/browser/node_modules, exactly as pinned by tests/browser/package-lock.json.
#
# Idempotent and fast when already done: `npm ci` runs only when
# node_modules is missing or was installed from another package-lock.json
# (a copy of the lockfile it was installed from is kept as a stamp).
# Needs the Debian packages nodejs and npm (and the npm registry).
set -eu
cd "$(dirname "$0")"

stamp=node_modules/.exportd-installed-lock.json
if [ -f node_modules/playwright-core/package.json ] && [ -f "$stamp" ] &&
	cmp -s package-lock.json "$stamp"; then
	exit 0
fi
for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "tests/browser/install.sh: $tool not found: install the Debian packages nodejs and npm" >&2
		exit 1
	fi
done
echo "tests/browser/install.sh: npm ci (playwright-core, axe-core) in $(pwd)" >&2
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"
