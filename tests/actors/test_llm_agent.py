"""The LLM agent against the fake chat-completions server and the real tool servers."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from aitrader.actors.modelday import DayOutcome, Runtime, run_model_day
from aitrader.agent.llm import LLMAgent
from aitrader.agent.recorder import Recorder
from aitrader.agent.toolbox import ToolBox
from aitrader.config import ModelConfig, Price, parse_config
from aitrader.errors import ConfigError
from aitrader.events import EventBus
from aitrader.ledger import Ledger
from aitrader.ledger.invariants import violations
from aitrader.store import Store
from aitrader.testing.fake_llm import FakeLLM, Fault, Turn, finish, tools
from tests.stack import Stack

DAY = "2025-10-02"


async def run_llm_day(stack: Stack, fake: FakeLLM, tmp_path: Path, basemodel: str, *,
                      llm_timeout: float = 5.0, max_retries: int = 0,
                      call_retries: int = 3) -> tuple[DayOutcome, Store, str, list[float]]:
    sig = f"llm-{uuid.uuid4().hex[:8]}"
    config = parse_config({"date_range": {"init_date": "2025-10-01"},
                           "models": [{"name": sig, "basemodel": basemodel, "signature": sig}],
                           "agent_config": {"llm_timeout": llm_timeout, "max_steps": 8},
                           "llm_prices": {basemodel: {"prompt": 2.0, "completion": 8.0}}})
    model = ModelConfig(name=sig, basemodel=basemodel, signature=sig,
                        openai_base_url=fake.base_url, openai_api_key="sk-test")
    store = Store(stack.db)
    await store.open()
    ledger = Ledger(store)
    recorder = Recorder(store, sig, log_root=tmp_path / "agent_data",
                        price=Price(prompt=2.0, completion=8.0))
    waits: list[float] = []

    async def no_sleep(s: float) -> None:
        waits.append(s)

    runtime = Runtime(sig)
    async with httpx.AsyncClient(timeout=None) as http, \
            ToolBox(stack.settings, runtime.identity) as box:  # the actor's, as in service
        agent = LLMAgent(model, config, ledger, store=store, recorder=recorder, env={},
                         call_retries=call_retries, sleep=no_sleep, http=http)
        await agent.register_agent()
        out = await run_model_day(store=store, ledger=ledger, agent=agent, tools=box,
                                  runtime=runtime, day=DAY, bus=EventBus(store),
                                  max_retries=max_retries, base_delay=0)
    return out, store, sig, waits


async def test_scripted_conversation_trades_and_is_recorded(
        stack: Stack, llm: FakeLLM, tmp_path: Path) -> None:
    """Tool calls are run and fed back; the stop signal ends the day; usage, cost and the
    reasoning log are stored; invalid JSON and unknown tools are answered as errors."""
    llm.script("fake/trader", [
        tools(("get_price_local", {"symbol": "AAPL", "date": "2025-10-01"})),
        tools(("buy", {"symbol": "AAPL", "amount": 3}), ("buy", '{"symbol": "MSFT", amount'),
              ("teleport", {"to": "2030"})),
        tools(("sell", {"symbol": "AAPL", "amount": 1})),
        finish("Bought Apple."),
    ])
    out, store, sig, _ = await run_llm_day(stack, llm, tmp_path, "fake/trader")
    try:
        assert out.status == "completed", out.error
        assert out.report is not None and out.report.stop_signal and out.report.steps == 4
        assert dict(out.report.tool_usage) == {"get_price_local": 1, "buy": 1, "teleport": 1,
                                               "invalid": 1, "sell": 1}
        assert out.report.summary == "Bought Apple."
        assert out.result is not None and dict(out.result.position.holdings) == {"AAPL": 2}
        reqs = llm.calls_for("fake/trader")
        assert len(reqs) == 4
        system = reqs[0]["messages"][0]["content"]
        assert "Today's date: 2025-10-02" in system and "'CASH': 10000.0" in system
        third = reqs[2]["messages"]
        tool_replies = [m["content"] for m in third if m["role"] == "tool"]
        assert any('"status": "filled"' in t for t in tool_replies)
        assert any("not valid JSON arguments" in t for t in tool_replies)
        assert any("unknown tool 'teleport'" in t for t in tool_replies)
        assert {t["function"]["name"] for t in reqs[0]["tools"]} >= {"buy", "sell",
                                                                     "get_price_local"}
        async with store.read() as conn:
            cur = await conn.execute(
                "SELECT COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd) "
                "FROM llm_calls WHERE model = ?", (sig,))
            n, p, c, cost = await cur.fetchone()  # type: ignore[misc]
            assert (n, c) == (4, 80) and p > 0
            assert cost == pytest.approx((p * 2.0 + c * 8.0) / 1e6)
            cur = await conn.execute("SELECT COUNT(*) FROM messages m JOIN attempts a ON "
                                     "a.id = m.attempt_id WHERE a.model = ?", (sig,))
            assert tuple(await cur.fetchone() or ()) == (11,)  # 2 + 2 + 4 + 2 + 1
        log = tmp_path / "agent_data" / sig / "log" / DAY / "log.jsonl"
        lines = [json.loads(x) for x in log.read_text().splitlines()]
        assert [x["step"] for x in lines] == [0, 1, 2, 3, 4]
        assert lines[-1]["new_messages"][0]["content"].endswith("<FINISH_SIGNAL>")
        assert await violations(store, sig) == []
    finally:
        await store.close()


async def test_429_with_retry_after_then_success(stack: Stack, llm: FakeLLM,
                                                 tmp_path: Path) -> None:
    """A 429 is retried after its Retry-After (a pause of the whole provider, which this
    actor's next request waits out too), then the day completes."""
    llm.script("fake/limited", [finish()], faults=[Fault(429, retry_after=1)])
    t0 = time.monotonic()
    out, store, sig, waits = await run_llm_day(stack, llm, tmp_path, "fake/limited")
    try:
        assert out.status == "completed"
        assert waits == []  # no backoff of its own: the server's Retry-After
        assert time.monotonic() - t0 >= 0.95
        async with store.read() as conn:
            cur = await conn.execute("SELECT outcome FROM llm_calls WHERE model = ? "
                                     "ORDER BY id", (sig,))
            assert [r[0] for r in await cur.fetchall()] == ["http_429", "ok"]
    finally:
        await store.close()


@pytest.mark.parametrize(("fault", "message"), [
    (Fault(500), "the LLM API answered HTTP 500 (after 3 tries)"),
    (Fault(hang=True), "did not answer within 1 s (after 3 tries)"),
    (Fault(garbage=True), "not a completion"),
])
async def test_permanent_fault_fails_the_day_clearly(stack: Stack, llm: FakeLLM,
                                                     tmp_path: Path, fault: Fault,
                                                     message: str) -> None:
    """A permanent 500, a hang or garbage fails the model-day with a clear error."""
    llm.script("fake/broken", [finish()], faults=[fault] * 10)
    out, store, sig, waits = await run_llm_day(stack, llm, tmp_path, "fake/broken",
                                        llm_timeout=1.0, call_retries=2)
    try:
        assert out.status == "failed"
        assert out.error is not None and message in out.error
        assert len(waits) == 2 and all(0 < w <= 3.0 for w in waits)  # backoff with jitter
        assert await Ledger(store).end_of_day(sig) is None
    finally:
        await store.close()


async def test_no_stop_signal_ends_at_max_steps(stack: Stack, llm: FakeLLM,
                                                tmp_path: Path) -> None:
    """A model that never says the stop signal is cut at max_steps; the day still commits."""
    llm.script("fake/chatty", [tools(("add", {"a": 1, "b": 2})), Turn(content="thinking...")])
    out, store, _, _ = await run_llm_day(stack, llm, tmp_path, "fake/chatty")
    try:
        assert out.status == "completed"
        assert out.report is not None and not out.report.stop_signal
        assert out.report.steps == 8
        reqs = llm.calls_for("fake/chatty")
        assert "reply <FINISH_SIGNAL> when today's work is done" in \
            reqs[-1]["messages"][-1]["content"]
    finally:
        await store.close()


def test_missing_key_is_a_config_error() -> None:
    """An LLM model without any key is refused before it runs."""
    config = parse_config({"models": [{"name": "x", "basemodel": "openai/gpt-5",
                                        "signature": "x"}]})
    model = ModelConfig(name="x", basemodel="openai/gpt-5", signature="x")
    with pytest.raises(ConfigError, match="needs an API key"):
        LLMAgent(model, config, None, store=None, recorder=None, env={})  # type: ignore[arg-type]
