"""Failpoints for crash tests: `AITRADER_FAILPOINTS="name:N"` kills this process with SIGKILL
the N-th time the named point is reached (N defaults to 1). Unset, a failpoint costs one
dictionary look-up. Used only by tests that prove a crash loses nothing."""

from __future__ import annotations

import os
import signal

_counts: dict[str, int] = {}


def _armed() -> dict[str, int]:
    spec = os.environ.get("AITRADER_FAILPOINTS", "")
    out = {}
    for part in filter(None, spec.split(",")):
        name, _, n = part.partition(":")
        out[name.strip()] = int(n) if n.strip().isdigit() else 1
    return out


_ARMED = _armed()


def hit(name: str) -> None:
    if name not in _ARMED:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == _ARMED[name]:
        os.kill(os.getpid(), signal.SIGKILL)
