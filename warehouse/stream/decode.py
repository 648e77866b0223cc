"""JSON tick messages -> validated ticks and rejects, in as few passes over the batch as possible.

A message is one JSON object with the tick fields (or their aliases, see
:mod:`warehouse.ingest.validate`); unknown keys are ignored. Three paths, same results:

* **layout** (the producer's own messages): a numba kernel
  (:func:`warehouse.stream.json_kernels.decode_ticks_nb`) decodes messages laid out exactly
  as :mod:`warehouse.stream.produce` writes them straight from the batch's buffer into typed
  columns; every other message takes the next path;
* **typed**: the whole batch is joined with newlines and read by
  one ``polars.read_ndjson`` call with a typed schema (prices and sizes as numbers,
  ``ts`` as text that is either ISO-8601 or epoch digits). Polars refuses the batch if
  any message is not a JSON object whose values fit that schema, and a message that
  lacks a canonical key (aliases, missing fields, nulls) leaves a null; such messages,
  and every message of a refused batch, take the other path.
* **text**: messages a regex proves to be flat JSON objects are decoded by polars with
  every field as text (aliases looked up where a canonical key is missing); the rest
  one by one with :func:`json.loads`, whose error message becomes the reject's value
  (code ``malformed``, field ``json``).

Validation is :func:`warehouse.ingest.validate.clean_ticks` on each path's columns; good
ticks keep the messages' order (``TickWriter`` keeps the last of equal versions).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from warehouse.stream.json_kernels import decode_ticks_nb
from warehouse.stream.messages import Messages, gather_nb
from warehouse.stream.resp_kernels import resp_bulk_args_nb, resp_entries_nb
from warehouse.ingest.validate import ALIASES, TICKS_SCHEMA, CleanBatch, clean_ticks, rejects_table

# JSON that polars' text decoder is certain to accept: one flat object of strings, small
# numbers, booleans and nulls. Anything else is decoded one message at a time (json.loads).
_WS = r"[ \t\n\r]*"
_STR = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
_NUM = r"-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,30})?(?:[eE][+-]?[0-9]{1,2})?"
_PAIR = rf"{_STR}{_WS}:{_WS}(?:{_STR}|{_NUM}|true|false|null)"
_FLAT_OBJECT = rf"^{_WS}\{{{_WS}(?:{_PAIR}(?:{_WS},{_WS}{_PAIR})*)?{_WS}\}}{_WS}$"
_KEYS = [alias for aliases in ALIASES.values() for alias in aliases]
_FIELDS = pl.Struct({key: pl.String for key in _KEYS})
_CANONICAL = pl.Struct({name: pl.String for name in ALIASES})
_LAYOUT = {"_msg": pl.Int64, "symbol": pl.String, "ts": pl.Int64, "price": pl.Float64, "size": pl.Float64,
           "side": pl.Int8, "trade_id": pl.UInt64, "version": pl.UInt32}
_REJECT_COLUMNS = ("code", "field", "value", "reason")
_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}
_TYPED = {"symbol": pl.String, "ts": pl.String, "price": pl.Float64, "size": pl.Float64, "side": pl.String,
          "trade_id": pl.UInt64, "version": pl.UInt32}


def parse_messages(payloads: Sequence[bytes], positions: Sequence[str], *, source: str) -> CleanBatch:
    """Decode JSON tick messages and validate them; rejects carry the raw payload and position.

    ``payloads`` may be :class:`~warehouse.stream.messages.Messages` (no copy) or any
    sequence of ``bytes``. ``positions[i]`` names message ``i`` in its source; it is
    read only for rejects.

    >>> good = b'{"symbol": "AAPL", "ts": "2024-01-02T14:30:00.25Z", "price": 185.1, "size": 100, "side": "buy"}'
    >>> out = parse_messages([good, b'{"symbol": "AAPL"', b'[1]'], ["t/0/7", "t/0/8", "t/0/9"], source="doc")
    >>> out.ticks.num_rows
    1
    >>> [(r["position"], r["code"], r["value"], r["reason"], r["raw"]) for r in out.rejects.to_pylist()]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('t/0/8', 'malformed', "Expecting ',' delimiter: line 1 column 18 (char 17)", 'json: not valid JSON',
      '{"symbol": "AAPL"'), ('t/0/9', 'malformed', 'array', 'json: not an object', '[1]')]
    >>> epoch = b'{"symbol":"MSFT","ts":1704205800250000,"price":370.5,"size":3,"side":"sell","trade_id":9,"version":0}'
    >>> parse_messages([epoch], ["t/0/10"], source="doc").ticks.column("ts")[0].as_py().isoformat()
    '2024-01-02T14:30:00.250000+00:00'
    """
    messages = Messages.of(payloads)
    layout, others = _decode_layout(messages)
    typed, rest = _decode_typed([messages[i] for i in others])
    typed = typed.with_columns(pl.Series("_msg", others, pl.Int64).gather(typed["_msg"]))
    rest = others[rest]
    fields, bad_rows, bad_reasons = _decode_text([messages[i] for i in rest])
    bad_rows = [int(rest[i]) for i in bad_rows]
    fields = fields.with_columns(pl.Series("_msg", rest, pl.Int64).gather(fields["_msg"]))
    # A message without trade_id gets one derived from its content; validate does that per
    # batch when the column is absent, so such messages are validated apart from the others.
    with_id = fields["trade_id"].is_not_null()
    parts = [layout, typed, fields.filter(with_id), fields.filter(~with_id).drop("trade_id")]
    ticks, order = [], []
    for part in parts:
        if part.height == 0:
            continue
        clean = clean_ticks(part.drop("_msg").to_arrow(), source=source, first_row=0)
        kept = np.ones(part.height, bool)
        if clean.rejects.num_rows:
            rows = pl.from_arrow(clean.rejects["position"]).str.strip_prefix("row ").cast(pl.Int64).to_numpy()
            kept[rows] = False
            bad_rows += part["_msg"].to_numpy()[rows].tolist()
            bad_reasons += zip(*(clean.rejects[name].to_pylist() for name in _REJECT_COLUMNS))
        ticks.append(clean.ticks)
        order.append(part["_msg"].to_numpy()[kept])
    return CleanBatch(_in_message_order(ticks, order), _rejects(messages, positions, bad_rows, bad_reasons))


def warm_up() -> None:
    """Load the compiled kernels of the stream paths (numba's first call in a process costs about 0.5 s).

    A consumer runs this on a thread while it connects, so the first batch does not wait for it.

    >>> warm_up()
    """
    one = Messages.of([b"{}"])
    decode_ticks_nb(one.data, one.starts, one.ends)  # a batch copied into one buffer (Kafka)
    decode_ticks_nb(one.data.copy(), one.starts, one.ends)  # a Redis reply's buffer
    resp_entries_nb(one.data.copy(), 0, np.array([0, -1, 0], np.int64), *np.empty((4, 0), np.int64),
                    np.frombuffer(b"tick", np.uint8))
    resp_bulk_args_nb(one.data.copy(), one.starts, one.ends)
    gather_nb(one.data.copy(), one.starts, one.ends)  # ids kept past their reply (Messages.compact)


def _in_message_order(ticks: list[pa.Table], order: list[np.ndarray]) -> pa.Table:
    if not ticks:
        return TICKS_SCHEMA.empty_table()
    if len(ticks) == 1:
        return ticks[0]
    return pa.concat_tables(ticks).take(np.argsort(np.concatenate(order), kind="stable"))


def _rejects(payloads: Sequence[bytes], positions: Sequence[str], rows: list[int],
             reasons: list[tuple[str, str, str, str]]) -> pa.Table:
    """Rejects in message order; ``reasons[i]`` is message ``rows[i]``'s (code, field, value, reason)."""
    order = np.argsort(np.array(rows, np.int64), kind="stable")
    ordered = [rows[i] for i in order]
    code, field, value, reason = zip(*(reasons[i] for i in order)) if rows else ([], [], [], [])
    return rejects_table([positions[i] for i in ordered], code, field, value, reason,
                         [_raw_text(payloads[i]) for i in ordered])


def _decode_layout(messages: Messages) -> tuple[pl.DataFrame, np.ndarray]:
    """(typed columns + ``_msg`` of the messages in the producer's layout, indices of the rest)."""
    ok, codes, sym_starts, sym_ends, ts, price, size, side, trade_id, version = decode_ticks_nb(
        messages.data, messages.starts, messages.ends)
    if not ok.any():
        return pl.DataFrame(schema=_LAYOUT), np.arange(len(messages), dtype=np.int64)
    names = pa.array([messages.data[a:b].tobytes().decode() for a, b in zip(sym_starts, sym_ends)], pa.string())
    symbol = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), names).cast(pa.string())
    frame = pl.DataFrame({"_msg": np.arange(len(messages), dtype=np.int64), "symbol": pl.from_arrow(symbol), "ts": ts,
                          "price": price, "size": size, "side": side, "trade_id": trade_id, "version": version})
    if ok.all():
        return frame, np.zeros(0, np.int64)
    return frame.filter(pl.Series(ok)), np.flatnonzero(~ok)


