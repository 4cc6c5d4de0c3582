"""AI-Trader's position.jsonl, every market: import a user's existing runs, export the ledger.

Each line: {"date", "id", "this_action": {"action", "symbol", "amount"}, "positions": {SYM: n,
..., "CASH": cash}}; the first line (no this_action) is the initial cash. The original's
variants (MARKETS.md, "The peer's files"): US and A-share dates (`2025-10-09`), hourly labels
as naive wall clock in the market's zone (`2025-10-31 10:00:00` New York, the bar's START;
`2025-10-09 10:30:00` Beijing, the bar's END), crypto actions `buy_crypto`/`sell_crypto` with
decimal amounts and holdings rounded to 4 places, buy/sell records with amount 0, ids that
restart (crypto) and records that do not follow from the one before (the crypto weekend bug).

Import: the market comes from the file's symbols, the frequency from its labels (either may
be given; a folder is one market). Each label becomes its session id; a session's records are
taken in id order (file order among equal ids), so its final state is the highest id among its
records, as the original reads it. Every session becomes a completed attempt whose trades are
the file's trades, each trade's total taken from the cash it moved (the fill price is total /
quantity) and its quantity from the holdings it moved, so the file's positions are kept
exactly; floats like 71.74999999999932 are rounded to 4 decimals (the original rounded cash to
4 places). No-op records (no_trade, amount 0) are sessions without a trade, never a trade of
0. A record whose positions do not follow from the one before, but do from an earlier
session's end (the original restarted from Friday's holdings on Sunday), is a break: it is
reported and kept as the file has it; the ledger undoes the trades the file lost, at their
own totals, so that every snapshot is still its trades' sum (the ledger invariants).

Export writes the same shape in the model's market's conventions: the original's labels,
`buy_crypto`/`sell_crypto` and float amounts for crypto, the whole universe in every record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import aiosqlite
import attrs

from aitrader import markets
from aitrader.errors import Conflict, InvalidInput
from aitrader.ledger.book import Position, value_position, write_eod
from aitrader.market.prices import Feed
from aitrader.markets import Market, Session
from aitrader.money import dec, num, text
from aitrader.store import Store, utcnow

IMPORT_SOURCE = "aitrader-import"
CASH_PLACES = Decimal("0.0001")
# the original rounded crypto holdings to 4 places after every trade: a trade's amount and the
# holdings it moved may differ by up to half a unit of the 4th place (0.02382 -> 0.0238)
ROUNDING = Decimal("0.00005")
HOUR = timedelta(hours=1)
ZERO = Decimal(0)
BUYS, SELLS = ("buy", "buy_crypto"), ("sell", "sell_crypto")
END_LABELLED = frozenset({"cn"})  # the original labels these markets' hourly bars by their end
INITIAL = "the initial position"


@attrs.frozen
class Break:
    """A record whose positions do not follow from the one before it (kept, not repaired)."""

    model: str
    session: str  # the session id
    label: str  # the record's date as the file writes it
    record_id: int
    restarts_from: str  # the label whose end positions it continues from, or INITIAL
    lost: tuple[str, ...]  # labels whose trades the file lost
    undone: int  # trades the ledger undoes so that its positions stay the file's

    def __str__(self) -> str:
        lost = (f"the trades of {', '.join(self.lost)} are lost in the file"
                if self.lost else "no trade is lost")
        return (f"{self.model} {self.label} (id {self.record_id}) continues from the positions "
                f"of {self.restarts_from}, not of the record before it: {lost} (kept as it is; "
                f"the ledger undoes those {self.undone} trades so that its positions stay the "
                "file's)")


@attrs.frozen
class ImportedModel:
    model: str
    init_date: str
    days: int  # sessions
    trades: int  # the file's trades (not counting what a break undoes)
    final_cash: Decimal
    market: str = "us"
    frequency: str = "daily"
    noops: int = 0  # buy/sell records with amount 0: sessions without a trade
    rounded: int = 0  # trades whose amount the file's holdings rounded (crypto, 4 places)
    breaks: tuple[Break, ...] = ()
    first: str | None = None  # first and last session ids
    last: str | None = None


def find_position_files(root: Path) -> dict[str, Path]:
    """<model>/position.jsonl or <model>/position/position.jsonl under `root`."""
    if not root.is_dir():
        raise InvalidInput(f"{root.name}: not a folder")
    found: dict[str, Path] = {}
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        for candidate in (child / "position.jsonl", child / "position" / "position.jsonl"):
            if candidate.is_file():
                found[child.name] = candidate
                break
    if not found:
        raise InvalidInput(
            f"{root.name}: no <model>/position.jsonl or <model>/position/position.jsonl inside")
    return found


# -- labels ---------------------------------------------------------------------------------

def session_of_label(market: Market, label: str) -> Session | None:
    """The session a position file's `date` names in `market`, or None: a date for daily runs;
    for hourly runs the original's naive wall clock in the market's zone (the bar's start, or
    its end for A-shares), or a session id with its offset."""
    raw = label.strip()
    if not market.hourly:
        if len(raw) != 10:
            return None
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            return None
        found = market.sessions_of_day(day)
        return found[0] if found else None
    try:
        wall = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if wall.tzinfo is None:
        wall = wall.replace(tzinfo=market.schedule.zone)
        if market.key in END_LABELLED:
            wall -= HOUR
    return market.schedule.at(wall)


def label_of_session(market: Market, session_id: str) -> str:
    """The original's `date` for a session: the date, or the naive local wall clock of the
    bar's start (its end for A-shares)."""
    if not market.hourly:
        return session_id
    local = market.session(session_id).start.astimezone(market.schedule.zone)
    if market.key in END_LABELLED:
        local += HOUR
    return local.strftime("%Y-%m-%d %H:%M:%S")


