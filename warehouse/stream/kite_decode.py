"""Kite messages (:mod:`warehouse.stream.kite`) -> trades, quotes and rejects, enriched from ``instruments``.

Each full-mode tick becomes:

* a **quote** at ``exchange_timestamp``: 5 levels of bid (``depth.buy``) and ask (``depth.sell``)
  price, quantity and orders, ``total_buy_quantity`` / ``total_sell_quantity``, last price and
  quantity, ``oi`` with its day high and low. An exact redelivery is one quote (its content
  hash is its ``seq``); validation is the quote loader's (levels in order, no negative sizes);
* a **trade** when ``volume_traded`` grew since the instrument's previous tick of that IST day (Kite starts it
  again at 0 each day): at
  ``last_trade_time``, ``last_price`` x ``last_traded_quantity``, side from where it printed
  against the book (at or above the ask: buy; at or below the bid: sell), and ``volume_traded`` as
  its ``trade_id`` (the cumulative volume names one trade of the day), so a redelivered tick,
  or the first tick after a restart, is the same trade and is stored once.

The instrument token is the only name a Kite tick carries; the symbol comes from the warehouse's
``instruments`` (``python -m warehouse load-instruments``), looked up once per batch for the
tokens not seen before. A token it does not know, a tick that is not full mode (no depth), or
a message that is not a JSON object is a reject with its code, the offending value, the raw
message and its stream position; nothing is stored half-enriched.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from warehouse.ingest.enrich import token_symbols
from warehouse.ingest.quote_check import QUOTES_SCHEMA, clean_quotes
from warehouse.ingest.validate import REJECTS_SCHEMA, TICKS_SCHEMA, clean_ticks, rejects_table
from warehouse.schema.quotes_ddl import LEVELS

_TS = pa.timestamp("us", tz="UTC")
_IST_SECONDS = 19_800  # Kite's exchanges keep Indian time: a trading day is an IST date


@dataclass(frozen=True)
class KiteBatch:
    """What one batch of Kite messages holds: trades, quotes and rejected messages."""

    ticks: pa.Table  # TICKS_SCHEMA
    quotes: pa.Table  # QUOTES_SCHEMA
    rejects: pa.Table  # REJECTS_SCHEMA


class KiteDecoder:
    """Decodes batches of Kite messages for one consumer; remembers token symbols and each token's volume."""

    def __init__(self, client: Client, *, source: str) -> None:
        self.client = client
        self.source = source
        self.symbols: dict[int, str] = {}
        self.volume: dict[int, tuple[int, int]] = {}  # token -> (IST day, volume_traded) of its latest trade

    def parse(self, payloads: Sequence[bytes], positions: Sequence[str]) -> KiteBatch:
        """Decode, enrich and validate one batch (``positions[i]`` names message ``i`` for its reject).

        >>> from warehouse.client import connect
        >>> from warehouse.schema.migrate import migrate
        >>> client = connect(); _ = migrate(client)
        >>> batch = KiteDecoder(client, source="doc").parse([b'{"instrument_token": 1, "mode": "full"}', b'x'],
        ...                                                ["s/1", "s/2"])
        >>> [(r["position"], r["code"], r["field"], r["value"]) for r in batch.rejects.to_pylist()]
        [('s/1', 'unknown_token', 'instrument_token', '1'), ('s/2', 'malformed', 'json', 'not valid JSON')]
        """
        frame, rejects = _read(payloads)
        self._learn(set(frame["instrument_token"].unique().to_list()) - self.symbols.keys())
        known = pl.DataFrame({"instrument_token": list(self.symbols), "symbol": list(self.symbols.values())},
                             schema={"instrument_token": pl.Int64, "symbol": pl.String})
        frame = frame.join(known, on="instrument_token", how="left", maintain_order="left")
        unknown = frame.filter(pl.col("symbol").is_null())
        rejects += [(i, "unknown_token", "instrument_token", str(token), "instrument_token: not in instruments "
                     "(load-instruments)") for i, token in unknown.select("_msg", "instrument_token").iter_rows()]
        frame = frame.filter(pl.col("symbol").is_not_null())
        no_depth = frame.filter((pl.col("mode") != "full").fill_null(True) | pl.col("depth").is_null())
        rejects += [(i, "not_full_mode", "mode", str(mode), "mode: a tick without market depth (subscribe in full "
                     "mode)") for i, mode in no_depth.select("_msg", "mode").iter_rows()]
        frame = frame.filter((pl.col("mode") == "full").fill_null(False) & pl.col("depth").is_not_null())
        quotes = self._validated(clean_quotes, _quote_columns(frame), rejects)
        ticks = self._validated(clean_ticks, self._trades(frame), rejects)
        return KiteBatch(ticks.ticks if ticks else TICKS_SCHEMA.empty_table(),
                         quotes.quotes if quotes else QUOTES_SCHEMA.empty_table(),
                         _rejects_table(payloads, positions, rejects))

    def _learn(self, tokens: set[int]) -> None:
        """Enrichment: the symbols of tokens not seen before, from ``instruments`` (one query per batch)."""
        if tokens:
            self.symbols.update(token_symbols(self.client, sorted(tokens)))

    def _trades(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The ticks whose ``volume_traded`` grew past every earlier one of their token's trading day (IST).

        Kite's ``volume_traded`` starts again at 0 each day, so a token's volume is compared within its day
        only; a tick of a day before the token's latest seen day is a late redelivery and is not a new trade.
        """
        before = pl.DataFrame({"instrument_token": list(self.volume),
                               "_seen_day": [day for day, _ in self.volume.values()],
                               "_seen": [volume for _, volume in self.volume.values()]},
                              schema={"instrument_token": pl.Int64, "_seen_day": pl.Int64, "_seen": pl.Int64})
        day = ((pl.col("last_trade_time") + _IST_SECONDS) // 86_400).cast(pl.Int64)
        frame = frame.with_columns(day.alias("_day")).join(before, on="instrument_token", how="left",
                                                           maintain_order="left")
        seen = (pl.when(pl.col("_seen_day").is_null() | (pl.col("_seen_day") < pl.col("_day"))).then(0)
                .when(pl.col("_seen_day") == pl.col("_day")).then(pl.col("_seen")).otherwise(None))
        earlier = pl.col("volume_traded").fill_null(0).cum_max().shift(1).over("instrument_token", "_day")
        grown = frame.filter(seen.is_not_null() & pl.col("last_trade_time").is_not_null()
                             & (pl.col("volume_traded") > pl.max_horizontal(earlier.fill_null(0), seen)))
        latest = grown.group_by("instrument_token").agg(pl.col("_day").max().alias("_last"))
        for token, last, volume in (grown.join(latest, on="instrument_token").filter(pl.col("_day") == pl.col("_last"))
                                    .group_by("instrument_token").agg(pl.col("_day").first(),
                                                                      pl.col("volume_traded").max()).iter_rows()):
            self.volume[token] = (last, volume)
        bid, ask, price = _depth("buy", 0, "price"), _depth("sell", 0, "price"), pl.col("last_price")
        side = (pl.when(ask.is_not_null() & (ask > 0) & (price >= ask)).then(pl.lit("buy"))
                .when(bid.is_not_null() & (bid > 0) & (price <= bid)).then(pl.lit("sell")).otherwise(pl.lit(None)))
        return grown.select("_msg", "symbol", _time("last_trade_time").alias("ts"), price.alias("price"),
                            pl.col("last_traded_quantity").alias("size"), side.alias("side"),
                            pl.col("volume_traded").cast(pl.UInt64).alias("trade_id"),
                            pl.lit(0, pl.UInt32).alias("version"))

    @staticmethod
    def _validated(clean: Any, frame: pl.DataFrame, rejects: list) -> Any:
        """``clean`` (the loaders' validation) of ``frame``; its rejects join ``rejects`` under their message."""
        if frame.height == 0:
            return None
        out = clean(frame.drop("_msg").to_arrow(), source="kite", first_row=0)
        if out.rejects.num_rows:
            rows = pl.from_arrow(out.rejects["position"]).str.strip_prefix("row ").cast(pl.Int64).to_list()
            owners = frame["_msg"].gather(rows).to_list()
            rejects += zip(owners, *(out.rejects[c].to_pylist() for c in ("code", "field", "value", "reason")))
        return out


_LEVEL = pl.List(pl.Struct({"quantity": pl.Float64, "price": pl.Float64, "orders": pl.Float64}))
KITE_SCHEMA = {"instrument_token": pl.Int64, "mode": pl.String, "last_price": pl.Float64,
               "last_traded_quantity": pl.Float64, "volume_traded": pl.Int64, "total_buy_quantity": pl.Float64,
               "total_sell_quantity": pl.Float64, "last_trade_time": pl.Float64, "oi": pl.Float64,
               "oi_day_high": pl.Float64, "oi_day_low": pl.Float64, "exchange_timestamp": pl.Float64,
               "depth": pl.Struct({"buy": _LEVEL, "sell": _LEVEL})}
"""The fields of a full-mode tick the warehouse keeps, as polars reads them (times in epoch seconds)."""


def _read(payloads: Sequence[bytes]) -> tuple[pl.DataFrame, list]:
    """The messages as one frame (column ``_msg`` = message index) and the rejects of those that are not ticks.

    One ``read_ndjson`` for the batch; messages that are not JSON objects, or whose token is missing or not
    a number, are looked at one by one to say which rule they broke.
    """
    lines = [bytes(payload).replace(b"\n", b" ") for payload in payloads]
    rejects: list = []
    try:
        frame = pl.read_ndjson(io.BytesIO(b"\n".join(lines)), schema=KITE_SCHEMA, ignore_errors=True)
        frame = frame.with_columns(pl.int_range(len(lines), dtype=pl.Int64).alias("_msg"))
    except pl.exceptions.PolarsError:  # a line that is not a JSON object: find it, read the others
        reasons = {i: _reject_reason(line) for i, line in enumerate(lines)}
        rejects += [(i, *reason) for i, reason in reasons.items() if reason and reason[0] == "malformed"]
        readable = [i for i, reason in reasons.items() if not reason or reason[0] != "malformed"]
        frame = pl.read_ndjson(io.BytesIO(b"\n".join(lines[i] for i in readable)), schema=KITE_SCHEMA,
                               ignore_errors=True).with_columns(pl.Series("_msg", readable, pl.Int64))
    broken = frame.filter(pl.col("instrument_token").is_null() | (pl.col("instrument_token") < 0))
    for index in broken["_msg"].to_list():
        rejects.append((index, *(_reject_reason(lines[index]) or ("unparseable", "instrument_token", "",
                                                                  "instrument_token: not a token number"))))
    return frame.filter(pl.col("instrument_token").is_not_null() & (pl.col("instrument_token") >= 0)), rejects


def _reject_reason(line: bytes) -> tuple[str, str, str, str] | None:
    """Why one message is not a tick (code, field, value, reason), or None when it may be one."""
    try:
        tick = json.loads(line)
    except (ValueError, TypeError):
        return "malformed", "json", "not valid JSON", "json: not valid JSON"
    if not isinstance(tick, dict):
        return "malformed", "json", _JSON_TYPES.get(type(tick), "value"), "json: not an object"
    token = tick.get("instrument_token")
    if token is None:
        return "missing_field", "instrument_token", "", "instrument_token: missing"
    if isinstance(token, bool) or not isinstance(token, int) or token < 0:
        return "unparseable", "instrument_token", str(token), "instrument_token: not a token number"
    return None


_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _time(name: str) -> pl.Expr:
    return (pl.col(name) * 1e6).round(0).cast(pl.Int64).cast(pl.Datetime("us", "UTC"))


def _depth(side: str, k: int, field: str) -> pl.Expr:
    return pl.col("depth").struct.field(side).list.get(k, null_on_oob=True).struct.field(field)


def _quote_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The quote loader's columns of each tick: the book at ``exchange_timestamp`` (else the last trade's time)."""
    ts = _time("exchange_timestamp").fill_null(_time("last_trade_time"))
    levels = [_depth(side, k, field).alias(f"{name}_{short}_{k + 1}")
              for k in range(LEVELS) for side, name in (("buy", "bid"), ("sell", "ask"))
              for field, short in (("price", "px"), ("quantity", "qty"), ("orders", "orders"))]
    return frame.select("_msg", "symbol", ts.alias("ts"), ts.alias("exchange_ts"), *levels,
                        pl.col("total_buy_quantity").alias("total_buy_qty"),
                        pl.col("total_sell_quantity").alias("total_sell_qty"), "last_price",
                        pl.col("last_traded_quantity").alias("last_qty"), "oi", "oi_day_high", "oi_day_low")


def _rejects_table(payloads: Sequence[bytes], positions: Sequence[str], rejects: list) -> pa.Table:
    if not rejects:
        return REJECTS_SCHEMA.empty_table()
    rejects.sort(key=lambda r: r[0])
    index = [r[0] for r in rejects]
    raw = [bytes(payloads[i]).decode(errors="replace") for i in index]
    return rejects_table([positions[i] for i in index], [r[1] for r in rejects], [r[2] for r in rejects],
                         [r[3] for r in rejects], [r[4] for r in rejects], raw)


