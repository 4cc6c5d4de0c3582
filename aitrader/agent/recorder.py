"""What a model-day leaves behind: LLM calls (tokens, latency, cost), the reasoning log in
the database, and AI-Trader's `log.jsonl` under `<log_path>/<signature>/log/<date>/`."""

from __future__ import annotations

import contextvars
import json
from pathlib import Path
from typing import Any

import attrs
import httpx

from aitrader.config import Price
from aitrader.events import EventBus
from aitrader.store import Store, utcnow


@attrs.frozen
class Exchange:
    """One HTTP exchange with the LLM API, as bytes went over the wire (decoded as UTF-8)."""

    status: int
    request: str
    response: str


# the exchanges of the LLM call running in this task (set around the call by the agent; the
# actor's HTTP client's response hook appends to it)
EXCHANGES: contextvars.ContextVar[list[Exchange] | None] = contextvars.ContextVar(
    "llm_exchanges", default=None)


async def capture(response: httpx.Response) -> None:
    """An httpx response hook: keep the exchange if the running task asked for it."""
    sink = EXCHANGES.get()
    if sink is None:
        return
    await response.aread()
    sink.append(Exchange(response.status_code,
                         response.request.content.decode("utf-8", "replace"),
                         response.content.decode("utf-8", "replace")))


@attrs.frozen
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


def cost_usd(usage: Usage, price: Price | None) -> float:
    if price is None:
        return 0.0
    return (usage.prompt_tokens * price.prompt + usage.completion_tokens * price.completion) / 1e6


class Recorder:
    """Writes for one model (the actor's); `attempt`/`date` are set per model-day."""

    def __init__(self, store: Store, model: str, *, log_root: Path | None,
                 price: Price | None = None, bus: EventBus | None = None) -> None:
        self._store = store
        self._bus = bus
        self.model = model
        self._log_root = log_root
        self._price = price

    def log_file(self, day: str) -> Path | None:
        if self._log_root is None:
            return None
        return self._log_root / self.model / "log" / day / "log.jsonl"

    async def llm_call(self, *, attempt: int | None, day: str | None, started_at: str,
                       latency_ms: float, usage: Usage, outcome: str,
                       error: str | None = None) -> float:
        cost = cost_usd(usage, self._price)
        async with self._store.write() as conn:
            await conn.execute(
                "INSERT INTO llm_calls (attempt_id, model, date, started_at, latency_ms, "
                "prompt_tokens, completion_tokens, cost_usd, outcome, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (attempt, self.model, day, started_at, latency_ms, usage.prompt_tokens,
                 usage.completion_tokens, cost, outcome, error))
        if self._bus is not None:
            await self._bus.publish("llm.call", model=self.model, date=day, outcome=outcome,
                                    prompt_tokens=usage.prompt_tokens,
                                    completion_tokens=usage.completion_tokens,
                                    cost_usd=cost, latency_ms=round(latency_ms, 1))
        return cost

    async def exchanges(self, *, attempt: int | None, day: str | None, first_call: int,
                        exchanges: list[Exchange]) -> None:
        """Store LLM exchanges whole: the request body as sent, the raw response (replay
        reads them back; the response keeps what the client library drops, such as a
        reasoning model's `reasoning_content`)."""
        if not exchanges:
            return
        now = utcnow()
        async with self._store.write() as conn:
            await conn.executemany(
                "INSERT INTO llm_exchanges (attempt_id, model, date, call, status, request, "
                "response, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(attempt, self.model, day, first_call + i, x.status, x.request, x.response,
                  now) for i, x in enumerate(exchanges)])

    async def messages(self, *, attempt: int, day: str, step: int,
                       new: list[dict[str, Any]]) -> None:
        """Store one step's new messages, and append them to the day's log.jsonl."""
        now = utcnow()
        path = self.log_file(day)
        async with self._store.write() as conn:
            await conn.executemany(
                "INSERT INTO messages (attempt_id, step, role, content, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(attempt, step, m.get("role", ""), json.dumps(m, default=str), now)
                 for m in new])
            if step == 0 and path is not None:
                await conn.execute("UPDATE attempts SET log_file = ? WHERE id = ?",
                                   (str(path), attempt))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"signature": self.model, "attempt": attempt,
                                     "step": step, "new_messages": new}, default=str) + "\n")
