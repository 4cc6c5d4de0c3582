"""Recovery never blocks start: a job interrupted by a stop is resumed or closed with a reason
when the service starts again, whatever happened to its config or its market meanwhile."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from aitrader.actors.host import SimulationHost
from aitrader.actors.messages import JobRequest
from aitrader.api.app import create_app
from aitrader.events import EventBus
from aitrader.store import Store
from aitrader.store.jobs import DayStatus, JobView, job_view
from aitrader.testing.fake_llm import FakeLLM, finish, tools
from tests.actors.conftest import finished, settled
from tests.stack import Stack

DAYS = ("2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07", "2025-10-08")


def models(llm: FakeLLM) -> list[dict[str, Any]]:
    return [{"name": "x", "basemodel": "fake/x", "signature": "x",
             "openai_base_url": llm.base_url, "openai_api_key": "sk-x"},
            {"name": "b", "basemodel": "baseline/buy-and-hold", "signature": "b"}]


async def interrupted(stack: Stack, llm: FakeLLM, *, baseline: bool = True) -> str:
    """A job of two models (or the slow one alone) over five sessions, stopped (as `docker
    stop` would) once the slow model has completed its first day; the baseline is done by
    then."""
    llm.script("fake/x", [tools(("buy", {"symbol": "AAPL", "amount": 1})), finish()],
               delay=0.2)
    path = stack.write_config(models(llm) if baseline else models(llm)[:1], "rec.json")
    async with Store(stack.db) as store:
        bus = EventBus(store)
        sub = bus.subscribe(maxsize=100_000)
        async with SimulationHost(stack.settings, bus, env={}) as host:
            answer = await host.trigger(JobRequest(path, DAYS[0], DAYS[-1]))
            assert answer.job is not None
            done: set[tuple[str | None, str | None]] = set()
            async with asyncio.timeout(60):
                async for e in sub:
                    if e.type == "model_day.finished" and e.data.get("status") == "completed":
                        done.add((e.model, e.date))
                    if ("x", DAYS[0]) in done and (
                            not baseline or {("b", d) for d in DAYS} <= done):
                        break
        view = await job_view(store, answer.job.id)
    assert view.job.status == "running"  # interrupted, as a crash or a stop leaves it
    assert any(d.status == DayStatus.PENDING for d in view.details or ())
    return answer.job.id


async def restart(stack: Stack, job_id: str) -> JobView:
    """Start the simulation again: it must start, and the job must end."""
    async with Store(stack.db) as store:
        bus = EventBus(store)
        sub = bus.subscribe(maxsize=100_000)
        async with SimulationHost(stack.settings, bus, env={}):
            view = await job_view(store, job_id)
            if view.job.active:
                await finished(sub, job_id)
        return await settled(store, job_id)


def x_days(view: JobView) -> list[tuple[str, str, str | None]]:
    return [(d.date, d.status.value, d.error) for d in view.details or () if d.model == "x"]


async def test_an_unchanged_job_resumes_and_completes(stack: Stack, llm: FakeLLM) -> None:
    job = await interrupted(stack, llm)
    view = await restart(stack, job)
    assert view.job.status == "completed"
    assert {d.status for d in view.details or ()} == {DayStatus.COMPLETED}


def _remove_model(stack: Stack, llm: FakeLLM) -> None:
    stack.write_config(models(llm)[1:], "rec.json")


def _disable_model(stack: Stack, llm: FakeLLM) -> None:
    stack.write_config([{**models(llm)[0], "enabled": False}, models(llm)[1]], "rec.json")


def _drop_key(stack: Stack, llm: FakeLLM) -> None:
    bare = {k: v for k, v in models(llm)[0].items() if k != "openai_api_key"}
    stack.write_config([bare, models(llm)[1]], "rec.json")


def _delete_config(stack: Stack, llm: FakeLLM) -> None:
    (stack.configs / "rec.json").unlink()


def _break_config(stack: Stack, llm: FakeLLM) -> None:
    doc = json.loads((stack.configs / "rec.json").read_text())
    doc["agent_config"]["max_steps"] = 0
    (stack.configs / "rec.json").write_text(json.dumps(doc))


@pytest.mark.parametrize(("change", "cause"), [
    (_remove_model, 'model "x" is no longer in configs/rec.json'),
    (_disable_model, 'model "x" is disabled in configs/rec.json'),
    (_drop_key, 'model "x" cannot run: model x needs an API key: set OPENAI_API_KEY or the '
                "model's openai_api_key"),
    (_delete_config, "cannot resume: config_path 'configs/rec.json' is not a config in "
                     "configs/"),
    (_break_config, "cannot resume: invalid config: $.agent_config.max_steps: must be "
                    "greater than 0"),
])
async def test_a_job_whose_model_cannot_resume_ends_partial_naming_why(
        stack: Stack, llm: FakeLLM, change: Callable[[Stack, FakeLLM], None],
        cause: str) -> None:
    """The model's remaining days fail with the cause; what was done stays done; the
    simulation starts."""
    job = await interrupted(stack, llm)
    change(stack, llm)
    view = await restart(stack, job)
    assert view.job.status == "partial"
    days = x_days(view)
    assert days[0] == (DAYS[0], "completed", None)
    assert days[1:] == [(d, "failed", cause) for d in DAYS[1:]]
    assert all(d.status == DayStatus.COMPLETED for d in view.details or () if d.model == "b")


async def test_a_day_without_market_data_fails_from_there(stack: Stack,
                                                          llm: FakeLLM) -> None:
    """Prices gone for one session: the days before it run, it and the later ones fail."""
    job = await interrupted(stack, llm, baseline=False)
    async with Store(stack.db) as store, store.write() as conn:
        await conn.execute("DELETE FROM bars WHERE session = ?", (DAYS[3],))
    view = await restart(stack, job)
    assert view.job.status == "partial"
    assert x_days(view) == [
        (DAYS[0], "completed", None), (DAYS[1], "completed", None),
        (DAYS[2], "completed", None),
        (DAYS[3], "failed", f"no market data for {DAYS[3]}"),
        (DAYS[4], "failed", f"not run: {DAYS[3]} failed")]


async def test_the_service_starts_and_serves_after_a_broken_recovery(
        stack: Stack, llm: FakeLLM,
        aiohttp_client: Callable[..., Awaitable[Any]]) -> None:
    """`create_app` with the config of an interrupted job deleted: /health is healthy and
    the job is reported partial, with the cause, through the API."""
    job = await interrupted(stack, llm)
    _delete_config(stack, llm)
    client = await aiohttp_client(create_app(stack.settings))
    health = await client.get("/health")
    assert health.status == 200, await health.text()
    body = await (await client.get(f"/simulate/status/{job}")).json()
    assert body["status"] == "partial"
    errors = {d["error"] for d in body["progress"]["details"] if d["status"] == "failed"}
    assert errors == {"cannot resume: config_path 'configs/rec.json' is not a config in "
                      "configs/"}
