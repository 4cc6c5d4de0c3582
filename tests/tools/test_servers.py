"""Every tool through a real MCP session against the real tool servers on free ports."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import aiohttp
import attrs
import pytest
from mcp import ClientSession

from aitrader import markets
from aitrader.ledger import Ledger
from aitrader.ledger.invariants import violations
from aitrader.market import demo
from aitrader.market.prices import US_DAILY, Feed, get_bar, upsert_bars
from aitrader.money import dec
from aitrader.store import Store
from aitrader.tools.client import result_payload, tool_session
from aitrader.tools.identity import Identity, new_key
from tests.stack import SESSION_DAY, Stack


@asynccontextmanager
async def opened(stack: Stack) -> AsyncIterator[tuple[Store, Ledger]]:
    async with Store(stack.db) as store:
        yield store, Ledger(store)


async def new_model_day(stack: Stack, day: str = SESSION_DAY) -> Identity:
    """A fresh model registered on 2025-10-01 with 10,000 and an open attempt on `day`."""
    model = f"m-{uuid.uuid4().hex[:8]}"
    async with opened(stack) as (_, ledger):
        await ledger.register_model(model, dec("10000"), "2025-10-01")
        key = new_key()
        attempt = await ledger.open_attempt(model, day, job_id="job-1", key=key)
    return Identity(model, day, "job-1", attempt, key)


def constant(ident: Identity | None) -> Callable[[], Identity | None]:
    return lambda: ident


async def call(session: ClientSession, tool: str, **args: Any) -> tuple[bool, Any]:
    result = await session.call_tool(tool, args)
    return bool(result.isError), result_payload(result)


async def bar(stack: Stack, symbol: str, day: str):  # type: ignore[no-untyped-def]
    async with opened(stack) as (store, _), store.read() as conn:
        return await get_bar(conn, US_DAILY, symbol, day)


async def test_every_tool(stack: Stack) -> None:
    """add, multiply, get_price_local, get_information, buy and sell answer through sessions."""
    ident = await new_model_day(stack)
    async with tool_session(stack.url("math"), lambda: ident) as math, \
            tool_session(stack.url("price"), lambda: ident) as price, \
            tool_session(stack.url("search"), lambda: ident) as search, \
            tool_session(stack.url("trade"), lambda: ident) as trade:
        names = {t.name for s in (math, price, search, trade) for t in (await s.list_tools()).tools}
        assert names == {"add", "multiply", "get_price_local", "get_information", "buy", "sell",
                         "buy_crypto", "sell_crypto"}
        assert await call(math, "add", a=2, b=3.5) == (False, 5.5)
        assert await call(math, "multiply", a=4, b=2.5) == (False, 10.0)
        b = await bar(stack, "AAPL", "2025-10-14")
        err, got = await call(price, "get_price_local", symbol="AAPL", date="2025-10-14")
        assert not err and got["ohlcv"] == {"open": float(b.open), "high": float(b.high),
                                            "low": float(b.low), "close": float(b.close),
                                            "volume": int(b.volume)}
        err, text = await call(search, "get_information", query="apple iphone")
        assert not err and "URL: u/apple" in text and "Publish Time: 2025-10-10" in text
        today = await bar(stack, "MSFT", SESSION_DAY)
        err, fill = await call(trade, "buy", symbol="MSFT", amount=3)
        assert not err and fill["status"] == "filled" and fill["price"] == float(today.open)
        assert fill["positions"] == {"MSFT": 3, "CASH": float(dec("10000") - 3 * today.open)}
        err, fill = await call(trade, "sell", symbol="MSFT", amount=1)
        assert not err and fill["positions"]["MSFT"] == 2
    async with opened(stack) as (_, ledger):
        pos = await ledger.position(ident.attempt)  # type: ignore[arg-type]
        assert dict(pos.holdings) == {"MSFT": 2}
        assert pos.cash == dec("10000") - 2 * today.open


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
    assert shown == {"u/before", "u/twodays", "u/lateevening"}
    assert "Title: Nvidia relative" in text and "Publish Time: 2025-10-13" in text
    for hidden in ("u/sameday", "u/future", "u/undated", "u/unknown", "u/hours"):
        assert hidden not in text


async def test_identity_is_required_and_checked(stack: Stack) -> None:
    """No session, a malformed one, or headers that are malformed: each refused."""
    good = await new_model_day(stack)
    cases = [(None, "carries no session"),
             (Identity(good.model, SESSION_DAY, key="short"), "session header is malformed"),
             (Identity(good.model, SESSION_DAY), "carries no session")]
    for ident, why in cases:
        calls: list[tuple[str, str, dict[str, Any]]] = [
            ("price", "get_price_local", {"symbol": "AAPL", "date": "2025-10-14"}),
            ("trade", "buy", {"symbol": "AAPL", "amount": 1}),
            ("search", "get_information", {"query": "apple"})]
        for server, tool, args in calls:
            async with tool_session(stack.url(server), constant(ident)) as session:
                err, text = await call(session, tool, **args)
                assert err and why in text, (server, ident, text)
    for ident in [None, Identity("bad model name!", SESSION_DAY), Identity("m", "2025/10/15"),
                  Identity("m", "2025-02-30")]:
        async with tool_session(stack.url("math"), constant(ident)) as math:
            err, text = await call(math, "add", a=1, b=2)
            assert err and ("no model identity" in text or "malformed" in text)
    async with opened(stack) as (_, ledger):
        assert dict((await ledger.position(good.attempt)).holdings) == {}  # type: ignore[arg-type]


async def test_forged_identity_is_refused(stack: Stack) -> None:
    """Headers any local process can set do not make an identity: another attempt's id, a
    later date or another model next to a real session are refused, a guessed or closed
    session too, and nothing shows a later bar or lands in another book."""
    me, victim = await new_model_day(stack), await new_model_day(stack)
    later = "2025-10-20"
    forgeries = [
        (attrs.evolve(me, date=later), "do not match"),
        (attrs.evolve(me, model=victim.model), "do not match"),
        (attrs.evolve(me, attempt=victim.attempt), "do not match"),
        (attrs.evolve(me, job="job-2"), "do not match"),
        (attrs.evolve(victim, key=new_key()), "session is unknown"),  # a guessed key
        (attrs.evolve(victim, key=None), "carries no session"),  # sequential ids alone
    ]
    for forged, why in forgeries:
        async with tool_session(stack.url("price"), constant(forged)) as price, \
                tool_session(stack.url("trade"), constant(forged)) as trade, \
                tool_session(stack.url("search"), constant(forged)) as search:
            err, text = await call(price, "get_price_local", symbol="AAPL", date=later)
            assert err and why in text and "ohlcv" not in text, (forged, text)
            err, text = await call(trade, "buy", symbol="AAPL", amount=1)
            assert err and why in text, (forged, text)
            err, text = await call(search, "get_information", query="nvidia")
            assert err and why in text, (forged, text)
    async with tool_session(stack.url("price"), constant(me)) as price:
        _, found = await call(price, "get_price_local", symbol="AAPL", date=later)
        assert "ohlcv" not in found and "after today's trading date" in found["error"]
    async with opened(stack) as (_, ledger):
        await ledger.void_attempt(me.attempt, "test")  # type: ignore[arg-type]
        for who in (me, victim):
            assert dict((await ledger.position(who.attempt)).holdings) == {}  # type: ignore[arg-type]
    async with tool_session(stack.url("trade"), constant(me)) as trade:
        err, text = await call(trade, "buy", symbol="AAPL", amount=1)
        assert err and "model-day is over (voided)" in text


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
        assert dict((await ledger.position(victim.attempt)).holdings) == {}  # type: ignore[arg-type]
        assert dict((await ledger.position(me.attempt)).holdings) == {}  # type: ignore[arg-type]


@pytest.mark.parametrize(("args", "why"), [
    ({"symbol": "AAPL", "amount": 0}, "positive"),
    ({"symbol": "AAPL", "amount": -5}, "positive"),
    ({"symbol": "AAPL", "amount": 1.5}, "valid integer"),
    ({"symbol": "AAPL", "amount": "ten"}, "valid integer"),
    ({"symbol": "AAPL", "amount": 10**12}, "at most"),
    ({"symbol": "AAPL", "amount": True}, "not true or false"),
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
        assert pos.cash == dec("10000") and dict(pos.holdings) == {}


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
        assert dict((await ledger.position(a.attempt)).holdings) == {"AAPL": 15}  # type: ignore[arg-type]
        assert dict((await ledger.position(b.attempt)).holdings) == {"MSFT": 30}  # type: ignore[arg-type]
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
                                "items": 9, "schema_version": bodies["price"]["schema_version"]}
    assert bodies["price"]["schema_version"] >= 1


async def test_look_ahead_in_a_beijing_hourly_session(stack: Stack) -> None:
    """A CN hourly session (10:30 Beijing on 15 Oct, 02:30 UTC): the next bar, not yet
    closed, is refused like a later date; this bar shows its open, so does today's date;
    the previous bar is whole. News published later that day in Beijing (23:00 New York
    the evening before) is hidden, as is news known only by yesterday's date; news from
    before the session's instant is shown."""
    cn = markets.get("cn", "hourly")
    async with opened(stack) as (store, ledger):
        await upsert_bars(store, Feed("cn", "hourly"), demo.generate(
            cn, date(2025, 10, 9), date(2025, 10, 16), seed=2))
        model = f"cn-{uuid.uuid4().hex[:6]}"
        await ledger.register_model(model, dec("100000"), "2025-10-01", market="cn",
                                    frequency="hourly")
        key = new_key()
        now = "2025-10-15T10:30:00+08:00"
        attempt = await ledger.open_attempt(model, now, job_id="job-cn", key=key)
    ident = Identity(model, now, "job-cn", attempt, key)
    async with tool_session(stack.url("price"), lambda: ident) as price, \
            tool_session(stack.url("search"), lambda: ident) as search:
        async def ask(when: str) -> dict[str, Any]:
            err, got = await call(price, "get_price_local", symbol="600519", date=when)
            assert not err
            return dict(got)

        nxt, later = await ask("2025-10-15T13:00:00+08:00"), await ask("2025-10-20")
        assert "ohlcv" not in nxt and "after the current session" in nxt["error"]
        assert "after today's trading date" in later["error"]
        assert set((await ask("2025-10-15T02:30:00Z"))["ohlcv"]) == {"open"}  # same instant
        assert set((await ask("2025-10-15"))["ohlcv"]) == {"open"}
        before = await ask("2025-10-15T09:30:00+08:00")
        assert set(before["ohlcv"]) == {"open", "high", "low", "close", "volume"}
        day = await ask("2025-10-14")
        assert set(day["ohlcv"]) == {"open", "high", "low", "close", "volume"}
        assert (await ask("2025-10-15T10:00:00+08:00"))["error"].endswith(
            "is not the start of a SSE 50 A-shares, hourly session")
        _, text = await call(search, "get_information", query="nvidia")
    shown = set(re.findall(r"URL: (\S+)", text))
    assert shown == {"u/before", "u/twodays", "u/hours"}, text


