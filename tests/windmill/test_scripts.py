"""Each script's main on its real runtime against a live service: TypeScript on Bun and on
Deno, Python on CPython; results checked against what the service says, failures by their
message."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from aitrader.tools.ports import free_ports
from tests.live import Service
from tests.windmill.workspace import ScriptFailed, rows, run_script

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
