"""The simulation loop in its own thread: messages in, replies and domain errors out, every
event mirrored in order on the caller's loop, and a clean stop."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from pathlib import Path

import attrs
import pytest

from aitrader.actors.host import SimulationHost
from aitrader.actors.messages import JobRequest
from aitrader.errors import InvalidInput, Unavailable
from aitrader.events import EventBus
from aitrader.store import Store
from tests.servers import Servers


async def test_a_job_through_the_host(servers: Servers, tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    tag = uuid.uuid4().hex[:6]
    (configs / "host.json").write_text(json.dumps({
        "market": "database", "date_range": {"init_date": "2025-10-01"},
        "models": [{"name": "m", "basemodel": "baseline/momentum", "signature": f"m-{tag}"},
                   {"name": "b", "basemodel": "baseline/buy-and-hold",
                    "signature": f"b-{tag}"}]}))
    settings = attrs.evolve(servers.settings, configs_dir=configs)
    async with Store(servers.db) as store:
        mirror = EventBus(store)
        sub = mirror.subscribe(maxsize=10_000)
        host = SimulationHost(settings, mirror)
        await host.start()
        try:
            assert threading.current_thread() is threading.main_thread()
            with pytest.raises(InvalidInput) as bad:  # a domain error crosses the thread
                await host.trigger(JobRequest("configs/missing.json"))
            assert bad.value.details.get("field") == "config_path"
            answer = await host.trigger(JobRequest("configs/host.json",
                                                   end_date="2025-10-08"))
            assert answer.kind == "accepted" and answer.job is not None
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
            assert {name for name, _ in host.mailbox_depths()} == {f"m-{tag}", f"b-{tag}"}
        finally:
            await host.stop()
        with pytest.raises(Unavailable):
            await host.trigger(JobRequest("configs/host.json"))
        assert not any(t.name == "aitrader-simulation" for t in threading.enumerate())


async def test_a_host_that_cannot_start_says_why(servers: Servers, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings = attrs.evolve(servers.settings, db_path=blocker / "sub" / "aitrader.db")
    async with Store(servers.db) as store:
        host = SimulationHost(settings, EventBus(store))
        with pytest.raises(OSError, match="Not a directory"):
            await host.start()
        await host.stop()


async def test_a_message_in_flight_when_the_loop_stops_is_unavailable(
        servers: Servers, tmp_path: Path) -> None:
    """A request whose message the stopping loop never answers gets a clear 503 error, not a
    cancelled handler."""
    settings = attrs.evolve(servers.settings, configs_dir=tmp_path)
    async with Store(servers.db) as store:
        host = SimulationHost(settings, EventBus(store))
        await host.start()
        started = threading.Event()  # set on the simulation's thread, read on this one

        async def never(sup: object) -> None:
            started.set()
            await asyncio.Event().wait()

        pending = asyncio.ensure_future(host._call(never))
        for _ in range(100):
            if started.is_set():
                break
            await asyncio.sleep(0.01)
        await host.stop()
        with pytest.raises(Unavailable, match="stopped before it answered"):
            await pending
