"""What Grafana and its official ClickHouse plugin (grafana-clickhouse-datasource) do with a panel's SQL.

No Grafana here (no network): these helpers do the plugin's part in Python, from its sources.

* :func:`interpolate` -- the plugin's front end (``CHDatasource.applyTemplateVariables``): template
  variables through Grafana's template service with the plugin's formatter (a single value as is, a
  multi-value list as ``'a','b'``).
* :func:`expand_macros` -- the plugin's back end (``pkg/macros/macros.go`` through sqlds / the SDK's
  ``sqlutil.Interpolate``): ``$__name`` (word boundary), an optional balanced ``(...)`` argument list
  split on commas and trimmed; every macro the plugin defines, with its output text.
* :func:`panel_range` / :func:`panel_interval` -- the time range and ``$__interval`` Grafana gives a
  panel (a relative ``timeFrom`` override; the range over max data points, rounded to a nice step, at
  least the panel's ``interval``).
* :func:`plugin_post` -- the HTTP request the plugin's driver (clickhouse-go v2.43, protocol ``http``)
  sends: ``POST /?default_format=Native&client_protocol_version=54460&max_execution_time=65``, the SQL
  as the body, ``Accept-Encoding: gzip``, the user and password as HTTP Basic credentials.
* :func:`read_native` -- a reader of ClickHouse's Native format at a protocol revision, as clickhouse-go
  decodes it (revision > 0: block info before each block; >= 54454: a custom-serialization byte after
  each column's type).
"""

from __future__ import annotations

import json
import re
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "docs" / "grafana"
DASHBOARD = GRAFANA / "tickhouse.json"
DATASOURCE_YAML = GRAFANA / "provisioning" / "datasources" / "tickhouse.yaml"
DASHBOARDS_YAML = GRAFANA / "provisioning" / "dashboards" / "tickhouse.yaml"
PLUGIN_TYPE = "grafana-clickhouse-datasource"
PLUGIN_PROTOCOL_VERSION = 54460  # clickhouse-go v2.43's DBMS_TCP_PROTOCOL_VERSION, sent as client_protocol_version
CUSTOM_SERIALIZATION_REVISION = 54454
QUERY_TIMEOUT_S = 60  # the plugin's default queryTimeout; clickhouse-go adds 5 s for max_execution_time


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    return json.loads(path.read_text())


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel but rows, including those nested in collapsed rows."""
    found = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def interpolate(sql: str, values: dict[str, str | list[str]]) -> str:
    """Grafana's ``$name``, ``${name}``, ``${name:raw}`` and ``[[name]]`` with the plugin's formatter; an unknown
    variable stays as written (as Grafana leaves it).

    >>> interpolate("symbol = '${symbol}' AND s IN (${many})", {"symbol": "AAPL", "many": ["A", "B"]})
    "symbol = 'AAPL' AND s IN ('A','B')"
    """
    def value(name: str, whole: str) -> str:
        if name not in values:
            return whole
        given = values[name]
        return "'" + "','".join(given) + "'" if isinstance(given, list) else given

    pattern = re.compile(r"\$(\w+)|\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]")
    return pattern.sub(lambda m: value(m.group(1) or m.group(2) or m.group(3), m.group(0)), sql)


def _to_datetime(t: datetime) -> str:
    return f"toDateTime({int(t.timestamp())})"


def _to_datetime64(t: datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(t.timestamp() * 1000)})"


def _to_date(t: datetime) -> str:
    return f"toDate('{t.astimezone(timezone.utc):%Y-%m-%d}')"


def _macro(name: str, args: list[str], start: datetime, end: datetime, interval_s: float) -> str:
    """One macro's text, as pkg/macros/macros.go writes it."""
    def need(n: int) -> None:
        if len(args) != n:
            raise ValueError(f"$__{name}: expected {n} argument(s), received {len(args)}")

    if name == "fromTime":
        return _to_datetime(start)
    if name == "toTime":
        return _to_datetime(end)
    if name == "fromTime_ms":
        return _to_datetime64(start)
    if name == "toTime_ms":
        return _to_datetime64(end)
    if name in ("timeFilter", "timeFilter_ms", "dateFilter"):
        need(1)
        show = {"timeFilter": _to_datetime, "timeFilter_ms": _to_datetime64, "dateFilter": _to_date}[name]
        return f"{args[0]} >= {show(start)} AND {args[0]} <= {show(end)}"
    if name in ("dateTimeFilter", "dt"):
        need(2)
        return (f"({args[0]} >= {_to_date(start)} AND {args[0]} <= {_to_date(end)}) AND "
                f"({args[1]} >= {_to_datetime(start)} AND {args[1]} <= {_to_datetime(end)})")
    if name == "timeInterval":
        need(1)
        return f"toStartOfInterval(toDateTime({args[0]}), INTERVAL {int(max(interval_s, 1))} second)"
    if name == "timeInterval_ms":
        need(1)
        return f"toStartOfInterval(toDateTime64({args[0]}, 3), INTERVAL {int(max(interval_s * 1000, 1))} millisecond)"
    if name == "interval_s":
        return str(int(max(interval_s, 1)))
    raise ValueError(f"$__{name}: not a macro of the ClickHouse plugin")


