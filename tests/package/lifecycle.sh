#!/bin/sh
# lifecycle.sh DEB - install, remove, purge and install again the package,
# as root, checking what each step must leave: remove keeps the exports,
# the config and the exportd user; purge takes them away.  Prints
# "N passed, N failed"; the exit status is the verdict.  (CI runs it
# before the suites, which then use the installed package.)
set -u
deb=$1
pass=0 fail=0
check() { # check WHAT COMMAND...
	what=$1
	shift
	if "$@" >/dev/null 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "lifecycle: FAILED: $what" >&2
	fi
}
apt() { DEBIAN_FRONTEND=noninteractive apt-get "$@" -y -q >/dev/null 2>&1; }

apt purge exportd
apt install "$deb"
check "install: user exportd" getent passwd exportd
check "install: config 0640 root:exportd" \
	test "$(stat -c %a:%U:%G /etc/exportd/exportd.conf)" = 640:root:exportd
check "install: exports 2750 exportd:www-data" \
	test "$(stat -c %a:%U:%G /var/lib/exportd/exports)" = 2750:exportd:www-data
check "install: web-server snippets, nginx's log format" sh -c 'test -f /etc/apache2/conf-available/exportd.conf && test -f /etc/lighttpd/conf-available/50-exportd.conf && test -f /etc/nginx/snippets/exportd.conf && grep -q "log_format exportd_noquery" /etc/nginx/conf.d/exportd-log.conf'
check "install: no unit enabled" \
	sh -c '! ls /etc/systemd/system/*.wants/exportd.service /etc/systemd/system/*.wants/export-fcgi.socket'
check "install: exportd refuses the empty database.url" \
	sh -c 'setpriv --reuid=exportd --regid=exportd --init-groups -- /usr/sbin/exportd -t 2>&1 | grep -q "database.url: empty"'
touch /var/lib/exportd/exports/lifecycle-probe.csv
apt remove exportd
check "remove: exports kept" test -f /var/lib/exportd/exports/lifecycle-probe.csv
check "remove: config kept" test -f /etc/exportd/exportd.conf
check "remove: user kept" getent passwd exportd
check "remove: programs gone" test ! -e /usr/sbin/exportd
apt purge exportd
check "purge: exports gone" test ! -e /var/lib/exportd
check "purge: config gone" test ! -e /etc/exportd/exportd.conf
check "purge: user gone" sh -c '! getent passwd exportd'
check "purge: group gone" sh -c '! getent group exportd'
check "purge: snippets gone" sh -c 'test ! -e /etc/nginx/conf.d/exportd-log.conf && test ! -e /etc/apache2/conf-available/exportd.conf'
apt install "$deb"
check "reinstall: user again" getent passwd exportd
check "reinstall: exports dir again" test -d /var/lib/exportd/exports
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
