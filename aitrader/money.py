"""Exact money and quantities: Decimal in memory, decimal TEXT in SQLite, never a float.

Prices carry up to 8 decimals (crypto), quantities up to 8, so a trade total can have 16 and
cash keeps every one of them: nothing is rounded and nothing drifts like AI-Trader's float
cash did (which it rounded to 4 places after every trade). Floats appear only at the edge,
in JSON answers (the nearest double) and in metrics.
"""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation, localcontext

# 50 significant digits: a 16-place total of a 12-digit amount is still exact
LEDGER = Context(prec=50)


def dec(value: str | int | float | Decimal) -> Decimal:
    """A decimal from stored text, an int, or a float by its shortest repr (0.1 is 0.1)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    try:
        out = Decimal(str(value).strip().replace(",", "") if isinstance(value, str)
                      else str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {str(value)[:40]!r}") from exc
    if not out.is_finite():
        raise ValueError(f"not a finite number: {str(value)[:40]!r}")
    return out


def text(value: Decimal) -> str:
    """How a decimal is stored: plain digits, no exponent (`0.00000001`, `12.5`, `100`)."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def mul(a: Decimal, b: Decimal) -> Decimal:
    """a x b exactly (the default context would round past 28 digits)."""
    with localcontext(LEDGER):
        return a * b


def div(a: Decimal, b: Decimal) -> Decimal:
    """a / b to 50 significant digits (a fractional unit count, a ratio)."""
    with localcontext(LEDGER):
        return a / b


def num(value: Decimal) -> float | int:
    """For JSON: an int when whole (shares: 100), else the nearest float (8500.25)."""
    return int(value) if value == value.to_integral_value() else float(value)


def fmt_money(value: Decimal, places: int = 2) -> str:
    """For people: `1,234.56` (rounded for display only)."""
    return f"{value:,.{places}f}"
