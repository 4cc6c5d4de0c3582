"""Who is calling a tool: the session key the actor's MCP session carries.

Tools take no model, date or job argument, so an LLM cannot trade for another model or look at
another day. Headers alone would not do either: any local process can set them, and attempt ids
are sequential. So each attempt gets an unguessable key when it opens (only its hash is stored);
the actor's session sends it on every request, and the servers that show or change anything
(price, search, trade) take the model, the date and the attempt from the attempt it names
(`verified`). The model, date, job and attempt headers are still sent, for logs and as claims:
a claim that differs from the session's attempt is refused.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from datetime import date, datetime

import attrs
import httpx

from aitrader.errors import IdentityError
from aitrader.ledger import Ledger

MODEL = "x-aitrader-model"
DATE = "x-aitrader-date"
JOB = "x-aitrader-job"
ATTEMPT = "x-aitrader-attempt"
SESSION = "x-aitrader-session"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,127}$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


def new_key() -> str:
    """A fresh session key: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


@attrs.frozen
class Identity:
    model: str
    date: str
    job: str | None = None
    attempt: int | None = None
    key: str | None = attrs.field(default=None, repr=False)  # a secret: never logged
    market: str = "us"  # from the attempt's model (never from a header)
    frequency: str = "daily"

    def headers(self) -> dict[str, str]:
        out = {MODEL: self.model, DATE: self.date}
        if self.job:
            out[JOB] = self.job
        if self.attempt is not None:
            out[ATTEMPT] = str(self.attempt)
        if self.key:
            out[SESSION] = self.key
        return out


async def verified(ledger: Ledger, headers: Mapping[str, str]) -> Identity:
    """The caller's identity from the running attempt its session key names, or IdentityError.

    Claims in the other headers are checked against that attempt and refused if they differ."""
    key = headers.get(SESSION, "").strip()
    if not key:
        raise IdentityError("this tool call carries no session; tools are called through an "
                            "aitrader model session")
    if not _KEY.match(key):
        raise IdentityError("the session header is malformed")
    att = await ledger.attempt_of_key(key)
    if att is None:
        raise IdentityError("this tool call's session is unknown")
    if att.status != "running":
        raise IdentityError(f"this session's model-day is over ({att.status}): its tools "
                            "are closed")
    claims = {MODEL: att.model, DATE: att.date, JOB: att.job_id or "", ATTEMPT: str(att.id)}
    for name, actual in claims.items():
        said = headers.get(name, "").strip()
        if said and said != actual:
            raise IdentityError("the identity headers do not match the session")
    return Identity(att.model, att.date, att.job_id, att.id, key, att.market, att.frequency)


def claimed(headers: Mapping[str, str]) -> Identity:
    """What the headers say, checked for shape only (for a tool that reveals nothing dated:
    the math server), or IdentityError saying what is wrong."""
    model = headers.get(MODEL, "").strip()
    day = headers.get(DATE, "").strip()
    if not model or not day:
        raise IdentityError("this tool call carries no model identity; tools are called "
                            "through an aitrader model session")
    if not _NAME.match(model):
        raise IdentityError("the model identity header is malformed")
    try:  # a session id: a date, or an hourly bar's start with its UTC offset
        if len(day) == 10:
            date.fromisoformat(day)
        elif len(day) > 32 or datetime.fromisoformat(day).tzinfo is None:
            raise ValueError
    except ValueError:
        raise IdentityError("the date identity header is malformed") from None
    job = headers.get(JOB, "").strip() or None
    if job is not None and not _NAME.match(job):
        raise IdentityError("the job identity header is malformed")
    raw_attempt = headers.get(ATTEMPT, "").strip()
    attempt: int | None = None
    if raw_attempt:
        if not (raw_attempt.isascii() and raw_attempt.isdigit()) or len(raw_attempt) > 15:
            raise IdentityError("the attempt identity header is malformed")
        attempt = int(raw_attempt)
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
