"""The four real tool servers, started once per test session on free ports (a fixture
registered by tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import attrs
import pytest

from aitrader.market import demo
from aitrader.market.calendar import nyse
from aitrader.market.prices import upsert_bars
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.tools.ports import free_ports, tool_env

ROOT = Path(__file__).resolve().parents[1]
SESSION_DAY = "2025-10-15"

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
]


@attrs.frozen
class Servers:
    settings: Settings
    db: Path
    procs: dict[str, subprocess.Popen[bytes]]

    def url(self, name: str) -> str:
        return self.settings.tool_url(name)


async def _prepare(db: Path) -> None:
    async with Store(db) as store:
        await upsert_bars(store, demo.generate(nyse(), date(2025, 9, 2), date(2025, 10, 31),
                                               seed=21))


def wait_healthy(urls: list[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending:
        url = pending[0]
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as r:
                if r.status == 200:
                    pending.pop(0)
                    continue
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"not healthy: {pending}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    tmp = tmp_path_factory.mktemp("tools")
    db = tmp / "tools.db"
    asyncio.run(_prepare(db))
    news = tmp / "news.jsonl"
    news.write_text("\n".join(json.dumps(x) for x in NEWS) + "\n")
    env = {**os.environ, **tool_env(free_ports(4), AITRADER_DB=str(db),
                                     AITRADER_NEWS_FILE=str(news),
                                     AITRADER_SEARCH_BACKEND="offline")}
    env.pop("JINA_API_KEY", None)
    settings = Settings.from_env(env)
    procs = {name: subprocess.Popen([sys.executable, str(ROOT / "mcp" / f"{name}_server.py")],
                                    env=env, stdin=subprocess.DEVNULL)
             for name in ("math", "search", "trade", "price")}
    try:
        wait_healthy([settings.tool_url(n) for n in procs])
        yield Servers(settings, db, procs)
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
