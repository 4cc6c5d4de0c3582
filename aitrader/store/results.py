"""What `/results` shows for a session: every model's end-of-day position and P&L, and in full
its trades, what its agent said, and its LLM usage. Read in one snapshot."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal

import aiosqlite
import attrs

from aitrader.errors import DataError
from aitrader.store.db import Store, scalar


@attrs.frozen
class Trade:
    id: int
    action: str
    symbol: str
    quantity: Decimal
    price: Decimal
    total: Decimal


@attrs.frozen
class LLMUsage:
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


@attrs.frozen
class Detail:
    """The full view of one model's day."""

    trades: tuple[Trade, ...]
    steps: int
    stop_signal: bool
    summary: str
    tool_usage: Mapping[str, int]
    usage: LLMUsage
    log_file: str | None  # where the day's log.jsonl was written, as the config named it


@attrs.frozen
class ModelResult:
    model: str
    session: str
    holdings: Mapping[str, Decimal]
    cash: Decimal
    value: Decimal
    profit: Decimal
    return_pct: float
    detail: Detail | None = None


@attrs.frozen
class DayResults:
    date: str
    results: tuple[ModelResult, ...]


async def results_on(store: Store, day: str | None, model: str | None, *,
                     full: bool, sessions: Sequence[str] = ()) -> DayResults:
    """The results of `day` (default: the latest session with results), for one model or
    all; DataError naming what is missing. A bare date (YYYY-MM-DD) means every session of
    that local day; `sessions` (the ids an instant has in each market) replaces it."""
    only = " AND e.model = ?" if model else ""
    async with store.read() as conn:
        if day is None:
            day = await scalar(conn, "SELECT MAX(date) FROM eod e WHERE 1 = 1" + only,
                               (model,) if model else ())
            sessions = (day,) if day else ()
        if day is None:
            raise DataError("no results yet" + (f" for model {model[:64]}" if model else ""),
                            model=model)
        if sessions:
            which = f"e.date IN ({','.join('?' * len(sessions))})"
            args: tuple[str, ...] = tuple(sessions)
        else:  # a date: its daily session and every hourly session of that local day
            which, args = "substr(e.date, 1, 10) = ?", (day,)
        cur = await conn.execute(
            "SELECT e.model, e.date, e.attempt_id, e.cash, e.value, e.profit, e.return_pct "
            f"FROM eod e WHERE {which}" + only + " ORDER BY e.model, e.date",
            (*args, model) if model else args)
        rows = list(await cur.fetchall())
        if not rows:
            raise DataError(f"no results on {day}" + (f" for model {model[:64]}"
                                                      if model else ""), date=day, model=model)
        out = []
        for name, session, attempt, cash, value, profit, ret in rows:
            hcur = await conn.execute(
                "SELECT symbol, quantity FROM holdings WHERE model = ? AND date = ? "
                "ORDER BY symbol", (name, session))
            held = {s: Decimal(n) for s, n in await hcur.fetchall()}
            out.append(ModelResult(name, session, held, Decimal(cash), Decimal(value),
                                   Decimal(profit), ret,
                                   await _detail(conn, attempt) if full else None))
    return DayResults(day, tuple(out))


async def _detail(conn: aiosqlite.Connection, attempt: int) -> Detail:
    cur = await conn.execute(
        "SELECT id, action, symbol, quantity, price, total FROM trades "
        "WHERE attempt_id = ? ORDER BY id", (attempt,))
    trades = tuple(Trade(i, a, s, Decimal(q), Decimal(p), Decimal(t))
                   for i, a, s, q, p, t in await cur.fetchall())
    cur = await conn.execute(
        "SELECT steps, stop_signal, summary, tool_usage, log_file FROM attempts WHERE id = ?",
        (attempt,))
    steps, stop, summary, usage, log_file = await cur.fetchone() or (0, 0, "", None, None)
    cur = await conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),"
        " COALESCE(SUM(cost_usd), 0) FROM llm_calls WHERE attempt_id = ?", (attempt,))
    calls, prompt, completion, cost = await cur.fetchone() or (0, 0, 0, 0.0)
    return Detail(trades, steps or 0, bool(stop), summary or "",
                  json.loads(usage) if usage else {},
                  LLMUsage(calls, prompt, completion, round(cost, 6)), log_file)
