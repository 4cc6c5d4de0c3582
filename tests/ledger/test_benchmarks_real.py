"""Each market's benchmark on the real data, checked against the files themselves: the SSE 50
index bought at the first open, the SSE 50 hourly replica against the official daily closes,
the CD5 basket against the peer's own CD5 series (normalised weights), US hourly QQQ."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from aitrader import markets
from aitrader.ledger import Ledger
from aitrader.ledger.performance import Leaderboard, leaderboard
from aitrader.market.loader import import_price_files
from aitrader.market.prices import Bar, Feed, upsert_bars
from aitrader.store import Store, scalar
from tests.conftest import shared_data


def _series(path: Path) -> dict[str, dict[str, str]]:
    doc: dict[str, Any] = json.loads(path.read_text())
    key = next(k for k in doc if k.startswith("Time Series"))
    return dict(doc[key])


async def _board(store: Store, key: str, freq: str, init: str, start: str, end: str
                 ) -> Leaderboard:
    market = markets.get(key, freq)
    await Ledger(store).register_model("holder", market.starting_cash, init, market=key,
                                       frequency=freq)
    return await leaderboard(store, market, start=start, end=end)


async def test_sse50_daily_index_bought_at_the_first_open(store: Store) -> None:
    """000016.SH: 100,000 CNY in fractional units at the 10-09 open, valued at each close; the
    index's own move from the 09-30 close (the file's first bar) to the window's end."""
    await import_price_files(store, [shared_data("sse50-daily", "index_daily_sse_50.json")])
    board = await _board(store, "cn", "daily", "2025-09-30", "2025-10-09", "2025-11-18")
    raw = _series(shared_data("sse50-daily", "index_daily_sse_50.json"))
    bench = board.benchmark
    assert bench is not None and bench.name == "000016.SH"
    open_ = float(raw["2025-10-09"]["1. open"])
    days = [p.date for p in bench.points[1:]]
    assert days[0] == "2025-10-09" and days[-1] == "2025-11-18" and len(days) == 29
    for p in bench.points[1:]:
        assert p.value == pytest.approx(100_000 * float(raw[p.date]["4. close"]) / open_,
                                        rel=1e-12)
    assert bench.metrics.periods_per_year == 242
    assert board.index is not None and board.index.start == "2025-09-30"
    assert board.index.value == pytest.approx(
        float(raw["2025-11-18"]["4. close"]) / float(raw["2025-09-30"]["4. close"]) - 1,
        rel=1e-12)


async def test_sse50_hourly_replica_tracks_the_official_closes(store: Store) -> None:
    """The replica (units from the 2025-09-30 weights and closes, valued on hourly bars)
    moves like the official index: from the last hourly close of one day to another's, within
    0.1 basis point, over the days after the hourly file's last dividend adjustment (its bars
    before an ex-date are forward-adjusted, MARKETS.md's check used unadjusted bars)."""
    await import_price_files(store, [
        shared_data("sse50-daily", "merged_2025-01-02_2025-10-31.jsonl"),
        shared_data("sse50-hourly", "merged_hourly.jsonl")])
    board = await _board(store, "cn", "hourly", "2025-09-30", "2025-10-09", "2025-11-18")
    assert not [n for n in board.notes if "weights apply at the first open" in n]
    bench = board.benchmark
    assert bench is not None and bench.name == "SSE50-replica"
    assert bench.points[1].date == "2025-10-09T09:30:00+08:00"
    assert bench.metrics.periods_per_year == 968
    official = _series(shared_data("sse50-daily", "index_daily_sse_50.json"))
    last_of_day = {p.date[:10]: p.value for p in bench.points[1:]}
    days = [d for d in sorted(last_of_day) if d >= "2025-11-10"]
    assert len(days) == 7
    for a, b in itertools.pairwise(days):
        ours = last_of_day[b] / last_of_day[a]
        theirs = float(official[b]["4. close"]) / float(official[a]["4. close"])
        assert ours == pytest.approx(theirs, abs=1e-5), (a, b)
    # the index return: the replica from the 09-30 close (the hourly file starts on 10-09, so
    # from the daily close of that day) to the window's last close, as the official index
    index = board.index
    assert index is not None and index.start == "2025-09-30T14:00:00+08:00"
    assert index.note == "starts from the daily close of 2025-09-30"
    assert index.value == pytest.approx(
        float(official[days[-1]]["4. close"]) / float(official["2025-09-30"]["4. close"]) - 1,
        abs=1e-5)


