"""Value series over a window, for models (from their end-of-session snapshots) and for their
market's benchmark, plus the benchmark index's own close-to-close return.

One leaderboard is one market and frequency (MARKETS.md: a run never mixes them). A series
starts at a baseline point, the model's value just before the window (its initial cash on its
init date, or its snapshot at the last session before the window, valued at that session's
closes), then has one point per session with data: cash + quantity x that session's close.
Sessions a model did not trade carry its last snapshot (positions carry over).

The benchmark receives the largest starting cash among the models, buys at the open of the
first session after the baseline and holds (MARKETS.md): QQQ in whole shares, as the models
trade it; an index (000016.SH), the SSE 50 hourly replica and the CD5 basket in fractional
units, since no lot of an index exists. The index return beside it is the index's (or the
basket's) own move from the close of the baseline session to the window's last close: the
figure the original benchmark publishes (QQQ +3.78% for October 2025, where whole shares
bought at the first open give +3.04%).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

import attrs

from aitrader import markets
from aitrader.errors import DataError, InvalidInput, NotFound
from aitrader.ledger.metrics import Metrics, compute
from aitrader.market.prices import Feed, any_demo_between, closes_between, last_close_before
from aitrader.markets import BenchmarkKind, Market, Session
from aitrader.money import div, mul
from aitrader.store import Store, scalar


@attrs.frozen
class Point:
    date: str  # the session id (a date for daily runs); the baseline may be an init date
    amount: Decimal  # the exact value

    @property
    def value(self) -> float:
        return float(self.amount)


@attrs.frozen
class Series:
    name: str
    points: tuple[Point, ...]
    metrics: Metrics

    def daily(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for prev, pt in zip((None, *self.points), self.points, strict=False):
            ret = (float(pt.amount / prev.amount) - 1) * 100 if prev and prev.amount else 0.0
            out.append(
                {
                    "date": pt.date,
                    "portfolio_value": round(pt.value, 4),
                    "daily_return_pct": round(ret, 6),
                }
            )
        return out


@attrs.frozen
class IndexReturn:
    """The benchmark index's own close-to-close move over the window."""

    symbol: str
    name: str
    start: str | None  # the session whose close it starts from (the baseline)
    end: str | None
    value: float | None  # None when a close is missing: `note` says which
    note: str | None = None

    def as_json(self) -> dict[str, object]:
        """How the API and `report --json` write it."""
        return {"symbol": self.symbol, "name": self.name, "from_session": self.start,
                "to_session": self.end, "return": self.value, "note": self.note}


def _feed(market: Market) -> Feed:
    return Feed(market.key, str(market.frequency))


def _benchmark_query(market: Market, feed: Feed | None = None
                     ) -> tuple[Feed, tuple[str, ...], str]:
    """The feed, the benchmark's series and their `?` placeholders for an `IN (...)`."""
    names = market.benchmark.constituents()
    return feed or _feed(market), names, ",".join("?" * len(names))


def _after(s: Session, label: str) -> bool:
    """Is session `s` after the baseline `label` (a session id, or a model's init date)?"""
    return s.day > date.fromisoformat(label) if len(label) == 10 else s.id > label


async def _sessions_with_data(store: Store, market: Market, first: date, last: date
                              ) -> list[Session]:
    """The market's sessions of the days first..last where a benchmark series has a bar."""
    feed, names, marks = _benchmark_query(market)
    async with store.read() as conn:
        cur = await conn.execute(
            f"SELECT DISTINCT session FROM bars WHERE market = ? AND frequency = ? "
            f"AND symbol IN ({marks}) AND session >= ? AND session < ?",
            (feed.market, feed.frequency, *names, first.isoformat(),
             (last + timedelta(1)).isoformat()))
        have = {r[0] for r in await cur.fetchall()}
    return [s for s in market.sessions(first, last) if s.id in have]


async def _latest(store: Store, market: Market) -> str | None:
    """The last session of a leaderboard's window: the latest bar of the benchmark (of its
    most recent constituent: one that stops trading is carried at its last close), but not
    past the latest session in which at least half the universe has bars. The original's
    merged files cut the stocks' last day to its open while the index file keeps its close,
    and a few symbols fetched a day ahead would do the same: a window ending there would
    value every other holding at the day before's close under that day's label."""
    feed, names, marks = _benchmark_query(market)
    async with store.read() as conn:
        cur = await conn.execute(
            f"SELECT symbol, MAX(session) FROM bars WHERE market = ? AND frequency = ? "
            f"AND symbol IN ({marks}) GROUP BY symbol",
            (feed.market, feed.frequency, *names))
        found: dict[str, str] = {r[0]: r[1] for r in await cur.fetchall()}
        if set(found) != set(names):
            return None
        last = max(found.values())
        universe = ",".join("?" * len(market.universe))
        held = await scalar(conn, f"SELECT COUNT(DISTINCT symbol) FROM bars WHERE market = ? "
                            f"AND frequency = ? AND symbol IN ({universe})",
                            (feed.market, feed.frequency, *market.universe))
        if not held:
            return last  # only the benchmark's own series is there
        recent = (date.fromisoformat(last[:10]) - timedelta(days=40)).isoformat()
        wide = await scalar(
            conn, f"SELECT session FROM bars WHERE market = ? AND frequency = ? AND symbol IN "
            f"({universe}) AND session >= ? AND session <= ? GROUP BY session "
            f"HAVING COUNT(*) * 2 >= ? ORDER BY session DESC LIMIT 1",
            (feed.market, feed.frequency, *market.universe, recent, last, held))
    return min(last, wide) if wide else last


