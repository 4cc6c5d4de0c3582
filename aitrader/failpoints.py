"""Failpoints for fault tests: named places in the code where a test makes the process fail.

`AITRADER_FAILPOINTS="name:N"` kills this process with SIGKILL the N-th time `name` is reached
(N defaults to 1); `"name:N:raise"` raises `FailpointError` there instead, once. A test in the
same process arms them with `armed(...)`. Unarmed, a failpoint costs one dictionary look-up.
Only tests arm them.

The points: `llm.before_call` (an LLM request is about to go out), `tool_result.parse` (a tool
server has answered and its result is being read), `tool_call.returned` (the same place, for
kills: the server has acted, the caller has not read it), `complete_attempt.before_commit`
and `void_attempt.before_commit` (inside those ledger transactions), `model_day.committed`
(a model-day has committed, nobody has been told), `actor.between_days` (an actor about to
start its next model-day).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager


class FailpointError(RuntimeError):
    """What a failpoint armed to raise raises: an arbitrary, non-domain exception."""


_counts: dict[str, int] = {}


def _parse(spec: str) -> dict[str, tuple[int, str]]:
    out = {}
    for part in filter(None, spec.split(",")):
        name, _, rest = part.partition(":")
        n, _, action = rest.partition(":")
        out[name.strip()] = (int(n) if n.strip().isdigit() else 1, action.strip() or "kill")
    return out


_ARMED = _parse(os.environ.get("AITRADER_FAILPOINTS", ""))


def hit(name: str) -> None:
    armed = _ARMED.get(name)
    if armed is None:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] != armed[0]:
        return
    if armed[1] == "raise":
        raise FailpointError(f"failpoint {name} raised")
    os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def armed(name: str, nth: int = 1, action: str = "raise") -> Iterator[None]:
    """Arm `name` for the duration (in this process): the `nth` hit raises (or kills)."""
    _ARMED[name] = (nth, action)
    _counts.pop(name, None)
    try:
        yield
    finally:
        _ARMED.pop(name, None)
        _counts.pop(name, None)


def hits(name: str) -> int:
    """How many times an armed failpoint has been reached."""
    return _counts.get(name, 0)
