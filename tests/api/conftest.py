"""The real app (create_app) on the session's tool servers, with a configs folder of its own."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from aitrader.api.app import create_app
from aitrader.settings import Settings
from tests.fakes.llm import FakeLLM, finish, tools
from tests.servers import Servers

Client = TestClient[web.Request, web.Application]


@attrs.define
class Api:
    client: Client
    settings: Settings
    tag: str
    llm: FakeLLM

    def sig(self, name: str) -> str:
        return f"{name}-{self.tag}"


def api_settings(servers: Servers, tmp_path: Path, **env: str) -> Settings:
    base = {
        "AITRADER_DB": str(servers.db), "AITRADER_DATA_DIR": str(tmp_path / "data"),
        "AITRADER_CONFIGS_DIR": str(tmp_path / "configs"),
        **{var: str(servers.settings.ports[name]) for name, var in (
            ("math", "MATH_HTTP_PORT"), ("search", "SEARCH_HTTP_PORT"),
            ("trade", "TRADE_HTTP_PORT"), ("price", "GETPRICE_HTTP_PORT"))},
        "MAX_CONCURRENT_JOBS": "2",
    }
    return Settings.from_env({**base, **env})


def write_config(configs: Path, tag: str, llm: FakeLLM, name: str = "api.json") -> None:
    configs.mkdir(exist_ok=True)
    (configs / name).write_text(json.dumps({
        "market": "database", "date_range": {"init_date": "2025-10-01"},
        "agent_config": {"max_retries": 0, "base_delay": 0, "llm_timeout": 5},
        "models": [
            {"name": "trader", "basemodel": "fake/trader", "signature": f"trader-{tag}",
             "openai_base_url": llm.base_url, "openai_api_key": "sk-test"},
            {"name": "momentum", "basemodel": "baseline/momentum",
             "signature": f"momentum-{tag}"},
            {"name": "off", "basemodel": "baseline/momentum", "signature": f"off-{tag}",
             "enabled": False}]}))


@pytest.fixture
async def fake_llm() -> Any:
    llm = FakeLLM()
    await llm.start()
    llm.script("fake/trader", [tools(("buy", {"symbol": "AAPL", "amount": 2})),
                               finish("Bought two Apple shares.")])
    yield llm
    await llm.stop()


@pytest.fixture
async def api(servers: Servers, tmp_path: Path, fake_llm: FakeLLM,
              aiohttp_client: Callable[..., Awaitable[Client]]) -> Api:
    tag = uuid.uuid4().hex[:6]
    settings = api_settings(servers, tmp_path)
    write_config(settings.configs_dir, tag, fake_llm)
    client = await aiohttp_client(create_app(settings))
    return Api(client, settings, tag, fake_llm)