def expand_macros(sql: str, *, start: datetime, end: datetime, interval_s: float) -> str:
    """Replace the plugin's macros; an unknown ``$__name`` or an unbalanced argument list is an error.

    >>> t0, t1 = datetime(2024, 1, 2, tzinfo=timezone.utc), datetime(2024, 1, 3, tzinfo=timezone.utc)
    >>> expand_macros("SELECT $__timeInterval(ts) AS t WHERE $__timeFilter(ts)", start=t0, end=t1, interval_s=60)
    ... # doctest: +NORMALIZE_WHITESPACE
    'SELECT toStartOfInterval(toDateTime(ts), INTERVAL 60 second) AS t
     WHERE ts >= toDateTime(1704153600) AND ts <= toDateTime(1704240000)'
    """
    out, pos = [], 0
    for found in re.finditer(r"\$__(\w+)\b", sql):
        if found.start() < pos:
            continue
        out.append(sql[pos:found.start()])
        end_at, args = found.end(), []
        if sql[end_at:end_at + 1] == "(":
            depth, i = 0, end_at
            while i < len(sql):
                depth += {"(": 1, ")": -1}.get(sql[i], 0)
                if depth == 0:
                    break
                i += 1
            if depth:
                raise ValueError(f"$__{found.group(1)}: missing close bracket")
            args = [a.strip() for a in sql[end_at + 1:i].split(",")]
            end_at = i + 1
        out.append(_macro(found.group(1), args, start, end, interval_s))
        pos = end_at
    return "".join(out) + sql[pos:]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NICE_MS = ((15, 10), (35, 20), (75, 50), (150, 100), (250, 200), (350, 300), (450, 400), (750, 500), (1500, 1000),
            (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000),
            (90000, 60000), (210000, 120000), (450000, 300000), (1050000, 600000), (2100000, 1200000),
            (2700000, 1800000), (5400000, 3600000), (9000000, 7200000), (16200000, 10800000),
            (32400000, 21600000), (86400000, 43200000), (604800000, 86400000), (1814400000, 604800000))


