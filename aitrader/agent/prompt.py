"""AI-Trader's system prompt: the date, positions, yesterday's closes, today's opens (never
today's close), the rules and the stop signal."""

from __future__ import annotations

from aitrader.agent.base import STOP_SIGNAL, DayContext
from aitrader.market.prices import US_DAILY, bars_on
from aitrader.market.symbols import NASDAQ_100
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


async def system_prompt(store: Store, day: DayContext) -> str:
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
