"""Who is calling a tool: HTTP headers set by the actor's MCP session on every request.

Tools take no model, date or job argument, so an LLM cannot trade for another model or look at
another day: the only way to say who you are is a header the actor's session sets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date

import attrs
import httpx

from aitrader.errors import IdentityError

MODEL = "x-aitrader-model"
DATE = "x-aitrader-date"
JOB = "x-aitrader-job"
ATTEMPT = "x-aitrader-attempt"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,127}$")


@attrs.frozen
class Identity:
    model: str
    date: str
    job: str | None = None
    attempt: int | None = None

    def headers(self) -> dict[str, str]:
        out = {MODEL: self.model, DATE: self.date}
        if self.job:
            out[JOB] = self.job
        if self.attempt is not None:
            out[ATTEMPT] = str(self.attempt)
        return out


def from_headers(headers: Mapping[str, str], *, need_attempt: bool = False) -> Identity:
    """The caller's identity from (lower-cased) headers, or IdentityError saying what is wrong."""
    model = headers.get(MODEL, "").strip()
    day = headers.get(DATE, "").strip()
    if not model or not day:
        raise IdentityError("this tool call carries no model identity; tools are called "
                            "through an aitrader model session")
    if not _NAME.match(model):
        raise IdentityError("the model identity header is malformed")
    try:
        if len(day) != 10:
            raise ValueError
        date.fromisoformat(day)
    except ValueError:
        raise IdentityError("the date identity header is malformed") from None
    job = headers.get(JOB, "").strip() or None
    if job is not None and not _NAME.match(job):
        raise IdentityError("the job identity header is malformed")
    raw_attempt = headers.get(ATTEMPT, "").strip()
    attempt: int | None = None
    if raw_attempt:
        if not raw_attempt.isdigit() or len(raw_attempt) > 15:
            raise IdentityError("the attempt identity header is malformed")
        attempt = int(raw_attempt)
    if need_attempt and attempt is None:
        raise IdentityError("trading needs an open model-day (no attempt identity header)")
    return Identity(model, day, job, attempt)


class IdentityAuth(httpx.Auth):
    """Sets the identity headers on every request from a callable read at request time.

    An MCP session is long-lived while the actor's date and attempt change every model-day;
    headers given when the session opens would be copied once, so they are set here instead.
    """

    def __init__(self, current: Callable[[], Identity | None]) -> None:
        self._current = current

    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        ident = self._current()
        if ident is not None:
            for name, value in ident.headers().items():
                request.headers[name] = value
        yield request
