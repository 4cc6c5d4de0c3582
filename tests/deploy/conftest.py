"""The live service (tests/live.py), for the deployment tests that drive real clients."""

from __future__ import annotations

from tests.live import service  # noqa: F401  (the module's live service fixture)
