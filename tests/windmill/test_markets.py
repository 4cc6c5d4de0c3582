"""The Windmill scripts on a service that runs other markets and frequencies: a job each for
China A-shares hourly and daily, crypto hourly and daily and US hourly across the end of
daylight saving, stored in one real Postgres by session (the instant each session starts, as
aitrader's own sessions), read back by market, and the daily flow on an hourly market."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Generator, Iterator
from datetime import UTC, date, datetime
from typing import Any, cast

import psycopg2
import pytest

from aitrader import markets
from aitrader.markets.sessions import Session
from tests.live import Service, start_service
from tests.windmill.conftest import new_database
from tests.windmill.workspace import Flow, ScriptFailed, py_module, rows, run_script

# config: market, frequency, init date, end date, demo prices from, sessions of the job
CASES = {
    "cn_hourly": ("cn", "hourly", "2025-09-30", "2025-10-10", "2025-09-01", 8),
    "crypto_hourly": ("crypto", "hourly", "2025-11-07", "2025-11-08", "2025-10-25", 24),
    "us_hourly": ("us", "hourly", "2025-10-30", "2025-11-03", "2025-10-01", 12),
    "cn_daily": ("cn", "daily", "2025-09-30", "2025-10-17", "2025-09-01", 7),
    "crypto_daily": ("crypto", "daily", "2025-11-05", "2025-11-10", "2025-10-01", 5),
}


def _config(market: str, frequency: str, init: str, tag: str) -> dict[str, Any]:
    return {"market": market, "frequency": frequency, "data": "database",
            "date_range": {"init_date": init},
            "agent_config": {"max_retries": 0, "base_delay": 0},
            "models": [{"name": "bh", "basemodel": "baseline/buy-and-hold",
                        "signature": f"bh-{tag}"},
                       {"name": "mo", "basemodel": "baseline/momentum",
                        "signature": f"mo-{tag}"}]}


@pytest.fixture(scope="module")
def markets_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A live service with each case's demo prices and config (and one more CN hourly
    config for the flow), no model run yet."""
    tmp = tmp_path_factory.mktemp("markets")
    running = cast(Generator[Service, None, None], start_service(tmp))
    service = next(running)
    try:
        for name, (key, freq, init, end, since, _) in CASES.items():
            subprocess.run([sys.executable, "-m", "aitrader", "prices", "demo", "--market",
                            key, "--frequency", freq, "--start", since, "--end", end],
                           env=service.env, cwd=tmp, check=True, capture_output=True)
            (service.configs / f"{name}.json").write_text(
                json.dumps(_config(key, freq, init, name.replace("_", "-"))))
        (service.configs / "cn_flow.json").write_text(
            json.dumps(_config("cn", "hourly", "2025-09-30", "cn-flow")))
        yield service
    finally:
        running.close()  # stops the service's processes


@pytest.fixture(scope="module")
def jobs(markets_service: Service) -> dict[str, dict[str, Any]]:
    """Each case's job, triggered by the Bun script (one at a time: the service runs one)."""
    out = {}
    for name, (_, _, _, end, _, n) in CASES.items():
        job = run_script("f/ai_trader/trigger_simulation",
                         {"api": markets_service.api(), "config_path": f"configs/{name}.json",
                          "end_date": end})
        assert job["status"] == "accepted", job
        view = markets_service.wait_job(job["job_id"])
        assert view["status"] == "completed", view
        assert view["progress"]["completed"] == 2 * n
        out[name] = view
    return out


def sessions_of(job: dict[str, Any], key: str, freq: str) -> list[Session]:
    """The job's sessions, by aitrader's own market definitions."""
    first, last = job["date_range"]
    market = markets.get(key, freq)
    every = market.sessions(date.fromisoformat(first[:10]), date.fromisoformat(last[:10]))
    ids = [s.id for s in every]
    return every[ids.index(first):ids.index(last) + 1]


