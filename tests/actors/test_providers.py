"""Per-provider limits shared by every actor: a concurrency cap, a rate per window, and a
Retry-After that pauses the whole provider; as a unit, and through the real host with 20 LLM
models on one fake provider limited to 5 requests at once (the fake server counts)."""

from __future__ import annotations

import asyncio
import time

from aitrader.actors.messages import JobRequest
from aitrader.agent.providers import Limiter, Providers, provider_key
from aitrader.config import ProviderLimits
from aitrader.testing.fake_llm import FakeLLM, finish, tools
from tests.actors.conftest import Sim, finished, settled


async def test_the_concurrency_cap_holds_and_is_reached() -> None:
    limiter = Limiter("p", ProviderLimits(max_concurrent=5))
    inside, most = 0, 0

    async def request() -> None:
        nonlocal inside, most
        async with limiter.slot():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(request() for _ in range(40)))
    assert most == limiter.max_seen == 5


async def test_the_rate_and_a_pause_make_requests_wait() -> None:
    limiter = Limiter("p", ProviderLimits(requests_per_minute=3), window=0.4)
    t0 = time.monotonic()
    for _ in range(3):
        async with limiter.slot():
            pass
    assert time.monotonic() - t0 < 0.1  # three within the window go at once
    async with limiter.slot():  # the fourth waits for the first to leave the window
        pass
    assert time.monotonic() - t0 >= 0.35
    limiter.pause(0.3)  # a Retry-After: every caller waits it out
    t1 = time.monotonic()
    async with limiter.slot():
        pass
    assert time.monotonic() - t1 >= 0.28


def test_providers_are_named_without_credentials_and_shared() -> None:
    assert provider_key("https://user:secret@API.example.com:8443/v1/?k=1") == \
        "https://api.example.com:8443/v1"
    assert provider_key(None) == "https://api.openai.com/v1"
    providers = Providers()
    a = providers.limiter("http://h/v1/", {"http://h/v1": ProviderLimits(max_concurrent=2)})
    b = providers.limiter("http://h/v1", None)
    assert a is b and b.limits.max_concurrent == 2


async def test_twenty_models_on_one_provider_never_exceed_its_limit(sim: Sim,
                                                                    llm: FakeLLM) -> None:
    """20 models trading two days on one provider limited to 5 concurrent requests, each
    answer taking 50 ms: the fake server never sees more than 5 at once, and sees 5."""
    llm.default_delay = 0.05
    llm.default = lambda messages: (
        tools(("get_price_local", {"symbol": "AAPL", "date": "2025-10-01"}))
        if sum(1 for m in messages if m.get("role") == "assistant") == 0 else finish())
    models = [sim.llm_model(f"m{i:02d}") for i in range(20)]
    path = sim.write_config(models, providers={llm.base_url: {"max_concurrent": 5}})
    sub = sim.bus.subscribe()
    answer = await sim.host.trigger(JobRequest(path, "2025-10-02", "2025-10-03"))
    assert answer.job is not None
    assert await finished(sub, answer.job.id, wait=120) == "completed"
    await settled(sim.store, answer.job.id)
    assert llm.max_in_flight == 5
    assert len(llm.requests) == 20 * 2 * 2  # two calls a model-day


async def test_the_limits_are_on_metrics() -> None:
    """In flight and wait time per provider, in the app's own registry (Prometheus text)."""
    from prometheus_client import generate_latest

    from aitrader.api.metrics import Metrics
    from aitrader.market.calendar import nyse

    providers = Providers()
    limiter = providers.limiter("http://h/v1", {"http://h/v1": ProviderLimits(max_concurrent=1)})
    metrics = Metrics(nyse())
    metrics.providers = providers.stats
    async with limiter.slot():
        inside = generate_latest(metrics.registry).decode()
    after = generate_latest(metrics.registry).decode()
    assert 'aitrader_llm_provider_in_flight{provider="http://h/v1"} 1.0' in inside
    assert 'aitrader_llm_provider_in_flight{provider="http://h/v1"} 0.0' in after
    assert 'aitrader_llm_provider_wait_seconds_count{provider="http://h/v1"} 1.0' in after
    assert 'aitrader_llm_provider_wait_seconds_bucket{le="0.001",provider="http://h/v1"} 1.0' \
        in after
