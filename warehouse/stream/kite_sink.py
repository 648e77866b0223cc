"""Writing a batch of Kite messages: quotes (5 levels, totals, OI) through QuoteWriter, trades and rejects as
:class:`~warehouse.stream.sink.StreamSink` writes JSON trades (``ingest redis --format kite``).

Quotes are exact under redelivery (a quote's content hash is its ``seq``; ``quotes_1m`` counts it
once) and trades are named by the tick's cumulative volume, so a batch delivered again, or
replayed after a crash, adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from clickhouse_connect.driver.client import Client

from warehouse.ingest.quotes import QuoteWriter
from warehouse.stream.batch import Batch
from warehouse.stream.kite_decode import KiteDecoder
from warehouse.stream.sink import StreamSink


class KiteSink(StreamSink):
    """A :class:`StreamSink` for KiteTicker full-mode ticks; ``on_quotes`` gets each batch's good quotes (the hot
    path's book) before they are written."""

    def __init__(self, client: Client, source: str, *, on_ticks: Callable[[pa.Table], None] | None = None,
                 on_quotes: Callable[[pa.Table], None] | None = None) -> None:
        super().__init__(client, source, on_ticks=on_ticks)
        self.decoder = KiteDecoder(client, source=source)
        self.quote_writer = QuoteWriter(client, source=source)
        self.on_quotes = on_quotes

    def write(self, batch: Batch, *, replay: bool) -> None:
        """One attempt at writing ``batch``; raises the warehouse's error on failure."""
        decoded = self.decoder.parse(batch.messages(), batch.positions())
        if self.on_quotes is not None:
            self.on_quotes(decoded.quotes)
        self.quote_writer.write(decoded.quotes)
        self.store(batch, decoded.ticks, decoded.rejects, replay=replay)
        self.stats.quotes += decoded.quotes.num_rows
