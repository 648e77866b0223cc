"""The Kite adapter: ticks exactly as kiteconnect's KiteTicker builds them (its own parser on binary packets laid
out as Kite sends them) -> KiteRedisPublisher -> a real Redis stream -> ``serve --ingest redis --format kite`` ->
ticks, quotes with 5-level depth and OI, rejects; 0 lost, 0 doubled; the hot path's book from the same stream."""

from __future__ import annotations

import os
import struct
import time
from datetime import datetime, timezone

import httpx
import polars as pl
import pytest
from kiteconnect import KiteTicker

from support.brokers import query, redis_server, run_cli, wait_for
from support.serve import serve_process
from warehouse.demo.kite import INSTRUMENTS, kite_ticks, write_instruments_csv
from warehouse.ingest.instruments import load_instruments
from warehouse.stream.kite import KiteRedisPublisher, kite_payload
from warehouse.stream.kite_decode import KiteDecoder


def _packet(token: int, ltp: float, ltq: int, volume: int, ltt: int, oi: int, ets: int,
            bids: list[tuple[int, float, int]], asks: list[tuple[int, float, int]]) -> bytes:
    """A full-mode quote packet (184 bytes) as Kite's WebSocket sends it (prices in paise)."""
    head = struct.pack(">IIIIIII", token, round(ltp * 100), ltq, round(ltp * 100), volume, 9000, 8000)
    head += struct.pack(">IIII", *(round(ltp * 100),) * 4) + struct.pack(">IIIII", ltt, oi, oi + 50, max(oi - 50, 0), ets)
    return head + b"".join(struct.pack(">IIH", q, round(p * 100), o) + b"\0\0" for q, p, o in bids + asks)


def _message(packets: list[bytes]) -> bytes:
    return struct.pack(">H", len(packets)) + b"".join(struct.pack(">H", len(p)) + p for p in packets)


