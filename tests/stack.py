"""What an integration test runs against: a fresh database of its own (the demo market for
September and October 2025, copied from a template made once per session), the four real
tool servers on free ports started by the real launcher, and a configs folder.

`stack` is the fixture (registered by tests/conftest.py); `Stack.env` is the environment a
subprocess of the service (`aitrader serve`, `run`) needs to use the same database and tool
servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest

from aitrader import markets
from aitrader.market import demo
from aitrader.market.prices import US_DAILY, upsert_bars
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.tools.launcher import ToolServers
from aitrader.tools.ports import free_ports, tool_env

ROOT = Path(__file__).resolve().parents[1]
SESSION_DAY = "2025-10-15"
TEMPLATE_SEED = 21

NEWS = [
    {"published_at": "2025-10-14T15:00:00Z", "title": "Nvidia unveils chip", "url": "u/before",
     "description": "NVDA news the day before", "content": "nvidia chips sell well"},
    {"published_at": "2025-10-15T08:00:00-04:00", "title": "Nvidia same-day news",
     "url": "u/sameday", "description": "before the open, but on the session date",
     "content": "nvidia"},
    {"published_at": "2025-10-16T09:00:00Z", "title": "Nvidia tomorrow", "url": "u/future",
     "description": "the future", "content": "nvidia"},
    {"title": "Nvidia undated rumour", "url": "u/undated", "content": "nvidia"},
    {"published_at": "unknown", "title": "Nvidia unknown date", "url": "u/unknown",
     "content": "nvidia"},
    {"published_at": "2 days ago", "title": "Nvidia relative", "url": "u/twodays",
     "content": "nvidia"},
    {"published_at": "3 hours ago", "title": "Nvidia hours", "url": "u/hours",
     "content": "nvidia"},
    {"published_at": "Oct 10, 2025", "title": "Apple earnings date", "url": "u/apple",
     "content": "apple iphone"},
    # 23:00 in New York is 11:00 the next morning in Beijing: after a 09:30 session began
    {"published_at": "2025-10-14T23:00:00-04:00", "title": "Nvidia late evening",
     "url": "u/lateevening", "content": "nvidia"},
]


@attrs.frozen
class Stack:
    settings: Settings
    servers: ToolServers
    env: dict[str, str]  # for subprocesses: the same database, tool servers and configs
    tmp: Path

    @property
    def db(self) -> Path:
        return self.settings.db_path

    @property
    def configs(self) -> Path:
        return self.settings.configs_dir

    def url(self, name: str) -> str:
        return self.settings.tool_url(name)

    def write_config(self, models: list[dict[str, Any]], name: str = "sim.json",
                     **extra: Any) -> str:
        """A config in the stack's configs folder (the database market, init 2025-10-01, no
        retries, no backoff); returns the config_path a trigger names."""
        doc = {"market": "database", "date_range": {"init_date": "2025-10-01"},
               "agent_config": {"max_retries": 0, "base_delay": 0, "llm_timeout": 5},
               "log_config": {"log_path": str(self.tmp / "agent_data")},
               "models": models, **extra}
        (self.configs / name).write_text(json.dumps(doc))
        return f"configs/{name}"


async def make_template(path: Path) -> None:
    async with Store(path) as store:
        await upsert_bars(store, US_DAILY,
                          demo.generate(markets.get(), date(2025, 9, 2), date(2025, 10, 31),
                                        seed=TEMPLATE_SEED))


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with the demo market, made once; tests copy it."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(make_template(path))
    return path


def stack_env(tmp: Path, db: Path, ports: list[int], **extra: str) -> dict[str, str]:
    """The environment of a stack in `tmp`: its database, configs, data folder, news file and
    tool server ports, and nothing of this machine's own aitrader or LLM settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AITRADER_", "OPENAI_", "JINA_"))}
    env.update(tool_env(ports, AITRADER_DB=str(db), AITRADER_DATA_DIR=str(tmp / "data"),
                        AITRADER_CONFIGS_DIR=str(tmp / "configs"),
                        AITRADER_NEWS_FILE=str(tmp / "news.jsonl"),
                        AITRADER_SEARCH_BACKEND="offline", FASTMCP_CHECK_FOR_UPDATES="off",
                        MAX_CONCURRENT_JOBS="4"))
    env.update(extra)
    return env


@pytest.fixture
async def stack(tmp_path: Path, template_db: Path) -> AsyncIterator[Stack]:
    """A fresh copy of the template database and the four tool servers on it."""
    db = tmp_path / "aitrader.db"
    shutil.copy(template_db, db)
    (tmp_path / "configs").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "news.jsonl").write_text("\n".join(json.dumps(x) for x in NEWS) + "\n")
    env = stack_env(tmp_path, db, free_ports(4))
    settings = Settings.from_env(env)
    servers = ToolServers(settings, env=env)
    await servers.start()
    try:
        yield Stack(settings, servers, env, tmp_path)
    finally:
        await servers.stop()


async def wait_http(url: str, *, seconds: float = 60.0, status: int = 200) -> None:
    """Until GET `url` answers `status` (a service a test started is up)."""
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while True:
            try:
                async with http.get(url) as resp:
                    if resp.status == status:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer {status} within {seconds:.0f} s")
            await asyncio.sleep(0.1)


async def until(check: Callable[[], Awaitable[Any]], *, seconds: float = 30.0,
                every: float = 0.05) -> Any:
    """Poll `check` until it returns something true (a condition, not a guessed duration);
    fail after `seconds`."""
    async with asyncio.timeout(seconds):
        while not (found := await check()):  # noqa: ASYNC110  (it polls another process)
            await asyncio.sleep(every)
        return found
