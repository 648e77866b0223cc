"""The subset of ClickHouse's HTTP interface that clickhouse-connect, Grafana's plugin and ``curl`` use.

``POST /`` (or ``GET /?query=...``) runs one statement on the served warehouse and returns
chDB's bytes in the format asked for (``FORMAT`` in the SQL, else ``default_format``,
else TabSeparated): Native, Arrow, JSON, CSV... pass through untouched. What is
understood, as a ClickHouse server does:

* the statement in the ``query`` parameter, the body, or both (``query`` first);
* ``INSERT ... FORMAT <fmt>`` followed by data (in the body after the statement, or the
  whole body when the statement is in ``query``), compressed or not (``Content-Encoding``
  gzip, deflate, lz4, zstd);
* ``param_<name>`` values bound server-side to ``{name:Type}`` placeholders;
* ``database``, ``default_format`` and any other parameter as a setting of that statement
  (``session_id``, ``query_id``, ``compress`` and other transport parameters are accepted
  and have no effect: every request stands alone);
* ``GET`` and ``readonly`` requests run on read-only connections (ClickHouse refuses changes
  on them); so does every request when the server runs ``--read-only``;
* errors as ClickHouse sends them: ``Code: N. DB::Exception: ...`` with the status code
  ClickHouse uses (400 bad SQL or values, 403 read-only, 404 unknown table...) and
  ``X-ClickHouse-Exception-Code``; the summary in ``X-ClickHouse-Summary``.

Also ``GET /ping`` -> ``Ok.``. Query ids, sessions with temporary tables and external data
are not supported.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tempfile
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from warehouse.serve.engine import Engine, Outcome, QueryError, quote
from warehouse.serve.native_revision import NativeTypeError, native_at_revision

router = APIRouter(include_in_schema=False)

TRANSPORT = frozenset({
    "query", "database", "default_format", "session_id", "session_timeout", "session_check", "query_id",
    "quota_key", "compress", "decompress", "enable_http_compression", "wait_end_of_query", "client_protocol_version",
    "user", "password", "buffer_size", "role", "send_progress_in_http_headers", "http_headers_progress_interval_ms",
    "http_native_compression_disable_checksumming_on_decompress", "readonly", "max_result_rows_before_limit",
})
INSERT_HEAD = re.compile(rb"^\s*(INSERT\s+INTO\s[^\n]*?)\bFORMAT\s+(\w+)[ \t]*(?:\r?\n|$)", re.IGNORECASE)
TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
RESULT_STATEMENTS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "(")
CONTENT_TYPES = {"JSON": "application/json", "JSONEachRow": "application/x-ndjson", "CSV": "text/csv",
                 "CSVWithNames": "text/csv", "TabSeparated": "text/tab-separated-values",
                 "TSV": "text/tab-separated-values", "Arrow": "application/vnd.apache.arrow.file",
                 "ArrowStream": "application/vnd.apache.arrow.stream"}
# ClickHouse's own mapping of exception codes to HTTP statuses (the codes met in practice).
STATUS_BY_CODE = {
    **dict.fromkeys((6, 25, 26, 27, 32, 33, 36, 38, 41, 42, 43, 44, 47, 50, 53, 56, 62, 63, 69, 70, 72, 73, 74, 115,
                     117, 321, 407, 456, 457, 472), 400),
    **dict.fromkeys((164, 497), 403),
    **dict.fromkeys((46, 60, 81), 404),
    **dict.fromkeys((159, 209), 408),
}


@dataclass(frozen=True)
class Statement:
    """One request, parsed: the SQL to run, the data file of an insert, its parameters and settings."""

    sql: str
    fmt: str
    params: dict[str, str]
    settings: dict[str, str]
    database: str
    writable: bool
    data: bytes | None = None


def parse_request(method: str, query: dict[str, str], body: bytes, *, read_only: bool) -> Statement:
    """Turn a ClickHouse HTTP request into a :class:`Statement`.

    >>> s = parse_request("POST", {"query": "INSERT INTO t FORMAT CSV", "max_threads": "2"}, b"1,a\\n", read_only=False)
    >>> s.sql, s.data, s.settings, s.writable
    ('INSERT INTO t ', b'1,a\\n', {'max_threads': '2'}, True)
    >>> parse_request("GET", {"query": "SELECT {x:UInt8}", "param_x": "1"}, b"", read_only=False).params
    {'x': '1'}
    """
    text = query.get("query", "")
    fmt = query.get("default_format", "TabSeparated")
    data = None
    head = INSERT_HEAD.match(text.encode() if text else body) if body else None
    if head:  # INSERT ... FORMAT f: its data is the body after the statement, or the whole body
        data = body if text else body[head.end():]
        text, fmt = head.group(1).decode(), head.group(2).decode()
    elif body:
        text = f"{text}\n{body.decode(errors='replace')}" if text else body.decode(errors="replace")
    params = {name[len("param_"):]: value for name, value in query.items() if name.startswith("param_")}
    settings = {name: value for name, value in query.items() if name not in TRANSPORT and not name.startswith("param_")}
    writable = method != "GET" and not read_only and query.get("readonly", "0") in ("", "0")
    return Statement(text, fmt, params, settings, query.get("database") or "default", writable, data)


def execute(engine: Engine, statement: Statement) -> tuple[Outcome, str | None]:
    """Run ``statement``; returns the outcome and the result format to report (None for a statement without
    a result)."""
    if statement.data is None:
        outcome = engine.run(statement.sql, fmt=statement.fmt, params=statement.params, settings=statement.settings,
                             database=statement.database, writable=statement.writable)
        return outcome, _result_format(statement, outcome)
    if not statement.writable:
        raise QueryError("Code: 164. DB::Exception: Cannot insert on a read-only request. (READONLY)")
    with tempfile.NamedTemporaryFile(suffix=".insert", delete=False) as file:
        file.write(statement.data)
    try:
        sql = f"{statement.sql}FROM INFILE {quote(file.name)} FORMAT {statement.fmt}"
        outcome = engine.run(sql, fmt="TabSeparated", params=statement.params, settings=statement.settings,
                             database=statement.database)
    finally:
        os.unlink(file.name)
    return outcome, None


def _result_format(statement: Statement, outcome: Outcome) -> str | None:
    named = TRAILING_FORMAT.search(statement.sql)
    fmt = named.group(1) if named else statement.fmt
    produces = outcome.body or statement.sql.lstrip().upper().startswith(RESULT_STATEMENTS)
    return fmt if produces else None


def _client_revision(params) -> int:
    """``client_protocol_version`` (clickhouse-go >= 2.37, Grafana's plugin: 54460), 0 when absent."""
    text = params.get("client_protocol_version", "") or "0"
    if not text.isdigit():
        raise QueryError(f"Code: 72. DB::Exception: client_protocol_version: {text!r} is not a number. "
                         f"(CANNOT_PARSE_NUMBER)")
    return int(text)


def decompress(body: bytes, encoding: str) -> bytes:
    """Undo ``Content-Encoding`` of a request body.

    >>> decompress(gzip.compress(b"x"), "gzip")
    b'x'
    >>> decompress(b"x", "br")
    Traceback (most recent call last):
    warehouse.serve.engine.QueryError: Code: 36. DB::Exception: Content-Encoding 'br' is not supported (gzip, deflate, lz4, zstd). (BAD_ARGUMENTS)
    """
    decoders: dict[str, Callable[[bytes], bytes]] = {"gzip": gzip.decompress, "deflate": zlib.decompress,
                                                      "lz4": _lz4, "zstd": _zstd}
    if encoding not in decoders:
        raise QueryError(f"Code: 36. DB::Exception: Content-Encoding {encoding!r} is not supported "
                         f"(gzip, deflate, lz4, zstd). (BAD_ARGUMENTS)")
    return decoders[encoding](body)


def _lz4(body: bytes) -> bytes:
    import lz4.frame  # a dependency of clickhouse-connect

    return lz4.frame.decompress(body)


def _zstd(body: bytes) -> bytes:
    import zstandard  # a dependency of clickhouse-connect

    return zstandard.ZstdDecompressor().decompressobj().decompress(body)


@router.get("/ping")
def ping() -> PlainTextResponse:
    """ClickHouse's health check."""
    return PlainTextResponse("Ok.\n")


@router.api_route("/", methods=["GET", "POST"])
async def clickhouse(request: Request) -> Response:
    """Run one statement as a ClickHouse server's HTTP interface does (see the module docstring)."""
    query_id = str(uuid.uuid4())
    headers = {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Timezone": request.app.state.timezone}
    try:
        body = await request.body()
        encoding = request.headers.get("content-encoding", "").strip().lower()
        if encoding and encoding != "identity":
            body = decompress(body, encoding)
        statement = parse_request(request.method, dict(request.query_params), body,
                                  read_only=request.app.state.read_only)
        if not statement.sql.strip():
            return PlainTextResponse("Ok.\n")
        outcome, fmt = await run_in_threadpool(execute, request.app.state.engine, statement)
        if fmt == "Native":  # as ClickHouse's HTTP handler: Native written for the client's protocol revision
            outcome.body = native_at_revision(outcome.body, _client_revision(request.query_params))
    except NativeTypeError as exc:
        headers["X-ClickHouse-Exception-Code"] = "48"
        return PlainTextResponse(f"Code: 48. DB::Exception: {exc}; ask for another format. (NOT_IMPLEMENTED)\n",
                                 status_code=501, headers=headers)
    except QueryError as exc:
        headers["X-ClickHouse-Exception-Code"] = str(exc.code)
        return PlainTextResponse(f"{exc}\n", status_code=STATUS_BY_CODE.get(exc.code, 500), headers=headers)
    written = statement.data is not None
    headers["X-ClickHouse-Summary"] = json.dumps({
        "read_rows": str(0 if written else outcome.read_rows), "read_bytes": str(0 if written else outcome.read_bytes),
        "written_rows": str(outcome.read_rows if written else 0),
        "written_bytes": str(outcome.read_bytes if written else 0), "elapsed_ns": str(outcome.elapsed_ns)})
    if fmt:
        headers["X-ClickHouse-Format"] = fmt
    return Response(outcome.body, headers=headers,
                    media_type=CONTENT_TYPES.get(fmt or "", "application/octet-stream"))
