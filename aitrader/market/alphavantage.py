"""The Alpha Vantage fetcher: only what is missing, honest about limits.

The free tier allows about 25 requests a day and answers 200 with a "Note"/"Information" body
when throttled; `outputsize=full` is premium-only for some functions. So: only requests for
what is missing, a request made recently is not made again, the per-minute "Note" is waited
out once, the daily quota ends the run, and the summary says what was not fetched and why.
The API key is never logged and never appears in a message.

US daily (TIME_SERIES_DAILY): one request per symbol that lacks recent sessions, `compact`
(the latest 100 sessions) unless the gap is longer.

The other feeds (docs/fetching.md) ask for the closed sessions of a range that have no real
(non-demo) bar yet:

- us/hourly: TIME_SERIES_INTRADAY 60min, one request per symbol and calendar month that still
  lacks sessions (`month=YYYY-MM`, `outputsize=full`, `extended_hours=false`,
  `adjusted=false`: as-traded prices, like the daily feed; the bars are stored with the
  source `alphavantage-unadjusted` so that they are told apart from the original's
  adjusted files). Keys are bar starts on the New York wall clock; `avformat` makes them the
  session ids (`2025-10-31T10:00:00-04:00`).
- crypto/daily: DIGITAL_CURRENCY_DAILY (market USD), one request per coin.
- crypto/hourly: CRYPTO_INTRADAY 60min (market USD, or USDT as the original used), one
  request per coin, `compact` (the latest 100 hours) unless older hours are missing. It
  serves recent bars only.

A session counts once it has closed (plus `settle` for the provider's delay). A session still
absent from an answer that was fetched `refetch_after` or more after it closed is taken as
absent at the provider and not asked for again. Alpha Vantage's crypto answers
(`Time Series (Digital Currency Daily)` with `1. open` or `1a. open (USD)` fields,
`Time Series Crypto (60min)`) are renamed to the shape `avformat` reads, then parsed by it.
A-shares are not fetched: they are imported (`CN_IMPORT_HINT`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import aiosqlite
import attrs
import structlog

from aitrader import markets
from aitrader.errors import DataError
from aitrader.market.avformat import HOURLY_KEY, SERIES_KEY, Notice, notice_of, parse_series
from aitrader.market.calendar import Calendar
from aitrader.market.prices import US_DAILY, Feed, upsert_bars
from aitrader.markets import Market, Session
from aitrader.store import Store

log = structlog.get_logger(__name__)

BASE_URL = "https://www.alphavantage.co/query"
COMPACT_SESSIONS = 100
PREMIUM_NOTE = ("the full history is a premium feature; fetched the latest "
                f"{COMPACT_SESSIONS} sessions only")
CN_IMPORT_HINT = (
    "A-share (cn) prices are not fetched, they are imported: `aitrader prices import "
    "../shared/data/sse50-daily/merged.jsonl ../shared/data/sse50-daily/index_daily_sse_50.json` "
    "(daily bars and the SSE 50 index), `aitrader prices import "
    "../shared/data/sse50-hourly/merged_hourly.jsonl` (hourly bars); any file in the original "
    "benchmark's merged.jsonl or Alpha Vantage shape is read the same way (docs/fetching.md)")
# Alpha Vantage's crypto series keys -> the keys avformat reads
CRYPTO_SERIES_KEYS = {"Time Series (Digital Currency Daily)": SERIES_KEY,
                      "Time Series Crypto (60min)": HOURLY_KEY}
_FIELDS = ((1, "open"), (2, "high"), (3, "low"), (4, "close"))
HOURLY_SOURCE = "alphavantage-unadjusted"


@attrs.frozen
class SymbolPlan:
    symbol: str
    have_until: str | None  # last real (non-demo) bar already stored
    outputsize: str  # compact | full
    part: str = ""

    @property
    def log_key(self) -> str:
        return self.symbol


@attrs.frozen
class SlicePlan:
    """One request of an hourly or crypto feed: a symbol's series, or one month of it."""

    symbol: str  # as stored: AAPL, BTC-USDT
    part: str  # the month YYYY-MM of a US hourly request, else ""
    missing: tuple[str, ...]  # the closed sessions without a bar that it is asked for
    params: tuple[tuple[str, str], ...]  # the query, without the key
    log_key: str  # its name in fetch_log: "us/hourly:AAPL:2025-10", "crypto/daily:BTC-USDT"


