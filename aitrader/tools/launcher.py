"""`aitrader mcp`: start the four tool servers, wait for /health, stop all when one dies.

Each server is `python mcp/<name>_server.py` in its own process with the service's
environment. Ctrl-C / SIGTERM stop them all (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp
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


class ToolServers:
    """Owns the tool server processes."""

    def __init__(self, settings: Settings, *, env: Mapping[str, str] | None = None,
                 names: Sequence[str] = TOOL_SERVERS) -> None:
        self.settings = settings
        self._env = dict(os.environ if env is None else env)
        self._names = names
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
        self.procs[name] = await asyncio.create_subprocess_exec(
            *_WITH_PARENT, sys.executable, str(mcp_dir() / f"{name}_server.py"),
            env=self._env, stdin=asyncio.subprocess.DEVNULL)

    async def wait_healthy(self, names: Sequence[str], limit: float) -> None:
        """Probe each server's /health until all are up, failing after `limit` seconds or
        as soon as one exits."""
        pending = set(names)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while pending:
                for name in sorted(pending):
                    proc = self.procs[name]
                    if proc.returncode is not None:
                        raise RuntimeError(f"the {name} tool server exited with code "
                                           f"{proc.returncode} during start-up")
                    if (await probe(http, self.settings.tool_url(name)))["status"] == "up":
                        pending.discard(name)
                        log.info("tool_server_up", server=name,
                                 url=self.settings.tool_url(name))
                if pending:
                    if loop.time() > deadline:
                        raise TimeoutError("tool servers not healthy after "
                                           f"{limit:.0f}s: {', '.join(sorted(pending))}")
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


async def run_forever(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before anything starts: no window for a ^C
        loop.add_signal_handler(sig, stop.set)
    servers = ToolServers(settings)
    starting = asyncio.ensure_future(servers.start())
    stop_wait = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({starting, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            await servers.stop()
            return 0
        await starting  # raises if a server failed to start (the others are stopped)
        print("tool servers up: " + ", ".join(
            f"{n} {settings.tool_url(n)}" for n in TOOL_SERVERS), flush=True)
        exit_wait = asyncio.ensure_future(servers.wait_any_exit())
        try:
            await asyncio.wait({exit_wait, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exit_wait.cancel()
            await servers.stop()
        if not stop.is_set() and exit_wait.done() and not exit_wait.cancelled():
            name, code = exit_wait.result()
            print(f"the {name} tool server exited (code {code}); stopped the others",
                  file=sys.stderr)
            return 1
        return 0
    finally:
        stop_wait.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
