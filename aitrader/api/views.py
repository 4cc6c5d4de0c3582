"""The JSON documents of API.md, built in one place from the values the store returns. Money
leaves here as the nearest float (8500.0), as AI-Trader's files have it."""

from __future__ import annotations

from typing import Any

import attrs

from aitrader.actors.messages import TriggerAnswer
from aitrader.ledger.performance import Leaderboard, Series
from aitrader.money import num
from aitrader.store.jobs import JobRow, JobView, Progress
from aitrader.store.results import DayResults, ModelResult


def job_head(job: JobRow) -> dict[str, Any]:
    return {"job_id": job.id, "status": job.status.value,
            "date_range": [d for d in (job.date_start, job.date_end) if d],
            "models": list(job.models), "config_path": job.config_path}


def job_tail(job: JobRow) -> dict[str, Any]:
    return {"created_at": job.created_at, "started_at": job.started_at,
            "updated_at": job.updated_at, "completed_at": job.completed_at,
            "total_duration_seconds": job.total_duration_seconds, "error": job.error}


def progress(p: Progress) -> dict[str, Any]:
    return {"total_model_days": p.total_model_days, "completed": p.completed,
            "failed": p.failed, "pending": p.pending, "running": p.running,
            "cancelled": p.cancelled, "skipped": p.skipped,
            "current": [{"date": d, "model": m} for d, m in p.current]}


def job(view: JobView) -> dict[str, Any]:
    """The status document of one job (with `details` when the view has them)."""
    prog = progress(view.progress)
    if view.details is not None:
        prog["details"] = [{"date": d.date, "model": d.model, "status": d.status.value,
                            "duration_seconds": d.duration_seconds, "error": d.error}
                           for d in view.details]
    return {**job_head(view.job), "progress": prog, **job_tail(view.job)}


def accepted(answer: TriggerAnswer) -> dict[str, Any]:
    """The 202 of a trigger or a retry that made a new job."""
    assert answer.job is not None
    head = job_head(answer.job)
    return {"job_id": head["job_id"], "status": "accepted", "date_range": head["date_range"],
            "models": head["models"], "created_at": answer.job.created_at,
            "message": answer.message}


def current(answer: TriggerAnswer) -> dict[str, Any]:
    return {"status": "current", "message": answer.message,
            "last_simulation_date": answer.last_simulation_date,
            "next_trading_day": answer.next_trading_day}


def _result(r: ModelResult) -> dict[str, Any]:
    item: dict[str, Any] = {
        "model": r.model, "session": r.session,
        "positions": {**{s: num(n) for s, n in r.holdings.items()},
                                        "CASH": float(r.cash)},
        "daily_pnl": {"profit": float(r.profit), "return_pct": r.return_pct,
                      "portfolio_value": float(r.value)}}
    d = r.detail
    if d is not None:
        item["trades"] = [{"id": t.id, "action": t.action, "symbol": t.symbol,
                           "amount": num(t.quantity), "price": float(t.price),
                           "total": float(t.total)} for t in d.trades]
        item["ai_reasoning"] = {"total_steps": d.steps, "stop_signal_received": d.stop_signal,
                                "reasoning_summary": d.summary,
                                "tool_usage": dict(d.tool_usage)}
        item["llm_usage"] = attrs.asdict(d.usage)
        item["log_file_path"] = d.log_file
    return item


def results(day: DayResults) -> dict[str, Any]:
    return {"date": day.date, "results": [_result(r) for r in day.results]}


def _series(s: Series) -> dict[str, Any]:
    return {"series": s.daily(), "metrics": attrs.asdict(s.metrics)}


def performance(board: Leaderboard | None) -> dict[str, Any]:
    """Per model (best first) and for the benchmark: the value series and the metrics; the
    market, its currency and sessions per year; the index's own close-to-close return."""
    if board is None:  # no history yet: an empty board, not an error, for a dashboard
        return {"start_date": None, "end_date": None, "models": {}, "benchmark": None,
                "index": None}
    bench, market, index = board.benchmark, board.market, board.index
    return {"start_date": board.start, "end_date": board.end, "synthetic": board.synthetic,
            "market": market.key, "frequency": str(market.frequency),
            "currency": market.currency, "periods_per_year": market.periods_per_year,
            "notes": list(board.notes),
            "models": {s.name: _series(s) for s in board.models},
            "benchmark": {"symbol": bench.name, "name": market.benchmark.name,
                          "units": "whole" if market.benchmark.whole_units else "fractional",
                          **_series(bench)} if bench else None,
            "index": index.as_json() if index else None}
