"""The dashboard's calls to ``python -m warehouse serve`` (httpx): one method per endpoint, one-line errors.

Every failure is an :class:`ApiError` whose message is one line saying what to do: the server
does not answer, refused the token, or refused a value (the server's own ``detail``, which names
the field and value). Endpoints that may be absent (``/api/ingest`` without a consumer, the hot
path's ``/book`` and ``/state`` for a symbol not seen on the stream) answer ``None`` on 404.

>>> def serve(request: httpx.Request) -> httpx.Response:  # a stand-in for serve
...     if request.url.path == "/api/symbols":
...         return httpx.Response(200, json=[{"symbol": "AAPL", "trades": 3}])
...     return httpx.Response(404, json={"detail": "ingest: this serve runs no stream consumer"})
>>> with Api("http://127.0.0.1:8123", transport=httpx.MockTransport(serve)) as api:
...     api.symbols(), api.ingest()
([{'symbol': 'AAPL', 'trades': 3}], None)
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from warehouse.dashboard import DEFAULT_API

TIMEOUT_S = 30.0
BENCHMARK_TIMEOUT_S = 600.0


class ApiError(Exception):
    """A call to the API failed; the message is one line meant for the user."""


def check_url(url: str) -> str:
    """``url`` without a trailing slash if it is an http(s) URL with a host, else :class:`ApiError`.

    >>> check_url("http://127.0.0.1:8123/")
    'http://127.0.0.1:8123'
    >>> check_url("127.0.0.1:8123")
    Traceback (most recent call last):
    warehouse.dashboard.client.ApiError: api: '127.0.0.1:8123' is not an http(s) URL like http://127.0.0.1:8123
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(f"api: {url!r} is not an http(s) URL like {DEFAULT_API}")
    return url.rstrip("/")