def _decode_typed(payloads: Sequence[bytes]) -> tuple[pl.DataFrame, np.ndarray]:
    """(typed columns + ``_msg`` of the messages one ``read_ndjson`` pass decoded completely, indices of the rest)."""
    everything = np.arange(len(payloads), dtype=np.int64)
    none = pl.DataFrame(schema={"_msg": pl.Int64, **_TYPED})
    if not payloads:
        return none, everything
    joined = b"\n".join(payloads)
    if joined.count(b"\n") != len(payloads) - 1:  # a message spans lines: line i would not be message i
        return none, everything
    try:
        frame = pl.read_ndjson(io.BytesIO(joined), schema=_TYPED)
    except pl.exceptions.PolarsError:  # some message is not an object of these types: all take the text path
        return none, everything
    if frame.height != len(payloads):  # blank messages are skipped by the reader
        return none, everything
    frame = frame.with_columns(pl.Series("_msg", everything))
    complete = ~frame.select(pl.any_horizontal(pl.all().is_null())).to_series().to_numpy()
    if not complete.all():
        frame = frame.filter(pl.Series(complete))
    epoch = frame["ts"].cast(pl.Int64, strict=False)
    if not epoch.has_nulls():  # epoch numbers: skip the text round trip
        frame = frame.with_columns(epoch)
    return frame, everything[~complete]