async def test_cd5_is_the_peers_basket_with_normalised_weights(store: Store) -> None:
    """The peer bought weights summing to 100.02% of 50,000 at the 11-02 open (50,010): ours
    buys the same basket normalised, so every value is the peer's CD5 x 50,000 / 50,010."""
    await import_price_files(store, [shared_data("crypto-daily", "coin")])
    board = await _board(store, "crypto", "daily", "2025-11-01", "2025-11-02", "2025-11-15")
    cd5 = _series(shared_data("crypto-daily", "CD5_crypto_index.json"))
    bench = board.benchmark
    assert bench is not None and bench.name == "CD5"
    assert bench.points[0].value == 50_000 and bench.points[1].date == "2025-11-02"
    assert [p.date for p in bench.points[1:]] == sorted(d for d in cd5 if d >= "2025-11-02")
    for p in bench.points[1:]:
        # the file rounds to 4 places
        assert p.value == pytest.approx(float(cd5[p.date]["4. close"]) * 50_000 / 50_010,
                                        abs=1e-3), p.date
    assert bench.metrics.periods_per_year == 365
    assert "prices are USD quotes, used as USDT" in board.notes
    assert board.index is not None and board.index.start == "2025-11-01"
    assert board.index.value is not None and -0.2 < board.index.value < 0


async def test_qqq_hourly_from_the_first_bar(store: Store) -> None:
    """US hourly: whole QQQ shares at the open of the first 10:00 bar (the peer's dashboard
    started at that bar's close), valued at each hourly close; 1512 sessions a year."""
    await import_price_files(store, [shared_data("nasdaq100-hourly", "daily_prices_QQQ.json")])
    board = await _board(store, "us", "hourly", "2025-10-31", "2025-11-03", "2025-11-07")
    raw = _series(shared_data("nasdaq100-hourly", "daily_prices_QQQ.json"))
    bench = board.benchmark
    assert bench is not None and bench.points[0].date == "2025-10-31"
    first = bench.points[1].date
    assert first == "2025-11-03T10:00:00-05:00"
    open_ = Decimal(raw["2025-11-03 10:00:00"]["1. open"])
    shares = Decimal(10_000) // open_
    left = Decimal(10_000) - shares * open_
    last = bench.points[-1]
    assert last.date == "2025-11-07T15:00:00-05:00" and len(bench.points) == 1 + 5 * 6
    assert last.amount == left + shares * Decimal(raw["2025-11-07 15:00:00"]["4. close"])
    assert bench.metrics.periods_per_year == 1512
    assert board.index is not None and board.index.start == "2025-10-31T15:00:00-04:00"


async def test_the_window_ends_where_the_stocks_have_closes(store: Store) -> None:
    """merged.jsonl cuts the stocks' 11-19 bar to its open, the index file keeps its close:
    the leaderboard ends on 11-18 rather than value holdings at 11-18's closes under 11-19."""
    await import_price_files(store, [shared_data("sse50-daily", "merged.jsonl"),
                                     shared_data("sse50-daily", "index_daily_sse_50.json")])
    board = await _board(store, "cn", "daily", "2025-09-30", "2025-10-09", "2025-11-30")
    assert board.end == "2025-11-18"
    assert board.benchmark is not None and board.benchmark.points[-1].date == "2025-11-18"
    await import_price_files(store, [shared_data("sse50-daily", "raw")])  # the real closes
    board = await leaderboard(store, markets.get("cn", "daily"), end="2025-11-30")
    assert board.end == "2025-11-19"


async def test_a_few_symbols_a_day_ahead_do_not_move_the_window(store: Store) -> None:
    """US daily: two symbols (QQQ among them) fetched one day further than the rest; the
    leaderboard still ends where the universe has its closes."""
    await import_price_files(store, [shared_data("nasdaq100-daily")])
    async with store.read() as conn:
        last = await scalar(conn, "SELECT MAX(session) FROM bars WHERE symbol = 'AAPL'")
    ahead = markets.get().next_session(last)
    assert ahead is not None
    bars = [Bar(sym, ahead.id, *(Decimal(100),) * 4, Decimal(1), "test")
            for sym in ("QQQ", "AAPL")]
    await upsert_bars(store, Feed(), bars)
    board = await _board(store, "us", "daily", "2025-09-30", "2025-10-01", "2030-01-01")
    assert board.end == last
