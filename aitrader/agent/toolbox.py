"""The actor's MCP sessions and the one way its agent calls a tool.

Sessions are opened once per actor, in the actor's own task, one per tool server; the
identity headers are read per request from the actor's runtime state. Every call is timed,
checked for cancellation first (cancel takes effect between tool calls), and reported to an
observer (events, metrics, the reasoning log).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any

import attrs
from mcp import ClientSession

from aitrader import failpoints
from aitrader.errors import AITraderError
from aitrader.settings import Settings
from aitrader.tools.client import result_payload, tool_session
from aitrader.tools.identity import Identity


class ToolServerDown(AITraderError):
    """A tool server could not be reached; the model-day fails, naming it."""

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


def _describe(exc: BaseException) -> str:
    """The innermost cause of a (possibly grouped) connection failure, without internals."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return type(exc).__name__


class ToolBox:
    def __init__(self, sessions: Mapping[str, ClientSession], routes: Mapping[str, str],
                 urls: Mapping[str, str], *, cancelled: Callable[[], bool],
                 observer: Observer | None = None) -> None:
        self._sessions = sessions
        self.routes = routes  # tool name -> server
        self._urls = urls
        self._cancelled = cancelled
        self._observer = observer
        self.tools: dict[str, Any] = {}  # tool name -> mcp.types.Tool

    @classmethod
    async def open(cls, stack: AsyncExitStack, settings: Settings,
                   identity: Callable[[], Identity | None], *,
                   servers: Sequence[str] = ("math", "search", "trade", "price"),
                   cancelled: Callable[[], bool] = lambda: False,
                   observer: Observer | None = None, call_timeout: float = 30.0) -> ToolBox:
        """Open one session per server inside `stack` (enter and exit it in one task)."""
        sessions: dict[str, ClientSession] = {}
        routes: dict[str, str] = {}
        urls = {name: settings.tool_url(name) for name in servers}
        listed: dict[str, Any] = {}
        for name in servers:
            try:
                session = await stack.enter_async_context(
                    tool_session(urls[name], identity, call_timeout=call_timeout))
                tools = (await session.list_tools()).tools
            except Exception as exc:  # connection refused arrives as an ExceptionGroup
                raise ToolServerDown(f"the {name} tool server at {urls[name]} is unreachable "
                                     f"({_describe(exc)})", server=name) from None
            sessions[name] = session
            for tool in tools:
                routes[tool.name] = name
                listed[tool.name] = tool
        box = cls(sessions, routes, urls, cancelled=cancelled, observer=observer)
        box.tools = listed
        return box

    def session(self, server: str) -> ClientSession:
        return self._sessions[server]

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> ToolResult:
        if self._cancelled():
            raise Cancelled("the job was cancelled")
        server = self.routes.get(tool)
        started = time.perf_counter()
        if server is None:
            result = ToolResult(tool, arguments, True, f"unknown tool {tool!r}; the tools are: "
                                f"{', '.join(sorted(self.routes))}", 0.0)
        else:
            try:
                raw = await self._sessions[server].call_tool(tool, dict(arguments))
                failpoints.hit("tool_call.returned")  # crash tests: the server has acted
            except Exception as exc:
                raise ToolServerDown(
                    f"the {server} tool server at {self._urls[server]} failed during "
                    f"{tool} ({_describe(exc)})", server=server) from None
            result = ToolResult(tool, arguments, bool(raw.isError), result_payload(raw),
                                (time.perf_counter() - started) * 1000)
        if self._observer is not None:
            await self._observer(result)
        return result
