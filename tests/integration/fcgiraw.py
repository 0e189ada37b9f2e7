"""A tiny FastCGI client (the FastCGI 1.0 record format) for talking to
export.fcgi's socket directly, as a local user who can connect to it could:
without a web server in between, any CGI variables, bodies at any speed,
records cut anywhere.

  record(type, request_id, content)       one record (bytes)
  begin()                                 FCGI_BEGIN_REQUEST, responder role
  params(dict)                            the FCGI_PARAMS stream, terminated
  stdin(data)                             the FCGI_STDIN stream, terminated
  Conn(path)                              a connection: send(), answer()
"""

import re
import socket
import struct
import time

VERSION = 1
BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
RESPONDER = 1
REQUEST_ID = 1


def record(rtype, content=b"", request_id=REQUEST_ID):
    if len(content) > 0xFFFF:
        raise ValueError("a record holds at most 65535 bytes")
    pad = -len(content) % 8
    return struct.pack(">BBHHBx", VERSION, rtype, request_id, len(content), pad) + \
        content + b"\0" * pad


def begin(keep_conn=False):
    return record(BEGIN_REQUEST, struct.pack(">HB5x", RESPONDER, 1 if keep_conn else 0))


def _length(n):
    return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)


def params_content(env):
    out = b""
    for name, value in env.items():
        name, value = name.encode(), value.encode()
        out += _length(len(name)) + _length(len(value)) + name + value
    return out


def params(env):
    """The whole FCGI_PARAMS stream: one record of pairs, then the empty one."""
    return record(PARAMS, params_content(env)) + record(PARAMS)


def stdin(data):
    out = b""
    for i in range(0, len(data), 0xFFFF):
        out += record(STDIN, data[i:i + 0xFFFF])
    return out + record(STDIN)


def cgi_env(method, uri, headers=None, content_length=None):
    """The CGI variables a web server would send for this request."""
    env = {"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
           "REQUEST_URI": uri, "QUERY_STRING": uri.partition("?")[2],
           "SCRIPT_NAME": "", "PATH_INFO": uri.partition("?")[0],
           "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "127.0.0.1"}
    if method is not None:
        env["REQUEST_METHOD"] = method
    if content_length is not None:
        env["CONTENT_LENGTH"] = str(content_length)
    for name, value in (headers or {}).items():
        if name.lower() == "content-type":
            env["CONTENT_TYPE"] = value
        else:
            env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


class Answer:
    def __init__(self, status, headers, body, seconds):
        self.status, self.headers, self.body, self.seconds = status, headers, body, seconds

    def __repr__(self):
        return "Answer(%r, %r, %r, %.2fs)" % (self.status, self.headers, self.body[:300],
                                               self.seconds)


class Conn:
    """One connection to a FastCGI socket (a unix socket path)."""

    def __init__(self, path, timeout=10):
        self.t0 = time.monotonic()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def answer(self):
        """Read records until FCGI_END_REQUEST (or EOF); the parsed answer.
        Raises socket.timeout when the app says nothing for `timeout` s."""
        data = b""
        out = b""
        while True:
            while len(data) >= 8:
                _, rtype, _, clen, pad = struct.unpack(">BBHHBx", data[:8])
                if len(data) < 8 + clen + pad:
                    break
                content, data = data[8:8 + clen], data[8 + clen + pad:]
                if rtype == STDOUT:
                    out += content
                elif rtype == END_REQUEST:
                    return self._parse(out)
            chunk = self.sock.recv(65536)
            if not chunk:
                return self._parse(out)
            data += chunk

    def _parse(self, out):
        head, _, body = out.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        m = re.match(r"(\d{3})", headers.get("status", ""))
        return Answer(int(m.group(1)) if m else None, headers, body,
                      time.monotonic() - self.t0)


def request(path, method, uri, headers=None, body=b"", timeout=10):
    """One whole request at once; its Answer."""
    env = cgi_env(method, uri, headers, len(body) if body else None)
    with Conn(path, timeout) as c:
        c.send(begin() + params(env) + stdin(body))
        return c.answer()
