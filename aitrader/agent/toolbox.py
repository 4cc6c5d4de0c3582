"""The actor's MCP sessions, its tools, and the one way its agent calls a tool.

One long-lived session per tool server, opened when the actor starts and reopened before a
model-day if it broke. Each session is entered and exited by a small task of its own (a
keeper): when a server dies, the MCP transport's task group fails and cancels the task that
entered it, and that must be the keeper, never the actor. The identity headers are read per
request from the actor's runtime state (`IdentityAuth`).

The tools are LangChain tools made by langchain-mcp-adapters from each open session
(`load_mcp_tools(session)`): the LLM is bound to them, and every call goes through the
adapter's tool with an interceptor that times it out, names the server when it fails, and
lets crash tests fail there. Calls use the tool's coroutine rather than LangChain's generic
`ainvoke`, whose per-call signature inspection cost more than the round trip to the server
(see docs/simulations.md). Every call is checked for cancellation first (cancel takes effect
between tool calls) and reported to an observer (events, metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs
import structlog
from langchain_core.tools import BaseTool, ToolException
from langchain_mcp_adapters.interceptors import MCPToolCallRequest, MCPToolCallResult
from langchain_mcp_adapters.tools import load_mcp_tools

from aitrader import failpoints
from aitrader.errors import AITraderError
from aitrader.settings import TOOL_SERVERS, Settings
from aitrader.tools.client import tool_session
from aitrader.tools.identity import Identity

log = structlog.get_logger(__name__)


class ToolServerDown(AITraderError):
    """A tool server could not be reached or did not answer; the model-day fails, naming it."""

    code = "tool_server_down"


class Cancelled(AITraderError):
    code = "cancelled"


@attrs.frozen
class ToolResult:
    tool: str
    arguments: Mapping[str, Any]
    is_error: bool
    payload: Any
    ms: float

    @property
    def text(self) -> str:
        return self.payload if isinstance(self.payload, str) else json.dumps(self.payload)


Observer = Callable[[ToolResult], Awaitable[None]]
Handler = Callable[[MCPToolCallRequest], Awaitable[MCPToolCallResult]]


def describe(exc: BaseException) -> str:
    """The innermost cause of a (possibly grouped) failure, without internals."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return type(exc).__name__


def payload_of(content: Any, artifact: Any) -> Any:
    """A tool's value: its structured content if any, else its text (JSON-decoded if it is)."""
    structured = artifact.get("structured_content") if isinstance(artifact, dict) else None
    if structured is not None:
        return structured["result"] if set(structured) == {"result"} else structured
    if isinstance(content, str):
        text = content
    else:
        text = "\n".join(b.get("text", "") for b in content
                         if isinstance(b, dict) and b.get("type") == "text")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return text


@attrs.define
class _Kept:
    """One server's session, kept open by a task of its own."""

    name: str
    url: str
    tools: dict[str, BaseTool] = attrs.Factory(dict)
    broken: str | None = None
    closing: asyncio.Event = attrs.Factory(asyncio.Event)
    task: asyncio.Task[None] | None = None


