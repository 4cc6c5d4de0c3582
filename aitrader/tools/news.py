"""get_information: news search with no look-ahead, over a local news file or Jina.

A result is shown only if its publication is known and lies before the session. US daily
sessions compare New York dates (before the session date: the rule they always had, at
least as strict as their 09:30 start). Every other market and frequency cuts at the
session's start instant, compared in UTC: a timestamp must be earlier; a result known only
by its date must have that whole date behind it in every time zone (so a Beijing 09:30
session does not see New York's evening news of the day before, published after it began).
Relative dates ("3 days ago", "5 hours ago", "yesterday") are resolved against the session's
start, not the wall clock. Undated results are dropped. See docs/lookahead.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import aiohttp
import attrs
import structlog

from aitrader import markets
from aitrader.errors import ConfigError
from aitrader.tools.identity import Identity

log = structlog.get_logger(__name__)
NEW_YORK = ZoneInfo("America/New_York")
OPENING_BELL = time(9, 30)
_REL = re.compile(r"^\s*(\d+|an?|one)\s+(second|minute|hour|day|week|month|year)s?\s+ago\s*$",
                  re.IGNORECASE)
_UNIT_DAYS = {"week": 7, "month": 30, "year": 365}
_FORMATS = ("%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%Y/%m/%d")
# 03/10/2025 is 10 March in New York and 3 October in London: such a date is taken only when
# one of the two numbers cannot be a month (15/10/2025, 10/15/2025), and is undated otherwise
_NUMERIC = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def session_start(session: date) -> datetime:
    return datetime.combine(session, OPENING_BELL, tzinfo=NEW_YORK)


# a date-only result is visible once this much has passed since that date's UTC midnight:
# the date is over in every time zone (UTC-12 is the last to end it)
WHOLE_DATE = timedelta(days=1, hours=12)
Cutoff = date | datetime  # a US daily session's date, or another session's start instant


def published_date(raw: object, session: date) -> date | None:
    """The New York calendar date a result was published, or None if it cannot be told
    (unparseable, ambiguous, or out of any calendar's range: "99999999 years ago")."""
    found = _publication(raw, session_start(session))
    return _ny_date(found) if isinstance(found, datetime) else found


def _ny_date(instant: datetime) -> date | None:
    try:
        return instant.astimezone(NEW_YORK).date()
    except (OverflowError, ValueError):  # at the edge of the calendar (year 9999)
        return None


def _publication(raw: object, ref: datetime) -> date | datetime | None:
    """When a result was published: an aware instant when the source gives one, else its
    date; None if it cannot be told. Relative dates count back from `ref`."""
    try:
        return _published(raw, ref)
    except (OverflowError, ValueError):
        return None


def _numeric(first: int, second: int, year: int) -> date | None:
    if first > 12 >= second:
        return date(year, second, first)  # day first
    if second > 12 >= first or first == second:
        return date(year, first, second)  # month first (or both the same)
    return None  # both could be the month


def _published(raw: object, ref: datetime) -> date | datetime | None:
    if raw is None:
        return None
    text = str(raw).strip()
    if not text or text.lower() in ("unknown", "none", "null", "n/a"):
        return None
    low = text.lower()
    local = ref.astimezone(NEW_YORK).date()
    if low in ("just now", "now", "today"):
        return ref
    if low == "yesterday":
        return local - timedelta(days=1)
    m = _REL.match(text)
    if m:
        n = 1 if m.group(1).lower() in ("a", "an", "one") else int(m.group(1))
        unit = m.group(2).lower()
        if unit in _UNIT_DAYS or unit == "day":
            return (ref - timedelta(days=n * _UNIT_DAYS.get(unit, 1))).astimezone(
                NEW_YORK).date()
        return ref - timedelta(**{f"{unit}s": n})
    iso = text.replace("Z", "+00:00")
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        parsed = datetime.fromisoformat(iso)
        if parsed.tzinfo is None:  # a wall clock of an unknown zone: only its date counts
            return parsed.date()
        return parsed
    except ValueError:
        pass
    numeric = _NUMERIC.match(text)
    if numeric:
        return _numeric(*(int(g) for g in numeric.groups()))
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


@attrs.frozen
class Article:
    title: str
    url: str
    description: str
    content: str
    published: str  # as the source gave it
    published_on: date


def visible(raw_date: object, cutoff: Cutoff) -> date | None:
    """The publication date (New York) if the model may see the item in the session that
    `cutoff` names (see the module's docstring), else None."""
    if not isinstance(cutoff, datetime):  # a US daily session: New York dates
        day = published_date(raw_date, cutoff)
        return day if day is not None and day < cutoff else None
    found = _publication(raw_date, cutoff)
    if isinstance(found, datetime):
        return _ny_date(found) if found < cutoff else None
    if found is None:
        return None
    midnight = datetime(found.year, found.month, found.day, tzinfo=UTC)
    return found if midnight + WHOLE_DATE <= cutoff else None


def cutoff_of(ident: Identity) -> Cutoff:
    """Where a caller's news ends: a US daily session's date, else its session's start."""
    if (ident.market, ident.frequency) == ("us", "daily"):
        return date.fromisoformat(ident.date)
    return markets.get(ident.market, ident.frequency).session(ident.date).start


def render(query: str, session: Cutoff, articles: Sequence[Article]) -> str:
    if not articles:
        return (f"No results for '{query}' published before {session.isoformat()}. "
                "Try other words.")
    blocks = [
        f"URL: {a.url}\nTitle: {a.title}\nDescription: {a.description}\n"
        f"Publish Time: {a.published_on.isoformat()}\nContent: {a.content[:1000]}"
        for a in articles
    ]
    return "\n\n".join(blocks)


class SearchBackend(Protocol):
    async def search(self, query: str, session: Cutoff, limit: int) -> list[Article]: ...


_TOKEN = re.compile(r"[a-z0-9]+")


def _tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


@attrs.frozen
class _Indexed:
    item: dict[str, Any]
    raw_date: object
    title_tokens: frozenset[str]
    body_tokens: frozenset[str]


class OfflineNews:
    """A JSONL news file read once at start-up: one item per line with a publication time
    ("published_at", "publish_time" or "date"), "title", "url", and "description"/"content"."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._items: list[_Indexed] = []
        if not path.exists():
            log.warning("news_file_missing", path=str(path))
            return
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                raise ConfigError(f"news file line {n} is not valid JSON") from None
            if not isinstance(item, dict):
                raise ConfigError(f"news file line {n} is not an object")
            raw = item.get("published_at", item.get("publish_time", item.get("date")))
            body = " ".join(str(item.get(k, "")) for k in ("description", "content", "summary"))
            symbols = " ".join(map(str, item.get("symbols", [])))
            self._items.append(_Indexed(item, raw, frozenset(_tokens(str(item.get("title", "")))),
                                        frozenset(_tokens(body + " " + symbols))))

    def __len__(self) -> int:
        return len(self._items)

    async def search(self, query: str, session: Cutoff, limit: int) -> list[Article]:
        words = _tokens(query)
        scored: list[tuple[int, date, Article]] = []
        for ix in self._items:
            day = visible(ix.raw_date, session)
            if day is None:
                continue
            score = 3 * len(words & ix.title_tokens) + len(words & ix.body_tokens)
            if words and score == 0:
                continue
            it = ix.item
            scored.append((score, day, Article(
                str(it.get("title", "")), str(it.get("url", "")),
                str(it.get("description", it.get("summary", ""))), str(it.get("content", "")),
                str(ix.raw_date), day)))
        scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
        return [a for _, _, a in scored[:limit]]


class JinaSearch:
    """Jina's search (s.jina.ai) for candidate URLs, then its reader (r.jina.ai) for content."""

    SEARCH_URL = "https://s.jina.ai/"
    READER_URL = "https://r.jina.ai/"

    def __init__(self, session: aiohttp.ClientSession, api_key: str, *, timeout: float = 20.0
                 ) -> None:
        if not api_key:
            raise ConfigError("the Jina backend needs JINA_API_KEY", field="JINA_API_KEY")
        self._http = session
        self._key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def search(self, query: str, session: Cutoff, limit: int) -> list[Article]:
        headers = {"Authorization": f"Bearer {self._key}", "Accept": "application/json",
                   "X-Respond-With": "no-content"}
        async with self._http.get(self.SEARCH_URL, params={"q": query}, headers=headers,
                                  timeout=self._timeout) as resp:
            if resp.status != 200:
                raise RuntimeError(f"the search service answered HTTP {resp.status}")
            body = await resp.json(content_type=None)
        candidates = [it for it in (body or {}).get("data") or [] if isinstance(it, dict)
                      and it.get("url") and visible(it.get("date"), session)]
        out: list[Article] = []
        for item in candidates:
            if len(out) >= limit:
                break
            article = await self._read(item, session)
            if article is not None:
                out.append(article)
        return out

    async def _read(self, item: dict[str, Any], session: Cutoff) -> Article | None:
        headers = {"Authorization": f"Bearer {self._key}", "Accept": "application/json",
                   "X-Timeout": "10"}
        try:
            async with self._http.get(self.READER_URL + str(item["url"]), headers=headers,
                                      timeout=self._timeout) as resp:
                if resp.status != 200:
                    return None
                data = ((await resp.json(content_type=None)) or {}).get("data") or {}
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError):
            return None
        # the page's own publication time must pass too, when it has one
        raw = data.get("publishedTime") or item.get("date")
        day = visible(raw, session)
        if day is None:
            return None
        return Article(str(data.get("title") or item.get("title", "")), str(item["url"]),
                       str(data.get("description") or item.get("description", "")),
                       str(data.get("content", "")), str(raw), day)