async def baseline(store: Store, market: Market, model: str, first: Session
                   ) -> tuple[str, Decimal]:
    """(label, value) of the model just before the window whose first session is `first`:
    its init date and cash, or the session before `first` and its value at that close."""
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT initial_cash, init_date FROM models WHERE signature = ?", (model,)
        )
        row = await cur.fetchone()
        if not row:
            raise NotFound(f"unknown model {model}", model=model)
        cash, init_date = Decimal(row[0]), row[1]
        before = market.previous_session(first.id)
        if before is None or before.day <= date.fromisoformat(init_date):
            return init_date, cash
        snap = await scalar(
            conn, "SELECT MAX(date) FROM eod WHERE model = ? AND date <= ?", (model, before.id)
        )
    if snap is None:
        return before.id, cash
    return before.id, await _value_on(store, market, model, snap, before.id)


async def _value_on(store: Store, market: Market, model: str, snap: str, session: str
                    ) -> Decimal:
    feed = _feed(market)
    async with store.read() as conn:
        value = Decimal(await scalar(
            conn, "SELECT cash FROM eod WHERE model = ? AND date = ?", (model, snap)))
        cur = await conn.execute(
            "SELECT symbol, quantity FROM holdings WHERE model = ? AND date = ?", (model, snap)
        )
        for sym, n in await cur.fetchall():
            found = await last_close_before(conn, feed, sym, session)
            if not found:
                raise DataError(f"no close for {sym} on or before {session}")
            value += mul(Decimal(n), found[1])
    return value


async def _closes(store: Store, market: Market, symbols: Sequence[str], b_label: str,
                  end: str) -> tuple[dict[str, dict[str, Decimal]], dict[str, Decimal]]:
    """The closes of `symbols` per session after the baseline through `end`, and each
    symbol's last close on or before the baseline (to carry into a session without a bar)."""
    feed = _feed(market)
    closes = await closes_between(store, feed, list(symbols), b_label, end)
    last: dict[str, Decimal] = {}
    async with store.read() as conn:
        for sym in symbols:
            found = await last_close_before(conn, feed, sym, b_label)
            if found:
                last[sym] = found[1]
    return closes, last


async def model_series(store: Store, market: Market, model: str, first: Session,
                       window: Sequence[Session], end: str, *, risk_free: float = 0.0
                       ) -> Series:
    b_label, b_value = await baseline(store, market, model, first)
    sessions = [s for s in window if _after(s, b_label)]
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT date, cash FROM eod WHERE model = ? AND date <= ? ORDER BY date",
            (model, end),
        )
        snaps = [(d, Decimal(c)) for d, c in await cur.fetchall()]
        cur = await conn.execute(
            "SELECT date, symbol, quantity FROM holdings WHERE model = ? AND date <= ?",
            (model, end))
        held: dict[str, dict[str, Decimal]] = {}
        for d, sym, n in await cur.fetchall():
            held.setdefault(d, {})[sym] = Decimal(n)
    symbols = sorted({s for h in held.values() for s in h})
    closes, last_close = await _closes(store, market, symbols, b_label, end)
    points = [Point(b_label, b_value)]
    i, cur_snap = 0, None
    for s in sessions:
        while i < len(snaps) and snaps[i][0] <= s.id:
            cur_snap = snaps[i]
            i += 1
        last_close.update(closes.get(s.id, {}))
        if cur_snap is None:
            points.append(Point(s.id, points[0].amount))
            continue
        value = cur_snap[1]
        for sym, n in held.get(cur_snap[0], {}).items():
            if sym not in last_close:
                raise DataError(f"no close for {sym} on or before {s.id}")
            value += mul(n, last_close[sym])
        points.append(Point(s.id, value))
    return Series(model, tuple(points), compute(
        [p.value for p in points], risk_free_annual=risk_free,
        periods_per_year=market.periods_per_year))