def _initial_label(market: Market, init_date: str, first: str | None) -> str:
    """The initial record's `date`: the init date for daily runs; for hourly runs the
    original's own convention, before the first session: the label of the first bar of the
    first session's day (US: `2025-10-01 10:00:00`; crypto like it), an hour before the
    day's first bar (A-shares: `2025-10-09 08:30:00`)."""
    if not market.hourly:
        return init_date
    if first is None:
        after = date.fromisoformat(init_date) + timedelta(days=1)
        upcoming = market.sessions(after, after + timedelta(days=20))
        if not upcoming:
            return f"{init_date} 00:00:00"
        first = upcoming[0].id
    opening = market.sessions_of_day(market.session(first).day)[0]
    if market.key in END_LABELLED:
        start = opening.start.astimezone(market.schedule.zone)
        return (start - HOUR).strftime("%Y-%m-%d %H:%M:%S")
    return label_of_session(market, opening.id)


# -- reading --------------------------------------------------------------------------------

@attrs.frozen
class _Record:
    line: int  # 1-based line in the file
    id: int
    label: str
    action: str  # "buy", "sell", or "" for a no-op
    raw_action: str
    symbol: str
    amount: Decimal
    position: Position


@attrs.frozen
class _Leg:
    action: str
    symbol: str
    quantity: Decimal
    total: Decimal
    undo: bool = False

    def inverse(self) -> _Leg:
        return _Leg("sell" if self.action == "buy" else "buy", self.symbol, self.quantity,
                    self.total, True)


@attrs.frozen
class _Session:
    session: Session
    label: str
    legs: tuple[_Leg, ...]
    position: Position
    note: str


@attrs.frozen
class _Replay:
    model: str
    market: Market
    init_date: str
    cash: Decimal
    sessions: tuple[_Session, ...]
    trades: int
    noops: int
    rounded: int
    breaks: tuple[Break, ...]


def _read_lines(path: Path, model: str) -> list[tuple[int, dict[str, Any]]]:
    lines: list[tuple[int, dict[str, Any]]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{model} line {n}: not valid JSON ({exc.msg})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("positions"), dict) \
                or "date" not in doc or "id" not in doc:
            raise InvalidInput(f"{model} line {n}: needs date, id and positions")
        try:
            doc["id"] = int(doc["id"])
        except (TypeError, ValueError):
            raise InvalidInput(f"{model} line {n}: id {doc['id']!r} is not a number") from None
        lines.append((n, doc))
    if not lines:
        raise InvalidInput(f"{model}: the file is empty")
    return lines


def _market_key_of(symbol: str) -> str:
    """The market whose universe holds `symbol` (us for a symbol no universe holds)."""
    for key in markets.KNOWN:
        market = markets.get(key)
        if market.in_universe(market.normalise(symbol)):
            return key
    return "us"


