"""Client side of the tool servers: one long-lived MCP session per server, identity per request.

Enter and exit `tool_session` in the same task (the MCP SDK's cancel scopes require it).
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from aitrader.tools.identity import Identity, IdentityAuth

MCP_PATH = "/mcp"


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every session of the process. Building one loads the CA bundle,
    25 ms of C that holds the GIL; ten actors opening four sessions each paid it forty times
    at the start of a job and stalled the API meanwhile."""
    return httpx.create_ssl_context()


@asynccontextmanager
async def tool_session(
    base_url: str, identity: Callable[[], Identity | None], *,
    call_timeout: float | None = 30.0
) -> AsyncIterator[ClientSession]:
    """A session whose every HTTP request carries `identity()`; each request times out after
    `call_timeout` seconds (None: the caller limits its calls itself). Connecting is limited
    to 10 seconds either way."""
    http = httpx.AsyncClient(auth=IdentityAuth(identity),
                             timeout=httpx.Timeout(call_timeout, connect=10.0),
                             follow_redirects=True, verify=shared_ssl_context())
    url = base_url.rstrip("/") + MCP_PATH
    async with http, streamable_http_client(url, http_client=http) as (read, write, _), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


def result_payload(result: Any) -> Any:
    """A CallToolResult's value: structured content if any, else the text (JSON-decoded)."""
    if getattr(result, "structuredContent", None) is not None:
        sc = result.structuredContent
        return sc.get("result", sc) if isinstance(sc, dict) and set(sc) == {"result"} else sc
    texts = [c.text for c in result.content if getattr(c, "type", "") == "text"]
    text = "\n".join(texts)
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return text
