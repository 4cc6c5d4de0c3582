"""One SQLite file in WAL mode, shared by the service and the trade server.

Write discipline: all writes of a process go through one connection behind an asyncio.Lock held
for the whole transaction, which starts with BEGIN IMMEDIATE (so the write lock of the file is
taken up front and another process waits on the busy timeout instead of failing half-way).
Two coroutines' statements can therefore never interleave inside one transaction.
Reads use their own connections from a small pool, each read in its own snapshot.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import structlog

from aitrader.errors import AITraderError
from aitrader.store.migrations import MIGRATIONS

log = structlog.get_logger(__name__)

T = TypeVar("T")


async def scalar(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """The first column of the first row, or None when there is no row."""
    cur = await conn.execute(sql, params)
    row = await cur.fetchone()
    return None if row is None else row[0]


def backup(src: Path, dest: Path, *, busy_timeout_ms: int = 10_000) -> None:
    """A consistent copy of the database `src` into the new file `dest`, with SQLite's online
    backup: safe while the service writes (in WAL mode the copy reads one snapshot and blocks
    no writer), then checked with `PRAGMA integrity_check`. Blocking: call it off a loop."""
    if dest.exists():
        raise FileExistsError(dest)
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=busy_timeout_ms / 1000)
    out = sqlite3.connect(dest)
    try:
        source.backup(out)  # in one step: one read snapshot
        problem = out.execute("PRAGMA integrity_check").fetchone()[0]
        if problem != "ok":
            raise sqlite3.DatabaseError(f"the copy failed its integrity check: {problem}")
    finally:
        out.close()
        source.close()


@asynccontextmanager
async def _file_lock(path: Path, seconds: float) -> AsyncIterator[None]:
    """An exclusive advisory lock across processes (flock), waited for at most `seconds`."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if asyncio.get_running_loop().time() > deadline:
                    raise StoreError(f"the database {path.with_suffix('')} is being set up by "
                                     "another process that does not finish") from None
                await asyncio.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class StoreError(AITraderError):
    """The database cannot be opened or used as it is; the message says why."""

    code = "store"


def explain(exc: BaseException, path: Path) -> StoreError:
    """What a failure to open the database means, in one line (no SQLite internals)."""
    text = str(exc).lower()
    if path.is_dir():
        why = "is a directory, not a database file"
    elif "not a database" in text or "file is encrypted" in text:
        why = "is not an SQLite database"
    elif "malformed" in text or "corrupt" in text:
        why = "is damaged (SQLite: database disk image is malformed); restore a backup"
    elif "readonly" in text or "read-only" in text or isinstance(exc, PermissionError) or (
            path.exists() and not (os.access(path, os.W_OK)
                                   and os.access(path.parent, os.W_OK))):
        why = "cannot be written (a read-only file or file system); it needs write access"
    elif "locked" in text or "busy" in text:
        why = ("is locked by another process for longer than the busy timeout "
               "(AITRADER_DB_BUSY_TIMEOUT_MS)")
    elif "unable to open" in text or isinstance(exc, OSError):
        why = "cannot be opened (its folder is missing or not accessible)"
    else:
        why = f"cannot be used ({type(exc).__name__}: {str(exc)[:200]})"
    return StoreError(f"the database {path} {why}")