async def _prices_at(store: Store, market: Market, session: str, field: str,
                     feed: Feed | None = None) -> dict[str, Decimal]:
    """`field` (open or close) of each benchmark constituent in `session`."""
    feed, names, marks = _benchmark_query(market, feed)
    assert field in ("open", "close")
    async with store.read() as conn:
        cur = await conn.execute(
            f"SELECT symbol, {field} FROM bars WHERE market = ? AND frequency = ? "
            f"AND session = ? AND symbol IN ({marks})",
            (feed.market, feed.frequency, session, *names))
        return {sym: Decimal(v) for sym, v in await cur.fetchall()}


async def _replica_base(store: Store, market: Market) -> tuple[dict[str, Decimal], str | None]:
    """Units of each constituent per unit of index weight: weight / its close on the weight
    date (MARKETS.md), read from this feed's last session of that date or the market's daily
    feed. Without those closes (data that starts later, such as a short demo range) the
    weights apply at the first open instead, and the note says so."""
    bench = market.benchmark
    assert bench.weight_date is not None
    day = bench.weight_date
    own = market.sessions_of_day(day)
    daily = markets.get(market.key, "daily")
    for feed, ids in ((_feed(market), [s.id for s in own][-1:]), (_feed(daily), [day.isoformat()])):
        if not ids:
            continue
        closes = await _prices_at(store, market, ids[0], "close", feed)
        if set(closes) == set(bench.weights):
            return {sym: div(w, closes[sym]) for sym, w in bench.weights.items()}, None
    return dict(bench.weights), (f"no closes of every constituent on {day.isoformat()}: the "
                                 f"weights apply at the first open")


async def _units(store: Store, market: Market, cash: Decimal, prices: Mapping[str, Decimal],
                 *, whole: bool) -> tuple[dict[str, Decimal], Decimal, str | None]:
    """What `cash` buys of the benchmark at `prices`: (units, cash left, note)."""
    bench = market.benchmark
    names = bench.constituents()
    missing = [s for s in names if s not in prices]
    if missing:
        raise DataError(f"no price of {', '.join(missing[:5])} for the {bench.symbol} benchmark")
    if bench.kind is BenchmarkKind.SERIES:
        price = prices[bench.symbol]
        units = cash // price if whole else div(cash, price)
        return {bench.symbol: units}, cash - mul(units, price), None
    note = None
    if bench.kind is BenchmarkKind.REPLICA:
        base, note = await _replica_base(store, market)
        if note:
            base = {s: div(w, prices[s]) for s, w in base.items()}
    else:  # BASKET: each weight (normalised to sum to 1) of the cash at its price
        total = sum(bench.weights.values(), Decimal(0))
        base = {s: div(div(w, total), prices[s]) for s, w in bench.weights.items()}
    scale = div(cash, sum((mul(u, prices[s]) for s, u in base.items()), Decimal(0)))
    return {s: mul(u, scale) for s, u in base.items()}, Decimal(0), note


def _valued(units: Mapping[str, Decimal], left: Decimal, closes: Mapping[str, Decimal]
            ) -> Decimal:
    return left + sum((mul(n, closes[s]) for s, n in units.items()), Decimal(0))


async def benchmark_series(store: Store, market: Market, b_label: str, cash: Decimal,
                           window: Sequence[Session], end: str, *, risk_free: float = 0.0
                           ) -> tuple[Series, str | None]:
    bench = market.benchmark
    sessions = [s for s in window if _after(s, b_label)]
    if not sessions:
        raise DataError(f"no {bench.symbol} data after {b_label}")
    opens = await _prices_at(store, market, sessions[0].id, "open")
    units, left, note = await _units(store, market, cash, opens, whole=bench.whole_units)
    closes, last = await _closes(store, market, bench.constituents(), b_label, end)
    points = [Point(b_label, cash)]
    for s in sessions:
        last.update(closes.get(s.id, {}))
        points.append(Point(s.id, _valued(units, left, last)))
    return Series(bench.symbol, tuple(points), compute(
        [p.value for p in points], risk_free_annual=risk_free,
        periods_per_year=market.periods_per_year)), note