def expected_results(service: Service, key: str, freq: str,
                     sessions: list[Session]) -> list[tuple[Any, ...]]:
    """What the service says for those sessions, for every model of the market."""
    perf = service.call("GET", f"/results/performance?market={key}&frequency={freq}")
    models = set(perf["models"])
    by_id = {s.id: s for s in sessions}
    out = []
    for day in sorted({s.id[:10] for s in sessions}):
        for r in service.call("GET", f"/results?date={day}")["results"]:
            if r["model"] not in models or r["session"] not in by_id:
                continue
            s = by_id[r["session"]]
            positions = dict(r["positions"])
            cash = positions.pop("CASH")
            pnl = r["daily_pnl"]
            out.append((r["model"], s.id, s.start, s.day.isoformat(), pnl["portfolio_value"],
                        cash, pnl["profit"], pnl["return_pct"], positions))
    return sorted(out, key=lambda r: (r[2], r[0]))


def stored_results(db: dict[str, Any], key: str, freq: str) -> list[tuple[Any, ...]]:
    got = rows(db, "SELECT model, session_id, session, date::text, portfolio_value::float8, "
                   "cash::float8, profit::float8, return_pct, positions::text "
                   f"FROM ai_trader_results WHERE market = '{key}' AND frequency = '{freq}' "
                   "ORDER BY session, model")
    return [(*r[:8], json.loads(r[8])) for r in got]


@pytest.fixture(scope="module")
def stored(markets_service: Service, jobs: dict[str, dict[str, Any]],
           postgres: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every case's job stored in one database: (the database, each store's answer)."""
    db = new_database(postgres)
    answers = {}
    for name, job in jobs.items():
        answers[name] = run_script("f/ai_trader/fetch_and_store_results",
                                   {"api": markets_service.api(), "db": db,
                                    "job_id": job["job_id"]})
    return db, answers


@pytest.mark.parametrize("name", list(CASES))
def test_each_market_is_stored_by_session(markets_service: Service,
                                          jobs: dict[str, dict[str, Any]],
                                          stored: tuple[dict[str, Any], dict[str, Any]],
                                          name: str) -> None:
    db, answers = stored
    key, freq, _, _, _, n = CASES[name]
    job = jobs[name]
    sessions = sessions_of(job, key, freq)
    assert len(sessions) == n
    answer = answers[name]
    assert (answer["market"], answer["frequency"]) == (key, freq)
    assert answer["sessions"] == n and answer["days"] == len({s.day for s in sessions})
    assert answer["date_range"] == job["date_range"] == [sessions[0].id, sessions[-1].id]
    # every row: the session's id as the API writes it, its start instant, its local date
    expected = expected_results(markets_service, key, freq, sessions)
    assert stored_results(db, key, freq) == expected
    assert answer["result_rows"] == len(expected) >= 2 * n
    # the benchmark, by session, as /results/performance says over the job's days
    perf = markets_service.call(
        "GET", f"/results/performance?market={key}&frequency={freq}"
               f"&start_date={sessions[0].id[:10]}&end_date={sessions[-1].id[:10]}")
    by_id = {s.id: s for s in sessions}
    bench = [(perf["benchmark"]["symbol"], p["date"], by_id[p["date"]].start,
              p["portfolio_value"], p["daily_return_pct"])
             for p in perf["benchmark"]["series"] if p["date"] in by_id]
    assert len(bench) == n == answer["benchmark_rows"]
    assert rows(db, "SELECT symbol, session_id, session, value::float8, daily_return_pct "
                    f"FROM ai_trader_benchmark WHERE market = '{key}' AND frequency = '{freq}' "
                    "ORDER BY session") == bench
    # the job: its first and last session, both ways, and its market
    assert rows(db, "SELECT market, frequency, date_start::text, date_end::text, "
                    "first_session_id, last_session_id, first_session, last_session "
                    f"FROM ai_trader_jobs WHERE job_id = '{job['job_id']}'") == [
        (key, freq, sessions[0].day.isoformat(), sessions[-1].day.isoformat(),
         sessions[0].id, sessions[-1].id, sessions[0].start, sessions[-1].start)]


def test_session_instants(stored: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Hourly: the bar's start (US offsets follow daylight saving); daily: the market's open
    (New York 09:30, Shanghai 09:30, 00:00 UTC). Ordering by `session` is ordering by time."""
    db, _ = stored

    def utc(model: str) -> list[tuple[str, str]]:
        return [(sid, at.astimezone(UTC).strftime("%m-%d %H:%M"))
                for sid, at in rows(db, "SELECT session_id, session FROM ai_trader_results "
                                        f"WHERE model = '{model}' ORDER BY session")]

    us = utc("bh-us-hourly")
    assert us[:6] == [(f"2025-10-31T{h}:00:00-04:00", f"10-31 {h + 4}:00")
                      for h in range(10, 16)]
    assert us[6:] == [(f"2025-11-03T{h}:00:00-05:00", f"11-03 {h + 5}:00")
                      for h in range(10, 16)]
    cn = utc("bh-cn-hourly")
    assert [sid[11:16] for sid, _ in cn[:4]] == ["09:30", "10:30", "13:00", "14:00"]
    assert [at for _, at in cn[:4]] == ["10-09 01:30", "10-09 02:30", "10-09 05:00",
                                        "10-09 06:00"]
    crypto = utc("bh-crypto-hourly")
    assert crypto == [(f"2025-11-08T{h:02d}:00:00+00:00", f"11-08 {h:02d}:00")
                      for h in range(24)]
    assert utc("bh-cn-daily")[:2] == [("2025-10-09", "10-09 01:30"),
                                      ("2025-10-10", "10-10 01:30")]
    assert utc("bh-crypto-daily")[0] == ("2025-11-06", "11-06 00:00")
    # crypto cash keeps every decimal the API gives (the old NUMERIC(18, 4) cut it)
    assert rows(db, "SELECT bool_or(scale(cash) > 4) FROM ai_trader_results "
                    "WHERE market = 'crypto'") == [(True,)]
    # CD5 daily and CD5 hourly share a symbol, not a key
    assert rows(db, "SELECT market, frequency, symbol, count(*) FROM ai_trader_benchmark "
                    "GROUP BY 1, 2, 3 ORDER BY 1, 2") == [
        ("cn", "daily", "000016.SH", 7), ("cn", "hourly", "SSE50-replica", 8),
        ("crypto", "daily", "CD5", 5), ("crypto", "hourly", "CD5", 24),
        ("us", "hourly", "QQQ", 12)]