@pytest.mark.parametrize(("key", "freq", "now", "nxt", "prev", "symbol"), [
    ("us", "hourly", "2025-10-15T11:00:00-04:00", "2025-10-15T12:00:00-04:00",
     "2025-10-15T10:00:00-04:00", "NVDA"),
    ("cn", "daily", "2025-10-15", "2025-10-16", "2025-10-14", "600519"),
    ("crypto", "daily", "2025-10-15", "2025-10-16", "2025-10-14", "BTC"),
    ("crypto", "hourly", "2025-10-15T13:00:00+00:00", "2025-10-15T14:00:00+00:00",
     "2025-10-15T12:00:00+00:00", "ETH-USDT"),
])
async def test_look_ahead_per_market(stack: Stack, key: str, freq: str, now: str, nxt: str,
                                     prev: str, symbol: str) -> None:
    """Every market's probe: the next session (hourly: the bar that has not closed yet) is
    refused, with data or without; the current session shows its open only; the previous
    one is whole."""
    market = markets.get(key, freq)
    async with opened(stack) as (store, ledger):
        await upsert_bars(store, Feed(key, freq), demo.generate(
            market, date(2025, 10, 9), date(2025, 10, 17), seed=4))
        model = f"{key}-{freq}-{uuid.uuid4().hex[:6]}"
        await ledger.register_model(model, market.starting_cash, "2025-10-01", market=key,
                                    frequency=freq)
        k = new_key()
        attempt = await ledger.open_attempt(model, now, job_id="job-probe", key=k)
    ident = Identity(model, now, "job-probe", attempt, k)
    async with tool_session(stack.url("price"), lambda: ident) as price:
        async def ask(when: str) -> dict[str, Any]:
            err, got = await call(price, "get_price_local", symbol=symbol, date=when)
            assert not err
            return dict(got)

        # refused the same whether data exists or not (nothing is revealed)
        beyond = nxt.replace(nxt[:10], "2030-01-02")
        ahead, far = await ask(nxt), await ask(beyond)
        assert "ohlcv" not in ahead and "ohlcv" not in far, ahead
        assert ahead["error"].replace(nxt, "X") == far["error"].replace(beyond, "X")
        if market.hourly:  # the bar that has not closed yet
            assert ahead["error"] == (f"{nxt} is after the current session {now}: only "
                                      "earlier bars and this session's open can be looked up")
        current = await ask(now)
        assert set(current["ohlcv"]) == {"open"}
        assert not {"high", "low", "close", "volume"} & set(json.dumps(current).split('"'))
        whole = await ask(prev)
        assert set(whole["ohlcv"]) == {"open", "high", "low", "close", "volume"}
