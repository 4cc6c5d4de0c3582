"""The launcher of the tool servers, the one way they are started: by `aitrader mcp` (and so
by the container's entrypoint), by `aitrader run` and `demo` when none are running, by the
tests and by the benchmarks.

Each server is `python mcp/<name>_server.py` in its own process with the service's
environment, under `setpriv --pdeathsig TERM` where that exists, so a launcher that dies
however it dies (a SIGKILL included) takes its servers with it. Starting waits, bounded,
until every server answers /health. `aitrader mcp` then watches them: a server that dies is
started again (after a backoff, at most `max_restarts` times); past that, or on Ctrl-C /
SIGTERM, it stops them all (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import aiohttp
import attrs
import structlog

from aitrader.errors import ConfigError
from aitrader.settings import TOOL_SERVERS, Settings
from aitrader.tools.health import probe

log = structlog.get_logger(__name__)


def _with_parent() -> tuple[str, ...]:
    """`setpriv --pdeathsig TERM --` where it exists (Linux, util-linux): the kernel sends a
    server SIGTERM when the process that started it ends, however it ends (a SIGKILL
    included), so a launcher that is killed never leaves its servers behind."""
    setpriv = shutil.which("setpriv")
    return (setpriv, "--pdeathsig", "TERM", "--") if setpriv else ()


_WITH_PARENT = _with_parent()


def mcp_dir() -> Path:
    """The mcp/ folder: AITRADER_MCP_DIR, ./mcp, or the one beside the package."""
    candidates = [Path(os.environ["AITRADER_MCP_DIR"])] if os.environ.get("AITRADER_MCP_DIR") \
        else [Path.cwd() / "mcp", Path(__file__).resolve().parents[2] / "mcp"]
    for c in candidates:
        if (c / "price_server.py").is_file():
            return c
    raise ConfigError("cannot find the mcp/ tool servers; run from the project folder or set "
                      "AITRADER_MCP_DIR")


class StartFailed(Exception):
    """A tool server exited or stayed unhealthy while starting."""

    def __init__(self, message: str, *, server: str | None = None) -> None:
        super().__init__(message)
        self.server = server


class ToolServers:
    """Owns the tool server processes. With `log_dir`, each server's output is appended to
    `<log_dir>/<name>.log`; with `pid_dir`, its pid is kept in `<pid_dir>/<name>.pid`."""

    def __init__(self, settings: Settings, *, env: Mapping[str, str] | None = None,
                 names: Sequence[str] = TOOL_SERVERS, log_dir: Path | None = None,
                 pid_dir: Path | None = None) -> None:
        self.settings = settings
        self._env = dict(os.environ if env is None else env)
        self._names = names
        self._log_dir = log_dir
        self._pid_dir = pid_dir
        self._logs: dict[str, IO[bytes]] = {}
        self.procs: dict[str, asyncio.subprocess.Process] = {}

    async def start(self, *, health_timeout: float = 30.0) -> None:
        for name in self._names:
            await self._spawn(name)
        try:
            await self.wait_healthy(self._names, health_timeout)
        except BaseException:
            await self.stop()
            raise

    async def restart(self, name: str, *, health_timeout: float = 30.0) -> None:
        """Start one server again (after it died), and wait until it is healthy."""
        proc = self.procs.get(name)
        if proc is not None and proc.returncode is None:
            raise RuntimeError(f"the {name} tool server is still running")
        await self._spawn(name)
        await self.wait_healthy((name,), health_timeout)

    async def _spawn(self, name: str) -> None:
        out: int | IO[bytes] | None = None
        if self._log_dir is not None:
            if name not in self._logs:
                self._log_dir.mkdir(parents=True, exist_ok=True)
                self._logs[name] = (self._log_dir / f"{name}.log").open("ab")
            out = self._logs[name]
        proc = self.procs[name] = await asyncio.create_subprocess_exec(
            *_WITH_PARENT, sys.executable, str(mcp_dir() / f"{name}_server.py"),
            env=self._env, stdin=asyncio.subprocess.DEVNULL, stdout=out,
            stderr=asyncio.subprocess.STDOUT if out is not None else None)
        if self._pid_dir is not None:
            self._pid_dir.mkdir(parents=True, exist_ok=True)
            (self._pid_dir / f"{name}.pid").write_text(f"{proc.pid}\n")

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The end of a server's log (with `log_dir`), for a message about it."""
        if self._log_dir is None:
            return ""
        try:
            text = (self._log_dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_healthy(self, names: Sequence[str], limit: float) -> None:
        """Probe each server's /health until all are up; StartFailed after `limit` seconds
        or as soon as one exits."""
        pending = set(names)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while pending:
                for name in sorted(pending):
                    proc = self.procs[name]
                    if proc.returncode is not None:
                        raise StartFailed(f"the {name} tool server exited during start-up "
                                          f"(exit code {proc.returncode})", server=name)
                    if (await probe(http, self.settings.tool_url(name)))["status"] == "up":
                        pending.discard(name)
                        log.info("tool_server_up", server=name, pid=proc.pid,
                                 url=self.settings.tool_url(name))
                if pending:
                    if loop.time() > deadline:
                        raise StartFailed("tool servers not healthy after "
                                          f"{limit:.0f} s: {', '.join(sorted(pending))}")
                    await asyncio.sleep(0.1)

    async def wait_any_exit(self) -> tuple[str, int]:
        waits = {asyncio.ensure_future(p.wait()): n for n, p in self.procs.items()}
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        first = next(iter(done))
        return waits[first], first.result()

    async def stop(self, grace: float = 5.0) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                log.warning("tool_server_killed", server=name)
                proc.kill()
                await proc.wait()
            if self._pid_dir is not None:
                (self._pid_dir / f"{name}.pid").unlink(missing_ok=True)
        for fh in self._logs.values():
            fh.close()
        self._logs.clear()


@attrs.frozen(kw_only=True)
class Watch:
    """How `aitrader mcp` runs: where logs, pids and the ready file go, and its limits."""

    log_dir: Path | None = None
    pid_dir: Path | None = None
    ready_file: Path | None = None  # created once every server is up, removed at the end
    startup_timeout: float = 30.0
    max_restarts: int = 5  # per server; 0: a server that dies stops them all
    first_backoff: float = 1.0


async def run_forever(settings: Settings, watch: Watch = Watch()) -> int:
    """`aitrader mcp`: start, watch, restart what dies (within the limit), stop on a signal.
    Exit code 0 after a signal, 1 when the servers could not start or kept dying."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before anything starts: no window for a ^C
        loop.add_signal_handler(sig, stop.set)
    servers = ToolServers(settings, log_dir=watch.log_dir, pid_dir=watch.pid_dir)
    stop_wait = asyncio.ensure_future(stop.wait())
    try:
        if not await _until_stopped(servers.start(health_timeout=watch.startup_timeout),
                                    stop_wait, servers):
            return 0
        if watch.ready_file is not None:
            watch.ready_file.write_text("up\n")
        print("tool servers up: " + ", ".join(
            f"{n} {settings.tool_url(n)}" for n in TOOL_SERVERS), flush=True)
        restarts = dict.fromkeys(TOOL_SERVERS, 0)
        while True:
            exit_wait = asyncio.ensure_future(servers.wait_any_exit())
            await asyncio.wait({exit_wait, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                exit_wait.cancel()
                return 0
            name, code = exit_wait.result()
            if restarts[name] >= watch.max_restarts:
                print(f"the {name} tool server exited (code {code})"
                      + (f" after {restarts[name]} restarts" if restarts[name] else "")
                      + "; stopped the others", file=sys.stderr, flush=True)
                return 1
            restarts[name] += 1
            backoff = watch.first_backoff * 2 ** (restarts[name] - 1)
            log.warning("tool_server_died", server=name, exit_code=code,
                        restart=restarts[name], of=watch.max_restarts, after_seconds=backoff)
            await asyncio.wait({stop_wait}, timeout=backoff)
            if stop.is_set() or not await _until_stopped(
                    servers.restart(name, health_timeout=watch.startup_timeout),
                    stop_wait, servers):
                return 0
    except StartFailed as exc:
        tail = "".join(f"\n  {line}" for line in servers.log_tail(exc.server).splitlines()) \
            if exc.server else ""
        print(f"error: {exc}{tail}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop_wait.cancel()
        await servers.stop()
        if watch.ready_file is not None:
            watch.ready_file.unlink(missing_ok=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _until_stopped(work: Coroutine[Any, Any, None], stop_wait: asyncio.Future[Any],
                         servers: ToolServers) -> bool:
    """Run `work` unless a stop comes first; False when it was stopped."""
    task = asyncio.ensure_future(work)
    await asyncio.wait({task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False
    await task  # raises StartFailed
    return True