async def until_done(op: Callable[[], Awaitable[T]], *, what: str, first_wait: float = 0.05,
                     max_wait: float = 5.0) -> T:
    """Run `op` until it succeeds, for writes that must never be abandoned (voiding an attempt,
    closing a model-day): while another process holds the database's write lock for longer
    than the busy timeout, or the disk is full, it waits and tries again, logging each
    failure. Only cancellation (a shutdown) stops it; recovery on the next start then does
    the same work."""
    wait, failures = first_wait, 0
    while True:
        try:
            return await op()
        except sqlite3.OperationalError as exc:  # locked, busy, full, I/O: all pass
            failures += 1
            log.warning("write_retried", what=what, error=str(exc), failures=failures,
                        retry_in=wait)
            await asyncio.sleep(wait)
            wait = min(max_wait, wait * 2)


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    """Owns the connections to one database file. `await open()` before use, `close()` after."""

    def __init__(self, path: Path | str, *, readers: int = 2, busy_timeout_ms: int = 10_000,
                 readonly: bool = False):
        """`readonly`: for commands that only read. The file must exist already (nothing is
        created, not even its folder), and nothing is written to it."""
        self.path = Path(path)
        self.readonly = readonly
        self._n_readers = readers
        self._busy_ms = busy_timeout_ms
        self._writer: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        # why the last write failed, while no write has succeeded since (for /health)
        self.write_error: str | None = None

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _connect(self) -> aiosqlite.Connection:
        if self.readonly:
            conn = await aiosqlite.connect(f"file:{self.path}?mode=ro", uri=True,
                                           isolation_level=None)
        else:
            conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(self._busy_ms)}")
            await conn.execute("PRAGMA foreign_keys = ON")
            # NORMAL is durable across a process crash in WAL mode (only power loss can drop
            # the last commits), which is what "a crash loses no completed work" needs.
            await conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            await conn.close()  # its thread would keep the process from exiting
            raise
        return conn

    async def open(self) -> None:
        """Open (creating and migrating the file unless read-only); StoreError saying why
        when the file is not a usable database."""
        try:
            if self.readonly:
                await self._open_readonly()
            else:
                await self._open()
            for _ in range(self._n_readers):
                conn = await self._connect()
                self._all_readers.append(conn)
                self._readers.put_nowait(conn)
            await self.ping()
        except BaseException as exc:
            await self.close()  # an open connection would keep the process from exiting
            if isinstance(exc, sqlite3.Error | OSError) and not isinstance(exc, StoreError):
                raise explain(exc, self.path) from None
            raise

    async def _open(self) -> None:
        if self.path.is_dir():
            raise explain(IsADirectoryError(), self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        # The service and the trade server may open a new file at the same moment; the
        # switch to WAL and the migrations then run one process at a time (two connections
        # switching a fresh file to WAL can deadlock inside SQLite).
        async with _file_lock(self.path.with_name(self.path.name + ".lock"),
                              self._busy_ms / 1000):
            await self._execute_patiently(self._writer, "PRAGMA journal_mode = WAL")
            await self._migrate()

    async def _open_readonly(self) -> None:
        if not self.path.exists():
            raise StoreError(f"there is no database at {self.path} (give --db or AITRADER_DB, "
                             "or create one: `aitrader prices demo`, `prices import`, `run`)")
        if self.path.is_dir():
            raise explain(IsADirectoryError(), self.path)
        conn = await self._connect()
        try:
            version = await scalar(conn, "SELECT COALESCE(MAX(version), 0) FROM "
                                         "schema_migrations")
        finally:
            await conn.close()
        latest = MIGRATIONS[-1][0]
        if version != latest:
            raise StoreError(
                f"the database {self.path} has schema version {version}, this aitrader reads "
                f"version {latest}: " + ("start the service or run any command that writes, "
                                         "which migrates it" if version < latest
                                         else "it was made by a newer aitrader"))

    async def _execute_patiently(self, conn: aiosqlite.Connection, sql: str) -> None:
        """Execute, retrying "database is locked" until the busy timeout has passed.

        SQLite returns SQLITE_BUSY without calling the busy handler in a few cases (a file
        being switched to WAL by another process, WAL recovery), so the timeout is enforced
        here too.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._busy_ms / 1000
        while True:
            try:
                await conn.execute(sql)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or loop.time() > deadline:
                    raise
                await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Close every connection, logging (not raising) a failure so the rest still close."""
        conns = [*self._all_readers, *([self._writer] if self._writer else [])]
        self._all_readers.clear()
        self._writer = None
        for conn in conns:
            try:
                await conn.close()
            except Exception as exc:  # cleanup must try every step
                log.warning("store_close_failed", error=str(exc))

    async def _migrate(self) -> None:
        async with self.write() as tx:
            await tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        for version, name, statements in MIGRATIONS:
            # Check inside the write transaction: two processes starting together apply it once.
            async with self.write() as tx:
                cur = await tx.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
                )
                if await cur.fetchone():
                    continue
                for sql in statements:
                    await tx.execute(sql)
                await tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, utcnow()),
                )
                log.info("migration_applied", version=version, name=name)

    async def ping(self) -> None:
        """Raise if the database cannot be read."""
        async with self.read() as conn:
            await scalar(conn, "SELECT 1")

    async def schema_version(self) -> int:
        async with self.read() as conn:
            cur = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            row = await cur.fetchone()
            return int(row[0]) if row else 0

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction: BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""
        if self.readonly:
            raise RuntimeError("this store was opened read-only")
        if self._writer is None:
            raise RuntimeError("store is not open")
        async with self._write_lock:
            conn = self._writer
            try:
                await self._execute_patiently(conn, "BEGIN IMMEDIATE")
                try:
                    yield conn
                    await conn.execute("COMMIT")
                except BaseException:
                    # also when COMMIT itself failed (a full disk): the transaction must not
                    # stay open on the one writer connection. SQLite may have rolled it back.
                    await asyncio.shield(self._rollback(conn))
                    raise
            except sqlite3.OperationalError as exc:
                self.write_error = str(exc)
                raise
            self.write_error = None

    @staticmethod
    async def _rollback(conn: aiosqlite.Connection) -> None:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A reader connection inside one read transaction (a consistent snapshot)."""
        if not self._all_readers:
            raise RuntimeError("store is not open")
        conn = await self._readers.get()
        try:
            await conn.execute("BEGIN")
            try:
                yield conn
            finally:
                await asyncio.shield(conn.execute("COMMIT"))
        finally:
            self._readers.put_nowait(conn)
