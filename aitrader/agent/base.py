"""The agent interface, kept close to AI-Trader's BaseAgent so its users find their way:
`register_agent()` gives the model its initial position, `run_trading_session(day, tools)`
trades one model-day through the MCP tools. The actor owns the attempt around it."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import attrs

from aitrader import markets
from aitrader.config import ModelConfig, SimulationConfig
from aitrader.ledger import AttemptReport, Ledger, Position
from aitrader.markets import Market

if TYPE_CHECKING:
    from aitrader.agent.toolbox import ToolBox

STOP_SIGNAL = "<FINISH_SIGNAL>"


@attrs.frozen
class DayContext:
    """What the model knows when its day starts."""

    model: str
    date: str
    previous_session: str | None
    position: Position
    job_id: str | None = None
    attempt: int = 0
    market: Market = attrs.field(factory=markets.get)  # what it trades (US daily by default)


@attrs.define
class SessionReport:
    steps: int = 0
    stop_signal: bool = False
    summary: str = ""
    tool_usage: Counter[str] = attrs.Factory(Counter)

    def for_ledger(self) -> AttemptReport:
        return AttemptReport(self.steps, self.stop_signal, self.summary, dict(self.tool_usage))


class BaseAgent:
    """Shared by every agent: registration from the config."""

    def __init__(self, model: ModelConfig, config: SimulationConfig, ledger: Ledger) -> None:
        self.model = model
        self.config = config
        self.ledger = ledger
        self.signature = model.signature

    async def run_trading_session(self, day: DayContext, tools: ToolBox) -> SessionReport:
        """Trade one model-day through `tools`; the actor opens and closes the attempt."""
        raise NotImplementedError

    async def register_agent(self) -> bool:
        """The initial position: the configured (else the market's) cash on the config's init
        date, in the config's market and frequency."""
        return await self.ledger.register_model(
            self.signature, self.config.starting_cash, self.config.date_range.init_date,
            market=self.config.market, frequency=self.config.frequency)