async def index_return(store: Store, market: Market, first: Session, end: str
                       ) -> IndexReturn:
    """The index's close-to-close move from the session before `first` to `end`: its own
    series (QQQ, 000016.SH), or for a basket or replica its constituents held from that close
    in fractional units (which is the replica's or the basket's index ratio)."""
    bench = market.benchmark
    symbol = bench.index or bench.symbol
    name = {BenchmarkKind.REPLICA: "SSE 50 (hourly replica, close to close)",
            BenchmarkKind.BASKET: f"{bench.symbol} basket (close to close)"}.get(
                bench.kind, f"{symbol} (close to close)")
    before = market.previous_session(first.id)
    if before is None:
        return IndexReturn(symbol, name, None, end, None, "no session before the window")
    start_closes = await _prices_at(store, market, before.id, "close")
    note = None
    names = set(bench.constituents())
    if set(start_closes) != names and market.hourly \
            and before.id == market.sessions_of_day(before.day)[-1].id:
        # an hourly feed that starts with the window: the day's last bar closes with the
        # day, so the daily feed's close of that day is the same close
        start_closes = await _prices_at(store, market, before.day.isoformat(), "close",
                                        Feed(market.key, "daily"))
        note = f"starts from the daily close of {before.day.isoformat()}"
    end_closes = await _prices_at(store, market, end, "close")
    for label, have in ((before.id, start_closes), (end, end_closes)):
        if set(have) != names:
            return IndexReturn(symbol, name, before.id, end, None,
                               f"no {bench.symbol} close in session {label}")
    units, left, _ = await _units(store, market, Decimal(1_000_000), start_closes, whole=False)
    value = _valued(units, left, end_closes) / Decimal(1_000_000) - 1
    return IndexReturn(symbol, name, before.id, end, float(value), note)


@attrs.frozen
class Leaderboard:
    market: Market
    start: str
    end: str
    models: tuple[Series, ...]
    benchmark: Series | None
    index: IndexReturn | None
    synthetic: bool  # the window's prices include demo bars
    notes: tuple[str, ...] = ()


def _market_of(rows: Sequence[Sequence[str]]) -> Market:
    """The one market and frequency the models trade (InvalidInput naming them if several)."""
    kinds = sorted({f"{r[3]}/{r[4]}" for r in rows})
    if len(kinds) > 1:
        raise InvalidInput(f"the models trade several markets ({', '.join(kinds)}): name one "
                           f"with market and frequency", field="market")
    key, freq = kinds[0].split("/")
    return markets.get(key, freq)


async def leaderboard(
    store: Store,
    market: Market | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    models: list[str] | None = None,
    risk_free: float = 0.0,
) -> Leaderboard:
    """The models of one market and frequency over the window start..end (dates), with the
    benchmark and the index return. Without `market`, the models' own (they must share one).
    """
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT signature, init_date, initial_cash, market, frequency FROM models "
            "ORDER BY signature")
        every = [tuple(r) for r in await cur.fetchall() if models is None or r[0] in models]
    if not every:
        raise NotFound("no models in the ledger yet")
    market = market or _market_of(every)
    rows = [r for r in every if (r[3], r[4]) == (market.key, str(market.frequency))]
    if not rows:
        raise NotFound(f"no {market.label} models in the ledger")
    bench = market.benchmark
    last = await _latest(store, market)
    if not last:
        raise DataError(f"no {bench.symbol} prices for {market.label}: import or generate "
                        f"prices first")
    end_day = min(date.fromisoformat(end) if end else date.max, date.fromisoformat(last[:10]))
    start = start or min(r[1] for r in rows)
    first_day = date.fromisoformat(start)
    if end_day < first_day:
        raise DataError(f"no {bench.symbol} prices from {start} on (the latest is {last})")
    # every model's baseline is its init date or the session before the window's first
    earliest = min(date.fromisoformat(r[1]) for r in rows)
    window = await _sessions_with_data(store, market, min(earliest, first_day), end_day)
    window = [s for s in window if s.id <= last]
    first = next((s for s in window if s.day >= first_day), None)
    if first is None:
        raise DataError(f"no {bench.symbol} prices from {start} to {end_day.isoformat()}")
    end_id = window[-1].id
    series, unranked = [], []
    for r in rows:
        try:
            series.append(await model_series(store, market, r[0], first, window, end_id,
                                              risk_free=risk_free))
        except ValueError:  # no positive value to start from (everything lost before it)
            unranked.append(f"{r[0]} has no positive value at the window's start: not ranked")
    if not series:
        raise DataError(f"no {market.label} model has a positive value at the window's "
                        f"start")
    series.sort(key=lambda s: s.metrics.end_value / s.metrics.start_value, reverse=True)
    b_label = min((s.points[0].date for s in series), key=lambda x: (x[:10], x))
    cash = max(Decimal(r[2]) for r in rows)
    bench_series, note = await benchmark_series(store, market, b_label, cash, window, end_id,
                                                risk_free=risk_free)
    first_bench = next(s for s in window if _after(s, b_label))
    index = await index_return(store, market, first_bench, end_id)
    synthetic = await any_demo_between(store, _feed(market), b_label, end_id)
    return Leaderboard(market, start, end_id[:10], tuple(series), bench_series, index,
                       synthetic, tuple(n for n in (note,) if n) + market.notes
                       + tuple(unranked))
