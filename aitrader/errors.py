"""Domain errors. The HTTP layer maps each `code` to a status; the CLI prints `message`.

Messages are written for a person and never carry a stack trace, a server path or a secret.
"""

from __future__ import annotations

from typing import Any


class AITraderError(Exception):
    """Base of every error this package raises on purpose."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(AITraderError):
    """A value from a user, a file or a client is malformed."""

    code = "invalid_input"


class NotFound(AITraderError):
    code = "not_found"


class Conflict(AITraderError):
    code = "conflict"


class ConfigError(InvalidInput):
    code = "invalid_config"


class Unavailable(AITraderError):
    """The service cannot do it now (its simulation loop is starting or stopping)."""

    code = "unavailable"


class DataError(AITraderError):
    """Market data is missing or inconsistent for what was asked."""

    code = "no_data"


class TradeRefused(AITraderError):
    """A trade broke a rule of LEDGER.md; the model reads why, and the ledger is unchanged."""

    code = "trade_refused"


class AttemptClosed(AITraderError):
    """A write aimed at a model-day attempt that is no longer running (voided or completed)."""

    code = "attempt_closed"


class IdentityError(AITraderError):
    """A tool call arrived without valid identity headers."""

    code = "identity"


class FetchError(AITraderError):
    code = "fetch_failed"
