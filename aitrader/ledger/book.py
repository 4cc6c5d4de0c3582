"""Trading by LEDGER.md: fills at the open, whole positive shares, exact money, attempts.

A model-day is an attempt. Opening it copies the previous end-of-day snapshot into the
attempt's running position (`attempts.cash_e4`, `attempt_holdings`). Every trade is one short
BEGIN IMMEDIATE transaction that reads that running position, checks the rules, writes the
trade tagged with the attempt and moves the running position: a trade costs the same whether
it is the first of the day or the two-hundredth. Completing the attempt writes the end-of-day
snapshot, its value at the close and the day's P&L in one transaction; voiding it removes its
trades and its running position in one transaction. Refusals raise TradeRefused with a
message the model can act on.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import aiosqlite
import attrs

from aitrader import failpoints
from aitrader.errors import (
    AttemptClosed,
    Conflict,
    IdentityError,
    InvalidInput,
    NotFound,
    TradeRefused,
)
from aitrader.market.prices import get_bar, last_close_before
from aitrader.market.symbols import UNIVERSE, normalise
from aitrader.money import fmt_money
from aitrader.store import Store, scalar, utcnow

MAX_SHARES = 1_000_000_000

Statement = tuple[str, tuple[Any, ...]]


@attrs.frozen
class Position:
    cash_e4: int
    shares: Mapping[str, int]  # only symbols held (> 0)

    def with_trade(self, action: str, symbol: str, amount: int, total_e4: int) -> Position:
        held = dict(self.shares)
        if action == "buy":
            held[symbol] = held.get(symbol, 0) + amount
            cash = self.cash_e4 - total_e4
        else:
            held[symbol] = held.get(symbol, 0) - amount
            cash = self.cash_e4 + total_e4
        return Position(cash, {s: n for s, n in held.items() if n})


@attrs.frozen
class Fill:
    trade_id: int
    action: str
    symbol: str
    amount: int
    price_e4: int
    total_e4: int
    position: Position


@attrs.frozen
class DayResult:
    model: str
    date: str
    attempt_id: int
    position: Position
    value_e4: int
    profit_e4: int
    return_pct: float
    trades: int
    stale_closes: Mapping[str, str]  # symbol -> date of the close used when D had none


@attrs.frozen
class AttemptReport:
    """What the agent said about its model-day, kept with the completed attempt."""

    steps: int
    stop_signal: bool
    summary: str
    tool_usage: Mapping[str, int]


@attrs.frozen
class Attempt:
    id: int
    model: str
    date: str
    job_id: str | None
    status: str
    prev_date: str | None


def key_hash(key: str) -> str:
    """What is kept of an attempt's session key: its SHA-256 (the key itself is never stored)."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def parse_amount(raw: object) -> int:
    """A whole, positive share count, or TradeRefused saying what is wrong with it."""
    if isinstance(raw, bool):
        raise TradeRefused(f"amount must be a whole number of shares, got {raw!r}")
    value: Any = raw
    if isinstance(raw, str):
        text = raw.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise TradeRefused(
                    f"amount must be a whole number of shares, got {raw[:20]!r}"
                ) from None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or not value.is_integer():
            raise TradeRefused(f"amount must be a whole number of shares, got {raw!r}")
        value = int(value)
    if not isinstance(value, int):
        raise TradeRefused(f"amount must be a whole number of shares, got {type(raw).__name__}")
    if value <= 0:
        raise TradeRefused(f"amount must be a positive number of shares, got {value}")
    if value > MAX_SHARES:
        raise TradeRefused(f"amount must be at most {MAX_SHARES:,} shares, got {value:,}")
    return value


async def write_eod(
    conn: aiosqlite.Connection,
    model: str,
    day: str,
    attempt_id: int,
    pos: Position,
    value: int,
    profit: int,
    ret: float,
) -> None:
    await conn.execute(
        "INSERT INTO eod (model, date, attempt_id, cash_e4, value_e4, profit_e4, return_pct) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (model, day, attempt_id, pos.cash_e4, value, profit, ret),
    )
    await conn.executemany(
        "INSERT INTO holdings (model, date, symbol, shares) VALUES (?, ?, ?, ?)",
        [(model, day, s, n) for s, n in sorted(pos.shares.items())],
    )


