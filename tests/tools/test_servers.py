"""Every tool through a real MCP session against the real tool servers on free ports."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from mcp import ClientSession

from aitrader.ledger import Ledger
from aitrader.ledger.invariants import violations
from aitrader.market.prices import get_bar
from aitrader.money import E4, to_e4
from aitrader.store import Store
from aitrader.tools.client import result_payload, tool_session
from aitrader.tools.identity import Identity
from tests.stack import SESSION_DAY, Stack


@asynccontextmanager
async def opened(stack: Stack) -> AsyncIterator[tuple[Store, Ledger]]:
    async with Store(stack.db) as store:
        yield store, Ledger(store)


async def new_model_day(stack: Stack, day: str = SESSION_DAY) -> Identity:
    """A fresh model registered on 2025-10-01 with 10,000 and an open attempt on `day`."""
    model = f"m-{uuid.uuid4().hex[:8]}"
    async with opened(stack) as (_, ledger):
        await ledger.register_model(model, to_e4("10000"), "2025-10-01")
        attempt = await ledger.open_attempt(model, day, job_id="job-1")
    return Identity(model, day, "job-1", attempt)


def constant(ident: Identity | None) -> Callable[[], Identity | None]:
    return lambda: ident


async def call(session: ClientSession, tool: str, **args: Any) -> tuple[bool, Any]:
    result = await session.call_tool(tool, args)
    return bool(result.isError), result_payload(result)


async def bar(stack: Stack, symbol: str, day: str):  # type: ignore[no-untyped-def]
    async with opened(stack) as (store, _), store.read() as conn:
        return await get_bar(conn, symbol, day)


async def test_every_tool(stack: Stack) -> None:
    """add, multiply, get_price_local, get_information, buy and sell answer through sessions."""
    ident = await new_model_day(stack)
    async with tool_session(stack.url("math"), lambda: ident) as math, \
            tool_session(stack.url("price"), lambda: ident) as price, \
            tool_session(stack.url("search"), lambda: ident) as search, \
            tool_session(stack.url("trade"), lambda: ident) as trade:
        names = {t.name for s in (math, price, search, trade) for t in (await s.list_tools()).tools}
        assert names == {"add", "multiply", "get_price_local", "get_information", "buy", "sell"}
        assert await call(math, "add", a=2, b=3.5) == (False, 5.5)
        assert await call(math, "multiply", a=4, b=2.5) == (False, 10.0)
        b = await bar(stack, "AAPL", "2025-10-14")
        err, got = await call(price, "get_price_local", symbol="AAPL", date="2025-10-14")
        assert not err and got["ohlcv"] == {"open": b.open_e4 / E4, "high": b.high_e4 / E4,
                                            "low": b.low_e4 / E4, "close": b.close_e4 / E4,
                                            "volume": b.volume}
        err, text = await call(search, "get_information", query="apple iphone")
        assert not err and "URL: u/apple" in text and "Publish Time: 2025-10-10" in text
        today = await bar(stack, "MSFT", SESSION_DAY)
        err, fill = await call(trade, "buy", symbol="MSFT", amount=3)
        assert not err and fill["status"] == "filled" and fill["price"] == today.open_e4 / E4
        assert fill["positions"] == {"MSFT": 3, "CASH": (to_e4("10000") - 3 * today.open_e4) / E4}
        err, fill = await call(trade, "sell", symbol="MSFT", amount=1)
        assert not err and fill["positions"]["MSFT"] == 2
    async with opened(stack) as (_, ledger):
        pos = await ledger.position(ident.attempt)  # type: ignore[arg-type]
        assert dict(pos.shares) == {"MSFT": 2}
        assert pos.cash_e4 == to_e4("10000") - 2 * today.open_e4


async def test_price_look_ahead(stack: Stack) -> None:
    """A future date is refused (and the refusal reveals nothing about later data); the
    session date shows the open only; earlier days in full."""
    ident = await new_model_day(stack)
    async with tool_session(stack.url("price"), lambda: ident) as price:
        _, with_data = await call(price, "get_price_local", symbol="NVDA", date="2025-10-16")
        _, without = await call(price, "get_price_local", symbol="NVDA", date="2030-01-02")
        assert "ohlcv" not in with_data and "after today's trading date" in with_data["error"]
        assert with_data["error"].replace("2025-10-16", "X") == \
            without["error"].replace("2030-01-02", "X")
        _, today = await call(price, "get_price_local", symbol="NVDA", date=SESSION_DAY)
        assert set(today["ohlcv"]) == {"open"}
        assert not {"high", "low", "close", "volume"} & set(json.dumps(today).split('"'))
        _, before = await call(price, "get_price_local", symbol="NVDA", date="2025-10-14")
        assert set(before["ohlcv"]) == {"open", "high", "low", "close", "volume"}
        _, holiday = await call(price, "get_price_local", symbol="NVDA", date="2025-09-01")
        assert holiday["error"] == "no price for NVDA on 2025-09-01 (not a NYSE trading day)"
        for bad in ("2025-13-01", "tomorrow", "2025-10-16T00:00"):
            _, res = await call(price, "get_price_local", symbol="NVDA", date=bad)
            assert res["error"] == "date must be in YYYY-MM-DD format"
            assert not re.search(r"2025-10-(1[6-9]|[23]\d)", res["error"])


async def test_search_look_ahead(stack: Stack) -> None:
    """Results dated on or after the session date, undated ones, and relative dates that
    resolve to the session date are hidden; "2 days ago" resolves against the session date."""
    ident = await new_model_day(stack)
    async with tool_session(stack.url("search"), lambda: ident) as search:
        _, text = await call(search, "get_information", query="nvidia")
    shown = set(re.findall(r"URL: (\S+)", text))
    assert shown == {"u/before", "u/twodays"}
    assert "Title: Nvidia relative" in text and "Publish Time: 2025-10-13" in text
    for hidden in ("u/sameday", "u/future", "u/undated", "u/unknown", "u/hours"):
        assert hidden not in text


async def test_identity_is_required_and_checked(stack: Stack) -> None:
    """No headers, malformed headers, trading without an open model-day, or with another
    model's attempt: each refused."""
    good = await new_model_day(stack)
    other = await new_model_day(stack)
    cases = [None, Identity("bad model name!", SESSION_DAY), Identity("m", "2025/10/15"),
             Identity("m", "2025-02-30")]
    for ident in cases:
        async with tool_session(stack.url("price"), constant(ident)) as price:
            err, text = await call(price, "get_price_local", symbol="AAPL", date="2025-10-14")
            assert err and ("no model identity" in text or "malformed" in text)
    for ident, why in [(Identity(good.model, SESSION_DAY), "no attempt"),
                       (Identity(good.model, SESSION_DAY, attempt=other.attempt),
                        "do not match")]:
        async with tool_session(stack.url("trade"), constant(ident)) as trade:
            err, text = await call(trade, "buy", symbol="AAPL", amount=1)
            assert err and why in text
    async with opened(stack) as (_, ledger):
        for ident in (good, other):
            assert dict((await ledger.position(ident.attempt)).shares) == {}  # type: ignore[arg-type]


