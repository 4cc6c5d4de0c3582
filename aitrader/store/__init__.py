"""The SQLite store: schema, migrations, and the write discipline. See store/db.py."""

from __future__ import annotations

from aitrader.store.db import Store, scalar, until_done, utcnow

__all__ = ["Store", "scalar", "until_done", "utcnow"]
