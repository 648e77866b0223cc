"""A socket to Redis that the Redis consumer opens and reads itself: raw reply bytes into its own buffer.

redis-py parses every reply into Python objects (a list per stream entry) and has no
public API for reading a reply's raw bytes, which the consumer's fast path needs (one
receive buffer, parsed by :func:`warehouse.stream.resp_kernels.resp_entries_nb`). So
the consumer opens this plain socket (Python's ``socket``/``ssl``) from the same URL
redis-py connects to, and speaks RESP2 on it: commands out (:meth:`RedisSocket.send`),
bytes in (:meth:`RedisSocket.recv_into`). redis-py keeps every other connection.

URLs: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS; add
``?ssl_cert_reqs=none`` to skip certificate checks), ``unix:///path/redis.sock``;
``?db=N`` and ``?password=...`` as redis-py reads them.

>>> RedisSocket.pack("XACK", "s", b"1-0", 7)
b'*4\\r\\n$4\\r\\nXACK\\r\\n$1\\r\\ns\\r\\n$3\\r\\n1-0\\r\\n$1\\r\\n7\\r\\n'
>>> RedisSocket.address("redis://u:p%40ss@example.org:6380/2")
('tcp', 'example.org', 6380, 'u', 'p@ss', 2, False)
>>> RedisSocket.address("unix:///run/redis.sock?db=1")
('unix', '/run/redis.sock', 0, None, None, 1, False)
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis
import redis


class RedisSocket:
    """One connection to Redis, opened (again) on the first :meth:`send` after :meth:`close`.

    Errors are redis-py's: ``redis.ConnectionError`` (lost, closed, unreachable) and
    ``redis.ResponseError`` (Redis refused AUTH or SELECT).
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url, self.timeout = url, timeout
        self.sock: socket.socket | None = None
        self._connect()

    @staticmethod
    def address(url: str) -> tuple[str, str, int, str | None, str | None, int, bool]:
        """``(kind, host or path, port, user, password, db, tls)`` of a Redis URL; ValueError if it is none."""
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else query.get("password")
        if parts.scheme in ("redis", "rediss"):
            path_db = parts.path.lstrip("/")
            db = int(query.get("db") or path_db or 0)
            return "tcp", parts.hostname or "localhost", parts.port or 6379, user, password, db, parts.scheme == "rediss"
        if parts.scheme == "unix":
            return "unix", unquote(parts.path), 0, user, password, int(query.get("db") or 0), False
        raise ValueError(f"Redis URL must start with redis://, rediss:// or unix://, not {url!r}")

    def _connect(self) -> None:
        kind, host, port, user, password, db, tls = self.address(self.url)
        try:
            if kind == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                sock.connect(host)
            else:
                sock = socket.create_connection((host, port), self.timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if tls:
                    context = ssl.create_default_context()
                    if parse_qs(urlsplit(self.url).query).get("ssl_cert_reqs", [""])[-1].lower() == "none":
                        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                    sock = context.wrap_socket(sock, server_hostname=host)
        except OSError as exc:
            raise redis.ConnectionError(f"cannot connect to Redis at {self.url!r} ({exc})") from None
        self.sock = sock
        try:
            if password is not None:
                self.call("AUTH", *((user,) if user else ()), password)
            if db:
                self.call("SELECT", db)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def pack(*args: str | bytes | int) -> bytes:
        """A command as RESP: an array of bulk strings."""
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(out)

    def send(self, *args: str | bytes | int) -> None:
        """Send one command (its reply is read with :meth:`recv_into` or :meth:`call`)."""
        if self.sock is None:
            self._connect()
        try:
            self.sock.sendall(self.pack(*args))
        except OSError as exc:
            self.close()
            raise redis.ConnectionError(f"lost the connection to Redis ({exc})") from None

    def recv_into(self, view: memoryview) -> int:
        """Receive bytes into ``view``; the count, at least 1 (raises when the connection is gone)."""
        if self.sock is None:
            raise redis.ConnectionError("connection to Redis lost")
        try:
            got = self.sock.recv_into(view)
        except OSError as exc:
            self.close()
            raise redis.ConnectionError(f"lost the connection to Redis ({exc})") from None
        if not got:
            self.close()
            raise redis.ConnectionError("Redis closed the connection")
        return got

    def call(self, *args: str | bytes | int) -> object:
        """Send a command and return its reply, parsed by hiredis (``redis.ResponseError`` for an error reply)."""
        self.send(*args)
        return self.read_reply(b"")

    def read_reply(self, start: bytes) -> object:
        """The rest of a reply whose first bytes ``start`` were received already, parsed by hiredis."""
        reader = hiredis.Reader()
        reader.feed(start)
        reply = reader.gets()
        buffer = bytearray(1 << 20)
        while reply is False:
            got = self.recv_into(memoryview(buffer))
            reader.feed(buffer, 0, got)
            reply = reader.gets()
        if isinstance(reply, hiredis.ReplyError):
            raise redis.ResponseError(str(reply))
        return reply

    def close(self) -> None:
        """Close the socket (the next :meth:`send` connects again)."""
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
