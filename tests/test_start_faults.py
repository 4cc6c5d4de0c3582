"""Faults at start: a database that is not one, damaged, read-only, a directory or locked by
another process, and a second service on the same database. `aitrader serve` (and a command
that only reads) exits within seconds with one clear line and a non-zero code: no hang, no
traceback."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aitrader.tools.ports import free_ports
from tests.stack import Stack, wait_http
from tests.test_cli_usage import aitrader, one_error_line


def serve(db: Path, tmp: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    out = aitrader("serve", "--db", str(db), env={
        "API_HOST": "127.0.0.1", "API_PORT": str(free_ports(1)[0]),
        "AITRADER_DATA_DIR": str(tmp), "AITRADER_DB_BUSY_TIMEOUT_MS": "1000", **env},
        timeout=60, cwd=tmp)
    return out, time.monotonic() - started


def refused(db: Path, tmp: Path, why: str) -> None:
    """serve and report both refuse, in one line naming the file and why, within seconds."""
    out, took = serve(db, tmp)
    assert one_error_line(out) == f"error: the database {db} {why}"
    assert took < 20
    line = one_error_line(aitrader("report", "--db", str(db), timeout=60))
    assert line == f"error: the database {db} {why}"


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    db = tmp_path / "aitrader.db"
    db.write_bytes(b"these are my notes, not a database\n" * 200)
    refused(db, tmp_path, "is not an SQLite database")
    assert db.read_bytes().startswith(b"these are my notes")  # left as it was


def test_a_damaged_database(tmp_path: Path, template_db: Path) -> None:
    db = tmp_path / "aitrader.db"
    shutil.copy(template_db, db)
    data = bytearray(db.read_bytes())
    for page in range(2, len(data) // 4096):  # scribble over every page but the first
        data[page * 4096:page * 4096 + 100] = b"\xff" * 100
    db.write_bytes(bytes(data))
    refused(db, tmp_path, "is damaged (SQLite: database disk image is malformed); restore a "
                          "backup")


def test_a_directory(tmp_path: Path) -> None:
    db = tmp_path / "aitrader.db"
    db.mkdir()
    refused(db, tmp_path, "is a directory, not a database file")


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A read-only file system (tests run as root, for whom a mode of 0444 means nothing)."""
    where = tmp_path / "ro"
    where.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs",
                                            str(where)], check=False).returncode:
        if os.environ.get("CI"):
            pytest.fail("CI is set but a read-only tmpfs cannot be mounted (root needed)")
        pytest.skip("mounting a read-only tmpfs needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_read_only_database(read_only_folder: Path, tmp_path: Path,
                              template_db: Path) -> None:
    db = read_only_folder / "aitrader.db"
    shutil.copy(template_db, db)
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_folder)], check=True)
    out, took = serve(db, tmp_path)
    assert one_error_line(out) == (f"error: the database {db} cannot be written (a read-only "
                                   "file or file system); it needs write access")
    assert took < 20


def test_a_database_locked_by_another_process(tmp_path: Path, template_db: Path) -> None:
    """Another process holds an exclusive lock: serve gives up after the busy timeout (1 s
    here) with one line, instead of waiting for ever."""
    db = tmp_path / "aitrader.db"
    shutil.copy(template_db, db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        out, took = serve(db, tmp_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert one_error_line(out) == (
        f"error: the database {db} is locked by another process for longer than the busy "
        "timeout (AITRADER_DB_BUSY_TIMEOUT_MS)")
    assert took < 20


async def test_a_second_service_on_the_same_database_is_refused(stack: Stack) -> None:
    """Two services would resume the same jobs and do the work twice: the second one is
    refused, naming the first one's pid; once the first has stopped, it starts."""
    first_port, second_port = free_ports(2)
    first = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aitrader", "serve",
        env={**stack.env, "API_HOST": "127.0.0.1", "API_PORT": str(first_port)},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await wait_http(f"http://127.0.0.1:{first_port}/health")
        out = await asyncio.to_thread(aitrader, "serve", env={
            **stack.env, "API_HOST": "127.0.0.1", "API_PORT": str(second_port)}, timeout=60)
        assert one_error_line(out) == (
            f"error: another aitrader process (pid {first.pid}) already runs the simulation "
            "on the database aitrader.db: stop it first, or give this one a database of its "
            "own (AITRADER_DB)")
    finally:
        first.terminate()
        assert await first.wait() == 0
    second = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aitrader", "serve",
        env={**stack.env, "API_HOST": "127.0.0.1", "API_PORT": str(second_port)},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await wait_http(f"http://127.0.0.1:{second_port}/health")
    finally:
        second.terminate()
        await second.wait()
