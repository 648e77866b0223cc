"""The Streamlit dashboard over ``python -m warehouse serve`` (reads only through its HTTP API).

Run it with ``python -m warehouse dashboard --api http://127.0.0.1:8123`` (checks the API first) or
``streamlit run warehouse/dashboard/app.py --server.address 127.0.0.1 -- --api http://127.0.0.1:8123
[--token T]`` (defaults: ``$TICKHOUSE_API``, ``$TICKHOUSE_TOKEN``).

It shows ingest rate and consumer lag, rejects by reason, candles with volume for a symbol, range and
interval, the live 5-level book and last trades (from the hot path when serve runs ``--ingest``, else
the latest stored quote and trades), the scan-vs-rollup benchmark with a button that runs it, and
recent runs with their reports and a form that starts one.
The live parts refresh on their own (``st.fragment(run_every=...)``).

Importing this module draws nothing: Streamlit runs it as ``__main__``, which calls :func:`main`.

>>> parse_args(["--api", "http://127.0.0.1:9000"]).api
'http://127.0.0.1:9000'
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date, datetime, timedelta, timezone
from typing import Any

import streamlit as st

from warehouse.dashboard import figures, shape
from warehouse.dashboard import API_ENV, DEFAULT_API, TOKEN_ENV
from warehouse.dashboard.client import Api, ApiError

INTERVALS = ("1m", "5m", "15m", "30m", "1h", "1d")
MAX_BARS = 20_000
REFRESH_S = 5
LAST_TRADES = 15
TRADES_WINDOW = timedelta(minutes=1)
SYMBOLS_TTL_S = 60
DEFAULT_DAYS = 3


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The script's options (after ``--`` on the ``streamlit run`` line)."""
    parser = argparse.ArgumentParser(prog="warehouse/dashboard/app.py")
    parser.add_argument("--api", default=os.environ.get(API_ENV, DEFAULT_API), help="serve's base URL")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV), help="serve's token, if it runs with one")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Draw the dashboard for the API named in ``argv`` (default: the script's arguments)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    render(args.api, args.token)


@st.cache_resource(show_spinner=False)
def _api(url: str, token: str | None) -> Api:
    return Api(url, token=token)


@st.cache_data(ttl=SYMBOLS_TTL_S, show_spinner=False)
def _symbols(url: str, token: str | None) -> list[dict[str, Any]]:
    return _api(url, token).symbols()


def render(url: str, token: str | None = None) -> None:
    """The whole page; an API that fails shows one error line where its panel would be."""
    st.set_page_config(page_title="tickhouse dashboard", layout="wide", initial_sidebar_state="expanded")
    st.title("tickhouse")
    try:
        api = _api(url, token)
        status = api.status()
        symbols = _symbols(api.url, token)
    except ApiError as exc:
        st.error(str(exc))
        return
    tables = {t["name"]: t["rows"] for t in status["tables"]}
    st.caption(f"API {api.url} · warehouse {status['dsn']} · {len(symbols)} symbols · "
               f"{tables.get('ticks', 0):,} tick rows · {tables.get('bars_1m', 0):,} bar rows")
    every = REFRESH_S if st.sidebar.toggle("auto-refresh live panels", value=True,
                                           help=f"ingest, rejects, book and trades every {REFRESH_S} s") else None
    _ingest(api, every)
    if not symbols:
        st.warning(f"The warehouse has no trades yet: load some, e.g. python -m warehouse demo --dsn {api.url}")
        return
    spans = {row["symbol"]: row for row in symbols}
    try:
        hot = api.hot_symbols() if status.get("hot_symbols") else []
    except ApiError as exc:
        st.error(str(exc))
        hot = []
    if st.session_state.get("symbol") not in spans:  # first the busiest on the stream; then the user's choice
        st.session_state["symbol"] = shape.busiest(hot, list(spans))
    symbol = st.sidebar.selectbox("symbol", list(spans), key="symbol")
    interval = st.sidebar.selectbox("interval", INTERVALS, index=1)
    first, last = shape.utc(spans[symbol]["first"]).date(), shape.utc(spans[symbol]["last"]).date()
    start_day = st.sidebar.date_input("from (UTC day)", max(first, last - timedelta(days=DEFAULT_DAYS - 1)),
                                      min_value=first, max_value=last, key=f"from-{symbol}")
    end_day = st.sidebar.date_input("to (UTC day, included)", last, min_value=first, max_value=last,
                                    key=f"to-{symbol}")
    st.header(f"{symbol} · {interval}")
    chart, live = st.columns([3, 2])
    with chart:
        _candles(api, symbol, interval, start_day, end_day)
    with live:
        _live(api, symbol, shape.utc(spans[symbol]["last"]), bool(hot), every)
    _benchmark(api, list(spans), symbol)
    _backtests(api, list(spans), symbol, interval)


def _ingest(api: Api, every: int | None) -> None:
    @st.fragment(run_every=every)
    def panel() -> None:
        left, right = st.columns([3, 2])
        with left:
            st.subheader("Ingest")
            try:
                ingest = api.ingest()
            except ApiError as exc:
                st.error(str(exc))
                ingest = None
            if ingest is None:
                st.info("no consumer: this serve runs no stream consumer "
                        "(python -m warehouse serve --ingest redis|kafka)")
            else:
                for column, (label, value) in zip([*st.columns(3), *st.columns(3)], shape.rate_text(ingest).items()):
                    column.metric(label, value)
                state = "running" if ingest.get("running") else f"stopped: {ingest.get('error') or 'finished'}"
                st.caption(f"{ingest.get('source')} · {state} · {ingest.get('batches', 0):,} batches · "
                           f"{ingest.get('retries', 0):,} retries · up {ingest.get('uptime_s', 0):,.0f} s")
        with right:
            try:
                rejects = api.rejects()
            except ApiError as exc:
                st.error(str(exc))
                return
            st.subheader(f"Rejects by reason · {sum(r['count'] for r in rejects):,}")
            if rejects:
                st.dataframe([{**r, "latest": shape.clock(r["latest"])[:19]} for r in rejects], hide_index=True,
                             height=min(38 + 35 * len(rejects), 250),
                             column_order=("code", "field", "target", "count", "latest"))
            else:
                st.caption("no rejected rows")

    panel()


def _candles(api: Api, symbol: str, interval: str, first: date, last: date) -> None:
    if last < first:
        st.error(f"to: {last} is before from {first}")
        return
    start, end = shape.day_range(first, last)
    bound = int((end - start).total_seconds()) // shape.interval_seconds(interval)
    if bound > MAX_BARS:
        st.warning(f"interval: {interval} over {(end - start).days} days is up to {bound:,} bars; "
                   f"choose a longer interval or fewer days (at most {MAX_BARS:,})")
        return
    try:
        bars = api.bars(symbol, start, end, interval)
    except ApiError as exc:
        st.error(str(exc))
        return
    if not bars["data"]:
        st.info(f"{symbol} has no trades from {first} to {last}")
        return
    st.plotly_chart(figures.candles(bars["data"], symbol), key="candles", config={"displaylogo": False})
    cost = bars["cost"]
    st.caption(f"{bars['rows']:,} bars from {cost['source']} in {cost['wall_ms']:,.1f} ms "
               f"({cost['rows_to_read']:,} rows read)")


def _live(api: Api, symbol: str, last_trade: datetime, hot: bool, every: int | None) -> None:
    @st.fragment(run_every=every)
    def panel() -> None:
        try:
            book, state = (api.book(symbol), api.state(symbol)) if hot else (None, None)
            if book is not None:
                rows, said = shape.book_from_hot(book), f"live from the stream, {shape.clock(book['ts'])}"
                said += f" · OI {book['oi']:,.0f}" if book.get("oi") else ""  # none or 0: not a derivative
            else:
                depth = (api.depth(symbol, datetime.now(timezone.utc)) or {"data": []})["data"]
                rows = shape.book_from_depth(depth[0]) if depth else []
                said = f"latest stored quote, {shape.clock(depth[0]['ts'])}" if depth else "no quote stored"
            end = shape.utc(state["last_trade"]["ts"]) if state and state.get("last_trade") else last_trade
            ticks = api.ticks(symbol, end - TRADES_WINDOW, end + timedelta(milliseconds=1))["data"]
        except ApiError as exc:
            st.error(str(exc))
            return
        st.subheader("Book")
        if state and state.get("window"):
            window = state["window"]
            cells = [*st.columns(2), *st.columns(2)]
            cells[0].metric("last", state["last_trade"]["price"] if state.get("last_trade") else "n/a")
            cells[1].metric("1m volume", f"{window.get('volume', 0):,.0f}")
            cells[2].metric("1m high", window.get("high") or "n/a")
            cells[3].metric("1m low", window.get("low") or "n/a")
        st.caption(said)
        st.dataframe(rows, hide_index=True, height=38 + 35 * max(len(rows), 1))
        st.subheader("Last trades")
        st.caption(f"stored trades up to {shape.clock(end.isoformat())}")
        st.dataframe(shape.last_trades(ticks, LAST_TRADES), hide_index=True, height=300)

    panel()


def _benchmark(api: Api, symbols: list[str], symbol: str) -> None:
    st.header("Scan vs rollup")
    pick, runs, go = st.columns([2, 1, 1], vertical_alignment="bottom")
    chosen = pick.selectbox("benchmark symbol", symbols, index=symbols.index(symbol))
    times = runs.number_input("runs per query", min_value=1, max_value=20, value=3)
    if go.button("Run benchmark", type="primary"):
        try:
            with st.spinner(f"reading {chosen}'s windows raw and from the rollup..."):
                added = api.run_benchmark(chosen, int(times))
            st.success(f"appended {len(added)} rows to benchmark.csv")
        except ApiError as exc:
            st.error(str(exc))
    try:
        rows = api.benchmark()
    except ApiError as exc:
        st.error(str(exc))
        return
    if not rows:
        st.info("no benchmark yet: press Run benchmark")
        return
    runs_done = shape.split_runs(rows)
    latest = runs_done[-1]
    windows = shape.raw_vs_rollup(latest)
    chart, table = st.columns([1, 1])
    with chart:
        st.caption(f"latest run: {latest[0].get('symbol') or '?'}, {latest[0].get('ticks_in_table')} ticks in the "
                   f"table, median of {latest[0].get('runs')} runs")
        st.plotly_chart(figures.raw_vs_rollup_chart(windows), key="benchmark-chart", config={"displayModeBar": False})
    with table:
        st.dataframe(windows, hide_index=True)
    with st.expander(f"benchmark.csv: {len(rows)} rows, {len(runs_done)} runs"):
        st.dataframe(rows[::-1], hide_index=True)


def _backtests(api: Api, symbols: list[str], symbol: str, interval: str) -> None:
    st.header("Backtests")
    form, listed = st.columns([1, 2])
    with form, st.form("backtest"):
        strategy = st.text_input("strategy", "sma_cross", help="short name, import path or file")
        chosen = st.multiselect("symbols", symbols, default=[symbol])
        bar = st.selectbox("bar interval", INTERVALS, index=INTERVALS.index(interval))
        extra = st.text_area("other overrides, one a line", placeholder="strategy.fast=10\nengine.fees_bps=2")
        submitted = st.form_submit_button("Start backtest")
        if submitted and not chosen:
            st.error("symbols: choose at least one")
        elif submitted:
            overrides = [f"data.symbols=[{','.join(chosen)}]", f"data.interval={bar}",
                         *(line.strip() for line in extra.splitlines() if line.strip())]
            try:
                st.session_state["backtest_id"] = api.start_backtest(strategy.strip(), overrides)["id"]
            except ApiError as exc:
                st.error(str(exc))
    with listed:
        if "backtest_id" in st.session_state:
            _backtest_state(api, st.session_state["backtest_id"])
        try:
            runs = api.runs()
        except ApiError as exc:
            st.error(str(exc))
            return
        st.subheader(f"Recent runs · {len(runs)}")
        if not runs:
            st.caption("no run with a report yet")
            return
        st.dataframe([{"folder": r["folder"], "finished": r["finished"], "report": api.link(r["report"])}
                      for r in runs], hide_index=True, height=min(38 + 35 * len(runs), 400),
                     column_config={"report": st.column_config.LinkColumn("report", display_text="open report")})


def _backtest_state(api: Api, run_id: str) -> None:
    """The backtest started from the form: polled every 2 s while it runs, then the page redraws once."""
    try:
        running = api.backtest(run_id)["state"] == "running"
    except ApiError as exc:
        st.error(str(exc))
        return

    @st.fragment(run_every=2 if running else None)
    def panel() -> None:
        try:
            run = api.backtest(run_id)
        except ApiError as exc:
            st.error(str(exc))
            return
        if run["state"] == "running":
            st.info(f"backtest {run_id} running ({run['folder']})")
        elif running:  # it finished since the page was drawn: redraw it (runs list, no more polling)
            st.rerun(scope="app")
        elif run["state"] == "done":
            report = f": [report]({api.link(run['report'])})" if run.get("report") else ""
            st.success(f"backtest {run_id} done in {run['seconds']} s{report}")
        else:
            st.error(f"backtest {run_id} failed (exit {run['exit_code']})")
            st.code(run["output_tail"][-2000:] or "(no output)")

    panel()


if __name__ == "__main__":
    main()
