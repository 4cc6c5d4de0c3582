"""Tool-call round trips to the real tool servers over loopback HTTP, three ways.

Starts the math, price and trade servers on free ports against a temporary database holding
the demo market, then times sequential calls (one at a time, wall clock per call):
1. through one persistent raw MCP session per server (`aitrader.tools.client.tool_session`):
   `add` (a trivial tool), get_price_local, buy and sell (each model-day making 10 trades,
   as a model would: the session's identity moves to a fresh model-day every 10 calls);
2. through the actor's own path: `ToolBox.call` over the langchain-mcp-adapters tools loaded
   from one persistent session per server, for get_price_local and buy;
3. for scale, a price look-up opening a new session per call, as the original AI-Trader
   agent does: `MultiServerMCPClient({...streamable_http...}).get_tools()`, then
   `tool.ainvoke(args)` per call (langchain-mcp-adapters opens and initialises a session for
   every call);
4. 200 trades in one model-day: A attempts x 200 buys of 1 AAPL each (plenty of cash) through
   a persistent raw session; buy p50 of each attempt's first 10 trades against its last 10.
Every result is checked (a price has its bar, a trade is filled, `add` adds up); the
"invalid" column counts the ones that were not, and any makes the exit code 1.

Targets on a 2-core machine: get_price_local p50 <= 5 ms, buy p50 <= 8 ms; the 200-trade late
p50 within 10% of the early one (a trade costs the same whatever came before it).

    python bench/tool_calls.py [--calls 500] [--attempts 10] [--trades 200]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from langchain_mcp_adapters.client import MultiServerMCPClient
from mcp.types import CallToolResult

from aitrader import logs, markets
from aitrader.agent.toolbox import ToolBox, ToolResult, payload_of
from aitrader.ledger import Ledger
from aitrader.market import demo
from aitrader.market.calendar import nyse
from aitrader.market.prices import US_DAILY, upsert_bars
from aitrader.market.symbols import ALL_SYMBOLS, NASDAQ_100
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.tools.client import result_payload, tool_session
from aitrader.tools.identity import Identity, new_key
from aitrader.tools.launcher import ToolServers
from aitrader.tools.ports import free_ports, tool_env

DAY = "2025-10-02"
TRADES_PER_DAY = 10
EDGE = 10  # trades at each end of the long model-days that are compared
CASH = Decimal(10**7)  # $10M: no buy is ever short of cash
TARGETS = {"get_price_local": 5.0, "buy": 8.0}


def pct(xs: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    xs = sorted(xs)
    return xs[max(0, math.ceil(q * len(xs)) - 1)] if xs else float("nan")


class Row:
    def __init__(self, name: str) -> None:
        self.name = name
        self.ms: list[float] = []
        self.invalid = 0

    async def time(self, n: int, call: Callable[[int], Awaitable[bool]]) -> Row:
        """Time `n` calls of `call(i)`, which says whether the result was valid."""
        for i in range(n):
            t = time.perf_counter()
            ok = await call(i)
            self.ms.append((time.perf_counter() - t) * 1000)
            self.invalid += not ok
        return self

    def line(self) -> str:
        rate = len(self.ms) / (sum(self.ms) / 1000) if self.ms else 0.0
        return (f"| {self.name} | {len(self.ms)} | {statistics.median(self.ms):.2f} | "
                f"{pct(self.ms, 0.9):.2f} | {pct(self.ms, 0.99):.2f} | {rate:.0f} | "
                f"{self.invalid} |")


# -- what a valid result is --------------------------------------------------------------------

def _priced(payload: Any) -> bool:
    return isinstance(payload, dict) and "ohlcv" in payload and "error" not in payload


def _filled(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("status") == "filled"


def _raw(result: CallToolResult, valid: Callable[[Any], bool]) -> bool:
    return not result.isError and valid(result_payload(result))


def _boxed(result: ToolResult, valid: Callable[[Any], bool]) -> bool:
    return not result.is_error and valid(result.payload)


# -- set-up ----------------------------------------------------------------------------------

async def model_days(db: Path, prefix: str, n: int) -> list[Identity]:
    """n fresh models, each with an open model-day on DAY and plenty of cash."""
    out = []
    async with Store(db) as store:
        ledger = Ledger(store)
        for i in range(n):
            model = f"{prefix}-{i}"
            await ledger.register_model(model, CASH, "2025-10-01")
            key = new_key()
            attempt = await ledger.open_attempt(model, DAY, job_id="bench", key=key)
            out.append(Identity(model, DAY, "bench", attempt, key))
    return out


async def run(calls: int, attempts: int, trades: int) -> tuple[list[Row], list[list[float]],
                                                               int]:
    tmp = Path(tempfile.mkdtemp(prefix="aitrader-bench-"))
    servers: ToolServers | None = None
    try:
        db = tmp / "bench.db"
        (tmp / "none.jsonl").touch()
        cal = nyse()
        start, end = date(2025, 9, 2), date(2025, 10, 31)
        async with Store(db) as store:
            await upsert_bars(store, US_DAILY, demo.generate(markets.get(), start, end, seed=7))
        per = calls // TRADES_PER_DAY + 1
        warm = await model_days(db, "warm", 2)
        raw_days = await model_days(db, "raw", per)
        box_days = await model_days(db, "box", per)
        long_days = await model_days(db, "long", attempts)
        env = {**os.environ, **tool_env(free_ports(4), AITRADER_DB=str(db),
                                         AITRADER_DATA_DIR=str(tmp / "data"),
                                         AITRADER_NEWS_FILE=str(tmp / "none.jsonl"))}
        settings = Settings.from_env(env)
        servers = ToolServers(settings, env=env, names=("math", "price", "trade"))
        await servers.start()
        current = [warm[0]]
        dates = [d.isoformat() for d in cal.between(start, date(2025, 10, 1))]

        def price_args(i: int) -> dict[str, Any]:
            return {"symbol": ALL_SYMBOLS[i % len(ALL_SYMBOLS)], "date": dates[i % len(dates)]}

        rows: list[Row] = []
        async with tool_session(settings.tool_url("price"), lambda: current[0]) as price, \
                tool_session(settings.tool_url("trade"), lambda: current[0]) as trade, \
                tool_session(settings.tool_url("math"), lambda: current[0]) as maths:
            for i in range(20):  # warm up every server and tool
                await price.call_tool("get_price_local", price_args(i))
                await maths.call_tool("add", {"a": 1, "b": 2})
                current[0] = warm[i % 2]
                await trade.call_tool("buy" if i < 10 else "sell", {"symbol": "AAPL",
                                                                    "amount": 1})

            async def add(i: int) -> bool:
                r = await maths.call_tool("add", {"a": i, "b": 1})
                return not r.isError and result_payload(r) == i + 1

            async def priced(i: int) -> bool:
                return _raw(await price.call_tool("get_price_local", price_args(i)), _priced)

            async def traded(action: str, i: int) -> bool:
                current[0] = raw_days[i // TRADES_PER_DAY]
                sym = NASDAQ_100[i % TRADES_PER_DAY]
                return _raw(await trade.call_tool(action, {"symbol": sym, "amount": 1}),
                            _filled)

            rows.append(await Row("raw session: add (trivial tool)").time(calls, add))
            rows.append(await Row("raw session: get_price_local").time(calls, priced))
            rows.append(await Row("raw session: buy").time(calls, lambda i: traded("buy", i)))
            rows.append(await Row("raw session: sell").time(calls,
                                                            lambda i: traded("sell", i)))

            # 200 trades in one model-day, each attempt from its first trade to its last
            long_ms: list[list[float]] = []
            long_invalid = 0
            for ident in long_days:
                current[0] = ident
                ms: list[float] = []
                for _ in range(trades):
                    t = time.perf_counter()
                    r = await trade.call_tool("buy", {"symbol": "AAPL", "amount": 1})
                    ms.append((time.perf_counter() - t) * 1000)
                    long_invalid += not _raw(r, _filled)
                long_ms.append(ms)

        # the actor's path: ToolBox.call over the adapter's tools, persistent sessions
        current[0] = warm[0]
        async with ToolBox(settings, lambda: current[0],
                           servers=("math", "price", "trade")) as box:
            await box.ensure_open()
            for i in range(20):
                await box.call("get_price_local", price_args(i))

            async def box_priced(i: int) -> bool:
                return _boxed(await box.call("get_price_local", price_args(i)), _priced)

            async def box_bought(i: int) -> bool:
                current[0] = box_days[i // TRADES_PER_DAY]
                sym = NASDAQ_100[i % TRADES_PER_DAY]
                return _boxed(await box.call("buy", {"symbol": sym, "amount": 1}), _filled)

            rows.append(await Row("actor path (ToolBox.call): get_price_local").time(
                calls, box_priced))
            rows.append(await Row("actor path (ToolBox.call): buy").time(calls, box_bought))

        # as AI-Trader: MultiServerMCPClient tools, a new session for every call
        client = MultiServerMCPClient({"price": {
            "transport": "streamable_http", "url": settings.tool_url("price") + "/mcp",
            "headers": warm[0].headers()}})
        tools = {t.name: t for t in await client.get_tools()}
        fresh_tool = tools["get_price_local"]
        for i in range(3):
            await fresh_tool.ainvoke(price_args(i))

        async def fresh(i: int) -> bool:
            return _priced(payload_of(await fresh_tool.ainvoke(price_args(i)), None))

        rows.append(await Row("new session per call (MultiServerMCPClient, ainvoke): "
                              "get_price_local").time(max(20, calls // 10), fresh))
    finally:
        try:
            if servers is not None:
                await servers.stop()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows, long_ms, long_invalid


def main(calls: int, attempts: int, trades: int) -> None:
    if trades < 2 * EDGE:
        raise SystemExit(f"--trades must be at least {2 * EDGE}")
    logs.configure(level="WARNING")  # to stderr: the tables are on stdout
    rows, long_ms, long_invalid = asyncio.run(run(calls, attempts, trades))
    print(f"tool-call round trips over loopback HTTP, sequential ({os.cpu_count()} cores, "
          f"Python {sys.version.split()[0]}); calls/s = 1 / mean latency")
    print()
    print("| call | calls | p50 ms | p90 ms | p99 ms | calls/s | invalid |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(r.line() for r in rows))
    print()
    verdicts = []
    for r in rows:
        tool = r.name.rsplit(": ", 1)[-1]
        if tool in TARGETS and "new session" not in r.name:
            p50 = statistics.median(r.ms)
            verdicts.append(f"{r.name}: p50 {p50:.2f} ms, target <= {TARGETS[tool]:g} ms: "
                            f"{'met' if p50 <= TARGETS[tool] else 'NOT met'}")
    print("\n".join(verdicts))
    print()
    early = [ms for att in long_ms for ms in att[:EDGE]]
    late = [ms for att in long_ms for ms in att[-EDGE:]]
    e50, l50 = statistics.median(early), statistics.median(late)
    ratio = l50 / e50
    print(f"{len(long_ms)} model-days x {trades} buys of 1 AAPL each (raw session); "
          f"{long_invalid} invalid")
    print()
    print("| trades (in the model-day) | samples | buy p50 ms | p90 ms |")
    print("|---|---:|---:|---:|")
    marks = sorted({0, *range(0, trades - EDGE, max(EDGE, trades // 4 // EDGE * EDGE)),
                    trades - EDGE})
    for lo in marks:
        chunk = [ms for att in long_ms for ms in att[lo:lo + EDGE]]
        print(f"| {lo + 1}-{lo + EDGE} | {len(chunk)} | {statistics.median(chunk):.2f} | "
              f"{pct(chunk, 0.9):.2f} |")
    print()
    print(f"late/early buy p50: trades {trades - EDGE + 1}-{trades} {l50:.2f} ms vs trades "
          f"1-{EDGE} {e50:.2f} ms = {ratio:.3f} (target <= 1.10): "
          f"{'met' if ratio <= 1.10 else 'NOT met'}")
    invalid = sum(r.invalid for r in rows) + long_invalid
    if invalid:
        print(f"{invalid} calls gave an invalid result: the timings above are not of valid "
              "calls", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="calls per row (500)")
    parser.add_argument("--attempts", type=int, default=10,
                        help="model-days of the long case (10)")
    parser.add_argument("--trades", type=int, default=200,
                        help="buys in each long model-day (200)")
    args = parser.parse_args()
    main(args.calls, args.attempts, args.trades)
