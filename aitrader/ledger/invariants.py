"""The ledger invariants of LEDGER.md, recomputed from trades alone.

`violations(store)` returns what is wrong (an empty list when all hold). Tests run it after
every transaction; an operator can run it on a live database (`aitrader ledger check`).
"""

from __future__ import annotations

from aitrader.ledger.book import Position, value_position
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
        cur = await conn.execute("SELECT signature, initial_cash_e4 FROM models")
        models = [(m, c) for m, c in await cur.fetchall() if model in (None, m)]
        for name, cash in models:
            pos = Position(cash, {})
            cur = await conn.execute(
                "SELECT a.id, a.date, a.status, a.prev_date FROM attempts a WHERE a.model = ? "
                "AND a.status != 'voided' ORDER BY a.date, a.id", (name,))
            prev_done: str | None = None
            for attempt_id, day, status, prev_date in await cur.fetchall():
                if prev_date != prev_done:
                    problems.append(f"{name} {day}: baseline {prev_date}, expected {prev_done}")
                tcur = await conn.execute(
                    "SELECT action, symbol, amount, total_e4 FROM trades "
                    "WHERE attempt_id = ? ORDER BY id", (attempt_id,))
                for action, sym, amount, total in await tcur.fetchall():
                    if amount <= 0:
                        problems.append(f"{name} {day}: non-positive amount {amount}")
                    pos = pos.with_trade(action, sym, amount, total)
                    if pos.cash_e4 < 0:
                        problems.append(f"{name} {day}: cash below zero after {action} {sym}")
                    if any(n < 0 for n in pos.shares.values()):
                        problems.append(f"{name} {day}: negative holding after {action} {sym}")
                if status != "completed":
                    continue
                prev_done = day
                ecur = await conn.execute(
                    "SELECT cash_e4, value_e4 FROM eod WHERE model = ? AND date = ? "
                    "AND attempt_id = ?", (name, day, attempt_id))
                eod = await ecur.fetchone()
                if eod is None:
                    problems.append(f"{name} {day}: completed without an end-of-day snapshot")
                    continue
                hcur = await conn.execute(
                    "SELECT symbol, shares FROM holdings WHERE model = ? AND date = ?",
                    (name, day))
                held = {s: n for s, n in await hcur.fetchall()}
                snap = Position(eod[0], held)
                if (snap.cash_e4, dict(snap.shares)) != (pos.cash_e4, dict(pos.shares)):
                    problems.append(f"{name} {day}: snapshot differs from the trades")
                value, _ = await value_position(conn, pos, day)
                if value != eod[1]:
                    problems.append(f"{name} {day}: value {eod[1]} != recomputed {value}")
    return problems