async def test_extra_arguments_cannot_name_another_model_or_date(stack: Stack) -> None:
    """Arguments naming another model or date are refused; nothing lands anywhere else."""
    me, victim = await new_model_day(stack), await new_model_day(stack)
    async with tool_session(stack.url("trade"), lambda: me) as trade, \
            tool_session(stack.url("price"), lambda: me) as price:
        err, _ = await call(trade, "buy", symbol="AAPL", amount=1, model=victim.model,
                            date="2025-10-20", attempt=victim.attempt)
        assert err
        err, _ = await call(price, "get_price_local", symbol="AAPL", date="2025-10-14",
                              session_date="2025-10-30")
        assert err
    async with opened(stack) as (_, ledger):
        assert dict((await ledger.position(victim.attempt)).shares) == {}  # type: ignore[arg-type]
        assert dict((await ledger.position(me.attempt)).shares) == {}  # type: ignore[arg-type]


@pytest.mark.parametrize(("args", "why"), [
    ({"symbol": "AAPL", "amount": 0}, "positive"),
    ({"symbol": "AAPL", "amount": -5}, "positive"),
    ({"symbol": "AAPL", "amount": 1.5}, "valid integer"),
    ({"symbol": "AAPL", "amount": "ten"}, "valid integer"),
    ({"symbol": "AAPL", "amount": 10**12}, "at most"),
    ({"symbol": "NOPE", "amount": 1}, "unknown symbol"),
    ({"symbol": "AAPL", "amount": 100_000}, "insufficient cash"),
])
async def test_bad_trades_are_refused_with_the_reason(stack: Stack, args: dict,  # type: ignore[type-arg]
                                                      why: str) -> None:
    """Bad amounts, unknown symbols, too little cash: refused, the ledger unchanged."""
    ident = await new_model_day(stack)
    async with tool_session(stack.url("trade"), lambda: ident) as trade:
        _, res = await call(trade, "buy", **args)
        assert why in (res["error"] if isinstance(res, dict) else res)
        _, res = await call(trade, "sell", symbol="AAPL", amount=1)
        assert res["error"] == "insufficient shares: selling 1 AAPL, held 0"
    async with opened(stack) as (_, ledger):
        pos = await ledger.position(ident.attempt)  # type: ignore[arg-type]
        assert pos.cash_e4 == to_e4("10000") and dict(pos.shares) == {}


