"""/results and /results/performance: read-only views of the ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web

from aitrader.api.keys import CACHE, STORE
from aitrader.errors import DataError, InvalidInput
from aitrader.ledger.performance import benchmark_series, model_series
from aitrader.market.calendar import nyse, parse_date
from aitrader.money import e4_float
from aitrader.store import scalar


def _date(request: web.Request, name: str) -> str | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return parse_date(raw, field=name).isoformat()
    except InvalidInput as exc:
        exc.code = "invalid_date"
        raise


async def results(request: web.Request) -> web.Response:
    key = "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
    return await request.app[CACHE].get("results", key, lambda: _results(request))


async def _results(request: web.Request) -> dict[str, Any]:
    store = request.app[STORE]
    detail = request.query.get("detail", "minimal")
    if detail not in ("minimal", "full"):
        raise InvalidInput("detail must be minimal or full", field="detail")
    model = request.query.get("model") or None
    day = _date(request, "date")
    async with store.read() as conn:
        if day is None:
            day = await scalar(conn, "SELECT MAX(date) FROM eod" + (" WHERE model = ?"
                               if model else ""), (model,) if model else ())
        if day is None:
            raise DataError("no results yet" + (f" for model {model[:64]}" if model else ""),
                            model=model)
        cur = await conn.execute(
            "SELECT e.model, e.attempt_id, e.cash_e4, e.value_e4, e.profit_e4, e.return_pct, "
            "a.steps, a.stop_signal, a.summary, a.tool_usage FROM eod e "
            "JOIN attempts a ON a.id = e.attempt_id WHERE e.date = ?"
            + (" AND e.model = ?" if model else "") + " ORDER BY e.model",
            (day, model) if model else (day,))
        rows = list(await cur.fetchall())
        if not rows:
            raise DataError(f"no results on {day}" + (f" for model {model[:64]}"
                                                      if model else ""), date=day, model=model)
        out = []
        for r in rows:
            hcur = await conn.execute(
                "SELECT symbol, shares FROM holdings WHERE model = ? AND date = ? "
                "ORDER BY symbol", (r[0], day))
            positions: dict[str, Any] = {s: n for s, n in await hcur.fetchall()}
            positions["CASH"] = e4_float(r[2])
            item: dict[str, Any] = {
                "model": r[0], "positions": positions,
                "daily_pnl": {"profit": e4_float(r[4]), "return_pct": r[5],
                              "portfolio_value": e4_float(r[3])}}
            if detail == "full":
                item.update(await _full(conn, r, day))
            out.append(item)
    return {"date": day, "results": out}


async def _full(conn: Any, r: Any, day: str) -> dict[str, Any]:
    model, attempt = r[0], r[1]
    tcur = await conn.execute(
        "SELECT id, action, symbol, amount, price_e4, total_e4 FROM trades "
        "WHERE attempt_id = ? ORDER BY id", (attempt,))
    trades = [{"id": t[0], "action": t[1], "symbol": t[2], "amount": t[3],
               "price": e4_float(t[4]), "total": e4_float(t[5])} for t in await tcur.fetchall()]
    ucur = await conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),"
        " COALESCE(SUM(cost_usd), 0) FROM llm_calls WHERE attempt_id = ?", (attempt,))
    calls, prompt, completion, cost = await ucur.fetchone()
    # AI-Trader's layout under the default log_path; only LLM model-days write one
    log_path = Path("data/agent_data") / model / "log" / day / "log.jsonl"
    return {
        "trades": trades,
        "ai_reasoning": {"total_steps": r[6] or 0, "stop_signal_received": bool(r[7]),
                         "reasoning_summary": r[8] or "",
                         "tool_usage": json.loads(r[9]) if r[9] else {}},
        "llm_usage": {"calls": calls, "prompt_tokens": prompt,
                      "completion_tokens": completion, "cost_usd": round(cost, 6)},
        "log_file_path": str(log_path) if calls else None,
    }


async def performance(request: web.Request) -> web.Response:
    store = request.app[STORE]
    model = request.query.get("model") or None
    start, end = _date(request, "start_date"), _date(request, "end_date")
    if start and end and end < start:
        raise InvalidInput("end_date is before start_date", field="end_date")
    async with store.read() as conn:
        cur = await conn.execute(
            "SELECT signature, init_date, initial_cash_e4 FROM models"
            + (" WHERE signature = ?" if model else "") + " ORDER BY signature",
            (model,) if model else ())
        models = list(await cur.fetchall())
        last = await scalar(conn, "SELECT MAX(date) FROM prices WHERE symbol = 'QQQ'")
    if not models:
        if model:
            raise DataError(f"no model {model[:64]!r}", model=model)
        # nothing yet: an empty board, not an error, for a dashboard
        return web.json_response({"start_date": None, "end_date": None, "models": {},
                                  "benchmark": None})
    if last is None:
        raise DataError("no QQQ prices yet")
    end = min(end or last, last)
    start = start or min(m[1] for m in models)
    cal = nyse()
    series = [await model_series(store, m[0], start, end, cal) for m in models]
    b_date = min(s.points[0].date for s in series)
    bench = await benchmark_series(store, b_date, max(m[2] for m in models), end, cal)

    def doc(s: Any) -> dict[str, Any]:
        return {"series": s.daily(), "metrics": attrs.asdict(s.metrics)}

    return web.json_response({
        "start_date": start, "end_date": end,
        "models": {s.name: doc(s) for s in series},
        "benchmark": {"symbol": "QQQ", **doc(bench)}})
