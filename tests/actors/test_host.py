"""The simulation loop in its own thread: commands in, replies and domain errors out, every
event mirrored in order on the caller's loop, and a clean stop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import attrs
import pytest

from aitrader.actors.host import SimulationHost
from aitrader.actors.messages import AnswerKind, JobRequest
from aitrader.errors import InvalidInput, Unavailable
from aitrader.events import EventBus
from aitrader.priority import ServingLoop
from aitrader.store import Store
from tests.stack import Stack


async def test_a_job_through_the_host(stack: Stack) -> None:
    """A domain error crosses the thread as itself; a job's events arrive on this loop in
    sequence order, each once; the host is gone after the block."""
    stack.write_config([{"name": "m", "basemodel": "baseline/momentum", "signature": "m"},
                        {"name": "b", "basemodel": "baseline/buy-and-hold",
                         "signature": "b"}], "host.json")
    async with Store(stack.db) as store:
        mirror = EventBus(store)
        sub = mirror.subscribe(maxsize=10_000)
        async with SimulationHost(stack.settings, mirror) as host:
            assert threading.current_thread() is threading.main_thread()
            assert isinstance(asyncio.get_running_loop(), ServingLoop)
            with pytest.raises(InvalidInput) as bad:  # a domain error crosses the thread
                await host.trigger(JobRequest("configs/missing.json"))
            assert bad.value.details.get("field") == "config_path"
            answer = await host.trigger(JobRequest("configs/host.json",
                                                   end_date="2025-10-08"))
            assert answer.kind == AnswerKind.ACCEPTED and answer.job is not None
            job = answer.job.id
            seqs: list[int] = []
            async with asyncio.timeout(60):
                async for event in sub:  # delivered on this loop, in sequence order
                    if event.job_id == job:
                        seqs.append(event.seq)
                        if event.type == "job.finished":
                            assert event.data["status"] == "completed"
                            break
            assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
            stored = [e.seq for e in await mirror.since(seqs[0] - 1, job_id=job)]
            assert stored == seqs  # every stored event of the job was mirrored, once
            assert {name for name, _ in host.mailbox_depths()} == {"m", "b"}
            assert host.running
        assert not host.running
        with pytest.raises(Unavailable):
            await host.trigger(JobRequest("configs/host.json"))
        assert not any(t.name == "aitrader-simulation" for t in threading.enumerate())


async def test_a_host_that_cannot_start_says_why(stack: Stack, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings = attrs.evolve(stack.settings, db_path=blocker / "sub" / "aitrader.db")
    async with Store(stack.db) as store:
        with pytest.raises(OSError, match="Not a directory"):
            async with SimulationHost(settings, EventBus(store)):
                pass
    assert not any(t.name == "aitrader-simulation" for t in threading.enumerate())


async def test_a_command_in_flight_when_the_loop_stops_is_unavailable(stack: Stack) -> None:
    """A request whose command the stopping loop never answers gets a clear 503 error, not a
    cancelled handler."""
    started = threading.Event()  # set on the simulation's thread, read on this one

    async def never(sup: object) -> None:
        started.set()
        await asyncio.Event().wait()

    async with Store(stack.db) as store:
        async with SimulationHost(stack.settings, EventBus(store)) as host:
            pending = asyncio.ensure_future(host._call(never))
            assert await asyncio.to_thread(started.wait, 10)
            assert not pending.done()  # in flight on the simulation's loop when it stops
        with pytest.raises(Unavailable, match="stopped before it answered"):
            await pending
