"""Each script's main on its real runtime against a live service: TypeScript on Bun and on
Deno, Python on CPython; results checked against what the service says, failures by their
message."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

import psycopg2
import pytest

from aitrader import markets
from aitrader.tools.ports import free_ports
from tests.live import Service
from tests.windmill.conftest import new_database
from tests.windmill.workspace import ScriptFailed, py_module, rows, run_script

RUNTIMES = ["bun", "deno"]


@pytest.fixture(scope="module")
def finished_job(service: Service) -> dict[str, Any]:
    """A catch-up to 2025-10-10 triggered by the Bun script and waited for."""
    out = run_script("f/ai_trader/trigger_simulation", {"api": service.api(),
                                                        "end_date": "2025-10-10"})
    assert out["skipped"] is False and out["status"] == "accepted", out
    assert out["date_range"] == ["2025-10-02", "2025-10-10"]
    assert out["models"] == ["buy-and-hold", "momentum"]
    view = service.wait_job(out["job_id"])
    assert view["status"] == "completed"
    return view


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_trigger_when_current_is_skipped(service: Service, finished_job: dict[str, Any],
                                         runtime: str) -> None:
    out = run_script("f/ai_trader/trigger_simulation",
                     {"api": service.api(), "end_date": "2025-10-10"}, runtime=runtime)
    assert out["skipped"] is True and out["status"] == "current"
    assert out["last_simulation_date"] == "2025-10-10"
    assert out["next_trading_day"] == "2025-11-03"  # after the latest day with prices


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_status_of_a_finished_job(service: Service, finished_job: dict[str, Any],
                                  runtime: str) -> None:
    job = finished_job["job_id"]
    for strict in (False, True):
        out = run_script("f/ai_trader/get_simulation_status",
                         {"api": service.api(), "job_id": job,
                          "fail_unless_succeeded": strict}, runtime=runtime)
        assert out["done"] and out["succeeded"] and out["status"] == "completed"
        assert out["progress"]["completed"] == 14 and out["progress"]["percent"] == 100
        assert out["total_duration_seconds"] == finished_job["total_duration_seconds"]
    with pytest.raises(ScriptFailed, match="job nope is not known to the service"):
        run_script("f/ai_trader/get_simulation_status",
                   {"api": service.api(), "job_id": "nope"}, runtime=runtime)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_clear_failures(service: Service, runtime: str) -> None:
    down = f"http://127.0.0.1:{free_ports(1)[0]}"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"api": service.api("wrong")}, "refused the token (HTTP 401)"),
        ({"api": {"base_url": down}}, f"cannot reach the aitrader service at {down}"),
        ({"api": service.api(), "config_path": "../secrets.json"},
         "the trigger was refused (HTTP 400): "),
        ({"api": service.api(), "end_date": "2025-13-01"}, "HTTP 400"),
    ]
    for args, message in cases:
        with pytest.raises(ScriptFailed, match=re.escape(message)):
            run_script("f/ai_trader/trigger_simulation", args, runtime=runtime)
    with pytest.raises(ScriptFailed, match=re.escape("refused the token (HTTP 401)")):
        run_script("f/ai_trader/get_simulation_status",
                   {"api": service.api("wrong"), "job_id": "x"}, runtime=runtime)


def test_performance_and_timeseries_match_the_service(service: Service,
                                                      finished_job: dict[str, Any]) -> None:
    perf = service.call("GET", "/results/performance?end_date=2025-10-10")
    latest = run_script("f/ai_trader/get_latest_performance",
                        {"api": service.api(), "end_date": "2025-10-10"})
    assert [r["model"] for r in latest][-1] == "QQQ"
    by_model = {r["model"]: r for r in latest}
    for name, doc in [*perf["models"].items(), ("QQQ", perf["benchmark"])]:
        row, last = by_model[name], doc["series"][-1]
        assert row["date"] == last["date"] == "2025-10-10"
        assert row["portfolio_value"] == last["portfolio_value"]
        assert row["daily_return_pct"] == last["daily_return_pct"]
        assert row["total_return_pct"] == round(doc["metrics"]["cumulative_return"] * 100, 4)
        assert row["max_drawdown_pct"] == round(doc["metrics"]["max_drawdown"] * 100, 4)
    values = [r["portfolio_value"] for r in latest if r["kind"] == "model"]
    assert values == sorted(values, reverse=True)

    ts = run_script("f/ai_trader/get_timeseries",
                    {"api": service.api(), "end_date": "2025-10-10"})
    assert set(ts["series"]) == {"buy-and-hold", "momentum", "QQQ"} and ts["benchmark"] == "QQQ"
    assert ts["dates"][-1] == "2025-10-10"
    for name, doc in perf["models"].items():
        assert [p["portfolio_value"] for p in doc["series"]] == \
            [v for v in ts["series"][name] if v is not None]


def test_dashboard_scripts_return_rich_displays(service: Service,
                                                finished_job: dict[str, Any]) -> None:
    table = run_script("f/ai_trader/dashboard_performance_table", {"api": service.api()})
    assert list(table) == ["table-row-object"]
    models = [r["Model"] for r in table["table-row-object"]]
    assert set(models) == {"buy-and-hold", "momentum", "QQQ (benchmark)"}
    chart = run_script("f/ai_trader/dashboard_portfolio_chart", {"api": service.api()})
    assert list(chart) == ["html"] and chart["html"].startswith("<svg")
    assert set(re.findall(r'data-series="([^"]+)"', chart["html"])) == \
        {"buy-and-hold", "momentum", "QQQ"}


def test_aitrader_get(service: Service) -> None:
    health = run_script("f/ai_trader/aitrader_get", {"api": service.api()})
    assert health["status"] == "healthy"
    with pytest.raises(ScriptFailed, match=re.escape("refused the token (HTTP 401)")):
        run_script("f/ai_trader/aitrader_get", {"api": service.api("wrong"),
                                                "path": "/results"})


def stored_equals_service(service: Service, db: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The stored rows, after checking each equals what /results says for its day."""
    stored = rows(db, "SELECT model, date::text, portfolio_value::float8, cash::float8, "
                      "profit::float8, return_pct, positions::text, stored_at "
                      "FROM ai_trader_results ORDER BY date, model")
    days = sorted({r[1] for r in stored})
    expected = []
    for day in days:
        for r in service.call("GET", f"/results?date={day}")["results"]:
            positions = dict(r["positions"])
            cash = positions.pop("CASH")
            pnl = r["daily_pnl"]
            expected.append((r["model"], day, pnl["portfolio_value"], cash, pnl["profit"],
                             pnl["return_pct"], positions))
    got = [(m, d, v, c, p, rp, json.loads(pos)) for m, d, v, c, p, rp, pos, _ in stored]
    assert got == expected
    return stored