def detect_market(docs: Sequence[dict[str, Any]], model: str, *, market: str | None = None,
                  frequency: str | None = None) -> Market:
    """The market of a position file from its symbols (and `buy_crypto`/`sell_crypto`), the
    frequency from its dates (`YYYY-MM-DD`) or hourly labels (`YYYY-MM-DD HH:MM:SS`). Either
    may be given; the file must then agree with it."""
    symbols = {str(s) for d in docs for s in d["positions"] if s != "CASH"}
    actions = {str((d.get("this_action") or {}).get("action", "")) for d in docs}
    kinds = {_market_key_of(s) for s in symbols}
    if actions & {"buy_crypto", "sell_crypto"}:
        kinds.add("crypto")
    if len(kinds) > 1:
        raise InvalidInput(f"{model}: holds symbols of several markets ({', '.join(sorted(kinds))})"
                           "; a model trades one market", field="market")
    shapes = {len(str(d["date"]).strip()) > 10 for d in docs}
    if len(shapes) > 1:
        raise InvalidInput(f"{model}: mixes dates and hourly labels; a model trades one "
                           "frequency", field="frequency")
    found_key = kinds.pop() if kinds else None
    found_freq = "hourly" if shapes.pop() else "daily"
    if market and found_key and market != found_key:
        raise InvalidInput(f"{model}: its symbols are of the {found_key} market, not {market}",
                           field="market")
    if frequency and frequency != found_freq:
        raise InvalidInput(f"{model}: its dates are {found_freq} labels, not {frequency}",
                           field="frequency")
    return markets.get(market or found_key or "us", frequency or found_freq)


def _position(doc: dict[str, Any], where: str, market: Market) -> Position:
    raw = doc["positions"]
    if "CASH" not in raw:
        raise InvalidInput(f"{where}: positions has no CASH")
    places = market.lots.places
    held: dict[str, Decimal] = {}
    for sym, n in raw.items():
        if sym == "CASH":
            continue
        if isinstance(n, bool) or not isinstance(n, int | float) or n < 0:
            raise InvalidInput(f"{where}: {sym} holds {n!r}, not a number >= 0")
        qty = dec(n)
        if places == 0:
            if qty != qty.to_integral_value():
                raise InvalidInput(f"{where}: {sym} holds {n!r}, not a whole number >= 0")
            qty = Decimal(int(qty))
        else:
            qty = qty.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN).normalize()
        if qty:
            held[market.normalise(sym)] = qty
    try:
        cash = dec(raw["CASH"]).quantize(CASH_PLACES, rounding=ROUND_HALF_EVEN)
    except (ValueError, TypeError):
        raise InvalidInput(f"{where}: CASH is not a number") from None
    if cash < 0:
        raise InvalidInput(f"{where}: negative cash")
    return Position(cash, held)


def _record(n: int, doc: dict[str, Any], model: str, market: Market) -> _Record:
    where = f"{model} id {doc['id']}"
    act = doc.get("this_action") or {}
    if not isinstance(act, dict):
        raise InvalidInput(f"{where}: this_action is not an object")
    raw_action = str(act.get("action") or "no_trade")
    action = "buy" if raw_action in BUYS else "sell" if raw_action in SELLS else ""
    amount = ZERO
    if action:
        try:
            amount = dec(act.get("amount") or 0)
        except (ValueError, TypeError):
            raise InvalidInput(f"{where}: amount {act.get('amount')!r} is not a number") from None
        if amount < 0:
            raise InvalidInput(f"{where}: negative amount {amount}")
        if amount == 0:  # the original's no-op buy/sell of 0
            action = ""
    symbol = market.normalise(act.get("symbol")) if action else ""
    if action and not symbol:
        raise InvalidInput(f"{where}: {raw_action} without a symbol")
    return _Record(n, int(doc["id"]), str(doc["date"]).strip(), action, raw_action, symbol,
                   amount, _position(doc, where, market))


