"""Ticks that carry only an instrument token: their symbol from ``instruments``, or a reject.

A file whose ticks name their instrument by a broker's token (``instrument_token`` or
``token`` column) and not by a symbol is enriched batch by batch as it loads: the token's
symbol is looked up in the table ``instruments`` holds (read once per load, on the first
such batch), a join inside the load's own batch (polars, no per-row Python). A token the
table does not know leaves its row without a symbol, and validation's ``missing_field``
reject of that row becomes ``unknown_token`` naming the token: the row is counted and kept
in ``rejects``, never stored half-enriched.

>>> map_tick_columns(["ts", "instrument_token", "price", "size"], "f.csv")["symbol"]
'instrument_token'
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from warehouse.ingest.validate import ALIASES, map_columns

TOKEN_ALIASES = ("instrument_token", "token")
UNKNOWN = "instrument_token: not in instruments (load-instruments)"


def token_column(names: list[str]) -> str | None:
    """The token column of a batch that has no symbol column (None otherwise).

    >>> token_column(["token", "ts"]), token_column(["symbol", "token"])
    ('token', None)
    """
    lowered = {name.lower().strip(): name for name in names}
    if any(alias in lowered for alias in ALIASES["symbol"]):
        return None
    return next((lowered[alias] for alias in TOKEN_ALIASES if alias in lowered), None)


def map_tick_columns(names: list[str], source: str) -> dict[str, str]:
    """:func:`~warehouse.ingest.validate.map_columns`, a token column standing for the symbol when there is none."""
    token = token_column(names)
    if token is None:
        return map_columns(names, source)
    return {**map_columns([name if name != token else "symbol" for name in names], source), "symbol": token}


def token_symbols(client: Client, tokens: Sequence[int] | None = None) -> dict[int, str]:
    """The symbol of each instrument token ``instruments`` holds (of ``tokens`` only, if given).

    >>> from warehouse.client import connect
    >>> from warehouse.schema.migrate import migrate
    >>> client = connect(); _ = migrate(client)
    >>> token_symbols(client, [1])
    {}
    """
    where = "" if tokens is None else "WHERE instrument_token IN {tokens:Array(UInt64)}"
    rows = client.query(f"SELECT instrument_token, argMax(symbol, loaded_at) FROM instruments {where} "
                        f"GROUP BY instrument_token", parameters={} if tokens is None else {"tokens": list(tokens)})
    return {int(token): symbol for token, symbol in rows.result_rows}


class TokenSymbols:
    """The symbol of every token ``instruments`` holds, read from the warehouse when first needed."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._known: pl.DataFrame | None = None

    def enrich(self, batch: pa.Table) -> tuple[pa.Table, str | None]:
        """``batch`` with a ``symbol`` column from its token column (null for unknown tokens), and that column's
        name; a batch with a symbol column comes back as it is (and None)."""
        token = token_column(batch.column_names)
        if token is None:
            return batch, None
        if self._known is None:
            mapping = token_symbols(self.client)
            self._known = pl.DataFrame({"_token": list(mapping), "symbol": list(mapping.values())},
                                       schema={"_token": pl.UInt64, "symbol": pl.String})
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        keys = frame[token].cast(pl.String).str.strip_chars().cast(pl.UInt64, strict=False).alias("_token")
        symbols = pl.DataFrame(keys).join(self._known, on="_token", how="left", maintain_order="left")["symbol"]
        return frame.with_columns(symbols).to_arrow(), token

    @staticmethod
    def name_unknown(rejects: pa.Table, batch: pa.Table, token: str, *, first_row: int) -> pa.Table:
        """Rejects for rows left without a symbol because their token is unknown: ``unknown_token`` with the token."""
        frame = pl.from_arrow(rejects)
        assert isinstance(frame, pl.DataFrame)
        missing = (pl.col("code") == "missing_field") & (pl.col("field") == "symbol")
        rows = frame.filter(missing)["position"].str.strip_prefix("row ").cast(pl.Int64) - first_row
        tokens = pl.from_arrow(batch[token]).cast(pl.String).gather(rows.to_list())
        unknown = tokens.is_not_null() & (tokens.str.strip_chars() != "")
        named = frame.filter(missing).with_columns(
            pl.when(unknown).then(pl.lit("unknown_token")).otherwise(pl.col("code")).alias("code"),
            pl.when(unknown).then(pl.lit("instrument_token")).otherwise(pl.col("field")).alias("field"),
            pl.when(unknown).then(tokens).otherwise(pl.col("value")).alias("value"),
            pl.when(unknown).then(pl.lit(UNKNOWN)).otherwise(pl.col("reason")).alias("reason"))
        return pl.concat([frame.filter(~missing), named]).to_arrow().cast(rejects.schema)
