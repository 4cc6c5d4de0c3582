"""The real app (create_app) on the test's own stack (database and tool servers), with a
config of two enabled models and one disabled."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web_runner import BaseRunner

from aitrader.api.app import create_app
from aitrader.settings import Settings
from aitrader.testing.fake_llm import FakeLLM, finish, tools
from tests.stack import Stack

Client = TestClient[web.Request, web.Application]


class ServiceServer(TestServer):
    """The app served as `aitrader serve` serves it: a handler is not cancelled when its
    client leaves (aiohttp's test server cancels it, `web.run_app` does not)."""

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        kwargs["handler_cancellation"] = False
        return web.AppRunner(self.app, **kwargs)


@attrs.define
class Api:
    client: Client
    settings: Settings
    llm: FakeLLM
    stack: Stack


def api_settings(stack: Stack, **env: str) -> Settings:
    return Settings.from_env({**stack.env, "MAX_CONCURRENT_JOBS": "2", **env})


def write_config(stack: Stack, llm: FakeLLM, name: str = "api.json") -> None:
    stack.write_config([
        {"name": "trader", "basemodel": "fake/trader", "signature": "trader",
         "openai_base_url": llm.base_url, "openai_api_key": "sk-test"},
        {"name": "momentum", "basemodel": "baseline/momentum", "signature": "momentum"},
        {"name": "off", "basemodel": "baseline/momentum", "signature": "off",
         "enabled": False}], name)


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeLLM]:
    llm = FakeLLM()
    await llm.start()
    llm.script("fake/trader", [tools(("buy", {"symbol": "AAPL", "amount": 2})),
                               finish("Bought two Apple shares.")])
    yield llm
    await llm.stop()


@pytest.fixture
async def api(stack: Stack, fake_llm: FakeLLM,
              aiohttp_client: Callable[..., Awaitable[Client]]) -> Api:
    settings = api_settings(stack)
    write_config(stack, fake_llm)
    client = await aiohttp_client(ServiceServer(create_app(settings)))
    return Api(client, settings, fake_llm, stack)