def _explain(market: Market, before: Position, after: Position, rec: _Record
             ) -> tuple[Decimal, Decimal] | None:
    """(quantity, total) of the record's trade taking `before` to `after` ((0, 0) for a no-op
    that changes nothing), or None when `after` does not follow from `before` and the record."""
    if not rec.action:
        return (ZERO, ZERO) if before == after else None
    symbols = set(before.holdings) | set(after.holdings)
    if any(after.holdings.get(s, ZERO) != before.holdings.get(s, ZERO)
           for s in symbols if s != rec.symbol):
        return None
    moved = after.holdings.get(rec.symbol, ZERO) - before.holdings.get(rec.symbol, ZERO)
    qty = moved if rec.action == "buy" else -moved
    total = before.cash - after.cash if rec.action == "buy" else after.cash - before.cash
    if qty <= 0 or total <= 0:
        return None
    if market.lots.places == 0 and qty != rec.amount:
        return None
    if abs(qty - rec.amount) > ROUNDING:
        return None
    return qty, total


def _replay(model: str, lines: Sequence[tuple[int, dict[str, Any]]], market: Market
            ) -> _Replay:
    """The file as sessions of the ledger: pure, so a bad file changes nothing."""
    init_n, init_doc = min(lines, key=lambda x: (x[1]["id"], x[0]))
    if init_doc.get("this_action"):
        raise InvalidInput(f"{model}: the first line must be the initial position")
    init = _position(init_doc, f"{model} id {init_doc['id']}", market)
    if init.holdings:
        raise InvalidInput(f"{model}: the initial position must be cash only")
    if init.cash <= 0:
        raise InvalidInput(f"{model}: the initial cash must be positive, got {init.cash}")
    init_label = str(init_doc["date"]).strip()
    grouped: dict[str, tuple[Session, list[_Record]]] = {}
    for n, doc in lines:
        if n == init_n:
            continue
        rec = _record(n, doc, model, market)
        found = session_of_label(market, rec.label)
        if found is None:
            raise InvalidInput(f"{model} id {rec.id}: {rec.label!r} is not a session of "
                               f"{market.title}")
        grouped.setdefault(found.id, (found, []))[1].append(rec)
    ordered = sorted(grouped.values(), key=lambda g: g[0].start)
    try:
        init_day = date.fromisoformat(init_label[:10])
    except ValueError:
        raise InvalidInput(f"{model}: the initial date {init_label!r} is not a date") from None
    if ordered:  # at or before the first session (hourly: 08:30, or the first bar's label)
        first, first_label = ordered[0][0], ordered[0][1][0].label
        if init_day > first.day or init_label > first_label:
            raise InvalidInput(f"{model}: the initial position ({init_label}) is after the "
                               f"first session {first_label}")
        if init_day == first.day:  # the initial snapshot lies before the first session
            init_day = first.day - timedelta(days=1)
    # the effective history: each checkpoint is a session's end (or the initial position)
    # with the trades that led to it from the checkpoint before; a break pops checkpoints
    chain: list[tuple[str, Position, list[_Leg]]] = [(INITIAL, init, [])]
    out: list[_Session] = []
    breaks: list[Break] = []
    trades = noops = rounded = 0
    for session, recs in ordered:
        recs.sort(key=lambda r: (r.id, r.line))
        pos = chain[-1][1]
        legs: list[_Leg] = []
        kept: list[_Leg] = []  # this session's trades on the effective history
        notes: list[str] = []
        label = recs[0].label
        for rec in recs:
            got = _explain(market, pos, rec.position, rec)
            if got is None:
                back = next((k for k in range(len(chain) - 1, -1, -1)
                             if chain[k][1] != pos
                             and _explain(market, chain[k][1], rec.position, rec)), None)
                if back is None and not rec.action:
                    raise InvalidInput(f"{model} id {rec.id}: positions changed without a trade")
                if back is None:
                    raise InvalidInput(
                        f"{model} id {rec.id}: positions do not follow from the previous line "
                        f"and {rec.raw_action} {rec.amount} {rec.symbol}")
                undo = [leg.inverse() for leg in reversed(kept)]
                undo += [leg.inverse() for _, _, done in reversed(chain[back + 1:])
                         for leg in reversed(done)]
                for leg in undo:
                    pos = pos.with_trade(leg.action, leg.symbol, leg.quantity, leg.total)
                assert pos == chain[back][1]
                lost = tuple(lab for lab, _, done in chain[back + 1:] if done) + \
                    ((label,) if kept else ())
                breaks.append(Break(model, session.id, rec.label, rec.id, chain[back][0],
                                    lost, len(undo)))
                notes.append(f"break at id {rec.id}: continues from {chain[back][0]}; "
                             f"{len(undo)} trades undone")
                legs += undo
                del chain[back + 1:]
                kept = []
                got = _explain(market, pos, rec.position, rec)
                assert got is not None
            qty, total = got
            if rec.action:
                leg = _Leg(rec.action, rec.symbol, qty, total)
                legs.append(leg)
                kept.append(leg)
                pos = pos.with_trade(leg.action, leg.symbol, qty, total)
                trades += 1
                rounded += qty != rec.amount
            elif rec.raw_action in BUYS + SELLS:
                noops += 1
            assert pos == rec.position
        chain.append((label, pos, kept))
        note = "imported from position.jsonl" + "".join(f"; {n}" for n in notes)
        out.append(_Session(session, label, tuple(legs), pos, note))
    return _Replay(model, market, init_day.isoformat(), init.cash, tuple(out), trades, noops,
                   rounded, tuple(breaks))


