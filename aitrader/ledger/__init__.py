"""The ledger: trades, model-day attempts, end-of-day snapshots, valuation and metrics."""

from __future__ import annotations

from aitrader.ledger.book import AttemptReport, DayResult, Fill, Ledger, Position

__all__ = ["AttemptReport", "DayResult", "Fill", "Ledger", "Position"]
