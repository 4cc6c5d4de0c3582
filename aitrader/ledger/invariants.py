"""The ledger invariants of LEDGER.md, recomputed from trades alone.

`violations(store)` returns what is wrong (an empty list when all hold). Tests run it after
every transaction; an operator can run it on a live database (`aitrader ledger check`).
"""

from __future__ import annotations

from decimal import Decimal

from aitrader.ledger.book import Position, value_position
from aitrader.ledger.positionfile import IMPORT_SOURCE
from aitrader.market.prices import Feed
from aitrader.money import mul
from aitrader.store import Store


async def violations(store: Store, model: str | None = None) -> list[str]:
    problems: list[str] = []
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT t.id, a.status FROM trades t JOIN attempts a ON a.id = t.attempt_id "
            "WHERE a.status = 'voided'")
        problems += [f"trade {tid} belongs to a voided attempt" for tid, _ in
                     await cur.fetchall()]
        cur = await conn.execute(
            "SELECT model, date, COUNT(*) FROM attempts WHERE status = 'completed' "
            "GROUP BY model, date HAVING COUNT(*) > 1")
        problems += [f"{m} {d}: {n} completed attempts" for m, d, n in await cur.fetchall()]
        cur = await conn.execute(
            "SELECT signature, initial_cash, market, frequency, source FROM models")
        models = [row for row in await cur.fetchall() if model in (None, row[0])]
        for name, cash, market, frequency, source in models:
            # imported trades take their total from the file's cash (the price is derived)
            priced = source != IMPORT_SOURCE
            feed = Feed(market, frequency)
            pos = Position(Decimal(cash), {})
            cur = await conn.execute(
                "SELECT a.id, a.date, a.status, a.prev_date FROM attempts a WHERE a.model = ? "
                "AND a.status != 'voided' ORDER BY a.date, a.id", (name,))
            prev_done: str | None = None
            for attempt_id, day, status, prev_date in await cur.fetchall():
                if prev_date != prev_done:
                    problems.append(f"{name} {day}: baseline {prev_date}, expected {prev_done}")
                tcur = await conn.execute(
                    "SELECT action, symbol, quantity, price, total FROM trades "
                    "WHERE attempt_id = ? ORDER BY id", (attempt_id,))
                for action, sym, qty, price, total in await tcur.fetchall():
                    amount, cost = Decimal(qty), Decimal(total)
                    if amount <= 0:
                        problems.append(f"{name} {day}: non-positive amount {amount}")
                    if priced and mul(amount, Decimal(price)) != cost:
                        problems.append(f"{name} {day}: total {cost} != {qty} x {price}")
                    pos = pos.with_trade(action, sym, amount, cost)
                    if pos.cash < 0:
                        problems.append(f"{name} {day}: cash below zero after {action} {sym}")
                    if any(n < 0 for n in pos.holdings.values()):
                        problems.append(f"{name} {day}: negative holding after {action} {sym}")
                if status != "completed":
                    continue
                prev_done = day
                ecur = await conn.execute(
                    "SELECT cash, value FROM eod WHERE model = ? AND date = ? "
                    "AND attempt_id = ?", (name, day, attempt_id))
                eod = await ecur.fetchone()
                if eod is None:
                    problems.append(f"{name} {day}: completed without an end-of-day snapshot")
                    continue
                hcur = await conn.execute(
                    "SELECT symbol, quantity FROM holdings WHERE model = ? AND date = ?",
                    (name, day))
                held = {s: Decimal(n) for s, n in await hcur.fetchall()}
                snap = Position(Decimal(eod[0]), held)
                if (snap.cash, dict(snap.holdings)) != (pos.cash, dict(pos.holdings)):
                    problems.append(f"{name} {day}: snapshot differs from the trades")
                value, _ = await value_position(conn, feed, pos, day)
                if value != Decimal(eod[1]):
                    problems.append(f"{name} {day}: value {eod[1]} != recomputed {value}")
    return problems
