"""News and index levels (issue G): every bad row in ``rejects`` with its code and counted, a re-load replaces,
``Feed.news`` / ``Feed.indices`` / ``Feed.instruments`` read what was loaded, and the two CLI commands."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from backtest.feed import Feed, FeedError
from warehouse.ingest.indices import load_indices
from warehouse.ingest.instruments import KITE_COLUMNS, load_instruments
from warehouse.ingest.news import load_news

from support.brokers import run_cli

GOOD_NEWS = [
    {"id": "a1", "source": "wire", "title": "Apple beats", "body": "Revenue up.", "link": "https://x/a1",
     "published_at": "2024-01-02T14:30:00Z", "symbols": ["AAPL", "MSFT"], "sentiment": 0.6, "confidence": 0.9,
     "categories": ["earnings"]},
    {"id": "a2", "title": "Chips", "published_at": "2024-01-02T16:00:00+01:00", "symbols": "NVDA; AAPL",
     "sentiment": -1, "categories": "tech,chips"},
    {"id": "a3", "title": "Macro", "published_at": "2024-01-03T09:00:00Z", "symbols": []},
    {"id": "a4", "title": "Late", "published_at": "2024-01-04T12:00:00Z", "symbols": ["AAPL"], "sentiment": None},
]
BAD_NEWS = [  # (record or raw line, expected (code, field, value))
    ({"id": "", "published_at": "2024-01-02T10:00:00Z"}, ("missing_field", "id", "")),
    ({"title": "no id at all", "published_at": "2024-01-02T10:00:00Z"}, ("missing_field", "id", "")),
    ({"id": "b3", "published_at": "last tuesday"}, ("unparseable", "published_at", "last tuesday")),
    ({"id": "b4"}, ("missing_field", "published_at", "")),
    ({"id": "b5", "published_at": "2024-01-02T10:00:00Z", "sentiment": 1.5}, ("bad_value", "sentiment", "1.5")),
    ({"id": "b6", "published_at": "2024-01-02T10:00:00Z", "sentiment": "bullish"},
     ("unparseable", "sentiment", "bullish")),
    ({"id": "b7", "published_at": "2024-01-02T10:00:00Z", "confidence": -0.1}, ("bad_value", "confidence", "-0.1")),
    ({"id": "b8", "published_at": "2024-01-02T10:00:00Z", "symbols": "[\"AAPL\""},
     ("unparseable", "symbols", "[\"AAPL\"")),
    ('{"id": "b9", "published_at": ', ("malformed", "json", '{"id": "b9", "published_at": ')),
]


def _write_news(path, good=GOOD_NEWS, bad=BAD_NEWS):
    lines = [json.dumps(r) for r in good] + [r if isinstance(r, str) else json.dumps(r) for r, _ in bad]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_bad_news_row_is_a_reject_with_its_code_and_counted(fresh_client, tmp_path):
    report = load_news(fresh_client, _write_news(tmp_path / "news.jsonl"))
    assert report.loaded == len(GOOD_NEWS) and report.rejected == len(BAD_NEWS)
    assert report.rejected_by_code == {"missing_field": 3, "unparseable": 3, "bad_value": 2, "malformed": 1}
    assert "rejected 9 (bad_value 2, malformed 1, missing_field 3, unparseable 3)" in report.summary()
    rejects = fresh_client.query("SELECT position, code, field, value FROM rejects WHERE target = 'news'").result_rows
    expected = {(f"line {len(GOOD_NEWS) + i + 1}", *what) for i, (_, what) in enumerate(BAD_NEWS)}
    assert set(rejects) == expected
    stored = pl.from_arrow(fresh_client.query_arrow(
        "SELECT id, published_at, symbols, sentiment, confidence, categories FROM news FINAL ORDER BY id"))
    assert stored["id"].to_list() == ["a1", "a2", "a3", "a4"]
    assert stored["symbols"].to_list() == [["AAPL", "MSFT"], ["NVDA", "AAPL"], [], ["AAPL"]]
    assert stored["categories"].to_list() == [["earnings"], ["tech", "chips"], [], []]
    assert stored["published_at"][1] == datetime(2024, 1, 2, 15, 0, tzinfo=timezone.utc)  # +01:00 kept exact
    assert stored["sentiment"].to_list()[1:] == [-1.0, None, None] and stored["confidence"][1] is None


def test_a_json_file_holding_one_array_loads_its_items(fresh_client, tmp_path):
    path = tmp_path / "news.json"
    path.write_text(json.dumps(GOOD_NEWS[:2] + [{"id": "z"}], indent=2))  # pretty-printed: objects span lines
    report = load_news(fresh_client, path)
    assert (report.loaded, dict(report.rejected_by_code)) == (2, {"missing_field": 1})
    assert fresh_client.query("SELECT position, field FROM rejects").result_rows == [("item 3", "published_at")]


def test_a_news_csv_splits_symbols_and_keeps_multiline_bodies(fresh_client, tmp_path):
    path = tmp_path / "news.csv"
    path.write_text('ID,Headline,Published,Tickers,Sentiment\n'
                    'c1,"Two\nlines",2024-01-02 09:15:00,"RELIANCE, INFY",0.2\n'
                    'c2,x,2024-01-02 09:20:00,TCS;INFY;,\n'
                    'c3,x,2024-01-02 09:25:00,TCS,abc\n')
    report = load_news(fresh_client, path, tz="Asia/Kolkata")
    assert (report.loaded, dict(report.rejected_by_code)) == (2, {"unparseable": 1})
    assert "naive times read as Asia/Kolkata" in report.summary()
    rows = fresh_client.query("SELECT id, title, symbols, toString(published_at) FROM news FINAL "
                              "ORDER BY id").result_rows
    assert rows == [("c1", "Two\nlines", ["RELIANCE", "INFY"], "2024-01-02 03:45:00.000"),
                    ("c2", "x", ["TCS", "INFY"], "2024-01-02 03:50:00.000")]
    assert fresh_client.query("SELECT position, code, field, value FROM rejects").result_rows == [
        ("row 3", "unparseable", "sentiment", "abc")]


def test_a_reload_replaces_articles_instead_of_doubling_them(fresh_client, tmp_path):
    path = _write_news(tmp_path / "news.jsonl", bad=[])
    load_news(fresh_client, path)
    changed = [dict(GOOD_NEWS[0], title="Apple beats (updated)")] + GOOD_NEWS[1:]
    load_news(fresh_client, _write_news(tmp_path / "again.jsonl", good=changed, bad=[]))
    rows = fresh_client.query("SELECT id, title FROM news FINAL ORDER BY id").result_rows
    assert len(rows) == len(GOOD_NEWS) and rows[0] == ("a1", "Apple beats (updated)")
    feed = Feed(fresh_client)
    assert feed.news("AAPL", "2024-01-01", "2024-01-05")["id"].to_list() == ["a1", "a2", "a4"]


def test_feed_news_finds_articles_by_symbol_and_time(fresh_client, tmp_path):
    load_news(fresh_client, _write_news(tmp_path / "news.jsonl", bad=[]))
    feed = Feed(fresh_client)
    day = feed.news(["AAPL"], "2024-01-02", "2024-01-03")
    assert day["id"].to_list() == ["a1", "a2"]  # newest last; a4 is after the range, a3 mentions no symbol
    assert day.columns == ["published_at", "id", "source", "title", "body", "link", "symbols", "sentiment",
                           "confidence", "categories"]
    assert feed.news(["NVDA", "MSFT"], "2024-01-01", "2024-02-01")["id"].to_list() == ["a1", "a2"]
    assert feed.news("AAPL", "2024-01-02T14:30:00Z", "2024-01-02T15:00:00Z")["id"].to_list() == ["a1"]
    assert feed.news("AAPL", "2024-01-02T14:30:00.001Z", "2024-01-02T15:00:00Z").height == 0
    assert feed.news("MSFT", "2024-01-03", "2024-01-05").height == 0  # known (a1 mentions it), no news then
    ist = feed.news("AAPL", "2024-01-02", "2024-01-03", tz="Asia/Kolkata")
    assert ist["published_at"][0].hour == 20 and str(ist["published_at"].dtype.time_zone) == "Asia/Kolkata"
    assert feed.stats[0].source == "news" and feed.stats[0].rows_returned == 2
    assert feed.stats[0].call == "news AAPL 2024-01-02T00:00:00Z/2024-01-03T00:00:00Z"
    with pytest.raises(FeedError, match=r"^symbols: 'ZZZZ' not in the warehouse \(no ticks, instruments or news\)$"):
        feed.news(["AAPL", "ZZZZ"], "2024-01-02", "2024-01-03")


INDEX_HEADER = "Index,Date,Value,Open,High,Low,Close"
GOOD_LEVELS = ["SPX,2024-01-02T21:00:00Z,4742.83,4745.2,4754.33,4722.67,4742.83",
               "SPX,2024-01-03T21:00:00Z,4704.81,,,,",
               "NDX,2024-01-02T21:00:00Z,16543.94,,,,"]
BAD_LEVELS = {  # line -> (code, field, value)
    ",2024-01-04T21:00:00Z,4700,,,,": ("missing_field", "index_name", ""),
    "SPX,someday,4700,,,,": ("unparseable", "ts", "someday"),
    "SPX,2024-01-05T21:00:00Z,,,,,": ("missing_field", "value", ""),
    "SPX,2024-01-06T21:00:00Z,abc,,,,": ("unparseable", "value", "abc"),
    "SPX,2024-01-07T21:00:00Z,0,,,,": ("bad_value", "value", "0.0"),
    "SPX,2024-01-08T21:00:00Z,-5,,,,": ("bad_value", "value", "-5.0"),
    "SPX,2024-01-09T21:00:00Z,inf,,,,": ("bad_value", "value", "inf"),
    "SPX,2024-01-10T21:00:00Z,4700,4700,4690,4710,4700": ("high_below_low", "high", "4690.0 < 4710.0"),
    "SPX,2024-01-11T21:00:00Z,4700,-1,,,": ("bad_value", "open", "-1.0"),
    "SPX,2024-01-02T21:00:00Z,4742.90,,,,": ("duplicate_bar", "ts", "2024-01-02T21:00:00Z, row 1 kept"),
    "SPX,2024-01-12T21:00:00Z": ("malformed", "csv", "2 fields"),
}


@pytest.fixture()
def levels_csv(tmp_path):
    path = tmp_path / "levels.csv"
    path.write_text("\n".join([INDEX_HEADER, *GOOD_LEVELS, *BAD_LEVELS]) + "\n")
    return path


def test_every_bad_index_level_is_a_reject_and_a_reload_replaces(fresh_client, levels_csv):
    report = load_indices(fresh_client, levels_csv)
    assert report.by_index == {"SPX": 2, "NDX": 1} and report.rejected == len(BAD_LEVELS)
    assert report.rejected_by_code == {"bad_value": 4, "missing_field": 2, "unparseable": 2, "high_below_low": 1,
                                       "duplicate_bar": 1, "malformed": 1}
    rejects = fresh_client.query("SELECT position, code, field, value FROM rejects "
                                 "WHERE target = 'indices'").result_rows
    positions = {line: (f"line {i + 2 + len(GOOD_LEVELS)}" if code == "malformed"
                        else f"row {i + 1 + len(GOOD_LEVELS)}")
                 for i, (line, (code, *_)) in enumerate(BAD_LEVELS.items())}
    assert set(rejects) == {(positions[line], *what) for line, what in BAD_LEVELS.items()}
    load_indices(fresh_client, levels_csv)
    assert fresh_client.command("SELECT count() FROM indices FINAL") == len(GOOD_LEVELS)
    feed = Feed(fresh_client)
    spx = feed.indices("SPX", "2024-01-02", "2024-01-04")
    assert spx.select("index_name", "value", "high", "close").rows() == [
        ("SPX", 4742.83, 4754.33, 4742.83), ("SPX", 4704.81, None, None)]
    both = feed.indices(["SPX", "NDX"], "2024-01-02", "2024-01-03")
    assert both["index_name"].to_list() == ["NDX", "SPX"] and feed.stats[-1].source == "indices"
    with pytest.raises(FeedError, match=r"^names: 'DAX' not in the warehouse \(no indices\)$"):
        feed.indices(["SPX", "DAX"], "2024-01-02", "2024-01-03")


INSTRUMENTS = ["256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE",
               "408065,1594,INFY,INFOSYS,0,,0,0.05,1,EQ,NSE,NSE",
               "500209,1954,INFY,INFOSYS,0,,0,0.05,1,EQ,BSE,BSE"]


def test_naive_index_times_are_read_in_the_exchange_zone_instruments_knows(fresh_client, tmp_path):
    instruments = tmp_path / "instruments.csv"
    instruments.write_text("\n".join([",".join(KITE_COLUMNS), *INSTRUMENTS]) + "\n")
    load_instruments(fresh_client, instruments)
    frame = pl.DataFrame({"name": ["NIFTY 50", "SPX"], "ts": [datetime(2024, 1, 2, 15, 30)] * 2,
                          "close": [21665.8, 4742.83]})
    frame.write_parquet(tmp_path / "levels.parquet")
    report = load_indices(fresh_client, tmp_path / "levels.parquet")
    assert report.loaded == 2 and "NIFTY 50 Asia/Kolkata" in report.summary()
    stored = dict(fresh_client.query("SELECT index_name, toString(ts) FROM indices FINAL").result_rows)
    assert stored == {"NIFTY 50": "2024-01-02 10:00:00.000000", "SPX": "2024-01-02 15:30:00.000000"}


def test_feed_instruments_latest_row_per_token(fresh_client, tmp_path):
    path = tmp_path / "instruments.csv"
    path.write_text("\n".join([",".join(KITE_COLUMNS), *INSTRUMENTS]) + "\n")
    load_instruments(fresh_client, path)
    path.write_text("\n".join([",".join(KITE_COLUMNS), INSTRUMENTS[1].replace(",0.05,1,", ",0.05,25,")]) + "\n")
    load_instruments(fresh_client, path)  # the NSE line again with a new lot size: replaces the first
    feed = Feed(fresh_client)
    every = feed.instruments()
    assert every.select("symbol", "exchange", "instrument_token", "lot_size").rows() == [
        ("INFY", "BSE", 500209, 1), ("INFY", "NSE", 408065, 25), ("NIFTY 50", "NSE", 256265, 0)]
    assert every["exchange_tz"].unique().to_list() == ["Asia/Kolkata"] and "asset_class" in every.columns
    assert feed.instruments("INFY", exchange="NSE")["instrument_token"].to_list() == [408065]
    assert feed.instruments(exchange="NSE").height == 2
    assert feed.stats[-1].source == "instruments" and feed.stats[-1].call == "instruments all NSE"
    with pytest.raises(FeedError, match=r"^symbols: 'TCS' not in the warehouse \(no instruments on NSE\)$"):
        feed.instruments(["INFY", "TCS"], exchange="NSE")
    with pytest.raises(FeedError, match=r"^symbols: \[\] is not a name or a list of names$"):
        feed.instruments([])


def test_cli_loads_news_and_indices_and_refuses_bad_input_in_one_line(dsn, tmp_path, levels_csv):
    news = _write_news(tmp_path / "news.jsonl")
    done = run_cli(dsn, "load-news", str(news))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("news.jsonl: loaded 4 articles mentioning 3 symbols, rejected 9 (bad_value 2")
    done = run_cli(dsn, "load-indices", str(levels_csv))
    assert done.returncode == 0 and "loaded 3 index levels (NDX 1, SPX 2), rejected 11" in done.stdout, done.stderr
    only_bad = tmp_path / "bad.jsonl"
    only_bad.write_text(json.dumps({"id": "x", "published_at": "never"}) + "\n")
    done = run_cli(dsn, "load-news", str(only_bad))
    assert done.returncode == 1 and "every row of" in done.stderr
    for args, message in ((("load-news", str(tmp_path / "missing.jsonl")), "error: path: "),
                          (("load-news", str(levels_csv), "--tz", "Mars/Olympus"), "error: tz: 'Mars/Olympus'"),
                          (("load-indices", str(news)), "error: path: ")):
        done = run_cli(dsn, *args)
        assert done.returncode == 2 and done.stderr.startswith(message), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


class ServerLike:
    """The embedded client under another class name: the feed takes its server path (Native query + summary)."""

    def __init__(self, client) -> None:
        self._client = client

    def query(self, *args, **kwargs):
        return self._client.query(*args, **kwargs)


def test_the_server_path_reads_the_same_news_levels_and_instruments(fresh_client, tmp_path, levels_csv):
    load_news(fresh_client, _write_news(tmp_path / "news.jsonl", bad=[]))
    load_indices(fresh_client, levels_csv)
    instruments = tmp_path / "instruments.csv"
    instruments.write_text("\n".join([",".join(KITE_COLUMNS), *INSTRUMENTS,
                                      "13368834,52222,NIFTY24JANFUT,NIFTY,0,2024-01-25,0,0.05,50,FUT,NFO-FUT,NFO"]))
    load_instruments(fresh_client, instruments)
    server, embedded = Feed(ServerLike(fresh_client)), Feed(fresh_client)
    for read in (lambda feed: feed.news(["AAPL", "NVDA"], "2024-01-01", "2024-02-01"),
                 lambda feed: feed.indices(["SPX", "NDX"], "2024-01-01", "2024-02-01"),
                 lambda feed: feed.instruments()):
        assert_frame_equal(read(server), read(embedded))
    assert server.instruments("NIFTY24JANFUT")["expiry"].to_list() == [date(2024, 1, 25)]


def test_a_rare_symbols_news_reads_a_few_granules_not_the_whole_range(fresh_client):
    """Time leads the key; the bloom filter on ``symbols`` skips the range's granules that do not mention it."""
    n = 20_000
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    frame = pl.DataFrame({
        "id": [f"n{i}" for i in range(n)], "title": "t", "body": "b" * 100,
        "published_at": pl.datetime_range(start, start.replace(month=2), "1m", eager=True, time_unit="ms")[:n],
        "symbols": [["RARE"] if i == n // 2 else [f"S{i % 300}"] for i in range(n)]})
    fresh_client.insert_arrow("news", frame.to_arrow())
    fresh_client.command("OPTIMIZE TABLE news FINAL")
    feed = Feed(fresh_client)
    assert feed.news("RARE", start, start.replace(month=3))["id"].to_list() == [f"n{n // 2}"]
    assert feed.stats[0].rows_to_read <= 4 * 1024 < n // 4
