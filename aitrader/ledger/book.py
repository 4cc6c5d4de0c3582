"""Trading by LEDGER.md and MARKETS.md: fills at the session's open, the market's quantity
rule (whole shares, lots, up to 8 decimals), T+1 and price limits where the market has
them, exact Decimal money, attempts.

A model-session (a model-day in daily runs) is an attempt. Opening it copies the previous
snapshot into the attempt's running position (`attempts.cash`, `attempt_holdings`). Every
trade is one short BEGIN IMMEDIATE transaction that reads that running position, checks the
rules, writes the trade tagged with the attempt and moves the running position: a trade
costs the same whether it is the first of the session or the two-hundredth. Completing the
attempt writes the snapshot, its value at the close and the session's P&L in one
transaction; voiding it removes its trades and its running position in one transaction.
Refusals raise TradeRefused with a message the model can act on.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import aiosqlite
import attrs

from aitrader import failpoints, markets
from aitrader.errors import (
    AttemptClosed,
    Conflict,
    IdentityError,
    InvalidInput,
    NotFound,
    TradeRefused,
)
from aitrader.market.prices import Feed, get_bar, has_session, last_close_before
from aitrader.markets import Market
from aitrader.markets.rules import check_t_plus_one, fmt_qty
from aitrader.money import fmt_money, mul, text
from aitrader.store import Store, scalar, utcnow

Statement = tuple[str, tuple[Any, ...]]
ZERO = Decimal(0)


@attrs.frozen
class Position:
    cash: Decimal
    holdings: Mapping[str, Decimal]  # only symbols held (> 0)

    def with_trade(self, action: str, symbol: str, quantity: Decimal, total: Decimal
                   ) -> Position:
        held = dict(self.holdings)
        if action == "buy":
            held[symbol] = held.get(symbol, ZERO) + quantity
            cash = self.cash - total
        else:
            held[symbol] = held.get(symbol, ZERO) - quantity
            cash = self.cash + total
        return Position(cash, {s: n for s, n in held.items() if n})


@attrs.frozen
class Fill:
    trade_id: int
    action: str
    symbol: str
    quantity: Decimal
    price: Decimal
    total: Decimal
    position: Position


@attrs.frozen
class DayResult:
    model: str
    date: str  # the session id
    attempt_id: int
    position: Position
    value: Decimal
    profit: Decimal
    return_pct: float
    trades: int
    stale_closes: Mapping[str, str]  # symbol -> session of the close used when it had none


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
    date: str  # the session id
    job_id: str | None
    status: str
    prev_date: str | None
    market: str = "us"
    frequency: str = "daily"

    @property
    def feed(self) -> Feed:
        return Feed(self.market, self.frequency)


_ATTEMPT = ("SELECT a.id, a.model, a.date, a.job_id, a.status, a.prev_date, m.market, "
            "m.frequency FROM attempts a JOIN models m ON m.signature = a.model ")


def key_hash(key: str) -> str:
    """What is kept of an attempt's session key: its SHA-256 (the key itself is never stored)."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def parse_amount(raw: object, market: Market | None = None) -> Decimal:
    """A positive quantity the market allows (whole shares, or up to 8 decimals for crypto),
    or TradeRefused saying what is wrong with it."""
    return (market or markets.get()).lots.parse(raw)


def _dec(value: str) -> Decimal:
    return Decimal(value)


async def write_eod(
    conn: aiosqlite.Connection,
    model: str,
    day: str,
    attempt_id: int,
    pos: Position,
    value: Decimal,
    profit: Decimal,
    ret: float,
) -> None:
    await conn.execute(
        "INSERT INTO eod (model, date, attempt_id, cash, value, profit, return_pct) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (model, day, attempt_id, text(pos.cash), text(value), text(profit), ret),
    )
    await conn.executemany(
        "INSERT INTO holdings (model, date, symbol, quantity) VALUES (?, ?, ?, ?)",
        [(model, day, s, text(n)) for s, n in sorted(pos.holdings.items())],
    )


