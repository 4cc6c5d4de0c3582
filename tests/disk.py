"""Filling a (small, test-only) file system to the last page, for the disk-full tests."""

from __future__ import annotations

import errno
from pathlib import Path


def _write_until_error(path: Path, mode: str, block: bytes) -> int:
    """Append `block` unbuffered until a write fails; that failure's errno (unbuffered, so
    closing the file has nothing left to flush and cannot fail in its turn)."""
    with path.open(mode, buffering=0) as f:
        while True:
            try:
                f.write(block)
            except OSError as exc:
                return exc.errno or 0


def fill(disk: Path) -> Path:
    """Write zeros until the file system has no room left: 1 MiB blocks, then the last
    pages. Returns the file (unlink it to free the space)."""
    filler = disk / "filler"
    assert _write_until_error(filler, "wb", b"\0" * (1 << 20)) == errno.ENOSPC
    assert _write_until_error(filler, "ab", b"\0" * 4096) == errno.ENOSPC
    return filler
