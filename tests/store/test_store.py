"""The store: migrations, WAL, and a write discipline that never mixes transactions."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from aitrader.store import Store, scalar
from aitrader.store.migrations import MIGRATIONS


async def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    """Opening twice applies each migration once; the version is the newest migration."""
    path = tmp_path / "m.db"
    async with Store(path) as s:
        assert await s.schema_version() == MIGRATIONS[-1][0]
    async with Store(path) as s, s.read() as conn:
        assert await scalar(conn, "SELECT COUNT(*) FROM schema_migrations") == len(MIGRATIONS)
        assert await scalar(conn, "PRAGMA journal_mode") == "wal"


async def test_two_stores_opening_together_migrate_once(tmp_path: Path) -> None:
    """Two processes' stores starting at once (here two connections) do not double-apply."""
    path = tmp_path / "race.db"
    a, b = Store(path), Store(path)
    await asyncio.gather(a.open(), b.open())
    try:
        async with a.read() as conn:
            cur = await conn.execute("SELECT version FROM schema_migrations")
            assert [r[0] for r in await cur.fetchall()] == [m[0] for m in MIGRATIONS]
    finally:
        await a.close()
        await b.close()


async def test_a_rollback_in_one_coroutine_never_loses_anothers_commit(store: Store) -> None:
    """Interleaved coroutines: the failing transaction rolls back alone."""
    started = asyncio.Event()

    async def failing() -> None:
        async with store.write() as conn:
            await conn.execute(
                "INSERT INTO events (time, type, data) VALUES ('t', 'doomed', '{}')")
            started.set()
            await asyncio.sleep(0.05)
            raise RuntimeError("boom")

    async def succeeding() -> None:
        await started.wait()
        async with store.write() as conn:
            await conn.execute(
                "INSERT INTO events (time, type, data) VALUES ('t', 'kept', '{}')")

    results = await asyncio.gather(failing(), succeeding(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    async with store.read() as conn:
        cur = await conn.execute("SELECT type FROM events ORDER BY seq")
        assert [r[0] for r in await cur.fetchall()] == ["kept"]


async def test_cancelled_transaction_rolls_back(store: Store) -> None:
    """A task cancelled inside a write leaves nothing behind and the store stays usable."""
    inside = asyncio.Event()

    async def writer() -> None:
        async with store.write() as conn:
            await conn.execute("INSERT INTO events (time, type, data) VALUES ('t', 'x', '{}')")
            inside.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(writer())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with store.write() as conn:
        await conn.execute("INSERT INTO events (time, type, data) VALUES ('t', 'y', '{}')")
    async with store.read() as conn:
        cur = await conn.execute("SELECT type FROM events")
        assert [r[0] for r in await cur.fetchall()] == ["y"]


async def test_constraints_are_enforced(store: Store) -> None:
    """The schema refuses what the ledger must never hold (e.g. a non-positive trade)."""
    with pytest.raises(sqlite3.IntegrityError):
        async with store.write() as conn:
            await conn.execute(
                "INSERT INTO trades (attempt_id, model, date, action, symbol, quantity, price,"
                " total, created_at) VALUES (1, 'm', 'd', 'buy', 'AAPL', '0', '1', '0', 't')")


async def test_closed_store_refuses_use(tmp_path: Path) -> None:
    """Using a store after close is an error, not a hang."""
    s = Store(tmp_path / "c.db")
    await s.open()
    await s.close()
    with pytest.raises(RuntimeError):
        async with s.write():
            pass
