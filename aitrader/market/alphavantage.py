"""The Alpha Vantage fetcher: only the missing days of the missing symbols, honest about limits.

The free tier allows about 25 requests a day and answers 200 with a "Note"/"Information" body
when throttled; `outputsize=full` is premium-only. So: one request per symbol that lacks recent
sessions, `compact` (the latest 100 sessions) unless the gap is longer, a symbol fetched
recently is not asked for again, and the summary says which symbols were not fetched and why.
The API key is never logged and never appears in a message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

import aiohttp
import attrs
import structlog

from aitrader.errors import DataError
from aitrader.market.avformat import notice_of, parse_series
from aitrader.market.calendar import Calendar
from aitrader.market.prices import US_DAILY, upsert_bars
from aitrader.store import Store, utcnow

log = structlog.get_logger(__name__)

BASE_URL = "https://www.alphavantage.co/query"
COMPACT_SESSIONS = 100


@attrs.frozen
class SymbolPlan:
    symbol: str
    have_until: str | None  # last real (non-demo) bar already stored
    outputsize: str  # compact | full


@attrs.frozen
class SymbolResult:
    symbol: str
    outcome: str  # fetched | current | recent | rate_limited | premium | invalid | failed
    new_bars: int = 0
    message: str = ""


@attrs.define
class FetchSummary:
    latest_session: str
    results: list[SymbolResult] = attrs.Factory(list)

    def by_outcome(self, outcome: str) -> list[SymbolResult]:
        return [r for r in self.results if r.outcome == outcome]

    @property
    def quota_hit(self) -> bool:
        return any(r.outcome == "rate_limited" for r in self.results)


class QuotaExhausted(Exception):
    pass


class AlphaVantageFetcher:
    def __init__(
        self,
        store: Store,
        session: aiohttp.ClientSession,
        *,
        api_key: str,
        calendar: Calendar,
        base_url: str = BASE_URL,
        min_interval: float = 1.0,
        retries: int = 3,
        backoff: float = 2.0,
        throttle_wait: float = 60.0,
        refetch_after: timedelta = timedelta(hours=6),
        history_start: date | None = None,
        timeout: float = 30.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not api_key:
            raise DataError("fetching needs ALPHAADVANTAGE_API_KEY; `aitrader prices demo` "
                            "makes a synthetic market that needs none")
        self._store = store
        self._http = session
        self._key = api_key
        self._cal = calendar
        self._url = base_url
        self._min_interval = min_interval
        self._retries = retries
        self._backoff = backoff
        self._throttle_wait = throttle_wait
        self._refetch_after = refetch_after
        self._history_start = history_start
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._now = now
        self._last_request = 0.0

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

    async def fetch(
        self,
        symbols: Sequence[str],
        *,
        on_progress: Callable[[SymbolResult], None] | None = None,
        on_plan: Callable[[int], None] | None = None,
    ) -> FetchSummary:
        latest, plans, skipped = await self.plan(symbols)
        summary = FetchSummary(latest_session=latest, results=list(skipped))
        if on_plan:
            on_plan(len(plans))
        for i, plan in enumerate(plans):
            try:
                result = await self._fetch_one(plan)
            except QuotaExhausted as exc:
                for rest in plans[i:]:
                    summary.results.append(SymbolResult(rest.symbol, "rate_limited", 0, str(exc)))
                log.warning("alphavantage_quota", not_fetched=len(plans) - i)
                break
            summary.results.append(result)
            await self._remember(result)
            if on_progress:
                on_progress(result)
        return summary

    async def _fetch_one(self, plan: SymbolPlan) -> SymbolResult:
        doc, note = await self._request(plan.symbol, plan.outputsize)
        if doc is None:
            return SymbolResult(plan.symbol, "failed", message=note)
        notice = notice_of(doc)
        if notice and notice.kind == "premium" and plan.outputsize == "full":
            doc, note = await self._request(plan.symbol, "compact")
            if doc is None:
                return SymbolResult(plan.symbol, "failed", message=note)
            notice = notice_of(doc)
            note = ("the full history is a premium feature; fetched the latest "
                    f"{COMPACT_SESSIONS} sessions only")
        if notice and notice.kind == "rate_limit":
            # "Note" is the per-minute throttle: wait once. A daily quota will not pass by waiting.
            if "Note" in doc and self._throttle_wait >= 0:
                await asyncio.sleep(self._throttle_wait)
                doc, note = await self._request(plan.symbol, plan.outputsize)
                notice = notice_of(doc) if doc is not None else None
                if doc is None:
                    return SymbolResult(plan.symbol, "failed", message=note)
            if notice and notice.kind == "rate_limit":
                raise QuotaExhausted(f"Alpha Vantage rate limit: {notice.message}")
        if notice:
            outcome = "invalid" if notice.kind == "invalid" else notice.kind
            return SymbolResult(plan.symbol, outcome if outcome != "unknown" else "failed",
                                message=notice.message)
        assert doc is not None
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

    async def _request(self, symbol: str, outputsize: str) -> tuple[dict | None, str]:  # type: ignore[type-arg]
        """The decoded body, or (None, why) after retries of 5xx / network errors."""
        params = {"function": "TIME_SERIES_DAILY", "symbol": symbol,
                  "outputsize": outputsize, "apikey": self._key}
        why = ""
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            await self._pace()
            try:
                async with self._http.get(self._url, params=params,
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
            return (body if isinstance(body, dict) else {"Error Message": "not an object"}), ""
        return None, f"{why} (after {self._retries + 1} tries)"

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        wait = self._last_request + self._min_interval - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_request = loop.time()

    async def _remember(self, result: SymbolResult) -> None:
        async with self._store.write() as conn:
            await conn.execute(
                "INSERT INTO fetch_log (symbol, fetched_at, outcome, bars, message) "
                "VALUES (?, ?, ?, ?, ?)",
                (result.symbol, utcnow(), result.outcome, result.new_bars, result.message),
            )
