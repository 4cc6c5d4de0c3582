"""The LLM agent: ChatOpenAI (any OpenAI-compatible API) with the MCP tools, in AI-Trader's
plain loop: ask, run the tool calls, feed the results back, until the reply carries
<FINISH_SIGNAL> or max_steps is reached.

Every LLM call has a timeout and is retried with exponential backoff and jitter on 429
(honouring Retry-After), 5xx, timeouts and connection errors; what still fails fails the
model-day with a clear error. Invalid tool calls (bad JSON arguments, unknown tools) are
answered to the model as errors. Every call's tokens, latency and cost are recorded, and the
conversation is stored (database and log.jsonl).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from aitrader import failpoints
from aitrader.agent.base import STOP_SIGNAL, BaseAgent, DayContext, SessionReport
from aitrader.agent.prompt import system_prompt
from aitrader.agent.providers import Providers
from aitrader.agent.recorder import EXCHANGES, Exchange, Recorder, Usage, capture
from aitrader.agent.toolbox import ToolBox
from aitrader.config import ModelConfig, SimulationConfig
from aitrader.errors import AITraderError, ConfigError
from aitrader.ledger import Ledger
from aitrader.store import Store, utcnow

NUDGE = f"Continue with the tools, or reply {STOP_SIGNAL} when today's work is done."
MAX_RETRY_AFTER = 60.0
DROPPED = "[this tool result was dropped to fit the model's context]"


def text_of(content: object) -> str:
    """A reply's text: a string, or the text parts of a list of parts (some providers answer
    `[{"type": "text", "text": ...}]`); anything else contributes nothing."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p if isinstance(p, str) else str(p.get("text") or "")
                       for p in content if isinstance(p, str | dict))
    return ""


def _context_exceeded(exc: openai.BadRequestError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    code = str(body.get("code") or getattr(exc, "code", "") or "")
    text = str(body.get("message") or exc.message or "").lower()
    return code == "context_length_exceeded" or "context length" in text \
        or "context window" in text


def drop_oldest_tool_results(messages: list[BaseMessage]) -> int:
    """Shorten the conversation in place: the older half of the tool results (at least one)
    keep their call ids but lose their content. Returns how many were dropped."""
    results = [i for i, m in enumerate(messages)
               if isinstance(m, ToolMessage) and m.content != DROPPED]
    dropped = results[:max(1, len(results) // 2)] if results else []
    for i in dropped:
        old = messages[i]
        assert isinstance(old, ToolMessage)
        messages[i] = ToolMessage(DROPPED, tool_call_id=old.tool_call_id)
    return len(dropped)


class LLMError(AITraderError):
    code = "llm_failed"


def credentials(model: ModelConfig, env: Mapping[str, str]) -> tuple[str | None, str]:
    """(base URL, API key) for an LLM model: the model's own, else OPENAI_API_BASE and
    OPENAI_API_KEY; ConfigError when there is no key."""
    base_url = model.openai_base_url or env.get("OPENAI_API_BASE") or None
    api_key = model.openai_api_key or env.get("OPENAI_API_KEY") or ""
    if not api_key:
        raise ConfigError(f"model {model.signature} needs an API key: set OPENAI_API_KEY "
                          "or the model's openai_api_key", field="openai_api_key")
    return base_url, api_key


def _retry_after(exc: openai.APIStatusError) -> float | None:
    raw = exc.response.headers.get("retry-after") if exc.response is not None else None
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(raw))) if raw is not None else None
    except ValueError:
        return None


def _message_dict(msg: BaseMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": {"ai": "assistant", "human": "user", "system": "system",
                                    "tool": "tool"}.get(msg.type, msg.type),
                           "content": msg.content}
    if isinstance(msg, AIMessage):
        if msg.tool_calls:
            out["tool_calls"] = [{"name": c["name"], "args": c["args"]} for c in msg.tool_calls]
        if msg.invalid_tool_calls:
            out["invalid_tool_calls"] = [{"name": c.get("name"), "args": c.get("args"),
                                          "error": c.get("error")}
                                         for c in msg.invalid_tool_calls]
    if isinstance(msg, ToolMessage):
        out["tool_call_id"] = msg.tool_call_id
    return out


