"""Exact money: every amount is an integer count of 1/10,000 dollar ("e4").

Alpha Vantage quotes carry four decimals, so a price, a trade total (whole shares x price) and a
cash balance are all exact integers in this unit; nothing drifts like AI-Trader's float cash did.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

E4 = 10_000
_QUANTUM = Decimal("0.0001")


def to_e4(value: str | int | float | Decimal) -> int:
    """Convert a decimal amount (a string is read exactly; a float via its shortest repr) to e4."""
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not dec.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return int((dec * E4).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def from_e4(value: int) -> Decimal:
    return (Decimal(value) / E4).quantize(_QUANTUM)


def e4_float(value: int) -> float:
    """For JSON output: the nearest float to an exact amount (shortest repr, e.g. 8500.0)."""
    return float(from_e4(value))


def fmt_money(value: int) -> str:
    return f"{from_e4(value):,.2f}"
