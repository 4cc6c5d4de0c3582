"""A fake OpenAI-compatible LLM: an aiohttp server speaking chat completions (tool calls
included) that plays scripted conversations.

A script is a list of turns per model name; the turn played is the number of assistant
messages already in the request (so each model-day's conversation starts at turn 0 again,
and a retried day replays the same script); past the end the last turn repeats. Faults
(429 with Retry-After, 500, garbage, hangs) are consumed first, one per request.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Sequence
from typing import Any

import attrs
from aiohttp import web

STOP = "<FINISH_SIGNAL>"


@attrs.frozen
class Call:
    name: str
    args: dict[str, Any] | str  # a str is sent as it is (invalid JSON on purpose)


@attrs.frozen
class Turn:
    calls: Sequence[Call] = ()
    content: str = ""
    delay: float = 0.0


def finish(text: str = "Done for today.") -> Turn:
    return Turn(content=f"{text} {STOP}")


def tools(*calls: tuple[str, dict[str, Any] | str]) -> Turn:
    return Turn(calls=[Call(n, a) for n, a in calls])


@attrs.frozen
class Fault:
    status: int = 500
    retry_after: float | None = None
    hang: bool = False
    garbage: bool = False


@attrs.define
class FakeLLM:
    scripts: dict[str, list[Turn]] = attrs.Factory(dict)
    faults: dict[str, list[Fault]] = attrs.Factory(dict)
    delays: dict[str, float] = attrs.Factory(dict)
    requests: list[dict[str, Any]] = attrs.Factory(list)
    on_request: Any = None  # called with (model, turn, messages) before answering
    _ids: Any = attrs.Factory(lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    base_url: str = ""

    def script(self, model: str, turns: list[Turn], *, faults: Sequence[Fault] = (),
               delay: float = 0.0) -> None:
        self.scripts[model] = turns
        self.faults[model] = list(faults)
        self.delays[model] = delay

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def calls_for(self, model: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("model") == model]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = str(body.get("model"))
        self.requests.append(body)
        faults = self.faults.get(model) or []
        if faults:
            fault = faults.pop(0)
            if fault.hang:
                await asyncio.sleep(3600)
            if fault.garbage:
                return web.Response(text="<html>gateway says no</html>",
                                    content_type="application/json")
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            return web.json_response({"error": {"message": "fault", "type": "server_error"}},
                                     status=fault.status, headers=headers)
        if self.delays.get(model):
            await asyncio.sleep(self.delays[model])
        turns = self.scripts.get(model) or [finish()]
        played = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        if self.on_request is not None:
            self.on_request(model, played, body.get("messages", []))
        turn = turns[min(played, len(turns) - 1)]
        if turn.delay:
            await asyncio.sleep(turn.delay)
        message: dict[str, Any] = {"role": "assistant", "content": turn.content or None}
        if turn.calls:
            message["tool_calls"] = [
                {"id": f"call_{next(self._ids)}", "type": "function",
                 "function": {"name": c.name, "arguments": c.args if isinstance(c.args, str)
                              else json.dumps(c.args)}}
                for c in turn.calls]
        prompt = sum(len(json.dumps(m)) for m in body.get("messages", [])) // 4
        return web.json_response({
            "id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if turn.calls else "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": 20,
                      "total_tokens": prompt + 20}})


def bench_script(tool_calls: int) -> list[Turn]:
    """One turn with `tool_calls` price look-ups (then buys 1 share), then the stop signal."""
    if tool_calls == 0:
        return [finish()]
    calls: list[tuple[str, dict[str, Any] | str]] = [
        ("get_price_local", {"symbol": "AAPL", "date": "2025-09-02"})
        for _ in range(tool_calls - 1)]
    calls.append(("buy", {"symbol": "AAPL", "amount": 1}))
    return [tools(*calls), finish()]


async def _serve(port: int, tool_calls: int, delay: float = 0.0) -> None:
    class Everyone(dict):  # type: ignore[type-arg]
        def get(self, key: object, default: object = None) -> object:
            return bench_script(tool_calls)

    fake = FakeLLM()
    fake.scripts = Everyone()
    fake.delays = {"fake/bench": delay}
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake._handle)
    fake.requests = _Discard()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


class _Discard(list):  # type: ignore[type-arg]
    def append(self, item: object) -> None:
        pass


if __name__ == "__main__":  # the benchmark's LLM, in its own process
    import sys

    asyncio.run(_serve(int(sys.argv[1]), int(sys.argv[2]),
                       float(sys.argv[3]) if len(sys.argv) > 3 else 0.0))
