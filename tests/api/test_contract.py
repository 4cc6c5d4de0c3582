"""The HTTP contract of API.md through the real app, the real tool servers and a fake LLM."""

from __future__ import annotations

import asyncio
from typing import Any

from openapi_spec_validator import validate

from aitrader.testing.fake_llm import finish, tools
from tests.api.conftest import Api
from tests.stack import until

CONFIG = "configs/api.json"
RANGE = {"config_path": CONFIG, "start_date": "2025-10-02", "end_date": "2025-10-06"}


async def wait_done(api: Api, job_id: str) -> dict[str, Any]:
    for _ in range(600):
        resp = await api.client.get(f"/simulate/status/{job_id}")
        body = await resp.json()
        if body["status"] not in ("pending", "running"):
            return dict(body)
        await asyncio.sleep(0.05)
    raise AssertionError("the job did not finish")


async def test_trigger_poll_and_results(api: Api) -> None:
    """202 with Location, status to completed, results minimal and full, performance with
    QQQ, current and the job list; the same trigger again is "current"."""
    resp = await api.client.post("/simulate/trigger", json=RANGE)
    assert resp.status == 202
    body = await resp.json()
    assert resp.headers["Location"] == f"/simulate/status/{body['job_id']}"
    assert body["status"] == "accepted" and body["date_range"] == ["2025-10-02", "2025-10-06"]
    assert sorted(body["models"]) == sorted(["trader", "momentum"])
    done = await wait_done(api, body["job_id"])
    assert done["status"] == "completed" and done["progress"]["completed"] == 6
    assert {d["status"] for d in done["progress"]["details"]} == {"completed"}

    resp = await api.client.get("/results", params={"date": "2025-10-06",
                                                    "model": "trader"})
    res = await resp.json()
    assert resp.status == 200 and res["date"] == "2025-10-06"
    (row,) = res["results"]
    assert row["positions"]["AAPL"] == 6 and row["positions"]["CASH"] < 10_000
    assert set(row["daily_pnl"]) == {"profit", "return_pct", "portfolio_value"}
    resp = await api.client.get("/results", params={"date": "2025-10-06", "detail": "full",
                                                    "model": "trader"})
    (full,) = (await resp.json())["results"]
    assert [(t["action"], t["symbol"], t["amount"]) for t in full["trades"]] == [
        ("buy", "AAPL", 2)]
    assert full["ai_reasoning"] == {"total_steps": 2, "stop_signal_received": True,
                                    "reasoning_summary": "Bought two Apple shares.",
                                    "tool_usage": {"buy": 1}}
    assert full["llm_usage"]["calls"] == 2 and full["llm_usage"]["completion_tokens"] == 40

    resp = await api.client.get("/results/performance",
                                params={"model": "trader", "end_date": "2025-10-06"})
    perf = await resp.json()
    series = perf["models"]["trader"]["series"]
    assert [p["date"] for p in series] == ["2025-10-01", "2025-10-02", "2025-10-03",
                                           "2025-10-06"]
    assert perf["benchmark"]["symbol"] == "QQQ" and len(perf["benchmark"]["series"]) == 4
    assert "sharpe" in perf["models"]["trader"]["metrics"]

    cur = await (await api.client.get("/simulate/current")).json()
    assert cur["job_id"] == body["job_id"] and "details" not in cur["progress"]
    listing = await (await api.client.get("/simulate/jobs", params={"limit": "5"})).json()
    assert listing["jobs"][0]["job_id"] == body["job_id"] and listing["limit"] == 5
    again = await api.client.post("/simulate/trigger", json=RANGE)
    assert again.status == 200 and (await again.json())["status"] == "current"


async def test_twenty_identical_triggers_make_one_job(api: Api) -> None:
    """Concurrent identical triggers: one 202, the rest 200 with the same job."""
    api.llm.script("fake/trader", [finish()], delay=0.05)
    answers = await asyncio.gather(*[api.client.post("/simulate/trigger", json=RANGE)
                                     for _ in range(20)])
    bodies = [await a.json() for a in answers]
    assert sorted(a.status for a in answers) == [200] * 19 + [202]
    assert len({b["job_id"] for b in bodies}) == 1
    await wait_done(api, bodies[0]["job_id"])