def test_storing_again_changes_nothing(markets_service: Service,
                                       jobs: dict[str, dict[str, Any]],
                                       stored: tuple[dict[str, Any], dict[str, Any]]) -> None:
    db, answers = stored
    every = ("SELECT * FROM ai_trader_results ORDER BY model, session",
             "SELECT * FROM ai_trader_benchmark ORDER BY market, frequency, symbol, session",
             "SELECT * FROM ai_trader_jobs ORDER BY job_id")
    before = [rows(db, q) for q in every]
    for name in ("us_hourly", "cn_hourly", "crypto_daily"):
        again = run_script("f/ai_trader/fetch_and_store_results",
                           {"api": markets_service.api(), "db": db,
                            "job_id": jobs[name]["job_id"]})
        assert again == answers[name]
    assert [rows(db, q) for q in every] == before  # not even stored_at moved


def test_daily_sessions_start_at_the_markets_open(postgres: dict[str, Any]) -> None:
    """The script's table of opens gives, through Postgres's own time-zone rules, the start
    aitrader gives every daily session (both sides of daylight saving); an hourly id is its
    own instant; a market it does not know is a clear error."""
    store = py_module("fetch_and_store_results")
    assert set(store.DAILY_START) == set(markets.KNOWN)
    conn = psycopg2.connect(**{**postgres, "password": None})
    try:
        with conn.cursor() as cur:
            for key in markets.KNOWN:
                for freq in ("daily", "hourly"):
                    for s in markets.get(key, freq).sessions(date(2025, 3, 6),
                                                             date(2025, 3, 11)):
                        cur.execute("SELECT %s::timestamptz",
                                    (store.session_start(s.id, key),))
                        assert cur.fetchone()[0] == s.start, (key, freq, s.id)
    finally:
        conn.close()
    with pytest.raises(store.AiTraderError, match="market 'forex' is not one this script"):
        store.session_start("2025-10-02", "forex")


