"""AI-Trader's system prompt: the session, positions, the previous session's closes, this
session's opens (never its close), the market's rules and the stop signal. US daily keeps the
original's wording; other markets and frequencies state their own rules."""

from __future__ import annotations

from aitrader.agent.base import STOP_SIGNAL, DayContext
from aitrader.market.prices import US_DAILY, Feed, bars_on
from aitrader.market.symbols import NASDAQ_100
from aitrader.markets import Market
from aitrader.money import num
from aitrader.store import Store

SYSTEM = """You are a stock fundamental analysis trading assistant.

Your goals:
- Think and reason with the available tools; look up prices and news before you decide.
- Maximise returns by buying and selling NASDAQ-100 stocks. You manage your own portfolio.
- Update your positions with the buy and sell tools before you finish.

Rules:
- Today is {date}. Trades fill at today's open price, in whole shares.
- You can look up any earlier day in full, and today's open; nothing later is available.
- Tools: get_price_local(symbol, date), get_information(query), add(a, b), multiply(a, b),
  buy(symbol, amount), sell(symbol, amount).
- When your work for today is complete, reply with {stop} and nothing else to do.

Today's date: {date}
Yesterday's closing positions (shares per symbol; CASH is your available cash): {positions}
Yesterday's closing prices: {closes}
Today's buying prices (the open): {opens}
"""


MARKET = """You are a {kind} trading assistant.

Your goals:
- Think and reason with the available tools; look up prices and news before you decide.
- Maximise returns by trading {title}. You manage your own portfolio in {currency}.
- Update your positions with the {buy} and {sell} tools before you finish.

Rules:
- The current session is {session} ({utc} UTC). Trades fill at this session's open price.
{rules}
- You can look up earlier bars in full, and this session's open; nothing later is available.
- Tools: get_price_local(symbol, date), get_information(query), add(a, b), multiply(a, b),
  {buy}(symbol, amount), {sell}(symbol, amount).
- When your work for this session is complete, reply with {stop} and nothing else to do.

Current session: {session}
Positions after the previous session (quantity per symbol; CASH is your available cash): \
{positions}
Closing prices of the previous session: {closes}
This session's buying prices (the open): {opens}
"""

RULES = {
    "us": "- Quantities are whole shares. No short selling, no margin.",
    "cn": ("- Shanghai main board: buy in lots of 100 shares; sell in lots of 100 or your whole"
           " holding. STAR Market (688xxx): at least 200 shares, then any number.\n"
           "- T+1: shares bought today can be sold from the next trading day.\n"
           "- Price limits: no buy at or above limit-up, no sell at or below limit-down (+-10%,"
           " STAR +-20%, from the previous trading day's close). No short selling."),
    "crypto": ("- Quantities are decimals with up to 8 places (e.g. 0.015 BTC-USDT). The "
               "market trades around the clock. No short selling, no leverage."),
}


async def system_prompt(store: Store, day: DayContext) -> str:
    if day.market.label != "us/daily":
        return await _market_prompt(store, day, day.market)
    async with store.read() as conn:
        today = await bars_on(conn, US_DAILY, day.date)
        before = await bars_on(conn, US_DAILY, day.previous_session) \
            if day.previous_session else {}
    positions = {**{s: num(n) for s, n in sorted(day.position.holdings.items())},
                 "CASH": float(day.position.cash)}
    closes = {s: float(before[s].close) for s in NASDAQ_100 if s in before}
    opens = {s: float(today[s].open) for s in NASDAQ_100 if s in today}
    return SYSTEM.format(date=day.date, stop=STOP_SIGNAL, positions=positions, closes=closes,
                         opens=opens)


async def _market_prompt(store: Store, day: DayContext, market: Market) -> str:
    feed = Feed(market.key, market.frequency)
    async with store.read() as conn:
        now = await bars_on(conn, feed, day.date)
        before = await bars_on(conn, feed, day.previous_session) \
            if day.previous_session else {}
    session = market.session(day.date)
    crypto = market.key == "crypto"
    positions = {**{s: num(n) for s, n in sorted(day.position.holdings.items())},
                 "CASH": float(day.position.cash)}
    names = market.names
    closes = {s: float(before[s].close) for s in market.universe if s in before}
    opens = {(f"{s} {names[s]}" if s in names else s): float(now[s].open)
             for s in market.universe if s in now}
    return MARKET.format(
        kind="cryptocurrency" if crypto else "stock", title=market.title,
        currency=market.currency, buy="buy_crypto" if crypto else "buy",
        sell="sell_crypto" if crypto else "sell", session=session.id,
        utc=session.start.strftime("%Y-%m-%d %H:%M"), rules=RULES[market.key],
        stop=STOP_SIGNAL, positions=positions, closes=closes, opens=opens)