def _read(path: Path, model: str, market: str | None, frequency: str | None) -> _Replay:
    lines = _read_lines(path, model)
    found = detect_market([doc for _, doc in lines], model, market=market, frequency=frequency)
    return _replay(model, lines, found)


# -- writing --------------------------------------------------------------------------------

async def _write(store: Store, r: _Replay, *, replace: bool) -> ImportedModel:
    async with store.write() as conn:
        return await _write_in(conn, r, replace=replace)


async def _write_in(conn: aiosqlite.Connection, r: _Replay, *, replace: bool
                    ) -> ImportedModel:
    """One model's history, inside the caller's transaction."""
    market, model = r.market, r.model
    feed = Feed(market.key, str(market.frequency))
    step = Decimal(1).scaleb(-max(market.price_places, 4))
    cur = await conn.execute(
        "SELECT source, market, frequency FROM models WHERE signature = ?", (model,))
    row = await cur.fetchone()
    if row:
        same = row[0] == IMPORT_SOURCE and (row[1], row[2]) == (market.key,
                                                              str(market.frequency))
        if not replace and not same:
            how = "imported" if row[0] == IMPORT_SOURCE else "not imported"
            raise Conflict(f"model {model} already exists ({row[1]}/{row[2]}, {how}); "
                           "pass replace to overwrite it, or a suffix to import it under "
                           "another signature", model=model)
        for table in ("holdings", "eod", "trades", "attempts"):
            await conn.execute(f"DELETE FROM {table} WHERE model = ?", (model,))
        await conn.execute("DELETE FROM models WHERE signature = ?", (model,))
    await conn.execute(
        "INSERT INTO models (signature, initial_cash, init_date, market, frequency, source, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (model, text(r.cash), r.init_date, market.key, str(market.frequency),
         IMPORT_SOURCE, utcnow()))
    prev_date: str | None = None
    prev_value = r.cash
    for s in r.sessions:
        day = s.session.id
        cur = await conn.execute(
            "INSERT INTO attempts (model, date, status, prev_date, started_at, finished_at, "
            "note) VALUES (?, ?, 'completed', ?, ?, ?, ?)",
            (model, day, prev_date, utcnow(), utcnow(), s.note))
        attempt_id = cur.lastrowid
        assert attempt_id is not None
        for leg in s.legs:
            price = max(step, (leg.total / leg.quantity).quantize(step))
            await conn.execute(
                "INSERT INTO trades (attempt_id, model, date, action, symbol, quantity, "
                "price, total, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (attempt_id, model, day, leg.action, leg.symbol, text(leg.quantity),
                 text(price), text(leg.total), utcnow()))
        try:
            value, _ = await value_position(conn, feed, s.position, day)
        except InvalidInput as exc:
            raise InvalidInput(f"{model} {s.label}: {exc.message}: import the "
                               f"{market.title} prices first (aitrader prices import)"
                               ) from None
        profit = value - prev_value
        ret = round(float(profit / prev_value) * 100, 6) if prev_value else 0.0
        await write_eod(conn, model, day, attempt_id, s.position, value, profit, ret)
        prev_date, prev_value = day, value
    last = r.sessions[-1].position.cash if r.sessions else r.cash
    return ImportedModel(
        model, r.init_date, len(r.sessions), r.trades, last, market.key,
        str(market.frequency), r.noops, r.rounded, r.breaks,
        r.sessions[0].session.id if r.sessions else None,
        r.sessions[-1].session.id if r.sessions else None)