async def value_position(
    conn: aiosqlite.Connection, feed: Feed, pos: Position, day: str
) -> tuple[Decimal, dict[str, str]]:
    """cash + sum(quantity x close of session `day`); a symbol without a bar in it (suspended)
    is valued at its last known close."""
    value = pos.cash
    stale: dict[str, str] = {}
    for sym, n in pos.holdings.items():
        found = await last_close_before(conn, feed, sym, day)
        if found is None:
            raise InvalidInput(f"no close price for {sym} on or before {day}")
        if found[0] != day:
            stale[sym] = found[0]
        value += mul(n, found[1])
    return value, stale


class Ledger:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- models ---------------------------------------------------------------------------

    async def register_model(
        self, signature: str, initial_cash: Decimal, init_date: str, *,
        market: str = "us", frequency: str = "daily", source: str = "service"
    ) -> bool:
        """Give a model its starting cash on its init date, in one market and frequency. True
        if new; the same values again: no-op."""
        if initial_cash < 0:
            raise InvalidInput("initial cash must not be negative", field="initial_cash")
        async with self._store.write() as conn:
            cur = await conn.execute(
                "SELECT initial_cash, init_date, market, frequency FROM models "
                "WHERE signature = ?", (signature,))
            row = await cur.fetchone()
            if row:
                if (Decimal(row[0]), row[1]) != (initial_cash, init_date):
                    raise Conflict(
                        f"model {signature} is already registered with initial cash "
                        f"{fmt_money(Decimal(row[0]))} on {row[1]}",
                        model=signature,
                    )
                if (row[2], row[3]) != (market, frequency):
                    raise Conflict(
                        f"model {signature} already trades {row[2]}/{row[3]}; a ledger never "
                        f"mixes markets or frequencies: give the {market}/{frequency} run "
                        "another signature", model=signature)
                return False
            await conn.execute(
                "INSERT INTO models (signature, initial_cash, init_date, market, frequency, "
                "source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (signature, text(initial_cash), init_date, market, frequency, source,
                 utcnow()),
            )
            return True

    # -- attempts -------------------------------------------------------------------------

    async def open_attempt(self, model: str, day: str, *, job_id: str | None = None,
                           key: str | None = None,
                           also: Callable[[int], Sequence[Statement]] | None = None) -> int:
        """Start a model-session: the previous snapshot is its baseline and its running
        position. `key` is the secret its tool sessions carry (`aitrader.tools.identity`; only
        its hash is kept). `also(attempt_id)` gives statements that commit with the opening
        (the job's model-day row). Returns the attempt id."""
        async with self._store.write() as conn:
            cur = await conn.execute(
                "SELECT init_date, market, frequency FROM models WHERE signature = ?", (model,))
            row = await cur.fetchone()
            if not row:
                raise NotFound(f"model {model} is not registered", model=model)
            if day[:10] <= row[0]:  # the initial snapshot lies before the first session
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
            if not await has_session(conn, Feed(row[1], row[2]), day):
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
            att = Attempt(attempt_id, model, day, job_id, "running", prev, row[1], row[2])
            await self._store_running(conn, att, await self._baseline(conn, att))
            for sql, params in also(attempt_id) if also else ():
                await conn.execute(sql, params)
            return attempt_id

    async def attempt_of_key(self, key: str) -> Attempt | None:
        """The attempt whose session key this is (any status), or None."""
        async with self._store.read() as conn:
            cur = await conn.execute(_ATTEMPT + "WHERE a.key_hash = ?", (key_hash(key),))
            row = await cur.fetchone()
        return Attempt(*row) if row else None

    async def attempt(self, attempt_id: int) -> Attempt:
        async with self._store.read() as conn:
            return await self._attempt(conn, attempt_id)

    @staticmethod
    async def _attempt(conn: aiosqlite.Connection, attempt_id: int) -> Attempt:
        cur = await conn.execute(_ATTEMPT + "WHERE a.id = ?", (attempt_id,))
        row = await cur.fetchone()
        if not row:
            raise NotFound(f"attempt {attempt_id} does not exist")
        return Attempt(*row)

    async def _baseline(self, conn: aiosqlite.Connection, att: Attempt) -> Position:
        if att.prev_date is None:
            return Position(Decimal(await scalar(
                conn, "SELECT initial_cash FROM models WHERE signature = ?", (att.model,))), {})
        return await self._eod_position(conn, att.model, att.prev_date)

    @staticmethod
    async def _eod_position(conn: aiosqlite.Connection, model: str, day: str) -> Position:
        cur = await conn.execute(
            "SELECT cash FROM eod WHERE model = ? AND date = ?", (model, day)
        )
        row = await cur.fetchone()
        if not row:
            raise NotFound(f"{model} has no end-of-day snapshot on {day}")
        cur = await conn.execute(
            "SELECT symbol, quantity FROM holdings WHERE model = ? AND date = ?", (model, day)
        )
        return Position(Decimal(row[0]), {s: Decimal(n) for s, n in await cur.fetchall()})

    @staticmethod
    async def _store_running(conn: aiosqlite.Connection, att: Attempt, pos: Position) -> None:
        await conn.execute("UPDATE attempts SET cash = ? WHERE id = ?", (text(pos.cash), att.id))
        await conn.execute("DELETE FROM attempt_holdings WHERE attempt_id = ?", (att.id,))
        await conn.executemany(
            "INSERT INTO attempt_holdings (attempt_id, symbol, quantity) VALUES (?, ?, ?)",
            [(att.id, sym, text(n)) for sym, n in sorted(pos.holdings.items())],
        )

    async def _running(self, conn: aiosqlite.Connection, att: Attempt) -> Position | None:
        cash = await scalar(conn, "SELECT cash FROM attempts WHERE id = ?", (att.id,))
        if cash is None:
            return None
        cur = await conn.execute(
            "SELECT symbol, quantity FROM attempt_holdings WHERE attempt_id = ?", (att.id,)
        )
        return Position(Decimal(cash), {s: Decimal(n) for s, n in await cur.fetchall()})

    async def _current(self, conn: aiosqlite.Connection, att: Attempt) -> Position:
        """The attempt's running position: what its trades have made of its baseline."""
        pos = await self._running(conn, att)
        if pos is None:  # opened before the running position existed: rebuild it once
            pos = await self._replayed(conn, att)
            await self._store_running(conn, att, pos)
        return pos

    async def _replayed(self, conn: aiosqlite.Connection, att: Attempt) -> Position:
        """The baseline plus every trade of the attempt (the invariants' way to check)."""
        pos = await self._baseline(conn, att)
        cur = await conn.execute(
            "SELECT action, symbol, quantity, total FROM trades WHERE attempt_id = ? "
            "ORDER BY id", (att.id,))
        for action, symbol, quantity, total in await cur.fetchall():
            pos = pos.with_trade(action, symbol, Decimal(quantity), Decimal(total))
        return pos

    async def position(self, attempt_id: int) -> Position:
        """The position inside a model-session: the baseline plus the attempt's trades so far."""
        async with self._store.read() as conn:
            att = await self._attempt(conn, attempt_id)
            return await self._running(conn, att) or await self._replayed(conn, att)

    async def _bought_today(self, conn: aiosqlite.Connection, att: Attempt, symbol: str
                            ) -> Decimal:
        """What the model bought of `symbol` on this session's trading day (every session of
        that local date: completed ones and this one; a voided attempt has no trades)."""
        cur = await conn.execute(
            "SELECT quantity FROM trades WHERE model = ? AND symbol = ? AND action = 'buy' "
            "AND substr(date, 1, 10) = ?", (att.model, symbol, att.date[:10]))
        return sum((Decimal(q) for (q,) in await cur.fetchall()), ZERO)

    async def _previous_close(self, conn: aiosqlite.Connection, market: Market, att: Attempt,
                              symbol: str) -> Decimal | None:
        """The symbol's close on the trading day before this session's (price limits)."""
        day = date.fromisoformat(att.date[:10])
        before = market.schedule.previous_day(day)
        if before is None:
            return None
        sessions = market.sessions_of_day(before)
        if not sessions:
            return None
        found = await last_close_before(conn, att.feed, symbol, sessions[-1].id)
        return found[1] if found else None

    async def trade(
        self,
        attempt_id: int,
        action: str,
        symbol: object,
        amount: object,
        *,
        expect: tuple[str, str] | None = None,
    ) -> Fill:
        """Buy or sell at the open of the attempt's session, by its market's rules; a refusal
        leaves the ledger as it was.

        `expect` is the (model, session) the caller claims (its identity headers); a mismatch
        with the attempt is refused inside the same transaction.
        """
        if action not in ("buy", "sell"):
            raise InvalidInput(f"unknown action {action!r}")
        async with self._store.write() as conn:
            att = await self._attempt(conn, attempt_id)
            if expect is not None and (att.model, att.date) != expect:
                raise IdentityError("the identity headers do not match the open model-day")
            if att.status != "running":
                raise AttemptClosed(
                    f"this model-day ({att.model} {att.date}) is {att.status}; no more trades"
                )
            market = markets.get(att.market, att.frequency)
            qty = market.lots.parse(amount)
            sym = market.normalise(symbol)
            if not market.in_universe(sym):
                raise TradeRefused(f"unknown symbol {sym[:12]!r}: only the {market.title} "
                                   "universe trades here")
            bar = await get_bar(conn, att.feed, sym, att.date)
            if bar is None:
                raise TradeRefused(f"{sym} has no price on {att.date} (suspended or not "
                                   "listed); it cannot trade in this session")
            pos = await self._current(conn, att)
            total = mul(qty, bar.open)
            held = pos.holdings.get(sym, ZERO)
            if action == "buy":
                market.lots.check_buy(sym, qty)
                if total > pos.cash:
                    raise TradeRefused(
                        f"insufficient cash: buying {fmt_qty(qty)} {sym} at {bar.open} "
                        f"needs {fmt_money(total)}, cash available is "
                        f"{fmt_money(pos.cash)}")
            else:
                if qty > held:
                    raise TradeRefused(
                        f"insufficient {market.lots.unit}: selling {fmt_qty(qty)} {sym}, held "
                        f"{fmt_qty(held)}")
                market.lots.check_sell(sym, qty, held)
                if market.t_plus_one:
                    check_t_plus_one(sym, qty, held, await self._bought_today(conn, att, sym))
            if market.limits is not None:
                prev_close = await self._previous_close(conn, market, att, sym)
                if prev_close is not None:
                    market.limits.check(action, sym, bar.open, prev_close)
            cur = await conn.execute(
                "INSERT INTO trades (attempt_id, model, date, action, symbol, quantity, price, "
                "total, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (att.id, att.model, att.date, action, sym, text(qty), text(bar.open),
                 text(total), utcnow()),
            )
            trade_id = cur.lastrowid
            assert trade_id is not None
            after = pos.with_trade(action, sym, qty, total)
            await conn.execute(
                "UPDATE attempts SET cash = ? WHERE id = ?", (text(after.cash), att.id)
            )
            now = after.holdings.get(sym, ZERO)
            if now:
                await conn.execute(
                    "INSERT INTO attempt_holdings (attempt_id, symbol, quantity) "
                    "VALUES (?, ?, ?) ON CONFLICT (attempt_id, symbol) DO UPDATE SET "
                    "quantity = excluded.quantity", (att.id, sym, text(now)),
                )
            else:
                await conn.execute(
                    "DELETE FROM attempt_holdings WHERE attempt_id = ? AND symbol = ?",
                    (att.id, sym),
                )
            return Fill(trade_id, action, sym, qty, bar.open, total, after)

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
            value, stale = await value_position(conn, att.feed, pos, att.date)
            if att.prev_date is None:
                prev_value = Decimal(await scalar(
                    conn, "SELECT initial_cash FROM models WHERE signature = ?", (att.model,)))
            else:
                prev_value = Decimal(await scalar(
                    conn, "SELECT value FROM eod WHERE model = ? AND date = ?",
                    (att.model, att.prev_date)))
            profit = value - prev_value
            ret = round(float(profit / prev_value) * 100, 6) if prev_value else 0.0
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

    async def last_completed_of(self, models: Sequence[str]) -> dict[str, str | None]:
        """Each model's last completed session (None for a model with none), in one read."""
        out: dict[str, str | None] = dict.fromkeys(models)
        async with self._store.read() as conn:
            cur = await conn.execute(
                f"SELECT model, MAX(date) FROM eod WHERE model IN ({','.join('?' * len(models))})"
                " GROUP BY model", tuple(models))
            for model, last in await cur.fetchall():
                out[model] = last
        return out

    async def last_completed(self, model: str) -> date | None:
        async with self._store.read() as conn:
            found = await scalar(conn, "SELECT MAX(date) FROM eod WHERE model = ?", (model,))
        return date.fromisoformat(found) if found else None