async def test_bad_input_gets_clear_errors(api: Api) -> None:
    """Malformed JSON, unknown fields, non-JSON, huge bodies, bad and future dates, unknown or
    disabled models, paths outside configs/: 4xx with the error body, never a 500."""
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400,
         "invalid_input"),
        ({"json": {"config_path": CONFIG, "colour": "red"}}, 400, "invalid_input"),
        ({"data": b"hello", "headers": {"Content-Type": "text/plain"}}, 415,
         "unsupported_media_type"),
        ({"data": b"[" + b"1," * 50_000 + b"1]",
          "headers": {"Content-Type": "application/json"}}, 413, "payload_too_large"),
        ({"json": {"config_path": CONFIG, "start_date": "2025-02-30"}}, 400, "invalid_input"),
        ({"json": {"config_path": CONFIG, "start_date": "2099-01-02"}}, 400, "invalid_input"),
        ({"json": {"config_path": CONFIG, "models": ["nobody"]}}, 400, "invalid_input"),
        ({"json": {"config_path": CONFIG, "models": ["off"]}}, 400,
         "invalid_input"),
        ({"json": {"config_path": "../../etc/passwd"}}, 400, "invalid_input"),
        ({"json": {"config_path": CONFIG, "models": "all"}}, 400, "invalid_input"),
        ({"json": {"config_path": CONFIG, "end_date": ""}}, 400, "invalid_input"),
        ({"json": [1, 2]}, 400, "invalid_input"),
    ]
    for kwargs, status, code in cases:
        resp = await api.client.post("/simulate/trigger", **kwargs)
        body = await resp.json()
        assert (resp.status, body["error"]) == (status, code), (kwargs, body)
        assert "Traceback" not in body["message"] and "/tmp" not in body["message"]
    resp = await api.client.post("/simulate/trigger",
                                 json={"config_path": CONFIG, "start_date": "2025-02-30"})
    assert (await resp.json())["details"]["field"] == "start_date"
    for path, status in [("/simulate/status/nope", 404), ("/results?date=2025-13-01", 400),
                         ("/results?date=1999-01-04", 404), ("/simulate/jobs?limit=0", 400),
                         ("/simulate/jobs?status=bogus", 400), ("/nowhere", 404),
                         ("/results?detail=everything", 400)]:
        resp = await api.client.get(path)
        assert resp.status == status, path
        assert set(await resp.json()) >= {"error", "message"}
    resp = await api.client.get("/results?date=2025-13-01")
    assert (await resp.json())["error"] == "invalid_date"
    resp = await api.client.post("/simulate/jobs/nope/cancel")
    assert resp.status == 404


async def test_cancel_and_retry(api: Api) -> None:
    """Cancel answers 202 and the job ends cancelled; cancelling again is 409; retry makes
    a new job for the cancelled model-days."""
    api.llm.script("fake/trader", [tools(("add", {"a": 1, "b": 1})), finish()], delay=0.3)
    resp = await api.client.post("/simulate/trigger",
                                 json={**RANGE, "models": ["trader"]})
    job = (await resp.json())["job_id"]

    async def running() -> bool:  # a model-day is under way: cancel lands mid-job
        body = await (await api.client.get(f"/simulate/status/{job}")).json()
        return bool(body["progress"]["current"])

    await until(running)
    resp = await api.client.post(f"/simulate/jobs/{job}/cancel")
    assert resp.status == 202
    done = await wait_done(api, job)
    assert done["status"] == "cancelled"
    statuses = [d["status"] for d in done["progress"]["details"]]
    assert "cancelled" in statuses and set(statuses) <= {"completed", "cancelled"}
    resp = await api.client.post(f"/simulate/jobs/{job}/cancel")
    assert resp.status == 409 and (await resp.json())["error"] == "conflict"
    api.llm.script("fake/trader", [finish()])
    resp = await api.client.post(f"/simulate/jobs/{job}/retry")
    assert resp.status == 202
    again = await wait_done(api, (await resp.json())["job_id"])
    assert again["status"] == "completed"


async def test_openapi_and_docs(api: Api) -> None:
    """/openapi.json is OpenAPI 3.1 covering every route; /docs serves Swagger UI locally."""
    doc = await (await api.client.get("/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # openapi-spec-validator: a valid OpenAPI 3.1 document
    assert set(doc["paths"]) == {
        "/simulate/trigger", "/simulate/status/{job_id}", "/simulate/current",
        "/simulate/jobs", "/simulate/jobs/{job_id}/cancel", "/simulate/jobs/{job_id}/retry",
        "/results", "/results/performance", "/results/markets", "/health", "/metrics", "/ws"}
    operations = [op for item in doc["paths"].values() for op in item.values()]
    assert len({op["operationId"] for op in operations}) == len(operations) == 12
    assert all(op["tags"] for op in operations)
    # it describes this instance: no token configured, so nothing asks for one
    assert doc["security"] == [] and doc["servers"][0]["url"] == str(
        api.client.make_url("")).rstrip("/")
    page = await (await api.client.get("/docs")).text()
    assert "/docs/static/swagger-ui-bundle.js" in page and "http" not in page.split(
        "<body>")[1].replace("/openapi.json", "")
    js = await api.client.get("/docs/static/swagger-ui-bundle.js")
    assert js.status == 200 and len(await js.read()) > 1_000_000


async def test_different_work_beyond_the_limit_is_a_conflict(api: Api) -> None:
    """With MAX_CONCURRENT_JOBS=2: two jobs on different models run; a third different
    trigger touching a busy model is 409 naming the running job; after they finish the
    limit frees up."""
    api.llm.script("fake/trader", [finish()], delay=0.2)
    a = await api.client.post("/simulate/trigger",
                              json={**RANGE, "models": ["trader"]})
    b = await api.client.post("/simulate/trigger",
                              json={**RANGE, "models": ["momentum"]})
    assert (a.status, b.status) == (202, 202)
    job_a = (await a.json())["job_id"]
    answers = await asyncio.gather(*[api.client.post(
        "/simulate/trigger", json={**RANGE, "end_date": f"2025-10-0{7 + i % 2}"})
        for i in range(10)])
    assert {r.status for r in answers} == {409}
    body = await answers[0].json()
    assert body["error"] == "conflict" and body["current_job_id"] in (
        job_a, (await b.json())["job_id"])
    assert len(body["current_date_range"]) == 2
    await wait_done(api, job_a)
    await wait_done(api, (await b.json())["job_id"])
    c = await api.client.post("/simulate/trigger", json={**RANGE, "end_date": "2025-10-07"})
    assert c.status == 202
    await wait_done(api, (await c.json())["job_id"])
