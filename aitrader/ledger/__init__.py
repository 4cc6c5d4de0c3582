"""The ledger: trades, model-day attempts, end-of-day snapshots, valuation and metrics."""

from __future__ import annotations

from aitrader.ledger.book import DayResult, Fill, Ledger, Position

__all__ = ["DayResult", "Fill", "Ledger", "Position"]