def test_fetch_and_store_is_idempotent(service: Service, finished_job: dict[str, Any],
                                       pg_db: dict[str, Any]) -> None:
    args = {"api": service.api(), "db": pg_db, "job_id": finished_job["job_id"]}
    first = run_script("f/ai_trader/fetch_and_store_results", args)
    assert first["result_rows"] == 14 and first["days"] == 7 and first["benchmark_rows"] == 7
    stored = stored_equals_service(service, pg_db)
    assert len(stored) == 14
    again = run_script("f/ai_trader/fetch_and_store_results", args)
    assert again == first
    assert stored_equals_service(service, pg_db) == stored  # not even stored_at moved
    jobs = rows(pg_db, "SELECT job_id, status, date_start::text, date_end::text, "
                       "total_model_days FROM ai_trader_jobs")
    assert jobs == [(finished_job["job_id"], "completed", "2025-10-02", "2025-10-10", 14)]
    with pytest.raises(ScriptFailed, match="job missing is not known"):
        run_script("f/ai_trader/fetch_and_store_results", {**args, "job_id": "missing"})


SCHEMA_OF_TABLES = """
SELECT c.table_name, c.ordinal_position, c.column_name, c.data_type, c.is_nullable,
       c.numeric_precision, c.numeric_scale, c.column_default
FROM information_schema.columns c
WHERE c.table_schema = current_schema() AND c.table_name LIKE 'ai_trader_%'
UNION ALL
SELECT conrelid::regclass::text, 0, conname, pg_get_constraintdef(oid), '', NULL, NULL, NULL
FROM pg_constraint WHERE conrelid::regclass::text LIKE 'ai_trader_%'
UNION ALL
SELECT tablename, 0, indexname, indexdef, '', NULL, NULL, NULL
FROM pg_indexes WHERE schemaname = current_schema() AND tablename LIKE 'ai_trader_%'
ORDER BY 1, 2, 3
"""


