"""Trading rules per market: what quantity may be bought or sold, T+1, price limits.

Every check raises TradeRefused with a message a model can act on: the rule, and the
nearest amounts that would be accepted. Quantities are Decimal throughout (whole numbers for
stocks, up to 8 places for crypto), never floats and never rounded.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import attrs

from aitrader.errors import TradeRefused

MAX_QUANTITY = Decimal(1_000_000_000)
CENT = Decimal("0.01")


def fmt_qty(q: Decimal) -> str:
    """A quantity as people write it: 1,200 or 0.12345678 (no exponent, no trailing zeros)."""
    if q == q.to_integral_value():
        return f"{int(q):,}"
    return f"{q:,f}".rstrip("0")


def _listing(amounts: list[Decimal]) -> str:
    shown = [fmt_qty(a) for a in sorted(set(amounts)) if a > 0]
    return " or ".join(shown) if shown else "none"


def parse_quantity(raw: object, places: int, unit: str) -> Decimal:
    """A positive amount with at most `places` decimals (0: a whole number), as Decimal; a
    JSON float is read by its shortest repr (0.1 is 0.1). TradeRefused says what is wrong."""
    what = f"a whole number of {unit}" if places == 0 else \
        f"a positive number of {unit} with at most {places} decimal places"
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise TradeRefused(f"amount must be {what}, got {type(raw).__name__}")
    try:
        value = Decimal(raw.strip() if isinstance(raw, str) else str(raw))
    except InvalidOperation:
        raise TradeRefused(f"amount must be {what}, got {str(raw)[:20]!r}") from None
    if not value.is_finite():
        raise TradeRefused(f"amount must be {what}, got {str(raw)[:20]!r}")
    if value <= 0:
        raise TradeRefused(f"amount must be positive, got {fmt_qty(value)}")
    if value > MAX_QUANTITY:
        raise TradeRefused(f"amount must be at most {fmt_qty(MAX_QUANTITY)} {unit}, "
                           f"got {str(raw)[:20]!r}")
    step = Decimal(1).scaleb(-places)
    if value != value.quantize(step, rounding=ROUND_HALF_UP):
        down = value.quantize(step, rounding="ROUND_DOWN")
        near = [down, down + step]
        raise TradeRefused(f"amount must be {what}, got {str(raw)[:24]}: the nearest valid "
                           f"amounts are {_listing(near)}")
    return value.quantize(step) if places == 0 else value.normalize()


@attrs.frozen
class Lots:
    """Which quantities a buy or a sell may have."""

    places: int = 0  # decimals a quantity may have (crypto 8)
    unit: str = "shares"

    def parse(self, raw: object) -> Decimal:
        return parse_quantity(raw, self.places, self.unit)

    def check_buy(self, symbol: str, qty: Decimal) -> None:
        """Any positive amount of the right precision (US stocks, crypto)."""

    def check_sell(self, symbol: str, qty: Decimal, holding: Decimal) -> None:
        """Any amount up to the holding (checked by the ledger)."""


@attrs.frozen
class ChinaLots(Lots):
    """Shanghai main board: buys in multiples of 100, sells too, or the whole holding when it
    is not a multiple of 100. STAR Market (688...): at least 200, then any whole number; a
    sell of at least 200, or the whole holding when it is below 200."""

    lot: int = 100
    star_minimum: int = 200

    @staticmethod
    def is_star(symbol: str) -> bool:
        return symbol.startswith("688")

    def check_buy(self, symbol: str, qty: Decimal) -> None:
        if self.is_star(symbol):
            if qty < self.star_minimum:
                raise TradeRefused(
                    f"{symbol} is on the STAR Market: a buy is at least {self.star_minimum} "
                    f"shares, then any whole number; the nearest valid amount is "
                    f"{self.star_minimum}")
            return
        if qty % self.lot:
            raise TradeRefused(
                f"{symbol} trades in lots of {self.lot} shares: a buy must be a multiple of "
                f"{self.lot}; the nearest valid amounts are {_listing(self._round(qty))}")

    def check_sell(self, symbol: str, qty: Decimal, holding: Decimal) -> None:
        if qty >= holding:
            return  # the whole holding (more than held is the ledger's refusal)
        if self.is_star(symbol):
            if holding < self.star_minimum:
                raise TradeRefused(
                    f"{symbol} is on the STAR Market: below {self.star_minimum} shares only "
                    f"the whole holding can be sold; the valid amount is {fmt_qty(holding)}")
            if qty < self.star_minimum:
                raise TradeRefused(
                    f"{symbol} is on the STAR Market: a sell is at least {self.star_minimum} "
                    f"shares or the whole holding ({fmt_qty(holding)}); the nearest valid "
                    f"amounts are {_listing([Decimal(self.star_minimum)])}")
            return
        if qty % self.lot:
            near = [q for q in self._round(qty) if q <= holding]
            if holding % self.lot:
                near.append(holding)
            raise TradeRefused(
                f"{symbol} trades in lots of {self.lot} shares: a sell must be a multiple of "
                f"{self.lot}" + (f" or the whole holding ({fmt_qty(holding)})"
                                 if holding % self.lot else "")
                + f"; the nearest valid amounts are {_listing(near)}")

    def _round(self, qty: Decimal) -> list[Decimal]:
        down = qty - qty % self.lot
        return [down, down + self.lot]


def sellable(holding: Decimal, bought_today: Decimal) -> Decimal:
    """T+1: what may be sold now: the holding minus what was bought on this trading day
    (= the previous day's closing holding minus what was already sold today)."""
    return max(Decimal(0), holding - bought_today)


def check_t_plus_one(symbol: str, qty: Decimal, holding: Decimal,
                     bought_today: Decimal) -> None:
    can = sellable(holding, bought_today)
    if qty > can:
        raise TradeRefused(
            f"T+1: shares bought today can be sold from the next trading day. {symbol}: held "
            f"{fmt_qty(holding)}, bought today {fmt_qty(bought_today)}, sellable now "
            f"{fmt_qty(can)}")


@attrs.frozen
class PriceLimits:
    """Daily price limits from the previous trading day's close: main board +-10%, STAR
    (688...) +-20%, rounded half-up to 0.01 CNY. At a locked limit there is no counterparty:
    a buy at or above limit-up and a sell at or below limit-down are refused."""

    main: Decimal = Decimal("0.10")
    star: Decimal = Decimal("0.20")

    def pct(self, symbol: str) -> Decimal:
        return self.star if symbol.startswith("688") else self.main

    def band(self, symbol: str, prev_close: Decimal) -> tuple[Decimal, Decimal]:
        """(limit-down, limit-up) prices."""
        pct = self.pct(symbol)
        return ((prev_close * (1 - pct)).quantize(CENT, rounding=ROUND_HALF_UP),
                (prev_close * (1 + pct)).quantize(CENT, rounding=ROUND_HALF_UP))

    def check(self, action: str, symbol: str, fill: Decimal, prev_close: Decimal) -> None:
        down, up = self.band(symbol, prev_close)
        pct = f"{self.pct(symbol) * 100:.0f}%"
        if action == "buy" and fill >= up:
            raise TradeRefused(
                f"{symbol} is at its limit-up price: the fill price {fill} is at or above "
                f"{up} (+{pct} of the previous close {prev_close}); nobody sells at a locked "
                f"limit, so no buy fills this session")
        if action == "sell" and fill <= down:
            raise TradeRefused(
                f"{symbol} is at its limit-down price: the fill price {fill} is at or below "
                f"{down} (-{pct} of the previous close {prev_close}); nobody buys at a locked "
                f"limit, so no sell fills this session")