async def test_two_models_trading_at_once_never_touch_each_other(stack: Stack) -> None:
    """Concurrent buys for two models through one trade server each land in their own book."""
    a, b = await new_model_day(stack), await new_model_day(stack)
    async with tool_session(stack.url("trade"), lambda: a) as ta, \
            tool_session(stack.url("trade"), lambda: b) as tb:
        results = await asyncio.gather(*[call(ta, "buy", symbol="AAPL", amount=1)
                                         for _ in range(15)],
                                       *[call(tb, "buy", symbol="MSFT", amount=2)
                                         for _ in range(15)])
    assert all(not err and res["status"] == "filled" for err, res in results)
    async with opened(stack) as (store, ledger):
        assert dict((await ledger.position(a.attempt)).shares) == {"AAPL": 15}  # type: ignore[arg-type]
        assert dict((await ledger.position(b.attempt)).shares) == {"MSFT": 30}  # type: ignore[arg-type]
        for ident in (a, b):
            await ledger.complete_attempt(ident.attempt)  # type: ignore[arg-type]
        assert await violations(store, a.model) == []
        assert await violations(store, b.model) == []


async def test_trading_into_a_voided_or_finished_day_is_refused(stack: Stack) -> None:
    """After the day is voided (a cancel) no late tool call can add a trade."""
    ident = await new_model_day(stack)
    async with opened(stack) as (_, ledger):
        await ledger.void_attempt(ident.attempt)  # type: ignore[arg-type]
    async with tool_session(stack.url("trade"), lambda: ident) as trade:
        err, text = await call(trade, "buy", symbol="AAPL", amount=1)
    assert err and "voided" in text


async def test_health_endpoints(stack: Stack) -> None:
    """GET /health answers 200 on each server, with what it depends on."""
    bodies = {}
    async with aiohttp.ClientSession() as http:
        for name in ("math", "search", "trade", "price"):
            async with http.get(stack.url(name) + "/health") as r:
                assert r.status == 200
                bodies[name] = await r.json()
    assert bodies["search"] == {"status": "ok", "server": "search", "backend": "offline",
                                "items": 8}
    assert bodies["price"]["schema_version"] >= 1