def test_read_scripts_take_a_market(markets_service: Service,
                                    jobs: dict[str, dict[str, Any]]) -> None:
    api = markets_service.api()
    # no US daily models here: the default (US daily) is an empty leaderboard, not an error
    assert run_script("f/ai_trader/get_latest_performance", {"api": api}) == []
    with pytest.raises(ScriptFailed, match=re.escape("answered HTTP 400: the models trade "
                                                     "several markets")):
        run_script("f/ai_trader/get_latest_performance", {"api": api, "market": ""})

    perf = markets_service.call("GET", "/results/performance?market=cn&frequency=hourly")
    latest = run_script("f/ai_trader/get_latest_performance",
                        {"api": api, "market": "cn", "frequency": "hourly"})
    assert latest[-1]["model"] == "SSE50-replica" and latest[-1]["kind"] == "benchmark"
    for row in latest:
        doc = perf["models"].get(row["model"]) or perf["benchmark"]
        assert (row["market"], row["frequency"], row["currency"]) == ("cn", "hourly", "CNY")
        assert row["date"] == doc["series"][-1]["date"] == "2025-10-10T14:00:00+08:00"
        assert row["portfolio_value"] == doc["series"][-1]["portfolio_value"]
        assert row["sessions"] == doc["metrics"]["sessions"]

    ts = run_script("f/ai_trader/get_timeseries",
                    {"api": api, "market": "us", "frequency": "hourly"})
    assert (ts["market"], ts["frequency"], ts["currency"], ts["benchmark"]) == \
        ("us", "hourly", "USD", "QQQ")
    assert ts["dates"][0] == "2025-10-30"  # the baseline: the init date's close
    hours = ts["dates"][1:]
    assert hours == sorted(hours, key=lambda d: datetime.fromisoformat(d).astimezone(UTC))
    assert hours[5:7] == ["2025-10-31T15:00:00-04:00", "2025-11-03T10:00:00-05:00"]
    assert set(ts["series"]) == {"bh-us-hourly", "mo-us-hourly", "QQQ"}
    assert all(len(v) == len(ts["dates"]) for v in ts["series"].values())

    table = run_script("f/ai_trader/dashboard_performance_table",
                       {"api": api, "market": "crypto", "frequency": "hourly"})
    first = table["table-row-object"][0]
    assert list(first) == ["Model", "Date", "Portfolio value (USDT)", "Total return (%)",
                           "Hourly return (%)", "Sharpe", "Max drawdown (%)"]
    assert table["table-row-object"][-1]["Model"] == "CD5 (benchmark)"
    chart = run_script("f/ai_trader/dashboard_portfolio_chart",
                       {"api": api, "market": "cn", "frequency": "hourly"})
    assert set(re.findall(r'data-series="([^"]+)"', chart["html"])) == \
        {"bh-cn-hourly", "mo-cn-hourly", "SSE50-replica"}
    assert ">2025-10-10 14:00+08:00</text>" in chart["html"] and ">CNY</text>" in chart["html"]


def test_the_daily_flow_on_an_hourly_market(markets_service: Service,
                                            jobs: dict[str, dict[str, Any]],
                                            pg_db: dict[str, Any]) -> None:
    """The flow is the same for every market: the config names it, the store finds it."""
    run = Flow({"api": markets_service.api(), "db": pg_db, "poll_seconds": 1,
                "max_polls": 120, "config_path": "configs/cn_flow.json"})
    results = run.run()
    assert not run.stopped and run.steps[-2:] == ["d", "e"]
    assert results["a"]["date_range"] == ["2025-10-09T09:30:00+08:00",
                                          "2025-10-10T14:00:00+08:00"]
    assert results["d"]["status"] == "completed"
    e = results["e"]
    assert (e["market"], e["frequency"], e["sessions"], e["days"]) == ("cn", "hourly", 8, 2)
    sessions = sessions_of(results["a"], "cn", "hourly")
    expected = expected_results(markets_service, "cn", "hourly", sessions)
    assert {r[0] for r in expected} == {"bh-cn-hourly", "mo-cn-hourly", "bh-cn-flow",
                                        "mo-cn-flow"}  # every CN hourly model
    assert stored_results(pg_db, "cn", "hourly") == expected
    assert e["result_rows"] == len(expected) == 32
    assert rows(pg_db, "SELECT DISTINCT market, frequency FROM ai_trader_results") == \
        [("cn", "hourly")]
    again = Flow({"api": markets_service.api(), "db": pg_db, "poll_seconds": 1,
                  "config_path": "configs/cn_flow.json"})
    again.run()
    assert again.stopped and again.steps == ["a"]
    assert again.results["a"]["last_simulation_date"] == "2025-10-10T14:00:00+08:00"

