"""A database written before markets existed (schema 4: integer 1/10,000 money, a `prices`
table) opens with every value exact: bars per market and frequency, decimal money and
quantities, each model on NASDAQ-100 daily; the ledger reads it and its invariants hold."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from aitrader.ledger import Ledger
from aitrader.ledger.invariants import violations
from aitrader.market.prices import US_DAILY, get_bar
from aitrader.store import Store
from aitrader.store.migrations import MIGRATIONS


def schema_4_database(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT "
               "NULL, applied_at TEXT NOT NULL)")
    for version, name, statements in MIGRATIONS[:4]:
        for sql in statements:
            db.execute(sql)
        db.execute("INSERT INTO schema_migrations VALUES (?, ?, 't')", (version, name))
    rows = [("AAPL", "2025-10-01", 2551200, 2560000, 2540000, 2553300, 1000, "alphavantage"),
            ("AAPL", "2025-10-02", 2546300, 2580000, 2540000, 2570100, 2000, "alphavantage")]
    db.executemany("INSERT INTO prices VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO models VALUES ('m', 100000000, '2025-10-01', 'service', 't')")
    db.execute("INSERT INTO attempts (model, date, status, prev_date, started_at, cash_e4) "
               "VALUES ('m', '2025-10-02', 'completed', NULL, 't', NULL)")
    db.execute("INSERT INTO trades (attempt_id, model, date, action, symbol, amount, price_e4,"
               " total_e4, created_at) VALUES (1, 'm', '2025-10-02', 'buy', 'AAPL', 3, 2546300,"
               " 7638900, 't')")
    # cash 10,000 - 763.89 = 9,236.11; value 9,236.11 + 3 x 257.01 = 10,007.14
    db.execute("INSERT INTO eod VALUES ('m', '2025-10-02', 1, 92361100, 100071400, 71400, "
               "0.0714)")
    db.execute("INSERT INTO holdings VALUES ('m', '2025-10-02', 'AAPL', 3)")
    db.execute("INSERT INTO models VALUES ('loser', 100000000, '2025-10-01', 'service', 't')")
    db.execute("INSERT INTO attempts (model, date, status, prev_date, started_at) "
               "VALUES ('loser', '2025-10-02', 'completed', NULL, 't')")
    db.execute("INSERT INTO eod VALUES ('loser', '2025-10-02', 2, 99876544, 99876544, -123456,"
               " -1.23456)")
    db.close()


async def test_a_schema_4_database_migrates_exactly(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    schema_4_database(path)
    async with Store(path) as store:
        assert await store.schema_version() == MIGRATIONS[-1][0]
        async with store.read() as conn:
            bar = await get_bar(conn, US_DAILY, "AAPL", "2025-10-02")
            cur = await conn.execute("SELECT market, frequency, initial_cash FROM models "
                                     "ORDER BY signature")
            models = await cur.fetchall()
            cur = await conn.execute("SELECT quantity, price, total FROM trades")
            trade = await cur.fetchone()
            cur = await conn.execute("SELECT profit FROM eod WHERE model = 'loser'")
            loss = await cur.fetchone()
        assert bar is not None and (bar.open, bar.close, bar.volume) == (
            Decimal("254.63"), Decimal("257.01"), Decimal(2000))
        assert [tuple(m) for m in models] == [("us", "daily", "10000.0000")] * 2
        assert tuple(trade or ()) == ("3", "254.6300", "763.8900")
        assert loss is not None and Decimal(loss[0]) == Decimal("-12.3456")
        found = await Ledger(store).end_of_day("m")
        assert found is not None
        assert found[1].cash == Decimal("9236.11") and dict(found[1].holdings) == {
            "AAPL": Decimal(3)}
        assert await violations(store, "m") == []