@attrs.frozen
class SymbolResult:
    symbol: str
    outcome: str  # fetched | current | recent | rate_limited | premium | invalid | failed
    new_bars: int = 0
    message: str = ""
    part: str = ""  # the month of a US hourly request
    # the first and last session asked for that the answer's span covered: only sessions in
    # it that the answer lacked count as absent at the provider (a `compact` answer or a
    # narrower earlier request says nothing about older sessions)
    covered: tuple[str, str] | None = None

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.part}" if self.part else self.symbol


@attrs.define
class FetchSummary:
    latest_session: str
    results: list[SymbolResult] = attrs.Factory(list)
    feed: str = "us/daily"

    def by_outcome(self, outcome: str) -> list[SymbolResult]:
        return [r for r in self.results if r.outcome == outcome]

    @property
    def quota_hit(self) -> bool:
        return any(r.outcome == "rate_limited" for r in self.results)


class QuotaExhausted(Exception):
    pass


def as_series_document(doc: dict[str, Any], market_code: str = "USD") -> dict[str, Any]:
    """An Alpha Vantage crypto answer in the shape `avformat.parse_series` reads; any other
    document unchanged. DIGITAL_CURRENCY_DAILY answers `Time Series (Digital Currency Daily)`
    with `1. open`..`5. volume` (current) or `1a. open (USD)`, `1b. open (USD)`, ...,
    `5. volume`, `6. market cap (USD)` (older); CRYPTO_INTRADAY answers
    `Time Series Crypto (60min)`. Both name the coin in `2. Digital Currency Code`."""
    raw_key = next((k for k in CRYPTO_SERIES_KEYS if k in doc), None)
    if raw_key is None or CRYPTO_SERIES_KEYS[raw_key] in doc:
        return doc
    series = doc[raw_key]
    out = {k: v for k, v in doc.items() if k != raw_key}
    out[CRYPTO_SERIES_KEYS[raw_key]] = (
        {stamp: _plain_bar(bar, market_code) for stamp, bar in series.items()}
        if isinstance(series, dict) else series)
    return out


def _plain_bar(bar: object, market_code: str) -> object:
    if not isinstance(bar, dict):
        return bar
    out = dict(bar)
    for n, name in _FIELDS:
        plain = f"{n}. {name}"
        if plain in out:
            continue
        for key in (f"{n}a. {name} ({market_code})", f"{n}b. {name} (USD)",
                    f"{n}a. {name} (USD)"):
            if key in bar:
                out[plain] = bar[key]
                break
    return out