def _seconds(text: str) -> float:
    found = re.fullmatch(r"(\d+)([smhdw])", text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a Grafana duration such as 1m or 24h")
    return int(found.group(1)) * _UNITS[found.group(2)]


def panel_range(panel: dict[str, Any], start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The range Grafana queries a panel over: its ``timeFrom`` (now - timeFrom, to now) overrides the dashboard's."""
    if panel.get("timeFrom"):
        return now - timedelta(seconds=_seconds(panel["timeFrom"])), now
    return start, end


def panel_interval(panel: dict[str, Any], start: datetime, end: datetime, max_data_points: int = 1000) -> float:
    """``$__interval`` in seconds: the range over the data points, rounded up to a nice step, at least the
    panel's minimum ``interval``."""
    raw_ms = (end - start).total_seconds() * 1000 / max_data_points
    nice = next((step for bound, step in _NICE_MS if raw_ms < bound), 2592000000)
    minimum = _seconds(panel["interval"]) if panel.get("interval") else 0
    return max(nice / 1000, minimum)


def plugin_post(url: str, sql: str, *, username: str = "default", password: str = "") -> httpx.Response:
    """One query as the plugin's driver sends it over HTTP (clickhouse-go v2.43, GZIP compression for HTTP)."""
    params = {"default_format": "Native", "client_protocol_version": str(PLUGIN_PROTOCOL_VERSION),
              "max_execution_time": str(QUERY_TIMEOUT_S + 5)}
    headers = {"Accept-Encoding": "gzip", "User-Agent": "clickhouse-go/2.43.0 (lv:go/1.26; os:linux) "
                                                        "grafana/12.0.0 clickhouse-datasource/4.11.0"}
    auth = httpx.BasicAuth(username, password) if username else None
    return httpx.post(url.rstrip("/") + "/", params=params, content=sql.encode(), headers=headers, auth=auth,
                      timeout=QUERY_TIMEOUT_S)


class NativeError(ValueError):
    """Bytes that are not Native at the revision they were read with."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise NativeError(f"truncated: wanted {n} bytes at {self.pos} of {len(self.data)}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def varint(self) -> int:
        shift = value = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
            if shift > 63:
                raise NativeError("varint longer than 10 bytes")

    def string(self) -> str:
        return self.take(self.varint()).decode()

    def unpack(self, fmt: str, n: int) -> list[Any]:
        size = struct.calcsize("<" + fmt)
        return list(struct.unpack(f"<{n}{fmt}", self.take(size * n))) if n else []


_FIXED = {"UInt8": "B", "UInt16": "H", "UInt32": "I", "UInt64": "Q", "Int8": "b", "Int16": "h", "Int32": "i",
          "Int64": "q", "Float32": "f", "Float64": "d", "Bool": "?"}


def _column(reader: _Reader, kind: str, rows: int) -> list[Any]:
    if kind in _FIXED:
        return reader.unpack(_FIXED[kind], rows)
    if kind == "String":
        return [reader.string() for _ in range(rows)]
    if kind == "DateTime" or kind.startswith("DateTime("):
        return [datetime.fromtimestamp(v, timezone.utc) for v in reader.unpack("I", rows)]
    if kind.startswith("DateTime64("):
        scale = 10 ** int(kind[len("DateTime64("):].split(",")[0].rstrip(")"))
        return [datetime.fromtimestamp(v / scale, timezone.utc) for v in reader.unpack("q", rows)]
    if kind.startswith("Nullable("):
        nulls = reader.unpack("B", rows)
        values = _column(reader, kind[len("Nullable("):-1], rows)
        return [None if null else value for null, value in zip(nulls, values)]
    if kind.startswith("LowCardinality("):
        inner = kind[len("LowCardinality("):-1]
        if reader.unpack("Q", 1)[0] != 1:
            raise NativeError("LowCardinality: unknown keys serialization version")
        flags = reader.unpack("Q", 1)[0]
        keys = _column(reader, inner.removeprefix("Nullable(").removesuffix(")") if inner.startswith("Nullable(")
                       else inner, reader.unpack("Q", 1)[0])
        indexes = reader.unpack("BHIQ"[flags & 0xFF], reader.unpack("Q", 1)[0])
        return [None if inner.startswith("Nullable(") and i == 0 else keys[i] for i in indexes]
    raise NativeError(f"type {kind!r} is not read by this test reader")


def read_native(body: bytes, revision: int) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
    """Column names, types and rows of a Native stream read at ``revision`` (0: plain Native, as clickhouse-connect
    asks for it; the plugin's driver reads at its protocol revision)."""
    reader, names, types, rows = _Reader(body), [], [], []
    while reader.pos < len(body):
        if revision > 0:  # BlockInfo: field 1 is_overflows (bool), field 2 bucket_num (Int32), 0 ends it
            if reader.varint() != 1:
                raise NativeError("block info: field 1 (is_overflows) expected")
            reader.take(1)
            if reader.varint() != 2:
                raise NativeError("block info: field 2 (bucket_num) expected")
            reader.take(4)
            if reader.varint() != 0:
                raise NativeError("block info: end marker expected")
        n_columns, n_rows = reader.varint(), reader.varint()
        if n_rows > 1_000_000_000:
            raise NativeError("more than 1 billion rows in a block")
        block_names, block_types, columns = [], [], []
        for _ in range(n_columns):
            block_names.append(reader.string())
            block_types.append(reader.string())
            if revision >= CUSTOM_SERIALIZATION_REVISION and reader.take(1) != b"\x00":
                raise NativeError(f"column {block_names[-1]}: custom serialization")
            columns.append(_column(reader, block_types[-1], n_rows) if n_rows else [])
        if names and (block_names, block_types) != (names, types):
            raise NativeError("blocks disagree on columns")
        names, types = block_names, block_types
        rows.extend(zip(*columns))
    return names, types, rows
