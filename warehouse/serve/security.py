"""Who may reach ``serve``: loopback by default, a token for anything else.

``serve`` binds 127.0.0.1 unless told otherwise; binding another address needs a token
(``--token`` or ``$TICKHOUSE_TOKEN``), and with a token every request must carry it, in
any of the ways ClickHouse clients send a password: ``Authorization: Bearer <token>``,
HTTP Basic with the token as password (``http://user:<token>@host:port`` in a DSN), the
``X-ClickHouse-Key`` header or a ``password`` query parameter.

>>> check_bind("127.0.0.1", None)
>>> check_bind("0.0.0.0", None)
Traceback (most recent call last):
warehouse.errors.WarehouseError: host: '0.0.0.0' is not a loopback address, which needs a token (--token or $TICKHOUSE_TOKEN)
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from warehouse.errors import WarehouseError

TOKEN_ENV = "TICKHOUSE_TOKEN"
MIN_TOKEN_LENGTH = 16

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost.

    >>> is_loopback("localhost"), is_loopback("::1"), is_loopback("192.168.1.2")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback address without a token, and a token too short to be one."""
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise WarehouseError(f"token: {len(token)} characters is too short; use at least {MIN_TOKEN_LENGTH} "
                             f"(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')")
    if not is_loopback(host) and not token:
        raise WarehouseError(f"host: {host!r} is not a loopback address, which needs a token "
                             f"(--token or ${TOKEN_ENV})")


def check_port_free(host: str, port: int, *, what: str) -> None:
    """A one-line error when ``host:port`` cannot be bound (``what`` names the service that may hold it).

    >>> check_port_free("127.0.0.1", 70000, what="serve")
    Traceback (most recent call last):
    warehouse.errors.WarehouseError: port: 70000 is not a TCP port (1-65535)
    """
    if not 0 < port < 65536:
        raise WarehouseError(f"port: {port!r} is not a TCP port (1-65535)")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise WarehouseError(f"port: cannot listen on {host}:{port} ({exc.strerror}); "
                                 f"is {what} already running? pass --port") from None


def presented(headers: dict[bytes, bytes], query_string: bytes) -> str | None:
    """The token (or password) a request carries, if any.

    >>> presented({b"authorization": b"Basic " + base64.b64encode(b"default:s3cret")}, b"")
    's3cret'
    >>> presented({}, b"query=SELECT+1&password=abc")
    'abc'
    """
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.startswith("Bearer "):
        return auth[len("Bearer "):].strip()
    if auth.startswith("Basic "):
        try:
            return base64.b64decode(auth[len("Basic "):]).decode().partition(":")[2]
        except ValueError:
            return None
    if b"x-clickhouse-key" in headers:
        return headers[b"x-clickhouse-key"].decode("latin-1")
    passwords = parse_qs(query_string.decode("latin-1")).get("password")
    return passwords[0] if passwords else None


class TokenGate:
    """ASGI middleware: with a token set, a request without it gets 401 (ClickHouse's code 516), before any
    handler runs; without a token (loopback only) it passes everything."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = presented(dict(scope.get("headers", [])), scope.get("query_string", b""))
        if given is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": "token: missing or wrong (send it as a Bearer token or the password)"}).encode()
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"x-clickhouse-exception-code", b"516"),
            (b"www-authenticate", b'Basic realm="tickhouse"')]})
        await send({"type": "http.response.body", "body": body})