def _stamp(instant: datetime) -> str:
    """The form of `store.utcnow()`, for fetch_log."""
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AlphaVantageFetcher:
    def __init__(
        self,
        store: Store,
        session: aiohttp.ClientSession,
        *,
        api_key: str,
        calendar: Calendar | None = None,
        market: Market | None = None,
        base_url: str = BASE_URL,
        min_interval: float = 1.0,
        retries: int = 3,
        backoff: float = 2.0,
        throttle_wait: float = 60.0,
        refetch_after: timedelta = timedelta(hours=6),
        history_start: date | None = None,
        end: date | None = None,
        crypto_market: str = "USD",
        settle: timedelta = timedelta(minutes=20),
        timeout: float = 30.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not api_key:
            raise DataError("fetching needs ALPHAADVANTAGE_API_KEY; `aitrader prices demo` "
                            "makes a synthetic market that needs none")
        self._market = market or markets.get("us", "daily")
        if self._market.key == "cn":
            raise DataError(CN_IMPORT_HINT)
        self._feed = Feed(self._market.key, str(self._market.frequency))
        self._store = store
        self._http = session
        self._key = api_key
        self._cal = calendar or self._market.schedule.calendar()
        self._url = base_url
        self._min_interval = min_interval
        self._retries = retries
        self._backoff = backoff
        self._throttle_wait = throttle_wait
        self._refetch_after = refetch_after
        self._history_start = history_start
        self._end = end
        self._quote = crypto_market.upper()
        self._settle = settle
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._now = now
        self._last_request = 0.0

    @property
    def feed(self) -> Feed:
        return self._feed

    # -- US daily -------------------------------------------------------------------------

    async def plan(
        self, symbols: Sequence[str]
    ) -> tuple[str, list[SymbolPlan], list[SymbolResult]]:
        """What to ask for: symbols behind the latest closed session, not fetched recently."""
        latest = self._cal.last_closed(self._now()).isoformat()
        recent_cut = (self._now() - self._refetch_after).isoformat().replace("+00:00", "Z")
        plans: list[SymbolPlan] = []
        skipped: list[SymbolResult] = []
        async with self._store.read() as conn:
            for symbol in symbols:
                cur = await conn.execute(
                    "SELECT MAX(session) FROM bars WHERE market = ? AND frequency = ? AND "
                    "symbol = ? AND source != 'demo'",
                    (US_DAILY.market, US_DAILY.frequency, symbol),
                )
                row = await cur.fetchone()
                have = row[0] if row else None
                if have and have >= latest:
                    skipped.append(SymbolResult(symbol, "current", message=f"has {have}"))
                    continue
                cur = await conn.execute(
                    "SELECT 1 FROM fetch_log WHERE symbol = ? AND outcome = 'fetched' "
                    "AND fetched_at > ? LIMIT 1",
                    (symbol, recent_cut),
                )
                if await cur.fetchone():
                    skipped.append(SymbolResult(
                        symbol, "recent",
                        message="fetched recently; the provider has nothing newer yet"))
                    continue
                plans.append(SymbolPlan(symbol, have, self._outputsize(have, latest)))
        return latest, plans, skipped

    def _outputsize(self, have: str | None, latest: str) -> str:
        start = date.fromisoformat(have) if have else self._history_start
        if start is None:
            return "compact"
        missing = len(self._cal.between(start, date.fromisoformat(latest)))
        return "full" if missing > COMPACT_SESSIONS else "compact"

    # -- US hourly and crypto -------------------------------------------------------------

    async def plan_slices(
        self, symbols: Sequence[str]
    ) -> tuple[str, list[SlicePlan], list[SymbolResult]]:
        """What to ask for: per symbol, the closed sessions of the range without a real bar,
        as one request per month (US hourly) or per series (crypto), minus sessions the
        provider was already asked for (`recent`) or did not have (taken as absent)."""
        m = self._market
        now = self._now()
        cut = now - self._settle
        today = cut.astimezone(m.schedule.zone).date()
        end = min(self._end, today) if self._end else today
        upto = [s for s in m.sessions(end - timedelta(days=10), end) if s.end <= cut]
        latest = upto[-1].id if upto else ""
        lately = [s for s in m.sessions(today - timedelta(days=10), today) if s.end <= cut]
        # CRYPTO_INTRADAY `compact` covers the latest 100 closed hours
        compact_from = (lately[-COMPACT_SESSIONS].start if len(lately) >= COMPACT_SESSIONS
                        else None)
        plans: list[SlicePlan] = []
        skipped: list[SymbolResult] = []
        async with self._store.read() as conn:
            for symbol in symbols:
                if not (m.in_universe(symbol) or symbol in m.benchmark.constituents()):
                    skipped.append(SymbolResult(symbol, "invalid",
                                                message=f"not a symbol of {m.title}"))
                    continue
                have = await self._sessions_held(conn, symbol)
                expected = self._expected(have[-1] if have else None, end, cut)
                held = set(have)
                missing = [s for s in expected if s.id not in held]
                if not missing:
                    skipped.append(SymbolResult(
                        symbol, "current",
                        message=f"has {have[-1]}" if have else "no closed session in the range"))
                    continue
                for part, group in self._slices(missing):
                    key = f"{self._feed}:{symbol}" + (f":{part}" if part else "")
                    fetched = await self._last_fetched(conn, key)
                    asked = await self._asked(conn, key)
                    # absent at the provider: asked for by a request made long enough after
                    # it closed, and not in the answer (never: merely not asked for)
                    todo = [s for s in group if not any(
                        lo <= s.id <= hi and when >= s.end + self._refetch_after
                        for when, lo, hi in asked)]
                    if not todo:
                        skipped.append(SymbolResult(
                            symbol, "current", part=part,
                            message=f"{_sessions(len(group))} without a bar at Alpha "
                                    "Vantage when asked after closing; not asked again"))
                        continue
                    if (fetched is not None and fetched > now - self._refetch_after
                            and all(s.end + self._settle <= fetched for s in todo)):
                        skipped.append(SymbolResult(
                            symbol, "recent", part=part,
                            message="fetched recently; the provider has nothing newer yet"))
                        continue
                    plans.append(SlicePlan(symbol, part, tuple(s.id for s in todo),
                                           self._params(symbol, part, todo, compact_from),
                                           key))
        return latest, plans, skipped

    def _expected(self, last: str | None, end: date, cut: datetime) -> list[Session]:
        """The closed sessions a symbol should have: from --start, else from the day of its
        last real bar, else the default window (US hourly: the latest month; crypto: the
        latest 100 sessions)."""
        m = self._market
        if self._history_start or last:
            start = self._history_start or date.fromisoformat(str(last)[:10])
            return [s for s in m.sessions(start, end) if s.end <= cut]
        if m.key == "us":
            return [s for s in m.sessions(end.replace(day=1), end) if s.end <= cut]
        span = timedelta(days=COMPACT_SESSIONS if not m.hourly else COMPACT_SESSIONS // 24 + 1)
        return [s for s in m.sessions(end - span, end) if s.end <= cut][-COMPACT_SESSIONS:]

    def _slices(self, missing: list[Session]) -> Iterator[tuple[str, list[Session]]]:
        if self._feed != Feed("us", "hourly"):
            yield "", missing
            return
        months: dict[str, list[Session]] = {}
        for s in missing:
            months.setdefault(s.day.isoformat()[:7], []).append(s)
        yield from months.items()

    def _params(self, symbol: str, part: str, todo: list[Session],
                compact_from: datetime | None) -> tuple[tuple[str, str], ...]:
        if self._market.key == "us":
            return (("function", "TIME_SERIES_INTRADAY"), ("symbol", symbol),
                    ("interval", "60min"), ("month", part), ("outputsize", "full"),
                    ("extended_hours", "false"), ("adjusted", "false"))
        coin = symbol.removesuffix("-USDT")
        if not self._market.hourly:
            return (("function", "DIGITAL_CURRENCY_DAILY"), ("symbol", coin),
                    ("market", self._quote))
        size = ("compact" if compact_from is not None and todo[0].start >= compact_from
                else "full")
        return (("function", "CRYPTO_INTRADAY"), ("symbol", coin), ("market", self._quote),
                ("interval", "60min"), ("outputsize", size))

    async def _sessions_held(self, conn: aiosqlite.Connection, symbol: str) -> list[str]:
        cur = await conn.execute(
            "SELECT session FROM bars WHERE market = ? AND frequency = ? AND symbol = ? "
            "AND source != 'demo' ORDER BY session",
            (self._feed.market, self._feed.frequency, symbol))
        return [row[0] for row in await cur.fetchall()]

    @staticmethod
    async def _asked(conn: aiosqlite.Connection, key: str
                     ) -> list[tuple[datetime, str, str]]:
        """(when, first, last session asked for) of the answered requests for `key`."""
        cur = await conn.execute(
            "SELECT fetched_at, asked_from, asked_to FROM fetch_log WHERE symbol = ? AND "
            "outcome = 'fetched' AND asked_from IS NOT NULL", (key,))
        return [(datetime.fromisoformat(r[0]), r[1], r[2]) for r in await cur.fetchall()]

    @staticmethod
    async def _last_fetched(conn: aiosqlite.Connection, key: str) -> datetime | None:
        cur = await conn.execute(
            "SELECT MAX(fetched_at) FROM fetch_log WHERE symbol = ? AND outcome = 'fetched'",
            (key,))
        row = await cur.fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    # -- running the plan -------------------------------------------------------------------

    async def fetch(
        self,
        symbols: Sequence[str],
        *,
        on_progress: Callable[[SymbolResult], None] | None = None,
        on_plan: Callable[[int], None] | None = None,
    ) -> FetchSummary:
        plans: list[SymbolPlan | SlicePlan] = []
        if self._feed == US_DAILY:
            latest, daily, skipped = await self.plan(symbols)
            plans.extend(daily)
        else:
            latest, slices, skipped = await self.plan_slices(symbols)
            plans.extend(slices)
        summary = FetchSummary(latest_session=latest, results=list(skipped),
                               feed=str(self._feed))
        if on_plan:
            on_plan(len(plans))
        for i, plan in enumerate(plans):
            try:
                result = await (self._fetch_one(plan) if isinstance(plan, SymbolPlan)
                                else self._fetch_slice(plan))
            except QuotaExhausted as exc:
                for rest in plans[i:]:
                    summary.results.append(SymbolResult(rest.symbol, "rate_limited", 0,
                                                        str(exc), rest.part))
                log.warning("alphavantage_quota", feed=str(self._feed),
                            not_fetched=len(plans) - i)
                break
            summary.results.append(result)
            await self._remember(result, plan.log_key)
            if on_progress:
                on_progress(result)
        return summary

    async def _fetch_one(self, plan: SymbolPlan) -> SymbolResult:
        doc, notice, note = await self._ask({"function": "TIME_SERIES_DAILY",
                                             "symbol": plan.symbol,
                                             "outputsize": plan.outputsize})
        if doc is None:
            return SymbolResult(plan.symbol, "failed", message=note)
        if notice:
            return SymbolResult(plan.symbol, _outcome(notice), message=notice.message)
        try:
            series = parse_series(doc, source="alphavantage")
        except DataError as exc:
            return SymbolResult(plan.symbol, "failed", message=exc.message)
        if series.symbol != plan.symbol:
            return SymbolResult(plan.symbol, "failed",
                                message=f"the response is for {series.symbol}")
        new = [b for b in series.bars
               if plan.have_until is None or b.session > plan.have_until]
        written = await upsert_bars(self._store, US_DAILY, new)
        return SymbolResult(plan.symbol, "fetched", written, note)

    async def _fetch_slice(self, plan: SlicePlan) -> SymbolResult:
        """Ask, check the answer is this symbol's series of this feed, and store the bars of
        the missing sessions only; any other answer stores nothing and says why."""
        def result(outcome: str, bars: int = 0, message: str = "") -> SymbolResult:
            return SymbolResult(plan.symbol, outcome, bars, message, plan.part)

        doc, notice, note = await self._ask(dict(plan.params))
        if doc is None:
            return result("failed", message=note)
        if notice:
            return result(_outcome(notice), message=notice.message)
        meta = doc.get("Meta Data")
        quoted = meta.get("4. Market Code") if isinstance(meta, dict) else None
        if self._market.key == "crypto" and quoted and str(quoted).upper() != self._quote:
            return result("failed", message=f"the response is quoted in {str(quoted)[:10]}, "
                                            f"not {self._quote}")
        try:
            series = parse_series(doc, source=HOURLY_SOURCE if self._market.key == "us"
                                  else "alphavantage")
        except DataError as exc:
            return result("failed", message=exc.message)
        if series.symbol != plan.symbol:
            return result("failed", message=f"the response is for {series.symbol[:20]}")
        if series.feed != self._feed:
            return result("failed", message=f"the response holds {series.feed} bars, "
                                            f"not {self._feed}")
        wanted = set(plan.missing)
        new = [b for b in series.bars if b.session in wanted]
        written = await upsert_bars(self._store, self._feed, new)
        spanned = sorted(b.session for b in series.bars)
        covered = (max(plan.missing[0], spanned[0]), min(plan.missing[-1], spanned[-1])) \
            if spanned and plan.missing else None
        notes = [note] if note else []
        if len(new) < len(wanted):
            notes.append(f"{len(wanted) - len(new)} of {_sessions(len(wanted))} asked for are "
                         "not in the answer")
        if series.skipped:
            notes.append(f"{len(series.skipped)} entries unusable ({series.skipped[0]})")
        return attrs.evolve(result("fetched", written, "; ".join(notes)), covered=covered)

    async def _ask(self, params: dict[str, str]
                   ) -> tuple[dict[str, Any] | None, Notice | None, str]:
        """One call under the quota rules: a premium `full` falls back to `compact`; a "Note"
        (the per-minute throttle) is waited out once; a rate limit that remains raises
        QuotaExhausted. (None, None, why) when the call failed."""
        doc, note = await self._request(params)
        if doc is None:
            return None, None, note
        notice = self._notice(doc)
        if notice and notice.kind == "premium" and params.get("outputsize") == "full":
            params = {**params, "outputsize": "compact"}
            doc, note = await self._request(params)
            if doc is None:
                return None, None, note
            notice = self._notice(doc)
            note = PREMIUM_NOTE
        if notice and notice.kind == "rate_limit":
            # "Note" is the per-minute throttle: wait once. A daily quota will not pass by waiting.
            if "Note" in doc and self._throttle_wait >= 0:
                await asyncio.sleep(self._throttle_wait)
                doc, why = await self._request(params)
                if doc is None:
                    return None, None, why
                notice = self._notice(doc)
            if notice and notice.kind == "rate_limit":
                raise QuotaExhausted(f"Alpha Vantage rate limit: {notice.message}")
        return doc, notice, note

    def _notice(self, doc: dict[str, Any]) -> Notice | None:
        """The body's notice, with the API key (Alpha Vantage quotes it) blotted out."""
        notice = notice_of(doc)
        if notice and self._key in notice.message:
            notice = Notice(notice.kind, notice.message.replace(self._key, "***"))
        return notice

    async def _request(self, params: dict[str, str]) -> tuple[dict[str, Any] | None, str]:
        """The decoded body, or (None, why) after retries of 5xx / network errors."""
        query = {**params, "apikey": self._key}
        why = ""
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            await self._pace()
            try:
                async with self._http.get(self._url, params=query,
                                          timeout=self._timeout) as resp:
                    if resp.status >= 500:
                        why = f"HTTP {resp.status} from Alpha Vantage"
                        continue
                    if resp.status != 200:
                        return None, f"HTTP {resp.status} from Alpha Vantage"
                    text = await resp.text()
            except (aiohttp.ClientError, TimeoutError) as exc:
                why = f"network error: {type(exc).__name__}"
                continue
            try:
                body = json.loads(text)
            except json.JSONDecodeError:
                return None, "Alpha Vantage answered with something that is not JSON"
            if not isinstance(body, dict):
                return {"Error Message": "not an object"}, ""
            return as_series_document(body, self._quote), ""
        return None, f"{why} (after {self._retries + 1} tries)"

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self._last_request + self._min_interval - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_request = loop.time()

    async def _remember(self, result: SymbolResult, key: str) -> None:
        lo, hi = result.covered or (None, None)
        async with self._store.write() as conn:
            await conn.execute(
                "INSERT INTO fetch_log (symbol, fetched_at, outcome, bars, message, "
                "asked_from, asked_to) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, _stamp(self._now()), result.outcome, result.new_bars, result.message,
                 lo, hi),
            )


def _outcome(notice: Notice) -> str:
    """A notice body's outcome: invalid (an "Error Message"), premium, or failed."""
    return notice.kind if notice.kind in ("invalid", "premium") else "failed"


def _sessions(n: int) -> str:
    return f"{n} session" if n == 1 else f"{n} sessions"
