"""The leaderboard as people read it (`aitrader report`, `aitrader run`) and as JSON."""

from __future__ import annotations

from typing import Any

import attrs
from rich.table import Table

from aitrader.ledger.performance import Leaderboard


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.2f}%"


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.2f}%"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


FULL = ("#", "model", "value", "cum. return", "ann. return", "volatility", "Sharpe",
        "Sortino", "max drawdown", "Calmar", "win rate")
SHORT = ("model", "value", "cum. return", "Sharpe", "max drawdown", "win rate")


def leaderboard_table(board: Leaderboard, *, full: bool = True) -> Table:
    """Models best first, then the tradable benchmark; the caption names the index's own
    close-to-close return, the currency and the sessions per year the metrics annualise by."""
    market = board.market
    title = f"Leaderboard {board.start} to {board.end}, {market.title}"
    if board.synthetic:
        title += " (synthetic demo market)"
    table = Table(title=title, caption=caption(board), caption_justify="left")
    for col in FULL if full else SHORT:
        head = f"value ({market.currency})" if col == "value" else col
        table.add_column(head, justify="left" if col == "model" else "right")
    rows = [*board.models, *([board.benchmark] if board.benchmark else [])]
    for i, s in enumerate(rows, 1):
        m, is_bench = s.metrics, s is board.benchmark
        name = f"{s.name} (benchmark)" if is_bench else s.name
        cells = {"#": "" if is_bench else str(i), "model": name, "value": f"{m.end_value:,.2f}",
                 "cum. return": _pct(m.cumulative_return),
                 "ann. return": _pct(m.annualised_return), "volatility": _share(m.volatility),
                 "Sharpe": _num(m.sharpe), "Sortino": _num(m.sortino),
                 "max drawdown": _pct(m.max_drawdown), "Calmar": _num(m.calmar),
                 "win rate": _share(m.win_rate)}
        table.add_row(*(cells[c] for c in (FULL if full else SHORT)))
    return table


def caption(board: Leaderboard) -> str:
    market, lines = board.market, []
    bench = market.benchmark
    units = "whole shares" if bench.whole_units else "fractional units"
    lines.append(f"benchmark: {bench.name}, bought at the first open in {units} and held")
    idx = board.index
    if idx is not None:
        if idx.value is None:
            lines.append(f"index {idx.name}: - ({idx.note})")
        else:
            lines.append(f"index {idx.name} {idx.start} to {idx.end}: {_pct(idx.value)}"
                         + (f" ({idx.note})" if idx.note else ""))
    lines.append(f"annualised with {market.periods_per_year} sessions per year; amounts in "
                 f"{market.currency}")
    if any(s.metrics.short_window for s in board.models):
        lines.append("annualised figures rest on fewer than 20 sessions: read them as "
                     "indications only")
    lines.extend(board.notes)
    return "\n".join(lines)


def leaderboard_json(board: Leaderboard) -> dict[str, Any]:
    rows = [*board.models, *([board.benchmark] if board.benchmark else [])]
    idx = board.index
    return {"market": board.market.key, "frequency": str(board.market.frequency),
            "currency": board.market.currency,
            "periods_per_year": board.market.periods_per_year,
            "start": board.start, "end": board.end, "synthetic": board.synthetic,
            "rows": [{"name": s.name, "benchmark": s is board.benchmark,
                      "value": round(s.metrics.end_value, 4), **attrs.asdict(s.metrics)}
                     for s in rows],
            "index": None if idx is None else idx.as_json(),
            "notes": list(board.notes)}
