"""The supervisor and its actors, hosted as the service hosts them: whole jobs through the
real tool servers and a fake LLM."""

from __future__ import annotations

import asyncio

import attrs
import pytest

from aitrader.actors.host import SimulationHost
from aitrader.actors.messages import AnswerKind, JobRequest
from aitrader.errors import Conflict, InvalidInput
from aitrader.events import EventBus
from aitrader.ledger import Ledger
from aitrader.ledger.invariants import violations
from aitrader.market.prices import US_DAILY, get_bar
from aitrader.money import dec
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.store.jobs import job_view
from aitrader.testing.fake_llm import Fault, finish, tools
from aitrader.tools.ports import free_ports
from tests.actors.conftest import Sim, finished
from tests.stack import Stack

DAYS = ["2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07", "2025-10-08"]


async def test_three_models_five_sessions(sim: Sim) -> None:
    """Two scripted LLMs and a baseline over five sessions: each ledger is what its script
    traded, every model-day completed, and the invariants hold."""
    a, b, c = "a", "b", "c"
    sim.llm.script(f"fake/{a}", [tools(("buy", {"symbol": "AAPL", "amount": 2})), finish()])
    sim.llm.script(f"fake/{b}", [tools(("get_price_local", {"symbol": "MSFT",
                                                            "date": "2025-10-01"})),
                                 tools(("buy", {"symbol": "MSFT", "amount": 1})), finish()])
    path = sim.write_config([sim.llm_model("a"), sim.llm_model("b"), sim.baseline("c")])
    sub = sim.bus.subscribe(maxsize=10_000)
    answer = await sim.host.trigger(JobRequest(path, "2025-10-02", "2025-10-08"))
    assert answer.kind == AnswerKind.ACCEPTED and answer.job is not None
    assert await finished(sub, answer.job.id) == "completed"
    view = await job_view(sim.store, answer.job.id)
    assert view.job.status == "completed"
    assert view.progress.completed == 15 and view.progress.total_model_days == 15
    ledger = Ledger(sim.store)
    async with sim.store.read() as conn:
        aapl = [await get_bar(conn, US_DAILY, "AAPL", d) for d in DAYS]
        msft = [await get_bar(conn, US_DAILY, "MSFT", d) for d in DAYS]
    snap_a = await ledger.end_of_day(a)
    snap_b = await ledger.end_of_day(b)
    assert snap_a and snap_a[0] == DAYS[-1] and dict(snap_a[1].holdings) == {"AAPL": 10}
    assert snap_a[1].cash == dec("10000") - sum(2 * x.open for x in aapl if x)
    assert snap_b and dict(snap_b[1].holdings) == {"MSFT": 5}
    assert snap_b[1].cash == dec("10000") - sum(x.open for x in msft if x)
    for model in (a, b, c):
        assert await violations(sim.store, model) == []
        assert (await ledger.last_completed(model)).isoformat() == DAYS[-1]  # type: ignore[union-attr]
    again = await sim.host.trigger(JobRequest(path, None, "2025-10-08"))
    assert again.kind == AnswerKind.CURRENT and again.last_simulation_date == DAYS[-1]


async def test_slow_model_does_not_hold_up_the_others(sim: Sim) -> None:
    """A model whose LLM answers slowly finishes last; the fast ones finish all their days
    before its first day is done (no per-date barrier)."""
    slow, fast = "slow", "fast"
    sim.llm.script(f"fake/{slow}", [finish()], delay=0.4)
    sim.llm.script(f"fake/{fast}", [finish()])
    path = sim.write_config([sim.llm_model("slow"), sim.llm_model("fast"),
                             sim.baseline("base", "buy-and-hold")])
    sub = sim.bus.subscribe(maxsize=10_000)
    answer = await sim.host.trigger(JobRequest(path, "2025-10-02", "2025-10-08"))
    assert answer.job is not None
    order: list[tuple[str | None, str | None]] = []
    async with asyncio.timeout(60):
        async for e in sub:
            if e.type == "model_day.finished":
                order.append((e.model, e.date))
            if e.type == "job.finished":
                break
    slow_first = order.index((slow, DAYS[0]))
    assert {(fast, d) for d in DAYS} <= set(order[:slow_first])
    assert {("base", d) for d in DAYS} <= set(order[:slow_first])