async def import_model(
    store: Store, model: str, path: Path, *, replace: bool = False,
    market: str | None = None, frequency: str | None = None
) -> ImportedModel:
    """One model's file; its market and frequency detected from the file unless given."""
    return await _write(store, _read(path, model, market, frequency), replace=replace)


async def import_folder(store: Store, root: Path, *, replace: bool = False,
                        market: str | None = None, frequency: str | None = None,
                        suffix: str = "") -> list[ImportedModel]:
    """Every <model>/position.jsonl under `root`, as signatures `<model><suffix>`. The folder
    is one market and frequency: every file is read and checked before anything is written."""
    replays: list[tuple[Path, _Replay]] = []
    for model, path in find_position_files(root).items():
        replays.append((path, _read(path, f"{model}{suffix}", market, frequency)))
    kinds = {r.market.label: path for path, r in replays}
    if len(kinds) > 1:
        first, *others = sorted(kinds.items())
        where = ", ".join(f"{p.relative_to(root)} is {k}" for k, p in [first, *others])
        raise InvalidInput(f"{root.name} mixes markets ({where}): a folder holds one market "
                           "and frequency; import each in its own folder", field="dir")
    # one transaction: a model that cannot be written (a clash, prices missing) leaves the
    # others unwritten too
    async with store.write() as conn:
        return [await _write_in(conn, r, replace=replace) for _, r in replays]


# -- export ---------------------------------------------------------------------------------

def _line(label: str, n: int, pos: Position, action: dict[str, Any] | None,
          universe: Iterable[str], crypto: bool) -> str:
    def amount(q: Decimal) -> float | int:
        return float(q) if crypto else num(q)

    positions: dict[str, Any] = {s: amount(pos.holdings.get(s, ZERO)) for s in universe}
    positions.update({s: amount(k) for s, k in pos.holdings.items() if s not in positions})
    positions["CASH"] = float(pos.cash)
    doc: dict[str, Any] = {"date": label, "id": n}
    if action is not None:
        doc["this_action"] = action
    doc["positions"] = positions
    return json.dumps(doc)


async def market_of_model(store: Store, model: str) -> Market:
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT market, frequency FROM models WHERE signature = ?", (model,))
        row = await cur.fetchone()
    if not row:
        raise InvalidInput(f"unknown model {model}")
    return markets.get(row[0], row[1])


async def export_model(store: Store, model: str,
                       universe: Iterable[str] | None = None) -> list[str]:
    """The model's completed history as position.jsonl lines, in its market's conventions:
    the original's date labels, its action names, every symbol of the universe."""
    market = await market_of_model(store, model)
    symbols = list(market.universe if universe is None else universe)
    crypto = market.key == "crypto"
    names = {"buy": "buy_crypto", "sell": "sell_crypto"} if crypto else {}
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT initial_cash, init_date FROM models WHERE signature = ?", (model,))
        row = await cur.fetchone()
        assert row is not None
        cur = await conn.execute(
            "SELECT e.date, e.attempt_id FROM eod e WHERE e.model = ? ORDER BY e.date", (model,))
        days = list(await cur.fetchall())
        pos = Position(Decimal(row[0]), {})
        first = days[0][0] if days else None
        out = [_line(_initial_label(market, row[1], first), 0, pos, None, symbols, crypto)]
        for day, attempt_id in days:
            label = label_of_session(market, day)
            tcur = await conn.execute(
                "SELECT action, symbol, quantity, total FROM trades WHERE attempt_id = ? "
                "ORDER BY id", (attempt_id,))
            trades = await tcur.fetchall()
            if not trades:
                out.append(_line(label, len(out), pos,
                                 {"action": "no_trade", "symbol": "", "amount": 0}, symbols,
                                 crypto))
            for action, sym, qty, total in trades:
                amount = Decimal(qty)
                pos = pos.with_trade(action, sym, amount, Decimal(total))
                out.append(_line(label, len(out), pos,
                                 {"action": names.get(action, action), "symbol": sym,
                                  "amount": float(amount) if crypto else num(amount)},
                                 symbols, crypto))
    return out
