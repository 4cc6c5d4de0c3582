"""The SQLite store: schema, migrations, and the write discipline. See store/db.py."""

from __future__ import annotations

from aitrader.store.db import Store, scalar, utcnow

__all__ = ["Store", "scalar", "utcnow"]