class Api:
    """The API of the serve at ``url`` (``token``: sent as ``Authorization: Bearer``); close it or use ``with``."""

    def __init__(self, url: str = DEFAULT_API, *, token: str | None = None, timeout: float = TIMEOUT_S,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = check_url(url)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def link(self, path: str) -> str:
        """The absolute URL of a path the API gave (e.g. a report's ``/runs/.../report.html``).

        >>> Api("http://127.0.0.1:8123").link("/runs/api/1/report.html")
        'http://127.0.0.1:8123/runs/api/1/report.html'
        """
        return f"{self.url}{path}"

    # ---- status and data ----

    def status(self) -> dict[str, Any]:
        """Tables, the ingest consumer and the hot path's symbol count (``GET /api/status``)."""
        status = self._call("GET", "/api/status", missing_ok=True)
        if not isinstance(status, dict) or "tables" not in status:
            raise ApiError(f"api: {self.url} has no tickhouse /api/status; is it python -m warehouse serve's "
                           f"base URL (e.g. {DEFAULT_API})?")
        return status

    def symbols(self) -> list[dict[str, Any]]:
        """Symbols with trades, their counts and first/last trade (``GET /api/symbols``)."""
        return self._call("GET", "/api/symbols")

    def bars(self, symbol: str, start: datetime, end: datetime, interval: str) -> dict[str, Any]:
        """OHLCV bars in ``[start, end)``: ``{"rows", "cost", "data": [{ts, open, high, low, close, volume...}]}``."""
        return self._call("GET", "/api/bars", params={**_span(symbol, start, end), "interval": interval})

    def ticks(self, symbol: str, start: datetime, end: datetime, *, limit: int = 100_000) -> dict[str, Any]:
        """Trades in ``[start, end)`` (the first ``limit``; ``cost.truncated`` says if there were more)."""
        return self._call("GET", "/api/ticks", params={**_span(symbol, start, end), "limit": limit})

    def depth(self, symbol: str, at: datetime) -> dict[str, Any] | None:
        """The stored 5-level book in force at ``at`` (``data`` holds 0 or 1 row), None if the symbol has no quotes."""
        return self._call("GET", "/api/depth", params={"symbol": symbol, "at": at.isoformat()}, missing_ok=True)

    def rejects(self) -> list[dict[str, Any]]:
        """Refused rows counted by target, reason code and field (``GET /api/rejects``)."""
        return self._call("GET", "/api/rejects")

    def ingest(self) -> dict[str, Any] | None:
        """The consumer running inside serve (rate, lag, counts), or None when serve runs none."""
        return self._call("GET", "/api/ingest", missing_ok=True)

    # ---- hot path ----

    def book(self, symbol: str) -> dict[str, Any] | None:
        """The symbol's live 5-level book from the stream, or None (not on the stream, no quote yet)."""
        return self._call("GET", f"/book/{quote(symbol, safe='')}", missing_ok=True)

    def state(self, symbol: str) -> dict[str, Any] | None:
        """The symbol's last trade and rolling 1-minute high/low/volume from the stream, or None."""
        return self._call("GET", f"/state/{quote(symbol, safe='')}", missing_ok=True)

    def hot_symbols(self) -> list[dict[str, Any]]:
        """Every symbol of the hot path with its last trade and trade count (``GET /state``; empty without one)."""
        return (self._call("GET", "/state", missing_ok=True) or {}).get("symbols", [])

    # ---- benchmark, backtests, runs ----

    def benchmark(self) -> list[dict[str, str]]:
        """Every row of the server's ``benchmark.csv`` (values as text)."""
        return self._call("GET", "/api/benchmark")

    def run_benchmark(self, symbol: str, runs: int) -> list[dict[str, Any]]:
        """Read ``symbol``'s windows raw and from the rollup ``runs`` times each; the rows appended."""
        return self._call("POST", "/api/benchmark", json={"symbol": symbol, "runs": runs},
                          timeout=BENCHMARK_TIMEOUT_S)

    def start_backtest(self, strategy: str, overrides: list[str]) -> dict[str, Any]:
        """Start ``python -m backtest +strategy=...`` on the server; poll :meth:`backtest` with its ``id``."""
        return self._call("POST", "/api/backtests", json={"strategy": strategy, "overrides": overrides})

    def backtest(self, run_id: str) -> dict[str, Any]:
        """State, exit code, output tail and report link of a backtest started from the API."""
        return self._call("GET", f"/api/backtests/{quote(run_id, safe='')}")

    def runs(self) -> list[dict[str, Any]]:
        """Run folders with a report, newest first: ``folder``, ``report`` (a path), ``finished``, ``files``."""
        return self._call("GET", "/api/runs")

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
              timeout: float | None = None, missing_ok: bool = False) -> Any:
        try:
            answer = self._http.request(method, path, params=params, json=json,
                                        timeout=timeout if timeout is not None else self._http.timeout)
        except httpx.TimeoutException:
            raise ApiError(f"api: {self.url}{path} did not answer within the timeout") from None
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise ApiError(f"api: {self.url} does not answer ({reason}); is python -m warehouse serve "
                           f"running there?") from None
        if answer.status_code == 404 and missing_ok:
            return None
        if answer.status_code == 401:
            raise ApiError(f"api: {self.url} refused the token (401); pass serve's token with --token "
                           f"or $TICKHOUSE_TOKEN")
        if answer.is_error:
            raise ApiError(f"api: {method} {path}: {_detail(answer)} ({answer.status_code})")
        try:
            return answer.json()
        except ValueError:
            raise ApiError(f"api: {method} {path} answered {answer.headers.get('content-type')!r}, not JSON; "
                           f"is {self.url} a python -m warehouse serve?") from None


def _span(symbol: str, start: datetime, end: datetime) -> dict[str, str]:
    return {"symbol": symbol, "start": start.isoformat(), "end": end.isoformat()}


def _detail(answer: httpx.Response) -> str:
    """The server's one-line ``detail`` (FastAPI's errors), else the start of the body."""
    try:
        detail = answer.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):  # FastAPI's validation errors: [{"loc": [...], "msg": ...}]
        detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])[1:]))}: {d.get('msg')}" for d in detail)
    text = str(detail) if detail else (answer.text.strip() or answer.reason_phrase)
    return " ".join(text.split())[:300]