def test_tables_of_the_previous_version_migrate_in_place(
        service: Service, finished_job: dict[str, Any], postgres: dict[str, Any]) -> None:
    """The previous script's tables (one row per model and date, US daily) with its rows and
    one older row it kept: the new script migrates them in place, keeps every row as it was,
    gives each its US daily session (New York's 09:30 open), and then stores by session."""
    old_db = new_database(postgres)
    args = {"api": service.api(), "job_id": finished_job["job_id"]}
    previous = py_module("tests.windmill.previous_store")
    previous.main(db=old_db, **args)  # the version deployed today
    conn = psycopg2.connect(**{**old_db, "password": None})
    with conn, conn.cursor() as cur:  # a model no longer run, stored long ago
        cur.execute(previous.UPSERT_RESULT, ("retired", "2025-03-07", 9876.54321, 12.5, -123.45,
                                             -1.2345, '{"AAPL": 3}', "old-job"))
        cur.execute(previous.UPSERT_BENCHMARK, ("QQQ", "2025-03-07", 10123.4567, 0.25))
        cur.execute(previous.UPSERT_JOB, ("old-job", "partial", "2025-03-03", "2025-03-07",
                                          '["retired"]', 5, 1, 42.0))
    conn.close()
    results = ("SELECT model, date::text, portfolio_value::text, cash::text, profit::text, "
               "return_pct, positions::text, job_id, stored_at FROM ai_trader_results "
               "ORDER BY model, date")
    bench = "SELECT symbol, date::text, value::text, daily_return_pct FROM ai_trader_benchmark " \
            "ORDER BY date"
    jobs = "SELECT job_id, status, date_start::text, date_end::text, models::text, " \
           "total_model_days, failed_model_days, total_duration_seconds, stored_at " \
           "FROM ai_trader_jobs ORDER BY job_id"
    before = [rows(old_db, q) for q in (results, bench, jobs)]
    assert [len(b) for b in before] == [15, 8, 2]
    assert before[0][-1][:3] == ("retired", "2025-03-07", "9876.5432")  # NUMERIC(18, 4)

    first = run_script("f/ai_trader/fetch_and_store_results", {**args, "db": old_db})
    assert (first["market"], first["frequency"], first["result_rows"]) == ("us", "daily", 14)
    assert [rows(old_db, q) for q in (results, bench, jobs)] == before  # kept, untouched
    us = markets.get("us", "daily")

    def opens(day: str) -> datetime:
        return us.schedule.of_day(date.fromisoformat(day))[0].start  # 13:30 or 14:30 UTC

    assert opens("2025-03-07").hour == 14 and opens("2025-10-02").hour == 13  # EST, EDT
    for table, key in (("ai_trader_results", "model"), ("ai_trader_benchmark", "symbol")):
        got = rows(old_db, f"SELECT {key}, date::text, market, frequency, session_id, session "
                           f"FROM {table}")
        assert got and all((m, f, sid, at) == ("us", "daily", day, opens(day))
                           for _, day, m, f, sid, at in got), table
    assert rows(old_db, "SELECT job_id, market, frequency, first_session_id, last_session_id, "
                        "first_session, last_session FROM ai_trader_jobs ORDER BY job_id") == [
        (finished_job["job_id"], "us", "daily", "2025-10-02", "2025-10-10", opens("2025-10-02"),
         opens("2025-10-10")),
        ("old-job", "us", "daily", "2025-03-03", "2025-03-07", opens("2025-03-03"),
         opens("2025-03-07"))]

    # the same tables as a new database gets, with the same rows for the job
    fresh = new_database(postgres)
    assert run_script("f/ai_trader/fetch_and_store_results", {**args, "db": fresh}) == first
    schema = rows(fresh, SCHEMA_OF_TABLES)
    assert rows(old_db, SCHEMA_OF_TABLES) == schema
    assert [(r[0], r[3]) for r in schema if r[3].startswith("PRIMARY KEY")] == [
        ("ai_trader_benchmark", "PRIMARY KEY (market, frequency, symbol, session)"),
        ("ai_trader_jobs", "PRIMARY KEY (job_id)"),
        ("ai_trader_results", "PRIMARY KEY (model, session)")]
    assert {(r[0], r[2], r[3], r[6]) for r in schema if r[2] in ("cash", "value")} == {
        ("ai_trader_results", "cash", "numeric", None),  # no longer rounded to 4 places
        ("ai_trader_benchmark", "value", "numeric", None)}
    assert len(stored_equals_service(service, fresh)) == 14
    same = "SELECT model, session_id, session, date, portfolio_value, cash, profit, " \
           "return_pct, positions FROM ai_trader_results WHERE model <> 'retired' " \
           "ORDER BY model, session"
    assert rows(old_db, same) == rows(fresh, same)

    # storing again changes nothing; the migration ran once
    assert run_script("f/ai_trader/fetch_and_store_results", {**args, "db": old_db}) == first
    assert [rows(old_db, q) for q in (results, bench, jobs)] == before
    # the key is the session now: a model's hourly sessions share a date
    store = py_module("fetch_and_store_results")
    conn = psycopg2.connect(**{**old_db, "password": None})
    with conn, conn.cursor() as cur:
        for sid in ("2025-03-07T10:00:00-05:00", "2025-03-07T11:00:00-05:00"):
            cur.execute(store.UPSERT_RESULT, ("retired", "2025-03-07", 1.0, 1.0, 0.0, 0.0, "{}",
                                              None, "us", "hourly",
                                              store.session_start(sid, "us"), sid))
    conn.close()
    assert rows(old_db, "SELECT count(*) FROM ai_trader_results WHERE model = 'retired' "
                        "AND date = '2025-03-07'") == [(3,)]
