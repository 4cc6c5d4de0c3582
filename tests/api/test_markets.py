"""A full job per market and frequency through the HTTP API: both baselines on that market's
demo data, every planned session completed, the ledger's invariants and the market's rules
intact, the sessions' events on the WebSocket, /results per model."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from aitrader import markets
from aitrader.ledger import Ledger
from aitrader.ledger.invariants import violations
from aitrader.market import demo
from aitrader.market.prices import Feed, get_bar, upsert_bars
from aitrader.store import Store
from tests.api.conftest import Api

CASES = [  # market, frequency, first and last trading day, sessions
    ("us", "hourly", "2025-10-30", "2025-10-31", 12),
    ("cn", "daily", "2025-10-09", "2025-10-17", 7),
    ("cn", "hourly", "2025-10-09", "2025-10-10", 8),
    ("crypto", "daily", "2025-11-06", "2025-11-10", 5),
    ("crypto", "hourly", "2025-11-08", "2025-11-08", 24),
]


async def until_finished(api: Api, job: str) -> dict[str, Any]:
    for _ in range(2400):
        body = await (await api.client.get(f"/simulate/status/{job}?details=1")).json()
        if body["status"] not in ("pending", "running"):
            return dict(body)
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job} did not finish")


@pytest.mark.parametrize(("key", "freq", "first", "last", "n"), CASES)
async def test_a_job_per_market_and_frequency(api: Api, key: str, freq: str, first: str,
                                              last: str, n: int) -> None:
    market = markets.get(key, freq)
    async with Store(api.stack.db) as store:
        await upsert_bars(store, Feed(key, freq), demo.generate(
            market, date(2025, 9, 1), date.fromisoformat(last), seed=13))
    tag = f"{key}-{freq}"
    path = api.stack.write_config(
        [{"name": "bh", "basemodel": "baseline/buy-and-hold", "signature": f"bh-{tag}"},
         {"name": "mo", "basemodel": "baseline/momentum", "signature": f"mo-{tag}"}],
        name=f"{tag}.json", market=key, frequency=freq, data="database",
        date_range={"init_date": "2025-09-30"})
    ws = await api.client.ws_connect("/ws")
    resp = await api.client.post("/simulate/trigger", json={
        "config_path": path, "start_date": first, "end_date": last})
    assert resp.status == 202, await resp.text()
    job = (await resp.json())["job_id"]
    done = await until_finished(api, job)
    assert done["status"] == "completed", done
    sessions = [s.id for s in market.sessions(date.fromisoformat(first),
                                              date.fromisoformat(last))]
    assert len(sessions) == n
    assert done["progress"]["completed"] == 2 * n
    finished: list[str] = []
    while True:
        msg = await ws.receive_json(timeout=10)
        if msg["type"] == "model_day.finished" and msg["job_id"] == job \
                and msg["model"] == f"bh-{tag}":
            finished.append(msg["date"])
        if msg["type"] == "job.finished" and msg["job_id"] == job:
            break
    await ws.close()
    assert finished == sessions  # one event per session, by its id, in order
    async with Store(api.stack.db) as store:
        assert await violations(store) == []
        snap = await Ledger(store).end_of_day(f"bh-{tag}")
    assert snap is not None and snap[0] == sessions[-1]
    held = snap[1].holdings
    assert held, "buy-and-hold bought something"
    for symbol, qty in held.items():
        assert market.in_universe(symbol)
        if key == "cn" and not symbol.startswith("688"):
            assert qty % 100 == 0, (symbol, qty)
        if key == "crypto":
            assert qty == qty.quantize(Decimal("1e-8")) and qty != qty.to_integral_value()
    res = await api.client.get(f"/results?model=bh-{tag}&detail=full")
    body = await res.json()
    assert res.status == 200 and body["date"] == sessions[-1], body
    row = body["results"][0]
    assert json.dumps(row)  # plain JSON numbers
    assert row["positions"]["CASH"] >= 0
    perf = await api.client.get(f"/results/performance?model=bh-{tag}&start_date={first}"
                                f"&end_date={last}")
    doc = await perf.json()
    assert perf.status == 200, doc
    await check_performance(api, market, doc, f"bh-{tag}", sessions,
                            row["daily_pnl"]["portfolio_value"])
    both = await (await api.client.get(f"/results/performance?market={key}&frequency={freq}"
                                       )).json()
    assert set(both["models"]) == {f"bh-{tag}", f"mo-{tag}"}


async def check_performance(api: Api, market: markets.Market, doc: dict[str, Any], model: str,
                            sessions: list[str], value: float) -> None:
    """The model's series ends at its /results value; the benchmark and the index return are
    recomputed here from the stored bars by MARKETS.md's rules (buy at the first open)."""
    assert (doc["market"], doc["frequency"]) == (market.key, str(market.frequency))
    assert doc["currency"] == market.currency
    assert doc["periods_per_year"] == market.periods_per_year
    series = doc["models"][model]
    before = market.previous_session(sessions[0])
    assert before is not None  # the baseline: the session before the window (no trade yet)
    label = "2025-09-30" if before.day <= date(2025, 9, 30) else before.id  # or the init date
    assert [p["date"] for p in series["series"]] == [label, *sessions]
    assert series["metrics"]["periods_per_year"] == market.periods_per_year
    assert series["metrics"]["start_value"] == float(market.starting_cash)
    assert series["series"][-1]["portfolio_value"] == pytest.approx(value, abs=1e-4)
    bench = market.benchmark
    feed = Feed(market.key, str(market.frequency))
    async with Store(api.stack.db) as store, store.read() as conn:
        async def price(sym: str, session: str, field: str) -> float:
            bar = await get_bar(conn, feed, sym, session)
            if bar is None:  # the replica's weight-date closes may come from the daily feed
                bar = await get_bar(conn, Feed(market.key, "daily"), sym, session)
            assert bar is not None, (sym, session)
            return float(getattr(bar, field))

        names = list(bench.weights) or [bench.symbol]
        cash = float(market.starting_cash)
        opens = {s: await price(s, sessions[0], "open") for s in names}
        if bench.kind is markets.BenchmarkKind.SERIES:
            units = {bench.symbol: cash // opens[bench.symbol] if bench.whole_units
                     else cash / opens[bench.symbol]}
        elif bench.kind is markets.BenchmarkKind.BASKET:
            total = float(sum(bench.weights.values()))
            units = {s: cash * float(w) / total / opens[s] for s, w in bench.weights.items()}
        else:  # the replica: units per weight from the weight date's last close
            wd = market.sessions_of_day(bench.weight_date)[-1].id  # type: ignore[arg-type]
            base = {s: float(w) / await price(s, wd, "close") for s, w in bench.weights.items()}
            scale = cash / sum(u * opens[s] for s, u in base.items())
            units = {s: u * scale for s, u in base.items()}
        left = cash - sum(u * opens[s] for s, u in units.items())
        closes = {s: await price(s, sessions[-1], "close") for s in names}
        first = {s: await price(s, before.id, "close") for s in names}
    got = doc["benchmark"]
    assert got["symbol"] == bench.symbol
    assert got["units"] == ("whole" if bench.whole_units else "fractional")
    assert got["series"][0]["portfolio_value"] == cash
    assert got["series"][-1]["portfolio_value"] == pytest.approx(
        left + sum(u * closes[s] for s, u in units.items()), rel=1e-9)
    index = doc["index"]
    assert index["from_session"] == before.id and index["to_session"] == sessions[-1]
    if bench.kind is markets.BenchmarkKind.BASKET:  # the weights, at the baseline's closes
        units = {s: float(w) / first[s] for s, w in bench.weights.items()}
    assert index["return"] == pytest.approx(
        sum(u * closes[s] for s, u in units.items()) / sum(u * first[s] for s, u in
                                                           units.items()) - 1, rel=1e-9)