class ToolBox:
    """`async with ToolBox(settings, identity) as tools:` in the actor's task."""

    def __init__(self, settings: Settings, identity: Callable[[], Identity | None], *,
                 servers: Sequence[str] = TOOL_SERVERS,
                 cancelled: Callable[[], bool] = lambda: False,
                 observer: Observer | None = None, call_timeout: float = 30.0) -> None:
        self._settings = settings
        self._identity = identity
        self._kept = {name: _Kept(name, settings.tool_url(name)) for name in servers}
        self._cancelled = cancelled
        self._observer = observer
        self.call_timeout = call_timeout
        self._open = False
        self.routes: dict[str, str] = {}  # tool name -> server
        self.version = 0  # grows whenever the tools are reloaded
        self.hidden: frozenset[str] = frozenset()  # tools of another market (see `for_market`)

    async def __aenter__(self) -> ToolBox:
        """Ready to open sessions; `ensure_open()` opens them (each model-day calls it)."""
        self._open = True
        return self

    async def __aexit__(self, *exc: Any) -> None:
        """Close every session in its keeper's task; a keeper that does not end within a few
        seconds is cancelled. The tool box owns its keepers: none outlives it."""
        self._open = False
        tasks = [k.task for k in self._kept.values() if k.task is not None]
        for kept in self._kept.values():
            kept.closing.set()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=5)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def tools(self) -> list[BaseTool]:
        """The LangChain tools of every open session (what an LLM is bound to), but those of
        another market (crypto's buy_crypto/sell_crypto for a stock model, and back)."""
        return [t for kept in self._kept.values() for t in kept.tools.values()
                if t.name not in self.hidden]

    def for_market(self, key: str) -> None:
        """Show the trade tools of market `key` only."""
        self.hidden = frozenset(("buy", "sell") if key == "crypto"
                                else ("buy_crypto", "sell_crypto"))

    async def ensure_open(self) -> None:
        """Open the sessions that are not open (first use, or broken since): a server that
        cannot be reached raises ToolServerDown naming it."""
        assert self._open, "use the tool box in `async with`"
        for kept in self._kept.values():
            if kept.task is not None and not kept.task.done() and kept.broken is None:
                continue
            if kept.task is not None:
                kept.closing.set()
                await asyncio.wait([kept.task])
            kept.broken, kept.tools, kept.closing = None, {}, asyncio.Event()
            ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            kept.task = asyncio.create_task(self._keep(kept, ready), name=f"mcp:{kept.name}")
            await ready
            self.version += 1
        self.routes = {t: kept.name for kept in self._kept.values() for t in kept.tools}

    async def _keep(self, kept: _Kept, ready: asyncio.Future[None]) -> None:
        """Enter the session, load its tools, wait until closing, exit it: all in this task.
        Never raises (a failure here must not cancel the actor): it marks the session broken."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                async with asyncio.timeout(self.call_timeout):  # opening, within one limit
                    # no time limit of the HTTP client's own: the interceptor gives each call
                    # the config's tool_timeout, which may change from one job to the next
                    session = await stack.enter_async_context(
                        tool_session(kept.url, self._identity, call_timeout=None))
                    tools = await load_mcp_tools(session, server_name=kept.name,
                                                 tool_interceptors=[self._intercept])
                kept.tools = {t.name: t for t in tools}
                ready.set_result(None)
                await kept.closing.wait()
        except BaseException as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the tool box is closing
            if not isinstance(exc, Exception | BaseExceptionGroup | asyncio.CancelledError):
                raise
            kept.broken = f"no answer within {self.call_timeout:g} s" \
                if isinstance(exc, TimeoutError) else describe(exc)
            log.warning("tool_session_broken", server=kept.name, error=kept.broken)
        finally:
            kept.tools = {} if kept.broken else kept.tools
            if not ready.done():
                ready.set_exception(ToolServerDown(
                    f"the {kept.name} tool server at {kept.url} is unreachable "
                    f"({kept.broken or 'closed'})", server=kept.name))

    async def _intercept(self, request: MCPToolCallRequest, handler: Handler
                         ) -> MCPToolCallResult:
        """Around every call the adapter makes: a time limit, and a failure that names the
        server instead of a transport's exception."""
        kept = self._kept[request.server_name]
        keeper = kept.task
        assert keeper is not None
        # the call races its session's keeper: when the server dies, the transport fails,
        # the keeper ends, and a request in flight would otherwise wait for its time limit
        call = asyncio.ensure_future(handler(request))
        try:
            await asyncio.wait([call, keeper], timeout=self.call_timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not call.done():
                call.cancel()
                await asyncio.gather(call, return_exceptions=True)
        if call.cancelled() and not keeper.done():
            raise ToolServerDown(
                f"the {kept.name} tool server did not answer {request.name} within "
                f"{self.call_timeout:g} s", server=kept.name)
        exc = None if call.cancelled() else call.exception()
        if call.cancelled() or exc is not None:
            why = kept.broken or describe(exc or RuntimeError())
            kept.broken = why
            raise ToolServerDown(
                f"the {kept.name} tool server at {kept.url} failed during {request.name} "
                f"({why})", server=kept.name)
        failpoints.hit("tool_call.returned")  # crash tests: the server has acted
        return call.result()

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> ToolResult:
        if self._cancelled():
            raise Cancelled("the job was cancelled")
        server = self.routes.get(tool)
        started = time.perf_counter()
        if server is None:
            result = ToolResult(tool, arguments, True, f"unknown tool {tool!r}; the tools are: "
                                f"{', '.join(sorted(self.routes))}", 0.0)
        else:
            kept = self._kept[server]
            if kept.broken is not None or tool not in kept.tools:
                raise ToolServerDown(f"the {server} tool server at {kept.url} is unreachable "
                                     f"({kept.broken or 'closed'})", server=server)
            coroutine = getattr(kept.tools[tool], "coroutine", None)  # a StructuredTool's
            assert coroutine is not None
            try:
                content, artifact = await coroutine(**dict(arguments))
                is_error = False
            except ToolException as exc:  # the server's isError answer, as the adapter gives it
                content, artifact, is_error = getattr(exc, "tool_content", str(exc)), None, True
            failpoints.hit("tool_result.parse")
            result = ToolResult(tool, arguments, is_error, payload_of(content, artifact),
                                (time.perf_counter() - started) * 1000)
        if self._observer is not None:
            await self._observer(result)
        return result
