"""A live aitrader service (tests/live.py) and a real PostgreSQL server, for the Windmill
scripts and flow."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from aitrader.tools.ports import free_ports
from tests.live import service  # noqa: F401  (the module's live service fixture)


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        if os.environ.get("CI"):
            pytest.fail("CI is set but PostgreSQL is missing: .ci/run installs Debian's "
                        "postgresql")
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    return Path(found[-1]).parent


@pytest.fixture(scope="session")
def postgres() -> Iterator[dict[str, Any]]:
    """A PostgreSQL server on a free port in a temporary folder (as the postgres user when
    the tests run as root: initdb refuses root)."""
    bindir = _pg_bin()
    folder = Path(tempfile.mkdtemp(prefix="aitrader-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_ports(1)[0]
    data = folder / "data"
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l",
                    str(folder / "server.log"), "-w", "-t", "60", "-o",
                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "start"], check=True, capture_output=True)
    try:
        yield {"host": "127.0.0.1", "port": port, "user": "postgres", "dbname": "postgres",
               "sslmode": "disable", "password": ""}
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def new_database(postgres: dict[str, Any]) -> dict[str, Any]:
    """A new, empty database on the server: a Windmill postgresql resource."""
    name = f"results_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(**{**postgres, "password": None})
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    return {**postgres, "dbname": name}


@pytest.fixture
def pg_db(postgres: dict[str, Any]) -> dict[str, Any]:
    """A new, empty database on the server: a Windmill postgresql resource."""
    return new_database(postgres)
