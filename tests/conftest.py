"""Shared fixtures: temporary stores, the real data in ../shared, the aioresponses shim, and
every async test on the event loop the service serves on (`aitrader.priority.ServingLoop`)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp.client_reqrep
import aioresponses.core
import pytest
from aioresponses import aioresponses as _aioresponses

from aitrader import markets
from aitrader.market import demo
from aitrader.market.prices import US_DAILY, upsert_bars
from aitrader.priority import ServingLoop
from aitrader.store import Store
from tests.stack import stack, template_db  # noqa: F401  (fixtures: a database and tool servers)

ROOT = Path(__file__).resolve().parents[1]


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item
                                  ) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The loop `aitrader serve` runs on: the simulation host yields to it while it is busy."""
    return {"serving": ServingLoop}
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skip without it, but fail under CI (it must be there)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {path} is missing: CI must run with ../shared beside "
                        "the checkout")
        pytest.skip(f"{path} is absent: these tests need the real data in ../shared/data")
    return path


class _StreamWriterStub:
    output_size = 0


class _ShimResponse(aiohttp.client_reqrep.ClientResponse):
    """aioresponses 0.7.9 builds responses without aiohttp 3.14's `stream_writer` argument."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _StreamWriterStub())
        super().__init__(*args, **kwargs)


@pytest.fixture
def mock_http(monkeypatch: pytest.MonkeyPatch) -> Iterator[_aioresponses]:
    """aioresponses, working with aiohttp 3.14 (aioresponses issue 289)."""
    monkeypatch.setattr(aioresponses.core, "ClientResponse", _ShimResponse)
    with _aioresponses() as mocked:
        yield mocked


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """An empty, migrated store in a temporary SQLite file."""
    async with Store(tmp_path / "test.db") as s:
        yield s


DEMO_START, DEMO_END = date(2025, 9, 2), date(2025, 10, 31)


@pytest.fixture
async def demo_store(store: Store) -> Store:
    """A store holding the demo market for September and October 2025."""
    await upsert_bars(store, US_DAILY, demo.generate(markets.get(), DEMO_START, DEMO_END, seed=11))
    return store
