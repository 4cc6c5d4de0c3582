"""AI-Trader's position.jsonl: import a user's existing runs, export the service's ledger.

Each line: {"date", "id", "this_action": {"action", "symbol", "amount"}, "positions": {SYM: n,
..., "CASH": cash}}; the first line (no this_action) is the initial cash on the init date; the
highest id of a date is that day's final state. On import every date becomes a completed
attempt whose trades are the file's actions, each trade's total taken from the cash it moved
(the fill price is total / amount), so the cash chain is exact; floats like 71.74999999999932
are rounded to 4 decimals (the original rounded cash to 4 places).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import attrs

from aitrader.errors import Conflict, InvalidInput
from aitrader.ledger.book import Position, value_position, write_eod
from aitrader.market.prices import US_DAILY
from aitrader.market.symbols import NASDAQ_100, normalise
from aitrader.money import dec, num, text
from aitrader.store import Store, utcnow

IMPORT_SOURCE = "aitrader-import"
CASH_PLACES = Decimal("0.0001")


@attrs.frozen
class ImportedModel:
    model: str
    init_date: str
    days: int
    trades: int
    final_cash: Decimal


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


def _read_lines(path: Path, model: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
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
        lines.append(doc)
    if not lines:
        raise InvalidInput(f"{model}: the file is empty")
    lines.sort(key=lambda d: int(d["id"]))
    return lines


def _position(doc: dict[str, Any], where: str) -> Position:
    raw = doc["positions"]
    if "CASH" not in raw:
        raise InvalidInput(f"{where}: positions has no CASH")
    held: dict[str, Decimal] = {}
    for sym, n in raw.items():
        if sym == "CASH":
            continue
        if not isinstance(n, int | float) or n < 0 or float(n) != int(n):
            raise InvalidInput(f"{where}: {sym} holds {n!r}, not a whole number >= 0")
        if n:
            held[normalise(sym)] = Decimal(int(n))
    try:
        cash = dec(raw["CASH"]).quantize(CASH_PLACES, rounding=ROUND_HALF_EVEN)
    except (ValueError, TypeError):
        raise InvalidInput(f"{where}: CASH is not a number") from None
    if cash < 0:
        raise InvalidInput(f"{where}: negative cash")
    return Position(cash, held)


async def import_model(
    store: Store, model: str, path: Path, *, replace: bool = False
) -> ImportedModel:
    lines = _read_lines(path, model)
    first = lines[0]
    if first.get("this_action"):
        raise InvalidInput(f"{model}: the first line must be the initial position")
    init = _position(first, f"{model} id {first['id']}")
    if init.holdings:
        raise InvalidInput(f"{model}: the initial position must be cash only")
    init_date = str(first["date"])
    by_date: dict[str, list[dict[str, Any]]] = {}
    for doc in lines[1:]:
        by_date.setdefault(str(doc["date"]), []).append(doc)

    async with store.write() as conn:
        cur = await conn.execute("SELECT source FROM models WHERE signature = ?", (model,))
        row = await cur.fetchone()
        if row:
            if not replace and row[0] != IMPORT_SOURCE:
                raise Conflict(f"model {model} already exists and was not imported; "
                               "pass replace to overwrite it", model=model)
            for table in ("holdings", "eod", "trades", "attempts"):
                await conn.execute(f"DELETE FROM {table} WHERE model = ?", (model,))
            await conn.execute("DELETE FROM models WHERE signature = ?", (model,))
        await conn.execute(
            "INSERT INTO models (signature, initial_cash, init_date, source, created_at) "
            "VALUES (?, ?, ?, ?, ?)", (model, text(init.cash), init_date, IMPORT_SOURCE,
                                       utcnow()))
        prev, prev_date, prev_value = init, None, init.cash
        n_trades = 0
        for day in sorted(by_date):
            if day <= init_date:
                raise InvalidInput(f"{model}: {day} is not after the init date {init_date}")
            cur = await conn.execute(
                "INSERT INTO attempts (model, date, status, prev_date, started_at, finished_at, "
                "note) VALUES (?, ?, 'completed', ?, ?, ?, 'imported from position.jsonl')",
                (model, day, prev_date, utcnow(), utcnow()))
            attempt_id = cur.lastrowid
            pos = prev
            for doc in by_date[day]:
                where = f"{model} id {doc['id']}"
                after = _position(doc, where)
                act = doc.get("this_action") or {}
                action = str(act.get("action", "no_trade"))
                if action in ("buy", "sell") and int(act.get("amount") or 0) > 0:
                    sym, amount = normalise(act.get("symbol")), Decimal(int(act["amount"]))
                    total = abs(pos.cash - after.cash)
                    expected = pos.with_trade(action, sym, amount, total)
                    if dict(expected.holdings) != dict(after.holdings) \
                            or expected.cash != after.cash:
                        raise InvalidInput(f"{where}: positions do not follow from the "
                                           f"previous line and {action} {amount} {sym}")
                    await conn.execute(
                        "INSERT INTO trades (attempt_id, model, date, action, symbol, quantity, "
                        "price, total, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (attempt_id, model, day, action, sym, text(amount),
                         text(max(CASH_PLACES, (total / amount).quantize(CASH_PLACES))),
                         text(total), utcnow()))
                    n_trades += 1
                elif dict(after.holdings) != dict(pos.holdings) or after.cash != pos.cash:
                    raise InvalidInput(f"{where}: positions changed without a trade")
                pos = after
            value, _ = await value_position(conn, US_DAILY, pos, day)
            profit = value - prev_value
            ret = round(float(profit / prev_value) * 100, 6) if prev_value else 0.0
            assert attempt_id is not None
            await write_eod(conn, model, day, attempt_id, pos, value, profit, ret)
            prev, prev_date, prev_value = pos, day, value
    return ImportedModel(model, init_date, len(by_date), n_trades, prev.cash)


async def import_folder(store: Store, root: Path, *, replace: bool = False
                        ) -> list[ImportedModel]:
    return [await import_model(store, model, path, replace=replace)
            for model, path in find_position_files(root).items()]


def _line(day: str, n: int, pos: Position, action: dict[str, Any] | None,
          universe: Iterable[str]) -> str:
    positions: dict[str, Any] = {s: num(pos.holdings.get(s, Decimal(0))) for s in universe}
    positions.update({s: num(k) for s, k in pos.holdings.items() if s not in positions})
    positions["CASH"] = float(pos.cash)
    doc: dict[str, Any] = {"date": day, "id": n}
    if action is not None:
        doc["this_action"] = action
    doc["positions"] = positions
    return json.dumps(doc)


async def export_model(store: Store, model: str,
                       universe: Iterable[str] = NASDAQ_100) -> list[str]:
    """The model's completed history as position.jsonl lines."""
    symbols = list(universe)
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT initial_cash, init_date FROM models WHERE signature = ?", (model,))
        row = await cur.fetchone()
        if not row:
            raise InvalidInput(f"unknown model {model}")
        pos = Position(Decimal(row[0]), {})
        out = [_line(row[1], 0, pos, None, symbols)]
        cur = await conn.execute(
            "SELECT e.date, e.attempt_id FROM eod e WHERE e.model = ? ORDER BY e.date", (model,))
        for day, attempt_id in await cur.fetchall():
            tcur = await conn.execute(
                "SELECT action, symbol, quantity, total FROM trades WHERE attempt_id = ? "
                "ORDER BY id", (attempt_id,))
            trades = await tcur.fetchall()
            if not trades:
                out.append(_line(day, len(out), pos,
                                 {"action": "no_trade", "symbol": "", "amount": 0}, symbols))
            for action, sym, qty, total in trades:
                amount = Decimal(qty)
                pos = pos.with_trade(action, sym, amount, Decimal(total))
                out.append(_line(day, len(out), pos,
                                 {"action": action, "symbol": sym, "amount": num(amount)},
                                 symbols))
    return out
