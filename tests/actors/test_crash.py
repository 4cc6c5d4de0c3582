"""Crash safety: `aitrader run` killed with SIGKILL at several points of a job and started
again ends with a ledger identical to an uninterrupted run: no trade twice, none lost."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from aitrader.ledger.invariants import violations
from aitrader.store import Store
from aitrader.testing.fake_llm import FakeLLM, finish, tools
from tests.stack import Stack

START, END = "2025-10-02", "2025-10-10"
MODELS = ("a", "b", "m")


def config(configs: Path, name: str, suffix: str, llm: FakeLLM) -> None:
    models: list[dict[str, Any]] = [
        {"name": f"{k}-{suffix}", "basemodel": f"fake/{k}", "signature": f"{k}-{suffix}",
         "openai_base_url": llm.base_url, "openai_api_key": "sk-test"} for k in ("a", "b")]
    models.append({"name": f"m-{suffix}", "basemodel": "baseline/momentum",
                   "signature": f"m-{suffix}"})
    (configs / name).write_text(json.dumps({
        "market": "database", "date_range": {"init_date": "2025-10-01"}, "models": models,
        "agent_config": {"max_retries": 1, "base_delay": 0, "llm_timeout": 10}}))


async def run(stack: Stack, configs: Path, name: str, *, failpoints: str = "",
              kill: asyncio.Event | None = None) -> int:
    env = {**stack.env, "AITRADER_FAILPOINTS": failpoints}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aitrader", "run", str(configs / name), "--start", START,
        "--end", END, env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    if kill is None:
        return await proc.wait()
    waiter = asyncio.ensure_future(proc.wait())
    killer = asyncio.ensure_future(kill.wait())
    await asyncio.wait({waiter, killer}, return_when=asyncio.FIRST_COMPLETED)
    if not waiter.done():
        proc.send_signal(signal.SIGKILL)
    killer.cancel()
    return await waiter


async def ledger_of(store: Store, suffix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with store.read() as conn:
        for k in MODELS:
            sig = f"{k}-{suffix}"
            cur = await conn.execute(
                "SELECT date, cash, value, profit FROM eod WHERE model = ? "
                "ORDER BY date", (sig,))
            eod = [tuple(r) for r in await cur.fetchall()]
            cur = await conn.execute(
                "SELECT date, symbol, quantity FROM holdings WHERE model = ? ORDER BY date, "
                "symbol", (sig,))
            held = [tuple(r) for r in await cur.fetchall()]
            cur = await conn.execute(
                "SELECT date, action, symbol, quantity, price FROM trades WHERE model = ? "
                "ORDER BY date, id", (sig,))
            trades = [tuple(r) for r in await cur.fetchall()]
            out[k] = {"eod": eod, "holdings": held, "trades": trades}
    return out


async def test_sigkill_at_several_points_loses_nothing(stack: Stack) -> None:
    """Killed inside a commit, mid tool call (the trade filled, the answer not yet read), mid
    model-day (an LLM call in flight after a trade), and right after a committed day: each
    run was really killed, the restarted runs complete the job, and the ledger equals the
    uninterrupted run's, trade for trade."""
    llm = FakeLLM()
    await llm.start()
    configs = stack.configs
    day_script = [tools(("buy", {"symbol": "AAPL", "amount": 2})),
                  tools(("buy", {"symbol": "NVDA", "amount": 1}),
                        ("get_price_local", {"symbol": "AAPL", "date": "2025-10-01"})),
                  finish()]
    llm.script("fake/a", day_script)
    llm.script("fake/b", [tools(("buy", {"symbol": "MSFT", "amount": 1})), finish()])
    config(configs, "ref.json", "ref", llm)
    config(configs, "crash.json", "crash", llm)
    try:
        assert await run(stack, configs, "ref.json") == 0

        # 1. killed by a failpoint inside the fourth model-day commit
        assert await run(stack, configs, "crash.json",
                         failpoints="complete_attempt.before_commit:4") == -signal.SIGKILL

        # 1b. killed in the middle of a tool call: the trade server has filled a buy, the
        #     caller dies before it reads the answer
        assert await run(stack, configs, "crash.json",
                         failpoints="tool_call.returned:25") == -signal.SIGKILL

        # 2. killed while model a waits on its LLM after a trade, on a later day
        mid_day = asyncio.Event()
        seen: list[int] = []

        def on_request(model: str, turn: int, messages: list[dict[str, Any]]) -> None:
            system = messages[0]["content"] if messages else ""
            if model == "fake/a" and turn == 1 and "Today's date: 2025-10-07" in system:
                seen.append(turn)
                mid_day.set()

        llm.on_request = on_request
        assert await run(stack, configs, "crash.json", kill=mid_day) == -signal.SIGKILL
        assert seen
        llm.on_request = None

        # 3. killed right after a model-day has committed, before anyone is told
        assert await run(stack, configs, "crash.json",
                         failpoints="model_day.committed:2") == -signal.SIGKILL

        async with Store(stack.db) as store:
            # 4. and once more, undisturbed, to the end
            assert await run(stack, configs, "crash.json") == 0
            ref, crashed = await ledger_of(store, "ref"), await ledger_of(store, "crash")
            assert all(len(ref[k]["eod"]) == 7 for k in MODELS)
            assert crashed == ref
            for k in MODELS:
                assert await violations(store, f"{k}-crash") == []
            async with store.read() as conn:
                cur = await conn.execute(
                    "SELECT COUNT(*) FROM attempts WHERE model LIKE '%-crash' "
                    "AND status = 'voided'")
                assert (await cur.fetchone())[0] >= 1  # type: ignore[index]
                cur = await conn.execute(
                    "SELECT status FROM jobs WHERE config_path = 'configs/crash.json'")
                assert [r[0] for r in await cur.fetchall()] == ["completed"]
    finally:
        await llm.stop()