async def value_position(
    conn: aiosqlite.Connection, pos: Position, day: str
) -> tuple[int, dict[str, str]]:
    """cash + sum(shares x close on `day`); a symbol without a bar that day uses its last."""
    value = pos.cash_e4
    stale: dict[str, str] = {}
    for sym, n in pos.shares.items():
        found = await last_close_before(conn, sym, day)
        if found is None:
            raise InvalidInput(f"no close price for {sym} on or before {day}")
        if found[0] != day:
            stale[sym] = found[0]
        value += n * found[1]
    return value, stale


class Ledger:
    def __init__(self, store: Store, *, universe: frozenset[str] = UNIVERSE) -> None:
        self._store = store
        self._universe = universe

    # -- models ---------------------------------------------------------------------------

    async def register_model(
        self, signature: str, initial_cash_e4: int, init_date: str, *, source: str = "service"
    ) -> bool:
        """Give a model its starting cash on its init date. True if new; same values: no-op."""
        if initial_cash_e4 < 0:
            raise InvalidInput("initial cash must not be negative", field="initial_cash")
        async with self._store.write() as conn:
            cur = await conn.execute(
                "SELECT initial_cash_e4, init_date FROM models WHERE signature = ?", (signature,)
            )
            row = await cur.fetchone()
            if row:
                if (row[0], row[1]) != (initial_cash_e4, init_date):
                    raise Conflict(
                        f"model {signature} is already registered with initial cash "
                        f"{fmt_money(row[0])} on {row[1]}",
                        model=signature,
                    )
                return False
            await conn.execute(
                "INSERT INTO models (signature, initial_cash_e4, init_date, source, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (signature, initial_cash_e4, init_date, source, utcnow()),
            )
            return True

    # -- attempts -------------------------------------------------------------------------

    async def open_attempt(self, model: str, day: str, *, job_id: str | None = None,
                           key: str | None = None,
                           also: Callable[[int], Sequence[Statement]] | None = None) -> int:
        """Start a model-day: the previous end-of-day is its baseline and its running position.
        `key` is the secret its tool sessions carry (`aitrader.tools.identity`; only its hash
        is kept). `also(attempt_id)` gives statements that commit with the opening (the job's
        model-day row). Returns the attempt id."""
        async with self._store.write() as conn:
            cur = await conn.execute("SELECT init_date FROM models WHERE signature = ?", (model,))
            row = await cur.fetchone()
            if not row:
                raise NotFound(f"model {model} is not registered", model=model)
            if day <= row[0]:
                raise InvalidInput(
                    f"{day} is not after {model}'s start date {row[0]}", field="date"
                )
            later = await scalar(
                conn, "SELECT MAX(date) FROM eod WHERE model = ? AND date >= ?", (model, day)
            )
            if later:
                raise Conflict(
                    f"{model} already has a completed day on or after {day}", model=model, date=day
                )
            cur = await conn.execute("SELECT 1 FROM prices WHERE date = ? LIMIT 1", (day,))
            if not await cur.fetchone():
                raise InvalidInput(f"no market data for {day}", field="date")
            prev = await scalar(
                conn, "SELECT MAX(date) FROM eod WHERE model = ? AND date < ?", (model, day)
            )
            try:
                cur = await conn.execute(
                    "INSERT INTO attempts (model, date, job_id, status, prev_date, started_at,"
                    " key_hash) VALUES (?, ?, ?, 'running', ?, ?, ?)",
                    (model, day, job_id, prev, utcnow(), key_hash(key) if key else None),
                )
            except sqlite3.IntegrityError:
                raise Conflict(
                    f"{model} already has a running model-day; void it first", model=model
                ) from None
            attempt_id = cur.lastrowid
            assert attempt_id is not None
            att = Attempt(attempt_id, model, day, job_id, "running", prev)
            await self._store_running(conn, att, await self._baseline(conn, att))
            for sql, params in also(attempt_id) if also else ():
                await conn.execute(sql, params)
            return attempt_id

    async def attempt_of_key(self, key: str) -> Attempt | None:
        """The attempt whose session key this is (any status), or None."""
        async with self._store.read() as conn:
            cur = await conn.execute(
                "SELECT id, model, date, job_id, status, prev_date FROM attempts "
                "WHERE key_hash = ?", (key_hash(key),))
            row = await cur.fetchone()
        return Attempt(*row) if row else None

    async def attempt(self, attempt_id: int) -> Attempt:
        async with self._store.read() as conn:
            return await self._attempt(conn, attempt_id)

    @staticmethod
    async def _attempt(conn: aiosqlite.Connection, attempt_id: int) -> Attempt:
        cur = await conn.execute(
            "SELECT id, model, date, job_id, status, prev_date FROM attempts WHERE id = ?",
            (attempt_id,),
        )
        row = await cur.fetchone()
        if not row:
            raise NotFound(f"attempt {attempt_id} does not exist")
        return Attempt(*row)

    async def _baseline(self, conn: aiosqlite.Connection, att: Attempt) -> Position:
        if att.prev_date is None:
            return Position(
                await scalar(
                    conn, "SELECT initial_cash_e4 FROM models WHERE signature = ?", (att.model,)
                ),
                {},
            )
        return await self._eod_position(conn, att.model, att.prev_date)

    @staticmethod
    async def _eod_position(conn: aiosqlite.Connection, model: str, day: str) -> Position:
        cur = await conn.execute(
            "SELECT cash_e4 FROM eod WHERE model = ? AND date = ?", (model, day)
        )
        row = await cur.fetchone()
        if not row:
            raise NotFound(f"{model} has no end-of-day snapshot on {day}")
        cur = await conn.execute(
            "SELECT symbol, shares FROM holdings WHERE model = ? AND date = ?", (model, day)
        )
        return Position(row[0], {s: n for s, n in await cur.fetchall()})

    @staticmethod
    async def _store_running(conn: aiosqlite.Connection, att: Attempt, pos: Position) -> None:
        await conn.execute("UPDATE attempts SET cash_e4 = ? WHERE id = ?", (pos.cash_e4, att.id))
        await conn.execute("DELETE FROM attempt_holdings WHERE attempt_id = ?", (att.id,))
        await conn.executemany(
            "INSERT INTO attempt_holdings (attempt_id, symbol, shares) VALUES (?, ?, ?)",
            [(att.id, sym, n) for sym, n in sorted(pos.shares.items())],
        )

    async def _current(self, conn: aiosqlite.Connection, att: Attempt) -> Position:
        """The attempt's running position: what its trades have made of its baseline."""
        cash = await scalar(conn, "SELECT cash_e4 FROM attempts WHERE id = ?", (att.id,))
        if cash is None:  # opened before the running position existed: rebuild it once
            pos = await self._replayed(conn, att)
            await self._store_running(conn, att, pos)
            return pos
        cur = await conn.execute(
            "SELECT symbol, shares FROM attempt_holdings WHERE attempt_id = ?", (att.id,)
        )
        return Position(cash, {s: n for s, n in await cur.fetchall()})

    async def _replayed(self, conn: aiosqlite.Connection, att: Attempt) -> Position:
        """The baseline plus every trade of the attempt (the invariants' way to check)."""
        pos = await self._baseline(conn, att)
        cur = await conn.execute(
            "SELECT action, symbol, amount, total_e4 FROM trades WHERE attempt_id = ? ORDER BY id",
            (att.id,),
        )
        for action, symbol, amount, total in await cur.fetchall():
            pos = pos.with_trade(action, symbol, amount, total)
        return pos

    async def position(self, attempt_id: int) -> Position:
        """The position inside a model-day: the baseline plus the attempt's trades so far."""
        async with self._store.read() as conn:
            att = await self._attempt(conn, attempt_id)
            cash = await scalar(conn, "SELECT cash_e4 FROM attempts WHERE id = ?", (att.id,))
            if cash is None:
                return await self._replayed(conn, att)
            cur = await conn.execute(
                "SELECT symbol, shares FROM attempt_holdings WHERE attempt_id = ?", (att.id,)
            )
            return Position(cash, {s: n for s, n in await cur.fetchall()})

    async def trade(
        self,
        attempt_id: int,
        action: str,
        symbol: object,
        amount: object,
        *,
        expect: tuple[str, str] | None = None,
    ) -> Fill:
        """Buy or sell at the open of the attempt's day; a refusal leaves the ledger as it was.

        `expect` is the (model, date) the caller claims (its identity headers); a mismatch
        with the attempt is refused inside the same transaction.
        """
        if action not in ("buy", "sell"):
            raise InvalidInput(f"unknown action {action!r}")
        shares = parse_amount(amount)
        sym = normalise(symbol)
        if sym not in self._universe:
            raise TradeRefused(f"unknown symbol {sym[:12]!r}: only NASDAQ-100 stocks trade here")
        async with self._store.write() as conn:
            att = await self._attempt(conn, attempt_id)
            if expect is not None and (att.model, att.date) != expect:
                raise IdentityError("the identity headers do not match the open model-day")
            if att.status != "running":
                raise AttemptClosed(
                    f"this model-day ({att.model} {att.date}) is {att.status}; no more trades"
                )
            bar = await get_bar(conn, sym, att.date)
            if bar is None:
                raise TradeRefused(f"{sym} has no price on {att.date}; it cannot trade today")
            pos = await self._current(conn, att)
            total = shares * bar.open_e4
            if action == "buy" and total > pos.cash_e4:
                raise TradeRefused(
                    f"insufficient cash: buying {shares:,} {sym} at {fmt_money(bar.open_e4)} "
                    f"needs {fmt_money(total)}, cash available is {fmt_money(pos.cash_e4)}"
                )
            if action == "sell" and shares > pos.shares.get(sym, 0):
                raise TradeRefused(
                    f"insufficient shares: selling {shares:,} {sym}, "
                    f"held {pos.shares.get(sym, 0):,}"
                )
            cur = await conn.execute(
                "INSERT INTO trades (attempt_id, model, date, action, symbol, amount, price_e4, "
                "total_e4, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (att.id, att.model, att.date, action, sym, shares, bar.open_e4, total, utcnow()),
            )
            trade_id = cur.lastrowid
            assert trade_id is not None
            after = pos.with_trade(action, sym, shares, total)
            await conn.execute(
                "UPDATE attempts SET cash_e4 = ? WHERE id = ?", (after.cash_e4, att.id)
            )
            held = after.shares.get(sym, 0)
            if held:
                await conn.execute(
                    "INSERT INTO attempt_holdings (attempt_id, symbol, shares) VALUES (?, ?, ?) "
                    "ON CONFLICT (attempt_id, symbol) DO UPDATE SET shares = excluded.shares",
                    (att.id, sym, held),
                )
            else:
                await conn.execute(
                    "DELETE FROM attempt_holdings WHERE attempt_id = ? AND symbol = ?",
                    (att.id, sym),
                )
            return Fill(trade_id, action, sym, shares, bar.open_e4, total, after)

    async def complete_attempt(
        self, attempt_id: int, *, report: AttemptReport | None = None,
        also: Sequence[Statement] = ()
    ) -> DayResult:
        """End the model-day: snapshot, value at the close and P&L, and what the agent said
        about its day (`report`), all in one transaction.

        `also` are statements that must commit with it (the job's model-day row), so a crash
        can never leave a completed day that its job does not know about.
        """
        async with self._store.write() as conn:
            att = await self._attempt(conn, attempt_id)
            if att.status != "running":
                raise AttemptClosed(f"attempt {attempt_id} is {att.status}")
            pos = await self._current(conn, att)
            n_trades = await scalar(
                conn, "SELECT COUNT(*) FROM trades WHERE attempt_id = ?", (att.id,)
            )
            value, stale = await value_position(conn, pos, att.date)
            if att.prev_date is None:
                prev_value = await scalar(
                    conn, "SELECT initial_cash_e4 FROM models WHERE signature = ?", (att.model,)
                )
            else:
                prev_value = await scalar(
                    conn,
                    "SELECT value_e4 FROM eod WHERE model = ? AND date = ?",
                    (att.model, att.prev_date),
                )
            profit = value - prev_value
            ret = round(profit / prev_value * 100, 6) if prev_value else 0.0
            await write_eod(conn, att.model, att.date, att.id, pos, value, profit, ret)
            await conn.execute(
                "UPDATE attempts SET status = 'completed', finished_at = ? WHERE id = ?",
                (utcnow(), att.id),
            )
            await conn.execute("DELETE FROM attempt_holdings WHERE attempt_id = ?", (att.id,))
            if report is not None:
                await conn.execute(
                    "UPDATE attempts SET steps = ?, stop_signal = ?, summary = ?, tool_usage = ? "
                    "WHERE id = ?",
                    (report.steps, int(report.stop_signal), report.summary[:2000],
                     json.dumps(dict(report.tool_usage)), att.id),
                )
            for sql, params in also:
                await conn.execute(sql, params)
            failpoints.hit("complete_attempt.before_commit")
            return DayResult(att.model, att.date, att.id, pos, value, profit, ret, n_trades, stale)

    async def void_attempt(self, attempt_id: int, note: str = "") -> int:
        """Remove a running attempt's trades and mark it voided, in one transaction."""
        async with self._store.write() as conn:
            att = await self._attempt(conn, attempt_id)
            if att.status == "completed":
                raise Conflict(f"attempt {attempt_id} is completed; completed days are kept")
            cur = await conn.execute("DELETE FROM trades WHERE attempt_id = ?", (attempt_id,))
            removed = cur.rowcount
            await conn.execute("DELETE FROM attempt_holdings WHERE attempt_id = ?", (attempt_id,))
            await conn.execute(
                "UPDATE attempts SET status = 'voided', finished_at = COALESCE(finished_at, ?), "
                "note = ? WHERE id = ?",
                (utcnow(), note[:500], attempt_id),
            )
            failpoints.hit("void_attempt.before_commit")
            return removed

    async def void_running(self, note: str = "recovered after a restart", *,
                           model: str | None = None) -> list[int]:
        """Void every running attempt (of `model`, or of everyone at start-up recovery).
        Returns their ids."""
        async with self._store.read() as conn:
            cur = await conn.execute(
                "SELECT id FROM attempts WHERE status = 'running'"
                + (" AND model = ?" if model else ""), (model,) if model else ())
            ids = [r[0] for r in await cur.fetchall()]
        for attempt_id in ids:
            await self.void_attempt(attempt_id, note)
        return ids

    # -- reading the book -----------------------------------------------------------------

    async def end_of_day(self, model: str, day: str | None = None) -> tuple[str, Position] | None:
        """The latest snapshot on or before `day` (any day if None): (date, position)."""
        async with self._store.read() as conn:
            found = await scalar(
                conn,
                "SELECT MAX(date) FROM eod WHERE model = ? AND date <= ?",
                (model, day or "9999-12-31"),
            )
            if not found:
                return None
            return found, await self._eod_position(conn, model, found)

    async def signatures(self) -> list[str]:
        """Every model in the ledger."""
        async with self._store.read() as conn:
            cur = await conn.execute("SELECT signature FROM models ORDER BY signature")
            return [r[0] for r in await cur.fetchall()]

    async def last_completed_of(self, models: Sequence[str]) -> dict[str, date | None]:
        """Each model's last completed day (None for a model with none), in one read."""
        out: dict[str, date | None] = dict.fromkeys(models)
        async with self._store.read() as conn:
            cur = await conn.execute(
                f"SELECT model, MAX(date) FROM eod WHERE model IN ({','.join('?' * len(models))})"
                " GROUP BY model", tuple(models))
            for model, last in await cur.fetchall():
                out[model] = date.fromisoformat(last)
        return out

    async def last_completed(self, model: str) -> date | None:
        async with self._store.read() as conn:
            found = await scalar(conn, "SELECT MAX(date) FROM eod WHERE model = ?", (model,))
        return date.fromisoformat(found) if found else None