class LLMAgent(BaseAgent):
    def __init__(self, model: ModelConfig, config: SimulationConfig, ledger: Ledger, *,
                 store: Store, recorder: Recorder, env: Mapping[str, str] | None = None,
                 http: httpx.AsyncClient | None = None,
                 call_retries: int = 3, retry_base: float = 1.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 providers: Providers | None = None) -> None:
        super().__init__(model, config, ledger)
        base_url, api_key = credentials(model, os.environ if env is None else env)
        # the provider's limits, shared with every other actor calling it
        self.limiter = (providers or Providers()).limiter(base_url, config.providers)
        # `http`: the actor's own client; its response hook keeps every exchange whole
        # (`recorder.capture`), for replay. (Without one, langchain-openai shares one client
        # per process, bound to the event loop that first used it, and nothing is kept.)
        if http is not None and capture not in http.event_hooks["response"]:
            http.event_hooks["response"].append(capture)
        self._calls = 0  # the attempt's LLM exchanges so far
        self.llm = ChatOpenAI(model=model.basemodel, base_url=base_url,
                              api_key=SecretStr(api_key),
                              timeout=config.agent_config.llm_timeout, max_retries=0,
                              http_async_client=http)
        self.store = store
        self.recorder = recorder
        self.call_retries = call_retries
        self.retry_base = retry_base
        self._sleep = sleep
        self.attempt: int | None = None
        self._bound: tuple[int, Any] | None = None

    async def _ask(self, bound: Any, messages: list[BaseMessage], day: str) -> AIMessage:
        """One LLM call with retries; records every try. A 400 "context length exceeded"
        drops the oldest tool results from `messages` (in place, for the rest of the day too)
        and retries once, said in the day's log."""
        last = ""
        shrunk = False
        n = -1
        while True:
            n += 1  # tries so far; the one retry after dropping tool results is not counted
            started, t0 = utcnow(), time.perf_counter()
            wait: float | None = None
            failpoints.hit("llm.before_call")
            try:
                async with self.limiter.slot():
                    started, t0 = utcnow(), time.perf_counter()  # the call, not the wait
                    reply = await self._exchange(bound, messages, day)
            except openai.BadRequestError as exc:
                if shrunk or not _context_exceeded(exc):
                    retryable, outcome = False, "http_400"
                    last = ("the LLM API refused the request (HTTP 400)" if not shrunk else
                            "the conversation exceeds the model's context even with its "
                            "oldest tool results dropped")
                else:
                    dropped = drop_oldest_tool_results(messages)
                    shrunk = True
                    await self.recorder.llm_call(
                        attempt=self.attempt, day=day, started_at=started,
                        latency_ms=(time.perf_counter() - t0) * 1000, usage=Usage(),
                        outcome="context_length",
                        error=f"context length exceeded: {dropped} oldest tool results "
                              f"dropped, asked again")
                    if self.attempt is not None:
                        await self.recorder.messages(
                            attempt=self.attempt, day=day, step=-1, new=[{
                                "role": "note", "content": (
                                    f"the LLM API said the conversation exceeds the model's "
                                    f"context; the {dropped} oldest tool results were "
                                    f"dropped and the request sent again")}])
                    if dropped:
                        continue
                    retryable, outcome = False, "http_400"
                    last = "the conversation exceeds the model's context"
            except openai.APIStatusError as exc:
                retryable = exc.status_code == 429 or exc.status_code >= 500
                last = f"the LLM API answered HTTP {exc.status_code}"
                wait = _retry_after(exc) if exc.status_code == 429 else None
                outcome = f"http_{exc.status_code}"
            except openai.APITimeoutError:
                retryable, outcome = True, "timeout"
                last = (f"the LLM API did not answer within "
                        f"{self.config.agent_config.llm_timeout:.0f} s")
            except openai.APIConnectionError:
                retryable, outcome = True, "connection_error"
                last = "the LLM API could not be reached"
            except (ValueError, KeyError, TypeError) as exc:  # a body that is not a completion
                retryable, outcome = True, "bad_response"
                last = f"the LLM API answered something that is not a completion ({exc})"[:300]
            else:
                meta = reply.usage_metadata or {}  # a provider may send no usage at all
                cut = (reply.response_metadata or {}).get("finish_reason") == "length"
                await self.recorder.llm_call(
                    attempt=self.attempt, day=day, started_at=started,
                    latency_ms=(time.perf_counter() - t0) * 1000,
                    usage=Usage(int(meta.get("input_tokens", 0)),
                                int(meta.get("output_tokens", 0))),
                    outcome="length" if cut else "ok")
                assert isinstance(reply, AIMessage)
                return reply
            await self.recorder.llm_call(
                attempt=self.attempt, day=day, started_at=started,
                latency_ms=(time.perf_counter() - t0) * 1000, usage=Usage(), outcome=outcome,
                error=last)
            if not retryable or n >= self.call_retries + shrunk:
                break
            if wait is not None:  # Retry-After: the whole provider waits, this actor too
                self.limiter.pause(wait)
                continue
            backoff = self.retry_base * 2 ** n
            await self._sleep(backoff * random.uniform(0.5, 1.5))
        raise LLMError(f"{self.signature}: {last} (after {n + 1} tries)")

    async def _exchange(self, bound: Any, messages: list[BaseMessage], day: str) -> Any:
        """The call, its HTTP exchanges kept whole (also a failed one's)."""
        sink: list[Exchange] = []
        token = EXCHANGES.set(sink)
        try:
            reply = await bound.ainvoke(list(messages))
        except Exception:
            await self._keep(sink, day)
            raise
        finally:
            EXCHANGES.reset(token)
        await self._keep(sink, day)
        return reply

    async def _keep(self, sink: list[Exchange], day: str) -> None:
        await self.recorder.exchanges(attempt=self.attempt, day=day, first_call=self._calls,
                                      exchanges=sink)
        self._calls += len(sink)

    async def run_trading_session(self, day: DayContext, tools: ToolBox) -> SessionReport:
        report = SessionReport()
        self._calls = 0
        if self._bound is None or self._bound[0] != tools.version:  # bind once, not every day
            self._bound = (tools.version, self.llm.bind_tools(tools.tools))
        bound = self._bound[1]
        messages: list[BaseMessage] = [
            SystemMessage(await system_prompt(self.store, day)),
            HumanMessage(f"Please analyse and update today's ({day.date}) positions."),
        ]
        attempt = self.attempt = day.attempt
        await self.recorder.messages(attempt=attempt, day=day.date, step=0,
                                     new=[_message_dict(m) for m in messages])
        last_text = ""
        for step in range(1, self.config.agent_config.max_steps + 1):
            reply = await self._ask(bound, messages, day.date)
            report.steps = step
            new: list[BaseMessage] = [reply]
            messages.append(reply)
            text = text_of(reply.content)
            last_text = text or last_text
            for call in reply.tool_calls:
                result = await tools.call(call["name"], call["args"])
                report.tool_usage[call["name"]] += 1
                new.append(ToolMessage(result.text if not result.is_error
                                       else f"Error: {result.text}", tool_call_id=call["id"]))
            for bad in reply.invalid_tool_calls:
                report.tool_usage["invalid"] += 1
                new.append(ToolMessage(
                    f"Error: the call to {bad.get('name')!r} was not valid JSON arguments "
                    f"({bad.get('error') or 'unparseable'}); call it again with a JSON object.",
                    tool_call_id=bad.get("id") or "invalid"))
            messages.extend(new[1:])
            if not reply.tool_calls and not reply.invalid_tool_calls:
                if STOP_SIGNAL in text:
                    report.stop_signal = True
                    await self.recorder.messages(attempt=attempt, day=day.date, step=step,
                                                 new=[_message_dict(m) for m in new])
                    break
                nudge = HumanMessage(NUDGE)
                new.append(nudge)
                messages.append(nudge)
            await self.recorder.messages(attempt=attempt, day=day.date, step=step,
                                         new=[_message_dict(m) for m in new])
        report.summary = last_text.replace(STOP_SIGNAL, "").strip()[:1000]
        return report