@pytest.fixture()
def ist_host(monkeypatch):
    """The ticker's machine in India: KiteTicker's naive datetimes are IST wall times."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


def test_kiteticker_ticks_become_exact_quotes_and_trades(fresh_client, tmp_path, ist_host):
    load_instruments(fresh_client, write_instruments_csv(tmp_path / "instruments.csv"))
    at = int(datetime(2024, 1, 2, 4, 0, 5, tzinfo=timezone.utc).timestamp())  # 09:30:05 IST
    bids = [(100 + k, 2580.0 - 0.05 * k, 2 + k) for k in range(5)]
    asks = [(90 + k, 2580.1 + 0.05 * k, 1 + k) for k in range(5)]
    future = _packet(13368834, 2590.5, 250, 5000, at - 1, 1_250_000, at, bids, asks)
    equity = _packet(738561, 2580.1, 7, 1207, at - 2, 0, at, bids, asks)
    ticks = KiteTicker("key", "token")._parse_binary(_message([future, equity]))
    assert ticks[0]["exchange_timestamp"] == datetime(2024, 1, 2, 9, 30, 5)  # naive IST, as KiteTicker makes it

    sent: list[bytes] = []
    publisher = KiteRedisPublisher(send=lambda payloads, _keys: sent.extend(payloads))
    publisher.on_ticks(None, ticks)
    batch = KiteDecoder(fresh_client, source="redis:test").parse(sent + sent, ["1-0", "2-0", "3-0", "4-0"])
    assert batch.rejects.num_rows == 0
    quotes = pl.from_arrow(batch.quotes).sort("symbol")
    assert quotes.height == 4  # two ticks, each delivered twice: QuoteWriter stores each once (below)
    fut = quotes.filter(symbol="RELIANCE24JANFUT").row(0, named=True)
    assert fut["ts"] == datetime(2024, 1, 2, 4, 0, 5, tzinfo=timezone.utc)
    assert [fut[f"bid_px_{k}"] for k in range(1, 6)] == [2580.0, 2579.95, 2579.9, 2579.85, 2579.8]
    assert [fut[f"ask_qty_{k}"] for k in range(1, 6)] == [90, 91, 92, 93, 94]
    assert [fut[f"bid_orders_{k}"] for k in range(1, 6)] == [2, 3, 4, 5, 6]
    assert (fut["oi"], fut["oi_day_high"], fut["oi_day_low"]) == (1_250_000, 1_250_050, 1_249_950)
    assert (fut["total_buy_qty"], fut["total_sell_qty"], fut["last_qty"]) == (9000, 8000, 250)
    trades = pl.from_arrow(batch.ticks).sort("symbol")
    assert trades.select("symbol", "price", "size", "trade_id", "side").rows() == [
        ("RELIANCE", 2580.1, 7.0, 1207, 1), ("RELIANCE24JANFUT", 2590.5, 250.0, 5000, 1)]  # at the ask: buys
    assert trades["ts"].to_list()[0] == datetime(2024, 1, 2, 4, 0, 3, tzinfo=timezone.utc)



def test_the_next_days_trades_count_though_kites_volume_starts_again_at_zero(fresh_client, tmp_path, ist_host):
    load_instruments(fresh_client, write_instruments_csv(tmp_path / "instruments.csv"))
    bids = [(100 + k, 2580.0 - 0.05 * k, 2 + k) for k in range(5)]
    asks = [(90 + k, 2580.1 + 0.05 * k, 1 + k) for k in range(5)]
    day1 = int(datetime(2024, 1, 2, 9, 50, tzinfo=timezone.utc).timestamp())  # 15:20 IST
    day2 = int(datetime(2024, 1, 3, 3, 50, tzinfo=timezone.utc).timestamp())  # 09:20 IST the next day
    packets = [_packet(738561, 2580.1, 9, 900_000, day1, 0, day1, bids, asks),
               _packet(738561, 2580.1, 7, 7, day2, 0, day2, bids, asks),        # the day's first trade
               _packet(738561, 2580.1, 9, 900_000, day1, 0, day1, bids, asks),  # yesterday's, delivered late
               _packet(738561, 2580.0, 5, 12, day2 + 1, 0, day2 + 1, bids, asks)]
    sent: list[bytes] = []
    publisher = KiteRedisPublisher(send=lambda payloads, _keys: sent.extend(payloads))
    publisher.on_ticks(None, KiteTicker("key", "token")._parse_binary(_message(packets)))
    decoder = KiteDecoder(fresh_client, source="redis:test")
    first, rest = decoder.parse(sent[:1], ["1-0"]), decoder.parse(sent[1:], ["2-0", "3-0", "4-0"])
    trades = pl.concat([pl.from_arrow(first.ticks), pl.from_arrow(rest.ticks)])
    assert trades.select("trade_id", "size").rows() == [(900_000, 9.0), (7, 7.0), (12, 5.0)]

def test_a_kite_stream_through_serve_lands_exactly_and_feeds_the_book(tmp_path):
    seconds = 3_000
    generated = [tick for ticks in kite_ticks(seconds=seconds, seed=11) for tick in ticks]
    with redis_server() as redis_url, serve_process(
            f"chdb://{tmp_path / 'warehouse'}", "--ingest", "redis", "--url", redis_url, "--format", "kite",
            "--batch", "2000", "--linger", "0.2") as url:
        assert run_cli(url, "load-instruments", "--demo-nse").returncode == 0
        produced = run_cli(url, "produce", "redis", "--kite", "--url", redis_url, "--ticks", str(3 * seconds),
                           "--seed", "11")
        assert produced.returncode == 0 and f"published {3 * seconds:,} Kite ticks" in produced.stdout, produced
        import redis

        stream = redis.Redis.from_url(redis_url)
        for payload in [kite_payload(t) for t in generated[-600:]]:  # a redelivery of the last 200 seconds
            stream.xadd("ticks:stream", {"tick": payload})
        for bad in (b'{"instrument_token": 5, "mode": "full", "depth": {"buy": [], "sell": []}}',
                    b'{"instrument_token": 738561, "mode": "ltp", "last_price": 1.0}', b"not json"):
            stream.xadd("ticks:stream", {"tick": bad})
        total = 3 * seconds + 600 + 3
        wait_for(lambda: httpx.get(f"{url}/api/ingest").json()["messages"] == total, 120, "the stream written")

        trades = query(url, "SELECT symbol, count() AS n, sum(size) AS volume FROM ticks_dedup FINAL GROUP BY symbol")
        last = {t["instrument_token"]: t for t in generated[-3:]}
        symbols = {row[0]: row[2] for row in INSTRUMENTS}
        for token, symbol in symbols.items():
            row = trades.filter(symbol=symbol)
            assert row["volume"][0] == last[token]["volume_traded"]  # every traded share once: 0 lost, 0 doubled
        quotes = query(url, "SELECT count() AS n, uniqExact(symbol, ts, seq) AS distinct_quotes FROM quotes FINAL")
        assert quotes["n"][0] == quotes["distinct_quotes"][0] == 3 * seconds
        oi = query(url, "SELECT argMax(oi, ts) AS oi FROM quotes WHERE symbol = 'RELIANCE24JANFUT'")
        assert oi["oi"][0] == last[13368834]["oi"]
        rejects = query(url, "SELECT code FROM rejects ORDER BY code")["code"].to_list()
        assert rejects == ["malformed", "not_full_mode", "unknown_token"]
        status = run_cli(url, "status")
        assert status.returncode == 0 and "bars check: bars_1m equals ticks_dedup" in status.stdout

        book = httpx.get(f"{url}/book/RELIANCE").json()
        assert [level["price"] for level in book["bids"]] == [d["price"] for d in last[738561]["depth"]["buy"]]
        assert [level["qty"] for level in book["asks"]] == [d["quantity"] for d in last[738561]["depth"]["sell"]]
        assert httpx.get(f"{url}/book/RELIANCE24JANFUT").json()["oi"] == last[13368834]["oi"]
    assert os.environ.get("TZ") is None
