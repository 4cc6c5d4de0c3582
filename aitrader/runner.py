"""`aitrader run`: a whole simulation in one process, with a live view, ending with the
leaderboard. The tool servers are started for it unless they already answer."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import attrs
from rich.console import Console
from rich.live import Live
from rich.table import Table

from aitrader.actors.host import SimulationHost
from aitrader.actors.messages import AnswerKind, JobRequest
from aitrader.agent.factory import check_model
from aitrader.config import load_config
from aitrader.errors import AITraderError, ConfigError
from aitrader.events import EventBus, Subscription
from aitrader.ledger.performance import leaderboard
from aitrader.market import demo
from aitrader.report import leaderboard_table
from aitrader.settings import TOOL_SERVERS, Settings
from aitrader.store import Store
from aitrader.store import jobs as jobstore
from aitrader.store.jobs import DayStatus, JobRow
from aitrader.tools.health import probe_all
from aitrader.tools.launcher import ToolServers


@contextlib.asynccontextmanager
async def tool_servers(settings: Settings) -> AsyncIterator[str]:
    """Use the running tool servers, or start all four for the duration."""
    up = {name: c["status"] == "up"
          for name, c in (await probe_all(settings, TOOL_SERVERS)).items()}
    if all(up.values()):
        yield "running"
        return
    if any(up.values()):
        down = ", ".join(n for n, ok in up.items() if not ok)
        raise ConfigError(f"some tool servers answer and some do not ({down}); start or stop "
                          "them all (`aitrader mcp`)")
    env = {**os.environ, "AITRADER_DB": str(settings.db_path)}
    servers = ToolServers(settings, env=env)
    await servers.start()
    try:
        yield "started"
    finally:
        await servers.stop()


@attrs.define
class Progress:
    totals: dict[str, int] = attrs.Factory(dict)
    done: dict[str, int] = attrs.Factory(dict)
    failed: dict[str, int] = attrs.Factory(dict)
    current: dict[str, str] = attrs.Factory(dict)
    value: dict[str, float] = attrs.Factory(dict)
    tools: dict[str, int] = attrs.Factory(dict)

    started: float = attrs.Factory(time.monotonic)
    at_start: int = 0  # model-days already ended when following began (a resumed job)

    def pace(self) -> str:
        """Model-days ended of all, the rate since following began, and the time left."""
        ended = sum(self.done.values()) + sum(self.failed.values())
        total = sum(self.totals.values())
        elapsed = time.monotonic() - self.started
        rate = (ended - self.at_start) / elapsed if elapsed > 0 else 0.0
        left = total - ended
        eta = "-" if rate <= 0 or not left else _duration(left / rate)
        return f"{ended}/{total} model-days, {rate:.1f}/s, ETA {eta}"

    def table(self, title: str) -> Table:
        t = Table(title=title, caption=self.pace())
        for col in ("model", "model-days", "failed", "now on", "tool calls", "value"):
            t.add_column(col, justify="left" if col == "model" else "right")
        for m in sorted(self.totals):
            t.add_row(m, f"{self.done.get(m, 0)}/{self.totals[m]}", str(self.failed.get(m, 0)),
                      self.current.get(m, "-"), str(self.tools.get(m, 0)),
                      f"{self.value[m]:,.2f}" if m in self.value else "-")
        return t


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes \
        else f"{secs}s"


async def follow(store: Store, sub: Subscription, job: JobRow, console: Console) -> str:
    view = await jobstore.job_view(store, job.id)
    p = Progress()
    for d in view.details or ():
        if d.status == DayStatus.SKIPPED:
            continue
        p.totals[d.model] = p.totals.get(d.model, 0) + 1
        if d.status == DayStatus.COMPLETED:
            p.done[d.model] = p.done.get(d.model, 0) + 1
        elif d.status in (DayStatus.FAILED, DayStatus.CANCELLED):
            p.failed[d.model] = p.failed.get(d.model, 0) + 1
    p.at_start = sum(p.done.values()) + sum(p.failed.values())
    if not view.job.active:
        return view.job.status.value
    title = f"job {job.id[:8]}  {job.date_start} to {job.date_end}"
    status = "running"
    with Live(p.table(title), console=console, refresh_per_second=4, transient=False) as live:
        async for e in sub:
            m = e.model or ""
            if e.job_id != job.id:
                continue
            if e.type == "model_day.started":
                p.current[m] = e.date or "-"
            elif e.type == "model_day.tool_call":
                p.tools[m] = p.tools.get(m, 0) + 1
            elif e.type == "model_day.finished":
                if e.data.get("status") == "completed":
                    p.done[m] = p.done.get(m, 0) + 1
                    p.value[m] = float(e.data.get("value", 0))
                else:
                    p.failed[m] = p.failed.get(m, 0) + 1
                p.current[m] = "-"
            elif e.type == "job.finished":
                status = str(e.data.get("status"))
                live.update(p.table(title))
                break
            live.update(p.table(title))
    return status


async def run_simulation(settings: Settings, config_file: Path, *, start: str | None,
                         end: str | None, console: Console) -> int:
    config = load_config(config_file)  # anywhere: only the HTTP API is held to configs/
    for model in config.enabled:  # what a trigger would refuse, refused before anything starts
        check_model(model, config, os.environ)
    settings = attrs.evolve(settings, configs_dir=config_file.parent)
    async with Store(settings.db_path, busy_timeout_ms=settings.db_busy_timeout_ms) as store:
        if config.data == "demo":
            n = await demo.ensure(store, config.venue,
                                  date.fromisoformat(config.date_range.init_date),
                                  settings.demo_seed)
            if n:
                console.print(f"generated {n:,} bars of the {demo.LABEL}")
        async with tool_servers(settings) as how:
            console.print(f"tool servers {how}")
            bus = EventBus(store)
            sub = bus.subscribe(maxsize=1_000_000)
            async with SimulationHost(settings, bus) as host:
                status = await _drive(store, sub, host, config_file.name, start, end, console)
        models = [m.signature for m in config.enabled]
        try:
            # the job's window: the config's end date unless one was given
            board = await leaderboard(store, config.venue, start=start,
                                      end=end or config.date_range.end_date, models=models)
        except AITraderError as exc:  # the job's work is done and kept: say why, no table
            console.print(f"[yellow]no leaderboard: {exc.message}[/]", highlight=False)
            board = None
    if board is not None:
        console.print(leaderboard_table(board, full=False))
    return 0 if status in ("completed", "current") else 1


async def _drive(store: Store, sub: Subscription, host: SimulationHost, config_name: str,
                 start: str | None, end: str | None, console: Console) -> str:
    status = "current"
    # a job a crash interrupted was resumed by the supervisor: see it through first
    for job in await jobstore.active_jobs(store):
        console.print(f"resuming job {job.id[:8]}")
        status = await follow(store, sub, job, console)
    answer = await host.trigger(JobRequest(config_name, start, end))
    if answer.kind == AnswerKind.CURRENT:
        console.print(f"up to date: {answer.message} (last simulated "
                      f"{answer.last_simulation_date}, next trading day "
                      f"{answer.next_trading_day})")
        return status
    assert answer.job is not None
    console.print(f"job {answer.job.id}: {answer.message}")
    return await follow(store, sub, answer.job, console)
