"""Faults inside a job never strand it: once a job has ended, none of its model-days is pending
or running, no attempt is left running, the ledger's invariants hold, and the next job of the
same model runs normally. Arbitrary exceptions raised at several points (failpoints), and the
real faults: a tool server killed mid-job, the database write-locked by another process for
longer than the busy timeout, the disk full."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import attrs
import pytest

from aitrader import failpoints
from aitrader.actors.host import SimulationHost
from aitrader.actors.messages import AnswerKind, JobRequest
from aitrader.api.app import create_app
from aitrader.events import EventBus, Subscription
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.store.jobs import DayStatus, JobView
from aitrader.testing.fake_llm import FakeLLM, finish, tools
from aitrader.tools.launcher import ToolServers
from aitrader.tools.ports import free_ports
from tests.actors.conftest import Sim, finished, settled
from tests.disk import fill
from tests.stack import Stack, stack_env, until

DAYS = ("2025-10-02", "2025-10-03", "2025-10-06")
SCRIPT = [tools(("get_price_local", {"symbol": "AAPL", "date": "2025-10-01"}),
                ("buy", {"symbol": "AAPL", "amount": 1})), finish()]


def statuses(view: JobView) -> list[tuple[str, str, str | None]]:
    return [(d.date, d.status.value, d.error) for d in view.details or ()]


async def restarts(sim: Sim, model: str) -> int:
    return sum(1 for e in await sim.bus.since(0) if e.type == "actor.restarted"
               and e.model == model)


async def run_job(sim: Sim, sub: Subscription, path: str, *days: str) -> JobView:
    answer = await sim.host.trigger(JobRequest(path, days[0] if days else None,
                                               days[-1] if days else None))
    assert answer.kind == AnswerKind.ACCEPTED and answer.job is not None, answer
    await finished(sub, answer.job.id)
    return await settled(sim.store, answer.job.id)


@pytest.mark.parametrize(("armed", "expected", "crashed"), [
    # inside a model-day: the try fails, is voided, and (no retries) the day fails
    ({"llm.before_call": 3},
     [("2025-10-02", "completed", None),
      ("2025-10-03", "failed", "FailpointError: failpoint llm.before_call raised"),
      ("2025-10-06", "failed", "not run: 2025-10-03 failed")], False),
    ({"tool_result.parse": 3},
     [("2025-10-02", "completed", None),
      ("2025-10-03", "failed", "FailpointError: failpoint tool_result.parse raised"),
      ("2025-10-06", "failed", "not run: 2025-10-03 failed")], False),
    ({"complete_attempt.before_commit": 2},
     [("2025-10-02", "completed", None),
      ("2025-10-03", "failed",
       "FailpointError: failpoint complete_attempt.before_commit raised"),
      ("2025-10-06", "failed", "not run: 2025-10-03 failed")], False),
    # escaping the model-day (voiding a failed try fails too): the actor's crash path
    ({"tool_result.parse": 3, "void_attempt.before_commit": 1},
     [("2025-10-02", "completed", None),
      ("2025-10-03", "failed", "FailpointError: failpoint void_attempt.before_commit raised"),
      ("2025-10-06", "failed", "not run: 2025-10-03 failed")], True),
    # escaping the actor between two days
    ({"actor.between_days": 2},
     [("2025-10-02", "completed", None),
      ("2025-10-03", "failed", "FailpointError: failpoint actor.between_days raised"),
      ("2025-10-06", "failed", "not run: 2025-10-03 failed")], True),
    # after a day committed, before anyone was told: the day stays done
    ({"model_day.committed": 2},
     [("2025-10-02", "completed", None), ("2025-10-03", "completed", None),
      ("2025-10-06", "failed", "FailpointError: failpoint model_day.committed raised")],
     True),
])
async def test_an_arbitrary_exception_never_strands_the_job(
        sim: Sim, armed: dict[str, int], expected: list[tuple[str, str, str | None]],
        crashed: bool) -> None:
    """A non-domain exception at each point ends the job with every model-day ended, the
    failed one naming the exception (no traceback), and the next job runs normally."""
    sim.llm.script("fake/x", SCRIPT)
    path = sim.write_config([sim.llm_model("x")])
    sub = sim.bus.subscribe(maxsize=100_000)
    with ExitStack() as arming:
        for name, nth in armed.items():
            arming.enter_context(failpoints.armed(name, nth))
        view = await run_job(sim, sub, path, *DAYS)
        for name, nth in armed.items():
            assert failpoints.hits(name) >= nth, name  # it really fired
    assert statuses(view) == expected
    assert view.job.status == "partial"
    assert await restarts(sim, "x") == (1 if crashed else 0)
    again = await run_job(sim, sub, path)  # catch-up: the failed days, then on to 8 Oct
    assert again.job.status == "completed", statuses(again)
    assert {d.status for d in again.details or ()} == {DayStatus.COMPLETED}


async def test_a_tool_server_killed_mid_job(sim: Sim) -> None:
    """SIGKILL of the price server mid-job: the days it breaks fail naming the server, the
    other model's work goes on, nothing is left pending; once it is back, retry runs the
    failed days."""
    sim.llm.script("fake/x", SCRIPT, delay=0.05)
    path = sim.write_config([sim.llm_model("x"), sim.baseline("b", "buy-and-hold")])
    sub = sim.bus.subscribe(maxsize=100_000)
    answer = await sim.host.trigger(JobRequest(path, "2025-10-02", "2025-10-10"))
    assert answer.job is not None
    async with asyncio.timeout(30):
        async for event in sub:  # one day done: the job is under way
            if event.type == "model_day.finished" and event.model == "x":
                break
    price = sim.stack.servers.procs["price"]
    price.kill()
    await price.wait()
    await finished(sub, answer.job.id)
    view = await settled(sim.store, answer.job.id)
    failed = [d for d in view.details or () if d.status == DayStatus.FAILED]
    assert failed, statuses(view)
    first = [d.error or "" for d in failed if not (d.error or "").startswith("not run")]
    url = sim.stack.url("price")
    assert first and all(f"the price tool server at {url}" in e for e in first), first
    await sim.stack.servers.restart("price")
    retried = await sim.host.retry(answer.job.id)
    assert retried.kind == AnswerKind.ACCEPTED and retried.job is not None
    await finished(sub, retried.job.id)
    again = await settled(sim.store, retried.job.id)
    assert again.job.status == "completed", statuses(again)
    done = {(d.model, d.date) for v in (view, again) for d in v.details or ()
            if d.status == DayStatus.COMPLETED}
    assert len(done) == 2 * 7  # every model-day of 2-10 Oct, in one job or the other


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


async def test_the_database_write_locked_by_another_process(stack: Stack,
                                                            llm: FakeLLM) -> None:
    """Another process holds the write lock for 3 s, ten times the service's busy timeout:
    the writes that fail are retried until they succeed (voiding never abandoned), the job
    ends with nothing pending or running, and the next job of the same models runs."""
    settings = attrs.evolve(stack.settings, db_busy_timeout_ms=300)
    llm.script("fake/x", SCRIPT, delay=0.05)
    path = stack.write_config([{"name": "x", "basemodel": "fake/x", "signature": "x",
                                "openai_base_url": llm.base_url, "openai_api_key": "sk-x"},
                               Sim.baseline("b")])
    async with Store(stack.db) as store:
        bus = EventBus(store)
        sub = bus.subscribe(maxsize=100_000)
        async with SimulationHost(settings, bus, env={}) as host:
            answer = await host.trigger(JobRequest(path, "2025-10-02", "2025-10-10"))
            assert answer.job is not None
            async with asyncio.timeout(30):
                async for event in sub:
                    if event.type == "model_day.finished":
                        break
            locker = await asyncio.create_subprocess_exec(
                sys.executable, "-c", LOCKER, str(stack.db), "3",
                stdout=asyncio.subprocess.PIPE)
            assert locker.stdout is not None
            assert await locker.stdout.readline() == b"locked\n"
            assert await locker.wait() == 0
            await finished(sub, answer.job.id, wait=120)
            view = await settled(store, answer.job.id)
            errors = [d.error or "" for d in view.details or ()]
            assert any("database is locked" in e for e in errors), statuses(view)
            again = await host.trigger(JobRequest(path))  # catch-up after what failed
            assert again.job is not None
            await finished(sub, again.job.id)
            after = await settled(store, again.job.id)
            assert after.job.status == "completed", statuses(after)


def _mount_tmpfs(where: Path, megabytes: int) -> None:
    why = ""
    if os.geteuid() != 0:
        why = "mounting a small tmpfs needs root"
    else:
        where.mkdir()
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs",
                              str(where)], capture_output=True, text=True, check=False)
        why = out.stderr.strip() if out.returncode else ""
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the disk-full test cannot run: {why}")
        pytest.skip(why)


async def test_the_disk_full(tmp_path: Path, template_db: Path, llm: FakeLLM,
                             aiohttp_client: Callable[..., Awaitable[Any]]) -> None:
    """The data disk (a 24 MB tmpfs) fills up mid-job: /health says so, the writes that fail
    are retried until space is back, the job ends with nothing pending or running, /health
    is healthy again and the next job runs."""
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, 24)
    try:
        db = disk / "aitrader.db"
        shutil.copy(template_db, db)
        (tmp_path / "configs").mkdir()
        env = stack_env(tmp_path, db, free_ports(4), AITRADER_DATA_DIR=str(disk),
                        AITRADER_MIN_FREE_MB="8")
        settings = Settings.from_env(env)
        servers = ToolServers(settings, env=env)
        await servers.start()
        try:
            llm.script("fake/x", SCRIPT, delay=0.05)
            stack = Stack(settings, servers, env, tmp_path)
            stack.write_config([{"name": "x", "basemodel": "fake/x", "signature": "x",
                                 "openai_base_url": llm.base_url, "openai_api_key": "sk-x"},
                                Sim.baseline("b")], "default_config.json")
            client = await aiohttp_client(create_app(settings))
            assert (await client.get("/health")).status == 200
            resp = await client.post("/simulate/trigger", json={"end_date": "2025-10-10"})
            job = (await resp.json())["job_id"]

            async def progress(job_id: str) -> dict[str, Any]:
                return dict(await (await client.get(f"/simulate/status/{job_id}")).json())

            async def done(job_id: str) -> bool:
                return (await progress(job_id))["status"] not in ("pending", "running")

            await until(lambda: _completed(progress(job), 2))
            filler = fill(disk)
            health = await client.get("/health")
            body = await health.json()
            assert health.status == 503, body
            assert "MB free, below the 8 MB" in body["storage"]["error"]

            async def writes_fail() -> Any:  # the simulation has hit the full disk
                body = await (await client.get("/health")).json()
                return "full" in body["database"].get("error", "")

            await until(writes_fail)
            filler.unlink()
            await until(lambda: done(job), seconds=60)
            async with Store(db) as store:
                view = await settled(store, job)
                assert any("full" in (d.error or "") for d in view.details or ()), \
                    statuses(view)
                assert (await client.get("/health")).status == 200
                resp = await client.post("/simulate/trigger", json={})
                assert resp.status == 202
                again = (await resp.json())["job_id"]
                await until(lambda: done(again), seconds=60)
                after = await settled(store, again)
                assert after.job.status == "completed", statuses(after)
        finally:
            await servers.stop()
    finally:
        umount = await asyncio.create_subprocess_exec("umount", "-l", str(disk))
        await umount.wait()


async def _completed(view: Awaitable[dict[str, Any]], n: int) -> bool:
    return int((await view)["progress"]["completed"]) >= n
