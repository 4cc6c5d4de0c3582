"""The simulation as the service hosts it, for the actor tests: a SimulationHost on the test's
stack, a fake LLM, and helpers to wait for jobs and to check what an ended job left."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from aitrader.actors.host import SimulationHost
from aitrader.events import EventBus, Subscription
from aitrader.ledger.invariants import violations
from aitrader.store import Store
from aitrader.store.jobs import FINISHED, OPEN, JobView, job_view
from aitrader.testing.fake_llm import FakeLLM
from tests.stack import Stack


@attrs.define
class Sim:
    stack: Stack
    store: Store
    bus: EventBus  # the mirror on this loop
    host: SimulationHost
    llm: FakeLLM

    def write_config(self, models: list[dict[str, Any]], name: str = "sim.json",
                     **extra: Any) -> str:
        return self.stack.write_config(models, name, **extra)

    def llm_model(self, name: str, **kw: Any) -> dict[str, Any]:
        return {"name": name, "basemodel": f"fake/{name}", "signature": name,
                "openai_base_url": self.llm.base_url, "openai_api_key": "sk-test", **kw}

    @staticmethod
    def baseline(name: str, kind: str = "momentum") -> dict[str, Any]:
        return {"name": name, "basemodel": f"baseline/{kind}", "signature": name}


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    fake = FakeLLM()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def sim(stack: Stack, llm: FakeLLM) -> AsyncIterator[Sim]:
    async with Store(stack.db) as store:
        bus = EventBus(store)
        async with SimulationHost(stack.settings, bus, env={}) as host:
            yield Sim(stack, store, bus, host, llm)


async def finished(sub: Subscription, job_id: str, wait: float = 60) -> str:
    async with asyncio.timeout(wait):
        async for event in sub:
            if event.type == "job.finished" and event.job_id == job_id:
                return str(event.data["status"])
    raise AssertionError("the subscription ended")


async def settled(store: Store, job_id: str) -> JobView:
    """What every ended job must leave: a finished status, no pending or running model-day,
    no running attempt, and the ledger's invariants holding."""
    view = await job_view(store, job_id)
    assert view.job.status in FINISHED, view.job
    assert [d for d in view.details or () if d.status in OPEN] == []
    async with store.read() as conn:
        cur = await conn.execute("SELECT id, model FROM attempts WHERE status = 'running'")
        assert list(await cur.fetchall()) == []
    assert await violations(store) == []
    return view