async def test_faults_fail_one_model_and_the_job_is_partial(sim: Sim) -> None:
    """429-then-success succeeds; a permanent 500 fails that model's first day (and so its
    later days) with a clear error while the others finish; the job ends partial."""
    ok, broken = "ok", "broken"
    sim.llm.script(f"fake/{ok}", [finish()], faults=[Fault(429, retry_after=0.1)])
    sim.llm.script(f"fake/{broken}", [finish()], faults=[Fault(500)] * 100)
    path = sim.write_config([sim.llm_model("ok"), sim.llm_model("broken")])
    sub = sim.bus.subscribe(maxsize=10_000)
    answer = await sim.host.trigger(JobRequest(path, "2025-10-02", "2025-10-03"))
    assert answer.job is not None
    assert await finished(sub, answer.job.id) == "partial"
    view = await job_view(sim.store, answer.job.id)
    by = {(d.model, d.date): d for d in view.details or ()}
    assert by[(ok, "2025-10-02")].status == "completed"
    first = by[(broken, "2025-10-02")]
    assert first.status == "failed" and first.error and "HTTP 500" in first.error
    assert by[(broken, "2025-10-03")].error == "not run: 2025-10-02 failed"


async def test_cancel_stops_within_a_tool_call(sim: Sim) -> None:
    """Cancelling a running job: the running day is voided, completed days stay, the rest
    are cancelled, and the job ends cancelled."""
    m = "steady"
    sim.llm.script(f"fake/{m}", [tools(("buy", {"symbol": "AAPL", "amount": 1})),
                                 tools(("add", {"a": 1, "b": 1})), finish()], delay=0.15)
    path = sim.write_config([sim.llm_model("steady")])
    sub = sim.bus.subscribe(maxsize=10_000)
    answer = await sim.host.trigger(JobRequest(path, "2025-10-02", "2025-10-08"))
    assert answer.job is not None
    async with asyncio.timeout(30):
        async for e in sub:
            if e.type == "model_day.started" and e.date == DAYS[1]:
                break
    await sim.host.cancel(answer.job.id)
    assert await finished(sub, answer.job.id) == "cancelled"
    view = await job_view(sim.store, answer.job.id)
    statuses = {d.date: d.status for d in view.details or ()}
    assert statuses[DAYS[0]] == "completed"
    assert statuses[DAYS[1]] == "cancelled"
    assert all(statuses[d] == "cancelled" for d in DAYS[2:])
    snap = await Ledger(sim.store).end_of_day(m)
    assert snap and snap[0] == DAYS[0] and dict(snap[1].holdings) == {"AAPL": 1}
    assert await violations(sim.store, m) == []
    with pytest.raises(Conflict):
        await sim.host.cancel(answer.job.id)


async def test_one_job_for_identical_triggers_and_clear_refusals(sim: Sim) -> None:
    """Concurrent identical triggers give one job; unknown models, disabled models, bad and
    future dates and paths outside configs/ are refused with the field named."""
    m = "dup"
    sim.llm.script(f"fake/{m}", [finish()], delay=0.2)
    path = sim.write_config([sim.llm_model("dup"), sim.baseline("off") | {"enabled": False}])
    answers = await asyncio.gather(*[sim.host.trigger(JobRequest(path, "2025-10-02",
                                                                "2025-10-03"))
                                     for _ in range(20)])
    ids = {a.job.id for a in answers if a.job}
    assert len(ids) == 1
    assert [a.kind for a in answers].count(AnswerKind.ACCEPTED) == 1
    for req, field in [
        (JobRequest(path, models=("nobody",)), "models"),
        (JobRequest(path, models=("off",)), "models"),
        (JobRequest(path, "2025-10-05x"), "start_date"),
        (JobRequest(path, "2025-10-08", "2025-10-02"), "end_date"),
        (JobRequest(path, "2099-01-02"), "start_date"),
        (JobRequest("../setup.cfg"), "config_path"),
        (JobRequest("configs/missing.json"), "config_path"),
    ]:
        with pytest.raises(InvalidInput) as info:
            await sim.host.trigger(req)
        assert info.value.details.get("field") == field, req


async def test_a_tool_server_that_is_down_fails_the_day_naming_it(stack: Stack) -> None:
    """With the math server unreachable, the model-days fail with an error naming it and
    its address; the job ends failed; nothing is left running."""
    dead = free_ports(1)[0]
    settings: Settings = attrs.evolve(stack.settings,
                                      ports={**stack.settings.ports, "math": dead})
    stack.write_config([Sim.baseline("down", "buy-and-hold")], "d.json")
    async with Store(stack.db) as store:
        bus = EventBus(store)
        sub = bus.subscribe(maxsize=10_000)
        async with SimulationHost(settings, bus, env={}) as host:
            answer = await host.trigger(JobRequest("configs/d.json", "2025-10-02",
                                                   "2025-10-03"))
            assert answer.job is not None
            assert await finished(sub, answer.job.id) == "failed"
        view = await job_view(store, answer.job.id)
        errors = [d.error for d in view.details or ()]
        assert errors == [f"the math tool server at http://127.0.0.1:{dead} is unreachable "
                          "(ConnectError)", "not run: 2025-10-02 failed"]
        assert await Ledger(store).end_of_day("down") is None