async def test_results_by_session_or_by_day(api: Api) -> None:
    """/results?date= takes a session id with any offset (answered in the market's own) or
    a bare date meaning every session of that local day; each row names its session."""
    cn = markets.get("cn", "hourly")
    async with Store(api.stack.db) as store:
        await upsert_bars(store, Feed("cn", "hourly"), demo.generate(
            cn, date(2025, 9, 1), date(2025, 10, 10), seed=13))
    path = api.stack.write_config(
        [{"name": "bh", "basemodel": "baseline/buy-and-hold", "signature": "bh-days"}],
        name="days.json", market="cn", frequency="hourly", data="database",
        date_range={"init_date": "2025-09-30"})
    resp = await api.client.post("/simulate/trigger", json={
        "config_path": path, "start_date": "2025-10-09", "end_date": "2025-10-10"})
    job = (await resp.json())["job_id"]
    assert (await until_finished(api, job))["status"] == "completed"
    day = await (await api.client.get("/results?date=2025-10-09&model=bh-days")).json()
    assert day["date"] == "2025-10-09"
    assert [r["session"] for r in day["results"]] == [
        f"2025-10-09T{t}:00+08:00" for t in ("09:30", "10:30", "13:00", "14:00")]
    for asked in ("2025-10-09T05:00:00Z", "2025-10-09T13:00:00%2B08:00",
                  "2025-10-09T01:00:00-04:00"):
        one = await (await api.client.get(f"/results?date={asked}&model=bh-days")).json()
        assert [r["session"] for r in one["results"]] == ["2025-10-09T13:00:00+08:00"], one
    for bad in ("2025-10-09T13:00:00", "noon", "2025-10-09T25:00:00Z"):
        resp = await api.client.get(f"/results?date={bad}")
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_date", bad
    latest = await (await api.client.get("/results?model=bh-days")).json()
    assert latest["date"] == "2025-10-10T14:00:00+08:00"
    assert [r["session"] for r in latest["results"]] == ["2025-10-10T14:00:00+08:00"]
