"""The live service (tests/live.py) and Debian's Chromium driven by Playwright (no browser
download: executable_path)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.live import service  # noqa: F401  (the module's live service fixture)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None  # type: ignore[assignment]
    if path is None or sync_playwright is None:
        why = "Debian's chromium" if path is None else "the playwright package"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {why} is missing: .ci/run installs it")
        pytest.skip(f"{why} is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()
