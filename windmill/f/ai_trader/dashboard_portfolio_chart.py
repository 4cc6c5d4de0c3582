"""Dashboard: portfolio value per session of every model of one market and frequency, with
its benchmark, as an SVG line chart in Windmill's rich HTML display. Sessions are evenly
spaced (trading time: nights, weekends and lunch breaks take no room). Hand-written SVG: no
charting library to install."""

import html

from f.ai_trader.aitrader_get import ai_trader_api
from f.ai_trader.get_timeseries import main as timeseries

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22"]
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 900, 420, 70, 170, 30, 40


def label(session_id: str) -> str:
    """A session as the axis shows it: a date, or an hourly bar's local start with its
    offset (2025-10-09 09:30+08:00)."""
    if "T" not in session_id:
        return session_id
    day, clock = session_id.split("T", 1)
    return f"{day} {clock[:5]}{clock[8:]}"


def svg(ts: dict) -> str:
    dates, series = ts["dates"], ts["series"]
    values = [v for s in series.values() for v in s if v is not None]
    if not dates or not values:
        return "<p>No results yet.</p>"
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    span_x = max(1, len(dates) - 1)

    def x(i: int) -> float:
        return PAD_L + (W - PAD_L - PAD_R) * i / span_x

    def y(v: float) -> float:
        return PAD_T + (H - PAD_T - PAD_B) * (hi - v) / (hi - lo)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
             f'width="100%" role="img" aria-label="Portfolio value over time">',
             f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>']
    for k in range(5):  # value grid
        v = lo + (hi - lo) * k / 4
        parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{PAD_L - 6}" y="{y(v) + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{v:,.0f}</text>')
    for i in (0, len(dates) - 1):
        parts.append(f'<text x="{x(i):.1f}" y="{H - 12}" font-size="11" '
                     f'text-anchor="middle">{html.escape(label(dates[i]))}</text>')
    if ts.get("currency"):
        parts.append(f'<text x="{PAD_L - 6}" y="{PAD_T - 12}" font-size="11" '
                     f'text-anchor="end">{html.escape(ts["currency"])}</text>')
    for n, (name, vals) in enumerate(series.items()):
        colour = "#555" if name == ts.get("benchmark") else COLOURS[n % len(COLOURS)]
        dash = ' stroke-dasharray="5 4"' if name == ts.get("benchmark") else ""
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(vals)
                          if v is not None)
        parts.append(f'<polyline data-series="{html.escape(name)}" fill="none" '
                     f'stroke="{colour}" stroke-width="2"{dash} points="{points}"/>')
        ly = PAD_T + 18 * n
        parts.append(f'<line x1="{W - PAD_R + 12}" x2="{W - PAD_R + 32}" y1="{ly}" y2="{ly}" '
                     f'stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(f'<text x="{W - PAD_R + 38}" y="{ly + 4}" font-size="12">'
                     f'{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def main(api: ai_trader_api, start_date: str = "", end_date: str = "", market: str = "us",
         frequency: str = "daily"):
    return {"html": svg(timeseries(api, start_date, end_date, market, frequency))}