def _decode_text(payloads: list[bytes]) -> tuple[pl.DataFrame, list[int], list[tuple[str, str, str, str]]]:
    """(one String column per tick field + ``_msg`` message index, undecodable messages, their rejects'
    code, field, value and reason)."""
    texts = _utf8(payloads)
    fast = texts.str.contains(_FLAT_OBJECT).fill_null(False)
    frame = pl.DataFrame({"_msg": np.arange(len(payloads), dtype=np.int64)})
    try:
        decoded = _decode_flat(texts.filter(fast), frame.filter(fast))
    except pl.exceptions.ComputeError:  # a flat object polars still refuses: decode everything slowly
        fast = pl.Series([False] * len(payloads))
        decoded = None
    slow_rows, slow_records, bad_rows, bad_reasons = [], [], [], []
    for i in np.flatnonzero(~fast.to_numpy()):
        record, reason = _decode_one(payloads[i])
        if reason is not None:
            bad_rows.append(int(i))
            bad_reasons.append(reason)
        else:
            slow_rows.append(int(i))
            slow_records.append(record)
    pieces = [decoded] if decoded is not None else []
    if slow_rows:
        slow = pl.DataFrame(slow_records, schema=dict(_FIELDS.to_schema()))
        pieces.append(pl.concat([pl.DataFrame({"_msg": np.array(slow_rows, np.int64)}), slow], how="horizontal"))
    fields = pl.concat(pieces).sort("_msg") if pieces else pl.DataFrame(
        {"_msg": []}, schema={"_msg": pl.Int64, **_FIELDS.to_schema()})
    return _canonical(fields), bad_rows, bad_reasons


def _decode_flat(texts: pl.Series, index: pl.DataFrame) -> pl.DataFrame:
    """Flat JSON objects -> one String column per key; aliases are looked for only where a field is missing."""
    decoded = pl.concat([index, texts.str.json_decode(_CANONICAL).struct.unnest()], how="horizontal")
    incomplete = decoded.select(pl.any_horizontal(pl.exclude("_msg").is_null())).to_series()
    full = decoded.filter(~incomplete).with_columns(
        pl.lit(None, pl.String).alias(key) for key in _KEYS if key not in ALIASES)
    if not incomplete.any():
        return full.select("_msg", *_KEYS)
    aliased = pl.concat([index.filter(incomplete), texts.filter(incomplete).str.json_decode(_FIELDS).struct.unnest()],
                        how="horizontal")
    return pl.concat([full.select("_msg", *_KEYS), aliased]).sort("_msg")


def _utf8(payloads: list[bytes]) -> pl.Series:
    binary = pa.array(payloads, pa.binary())
    try:
        return pl.Series(binary.cast(pa.string()))
    except pa.ArrowInvalid:  # some message is not UTF-8: those become nulls (then rejects)
        return pl.Series([_text_or_none(p) for p in payloads], dtype=pl.String)


def _text_or_none(payload: bytes | None) -> str | None:
    try:
        return payload.decode() if payload is not None else None
    except UnicodeDecodeError:
        return None


def _decode_one(payload: bytes | None) -> tuple[dict[str, str | None], tuple[str, str, str, str] | None]:
    """One message the flat-object path did not take: (fields as text, None) or ({}, (code, field, value, reason))."""
    if not payload:
        return {}, ("malformed", "payload", "", "payload: empty message")
    try:
        value = json.loads(payload.decode())
    except UnicodeDecodeError:
        return {}, ("malformed", "payload", "", "payload: not UTF-8 text")
    except ValueError as exc:
        return {}, ("malformed", "json", str(exc), "json: not valid JSON")
    if not isinstance(value, dict):
        return {}, ("malformed", "json", _JSON_TYPES.get(type(value), type(value).__name__), "json: not an object")
    return {key: _as_text(value[key]) if key in value else None for key in _KEYS}, None


def _as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _canonical(fields: pl.DataFrame) -> pl.DataFrame:
    """Merge alias keys into one column per tick field (first alias present wins per message)."""
    columns = {name: pl.coalesce([pl.col(a) for a in aliases]) for name, aliases in ALIASES.items()}
    return fields.select(pl.col("_msg"), **columns).with_columns(
        pl.col("side").fill_null(""), pl.col("version").fill_null("0"))


def _raw_text(payload: bytes | None) -> str:
    return (payload or b"").decode("utf-8", "backslashreplace")
