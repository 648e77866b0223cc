"""HTTP routes of the hot path: ``GET /book/{symbol}``, ``GET /state/{symbol}``, ``GET /state``.

They read ``request.app.state.hot`` (a :class:`warehouse.serve.hot_state.HotState` fed by the stream
consumer) and answer JSON shaped as :meth:`HotState.book`, :meth:`HotState.state` and
:meth:`HotState.last_trades` document. The handlers are ``async``: a read holds the state's lock for
at most one writer chunk, so it runs on the event loop without a thread hop. An unknown symbol is
a 404, a window out of range a 422, each with a one-line ``detail`` naming the field and value.
:class:`ServerTiming` adds the time spent in the app to every response (``Server-Timing: app;dur=<ms>``).

>>> import fastapi
>>> from warehouse.serve.hot_state import HotState
>>> app = fastapi.FastAPI(); app.state.hot = HotState(); app.include_router(router); app.add_middleware(ServerTiming)
>>> sorted(route.path for route in router.routes)
['/book/{symbol}', '/state', '/state/{symbol}']
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from warehouse.errors import WarehouseError
from warehouse.serve.hot_state import HotState, iso_utc

router = APIRouter(tags=["hot path"])
_SHOWN = 10  # known symbols named in a 404


def _json(payload: object) -> Response:
    return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")


def _hot(request: Request) -> HotState:
    return request.app.state.hot


def _unknown(hot: HotState, symbol: str) -> HTTPException:
    known = hot.symbols()
    shown = ", ".join(known[:_SHOWN]) + (", ..." if len(known) > _SHOWN else "")
    return HTTPException(404, f"symbol: {symbol!r} is not in the hot state "
                              f"({len(known)} symbols: {shown or 'none yet'})")


def _example(text: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": json.loads(text)}}},
            404: {"description": "unknown symbol (or no quote yet, for the book)"}}


@router.get("/book/{symbol}", responses=_example(
    '{"symbol":"AAPL","ts":"2024-01-02T14:30:00.250000Z","ts_ns":1704205800250000000,'
    '"bids":[{"price":185.1,"qty":300.0,"orders":2}],"asks":[{"price":185.12,"qty":200.0,"orders":1}],'
    '"oi":null,"quotes":1}'))
async def book(symbol: str, request: Request) -> Response:
    """The symbol's latest 5-level book from the stream (best level first)."""
    hot = _hot(request)
    answer = hot.book(symbol)
    if answer is None:
        if symbol in hot:
            raise HTTPException(404, f"symbol: {symbol!r} has no quote yet")
        raise _unknown(hot, symbol)
    return _json(answer)


@router.get("/state/{symbol}", responses={**_example(
    '{"symbol":"AAPL","clock":"2024-01-02T14:31:01.000000Z","last_trade":{"ts":"2024-01-02T14:31:01.000000Z",'
    '"ts_ns":1704205861000000000,"price":185.5,"size":10.0,"side":"buy"},"trades":3,"window":{"seconds":60,'
    '"start":"2024-01-02T14:30:02.000000Z","end":"2024-01-02T14:31:02.000000Z","high":186.5,"low":185.5,'
    '"volume":60.0,"trades":2},"book":null,"oi":null,'
    '"skipped":{"redeliveries":0,"corrections":0,"late":0,"stale_quotes":0}}'),
    422: {"description": "window_s out of range"}})
async def state(symbol: str, request: Request, window_s: int = 60) -> Response:
    """The symbol's last trade, high / low / volume / trades over the last ``window_s`` seconds of the
    stream clock, top of book and OI."""
    hot = _hot(request)
    try:
        answer = hot.state(symbol, window_s=window_s)
    except WarehouseError as exc:
        raise HTTPException(422, str(exc)) from None
    if answer is None:
        raise _unknown(hot, symbol)
    return _json(answer)


@router.get("/state", responses={200: {"content": {"application/json": {"example": json.loads(
    '{"clock":"2024-01-02T14:31:01.000000Z","symbols":[{"symbol":"AAPL","last_trade":{"ts":'
    '"2024-01-02T14:31:01.000000Z","ts_ns":1704205861000000000,"price":185.5,"size":10.0,"side":"buy"},'
    '"trades":3}]}')}}}})
async def states(request: Request) -> Response:
    """Every symbol of the hot state with its last trade and trade count."""
    hot = _hot(request)
    clock = hot.clock_ns()
    return _json({"clock": None if clock is None else iso_utc(clock), "symbols": hot.last_trades()})


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class ServerTiming:
    """ASGI middleware: ``Server-Timing: app;dur=<ms>`` on every HTTP response, the time from the request
    reaching the app to its response headers (``app.add_middleware(ServerTiming)``)."""

    def __init__(self, app: Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                                     Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                message["headers"] = [*message.get("headers", ()), (b"server-timing", f"app;dur={ms:.4f}".encode())]
            await send(message)

        await self.app(scope, receive, timed)
