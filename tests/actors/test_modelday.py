"""Model-days as attempts, with the baseline agents trading through the real tool servers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from aitrader.actors.modelday import Runtime, run_model_day
from aitrader.agent.base import BaseAgent, DayContext, SessionReport
from aitrader.agent.baseline import BuyAndHold, Momentum
from aitrader.agent.toolbox import ToolBox, ToolServerDown
from aitrader.config import ModelConfig, parse_config
from aitrader.events import EventBus
from aitrader.ledger import Ledger
from aitrader.ledger.invariants import violations
from aitrader.market.symbols import NASDAQ_100
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.tools.ports import free_ports, tool_env
from tests.stack import Stack

DAYS = ["2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07", "2025-10-08"]
CONFIG = parse_config({"date_range": {"init_date": "2025-10-01"},
                       "models": [{"name": "m", "basemodel": "baseline/momentum",
                                   "signature": "m"}]})


def model(basemodel: str = "baseline/buy-and-hold") -> ModelConfig:
    sig = f"t-{uuid.uuid4().hex[:8]}"
    return ModelConfig(name=sig, basemodel=basemodel, signature=sig)


@pytest.fixture
async def world(stack: Stack) -> AsyncIterator[tuple[Store, Ledger, EventBus]]:
    async with Store(stack.db) as store:
        yield store, Ledger(store), EventBus(store)


async def run_days(stack: Stack, store: Store, bus: EventBus, agent: BaseAgent,
                   days: list[str], **kw: object) -> list[str]:
    await agent.register_agent()
    runtime = Runtime(agent.signature)
    statuses: list[str] = []
    async with ToolBox(stack.settings, runtime.identity, cancelled=runtime.cancelled) as tools:
        for day in days:
            out = await run_model_day(store=store, ledger=agent.ledger, agent=agent,
                                      tools=tools, runtime=runtime, day=day, bus=bus,
                                      base_delay=0, **kw)  # type: ignore[arg-type]
            statuses.append(out.status)
    return statuses


async def test_baselines_trade_five_sessions(stack: Stack,
                                             world: tuple[Store, Ledger, EventBus]) -> None:
    """Buy-and-hold buys ten names once and holds; momentum holds at most three names; every
    day completes with one snapshot and the invariants hold."""
    store, ledger, bus = world
    bh = BuyAndHold(model(), CONFIG, ledger)
    mo = Momentum(model("baseline/momentum"), CONFIG, ledger)
    sub = bus.subscribe()
    assert await run_days(stack, store, bus, bh, DAYS) == ["completed"] * 5
    assert await run_days(stack, store, bus, mo, DAYS) == ["completed"] * 5
    first = await ledger.end_of_day(bh.signature, DAYS[0])
    last = await ledger.end_of_day(bh.signature, DAYS[-1])
    assert first and last and set(first[1].holdings) == set(NASDAQ_100[: BuyAndHold.picks])
    assert first[1] == last[1]
    for day in DAYS:
        snap = await ledger.end_of_day(mo.signature, day)
        assert snap is not None and snap[0] == day and 1 <= len(snap[1].holdings) <= 3
    assert await violations(store, bh.signature) == []
    assert await violations(store, mo.signature) == []
    events = [await sub.get(1) for _ in range(20)]
    kinds = [(e.model, e.date, e.type) for e in events if e]
    assert kinds[:2] == [(bh.signature, DAYS[0], "model_day.started"),
                         (bh.signature, DAYS[0], "model_day.finished")]
    assert [e.data["status"] for e in events if e and e.type == "model_day.finished"] == \
        ["completed"] * 10


class Flaky(BaseAgent):
    """Buys, then fails on its first `fails` tries."""

    fails = 1

    def __init__(self, *a: object, **kw: object) -> None:
        super().__init__(*a, **kw)  # type: ignore[arg-type]
        self.tries = 0

    async def run_trading_session(self, day: DayContext, tools: ToolBox) -> SessionReport:
        self.tries += 1
        await tools.call("buy", {"symbol": "AAPL", "amount": 1})
        if self.tries <= self.fails:
            raise RuntimeError("the model answered garbage")
        return SessionReport(steps=1, stop_signal=True)


async def test_failed_try_is_voided_then_retried(stack: Stack,
                                                 world: tuple[Store, Ledger, EventBus]) -> None:
    """The failed try's buy is voided; the retry's buy is the only one kept."""
    store, ledger, bus = world
    agent = Flaky(model(), CONFIG, ledger)
    assert await run_days(stack, store, bus, agent, DAYS[:1]) == ["completed"]
    snap = await ledger.end_of_day(agent.signature, DAYS[0])
    assert snap and dict(snap[1].holdings) == {"AAPL": 1}
    async with store.read() as conn:
        cur = await conn.execute("SELECT status FROM attempts WHERE model = ? ORDER BY id",
                                 (agent.signature,))
        assert [r[0] for r in await cur.fetchall()] == ["voided", "completed"]
    assert await violations(store, agent.signature) == []


async def test_permanent_failure_keeps_nothing(stack: Stack,
                                               world: tuple[Store, Ledger, EventBus]) -> None:
    """After max_retries the day is failed with the error, and no trade or snapshot remains."""
    store, ledger, bus = world
    agent = Flaky(model(), CONFIG, ledger)
    agent.fails = 10
    runtime = Runtime(agent.signature)
    await agent.register_agent()
    async with ToolBox(stack.settings, runtime.identity) as tools:
        out = await run_model_day(store=store, ledger=ledger, agent=agent, tools=tools,
                                  runtime=runtime, day=DAYS[0], bus=bus, max_retries=2,
                                  base_delay=0)
    assert (out.status, out.tries) == ("failed", 3)
    assert out.error == "RuntimeError: the model answered garbage"
    assert await ledger.end_of_day(agent.signature) is None
    async with store.read() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM trades WHERE model = ?",
                                 (agent.signature,))
        assert tuple(await cur.fetchone() or ()) == (0,)


class CancelsMidway(BaseAgent):
    runtime: Runtime

    async def run_trading_session(self, day: DayContext, tools: ToolBox) -> SessionReport:
        await tools.call("buy", {"symbol": "MSFT", "amount": 1})
        assert self.runtime.cancel is not None
        self.runtime.cancel.set()  # what the supervisor does when the job is cancelled
        await tools.call("buy", {"symbol": "MSFT", "amount": 1})  # never reaches the server
        raise AssertionError("the second call should have been refused")


async def test_cancel_between_tool_calls_voids_the_day(
        stack: Stack, world: tuple[Store, Ledger, EventBus]) -> None:
    """Cancel takes effect at the next tool call; the running attempt is voided."""
    store, ledger, bus = world
    agent = CancelsMidway(model(), CONFIG, ledger)
    await agent.register_agent()
    runtime = Runtime(agent.signature, cancel=asyncio.Event())
    agent.runtime = runtime
    async with ToolBox(stack.settings, runtime.identity, cancelled=runtime.cancelled) as tools:
        out = await run_model_day(store=store, ledger=ledger, agent=agent, tools=tools,
                                  runtime=runtime, day=DAYS[0], bus=bus, base_delay=0)
    assert out.status == "cancelled" and out.tries == 1
    async with store.read() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM trades WHERE model = ?",
                                 (agent.signature,))
        assert tuple(await cur.fetchone() or ()) == (0,)


async def test_tool_server_down_names_it(tmp_path: object) -> None:
    """A session to a server that is not there fails with the server's name and URL."""
    settings = Settings.from_env(tool_env(free_ports(4)))
    async with ToolBox(settings, lambda: None) as tools:
        with pytest.raises(ToolServerDown, match=r"the math tool server at http://127\.0\.0"
                                                 r"\.1:\d+ is unreachable \(ConnectError\)"):
            await tools.ensure_open()
