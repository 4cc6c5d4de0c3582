"""aitrader: the AI-Trader benchmark as a long-lived service."""

from __future__ import annotations

__version__ = "0.1.0"
