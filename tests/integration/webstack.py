"""The example host application for the browser tests (tests/integration/
test_web.py, test_browser.py): examples/php/index.php run by Debian's php-cgi
under a lighttpd of its own (examples/php/lighttpd.conf), on the same origin
as the API, which it reaches through the session stack's export.fcgi socket.
The page mints its embed token with stack.EMBED_SECRET, as a host
application's server code would.

Kept free of pytest fixtures, like stack.py.
"""

import os
from pathlib import Path

import stack as S


class HostPage:
    """lighttpd + php-cgi serving examples/php on a free port; .url is the page."""

    def __init__(self, stack, root):
        self.stack = stack
        self.run_dir = Path(root)
        self.service = None
        self.port = None
        self.url = None
        self.timings = {}

    def env(self, port):
        return S.clean_env(HTTPD_PORT=port, HTTPD_FCGI_SOCKET=self.stack.fcgi_socket,
                           HTTPD_STORAGE_DIR=self.stack.storage_dir, HTTPD_RUN_DIR=self.run_dir,
                           HTTPD_DOCROOT=S.SRCDIR / "examples/php",
                           HTTPD_EMBED_SECRET=S.EMBED_SECRET, HTTPD_EXAMPLE_WORKSPACE="acme",
                           HTTPD_EXAMPLE_TESTING="1")

    def start(self):
        lighttpd = S.which("lighttpd", "apt-get install lighttpd")
        S.which("php-cgi", "apt-get install php-cgi")
        conf = S.SRCDIR / "examples/php/lighttpd.conf"
        self.run_dir.mkdir(mode=0o755)
        S.LOGS["host page lighttpd error log"] = self.run_dir / "lighttpd-error.log"
        S.run([lighttpd, "-tt", "-f", str(conf)], "lighttpd -tt (examples/php)",
              env=self.env(S.free_port()))

        def make(port):
            return S.Service("host page lighttpd stderr", [lighttpd, "-D", "-f", conf],
                             self.run_dir / "lighttpd.stderr", env=self.env(port))

        self.service, self.port = S.start_on_free_port(
            make, "lighttpd (examples/php)",
            ["host page lighttpd stderr", "host page lighttpd error log"])
        self.url = "http://127.0.0.1:%d/" % self.port
        S.wait_http_ok(self.url, 20, check=lambda: self.service.check_alive(),
                       what="GET / (examples/php/index.php) through lighttpd")
        return self

    def stop(self):
        if self.service is not None:
            self.service.stop()
        for name in ("host page lighttpd error log", "host page lighttpd stderr"):
            S.LOGS.pop(name, None)
        return []
