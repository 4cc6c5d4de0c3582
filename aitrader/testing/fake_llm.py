"""A fake OpenAI-compatible LLM: an aiohttp server speaking chat completions (tool calls
included) that plays scripted conversations. The tests run it in their own process; the
benchmarks and the live-service tests run it as `python -m aitrader.testing.fake_llm`.

A script is a list of turns per model name; the turn played is the number of assistant
messages already in the request (so each model-day's conversation starts at turn 0 again,
and a retried day replays the same script); past the end the last turn repeats. Faults
(429 with Retry-After, 500, garbage, hangs) are consumed first, one per request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from aiohttp import web

from aitrader import markets
from aitrader.market.symbols import NASDAQ_100

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
    # provider quirks, as real APIs answer
    reasoning: str | None = None  # `reasoning_content` beside `content` (reasoning models)
    parts: bool = False  # content as a list of text parts instead of a string
    finish_reason: str | None = None  # e.g. "length": cut at the token limit
    usage: bool = True  # False: no `usage` in the answer


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
    html: bool = False  # an HTML error page (a gateway's), with `status`
    context_length: bool = False  # 400: the conversation is longer than the model's context
    none: bool = False  # no fault: answer this request normally (to fault a later one)


@attrs.define
class FakeLLM:
    scripts: dict[str, list[Turn]] = attrs.Factory(dict)
    faults: dict[str, list[Fault]] = attrs.Factory(dict)
    delays: dict[str, float] = attrs.Factory(dict)
    requests: list[dict[str, Any]] = attrs.Factory(list)
    keep_requests: bool = True
    on_request: Any = None  # called with (model, turn, messages) before answering
    # for a model without a script: the turn to play, from the request's messages
    default: Callable[[Sequence[Mapping[str, Any]]], Turn] | None = None
    default_delay: float = 0.0
    in_flight: int = 0  # requests being answered now
    max_in_flight: int = 0
    _ids: Any = attrs.Factory(lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    base_url: str = ""

    def script(self, model: str, turns: list[Turn], *, faults: Sequence[Fault] = (),
               delay: float = 0.0) -> None:
        self.scripts[model] = turns
        self.faults[model] = list(faults)
        self.delays[model] = delay

    async def start(self, *, port: int = 0) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5,
                                     access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
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
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = str(body.get("model"))
        if self.keep_requests:
            self.requests.append(body)
        faults = self.faults.get(model) or []
        fault = faults.pop(0) if faults else None
        if fault is not None and not fault.none:
            if fault.hang:
                await asyncio.sleep(3600)
            if fault.garbage:
                return web.Response(text="<html>gateway says no</html>",
                                    content_type="application/json")
            if fault.html:
                return web.Response(
                    text="<html><head><title>502 Bad Gateway</title></head><body><center>"
                         "<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>"
                         "</html>", status=fault.status, content_type="text/html")
            if fault.context_length:
                return web.json_response({"error": {
                    "message": "This model's maximum context length is 8192 tokens. However, "
                               "your messages resulted in 9100 tokens. Please reduce the "
                               "length of the messages.",
                    "type": "invalid_request_error", "param": "messages",
                    "code": "context_length_exceeded"}}, status=400)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            return web.json_response({"error": {"message": "fault", "type": "server_error"}},
                                     status=fault.status, headers=headers)
        delay = self.delays.get(model, self.default_delay)
        if delay:
            await asyncio.sleep(delay)
        messages = body.get("messages", [])
        played = sum(1 for m in messages if m.get("role") == "assistant")
        if self.on_request is not None:
            self.on_request(model, played, messages)
        turns = self.scripts.get(model)
        if turns:
            turn = turns[min(played, len(turns) - 1)]
        else:
            turn = self.default(messages) if self.default is not None else finish()
        if turn.delay:
            await asyncio.sleep(turn.delay)
        message: dict[str, Any] = {"role": "assistant", "content": turn.content or None}
        if turn.parts and turn.content:
            message["content"] = [{"type": "text", "text": turn.content}]
        if turn.reasoning is not None:
            message["reasoning_content"] = turn.reasoning
        if turn.calls:
            message["tool_calls"] = [
                {"id": f"call_{next(self._ids)}", "type": "function",
                 "function": {"name": c.name, "arguments": c.args if isinstance(c.args, str)
                              else json.dumps(c.args)}}
                for c in turn.calls]
        prompt = sum(len(json.dumps(m)) for m in body.get("messages", [])) // 4
        answer: dict[str, Any] = {
            "id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": turn.finish_reason
                         or ("tool_calls" if turn.calls else "stop")}]}
        if turn.usage:
            answer["usage"] = {"prompt_tokens": prompt, "completion_tokens": 20,
                               "total_tokens": prompt + 20}
        return web.json_response(answer)


_TODAY = re.compile(r"Today's date: (\d{4}-\d{2}-\d{2})")
_SESSION = re.compile(r"Current session: (\S+)")


def bench_turn(messages: Sequence[Mapping[str, Any]], tool_calls: int,
               per_turn: int = 3, market: str = "us/daily") -> Turn:
    """The benchmark's model: `tool_calls` valid calls per model-session, `per_turn` to a
    reply, as real models spread them: price look-ups of the previous session (which the
    price tool answers in full), the last call a buy (one AAPL share; 0.0001 BTC in crypto);
    then the stop signal. The session is read from the system prompt, the turn from the
    assistant messages so far; `market` is the run's ("crypto/hourly")."""
    played = sum(1 for m in messages if m.get("role") == "assistant")
    done = played * per_turn
    if done >= tool_calls:
        return finish()
    system = str(messages[0].get("content", "")) if messages else ""
    venue = markets.get(*market.split("/"))
    found = _SESSION.search(system) or _TODAY.search(system)
    before = venue.previous_session(found[1]) if found else None
    day = before.id if before else "2025-01-02"
    universe, buy = (NASDAQ_100, ("buy", {"symbol": "AAPL", "amount": 1})) \
        if venue.key == "us" else \
        (venue.universe, ("buy_crypto", {"symbol": "BTC-USDT", "amount": 0.0001}))
    calls: list[tuple[str, dict[str, Any] | str]] = []
    for i in range(done, min(done + per_turn, tool_calls)):
        if i == tool_calls - 1:
            calls.append(buy)
        else:
            calls.append(("get_price_local",
                          {"symbol": universe[i % len(universe)], "date": day}))
    return tools(*calls)


async def serve_bench(port: int, tool_calls: int, *, per_turn: int = 3,
                      delay: float = 0.0, market: str = "us/daily") -> None:
    """Answer every model with `bench_turn`, after `delay` seconds, until cancelled."""
    fake = FakeLLM(keep_requests=False)
    fake.default = lambda messages: bench_turn(messages, tool_calls, per_turn, market)
    fake.default_delay = delay
    await fake.start(port=port)
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="a fake OpenAI-compatible LLM for "
                                     "benchmarks and live tests")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tool-calls", type=int, default=0, help="per model-day")
    parser.add_argument("--per-turn", type=int, default=3, help="tool calls per reply")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--market", default="us/daily",
                        help="the run's market/frequency (the calls the model makes)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_bench(args.port, args.tool_calls, per_turn=args.per_turn,
                                delay=args.delay, market=args.market))


if __name__ == "__main__":  # the benchmarks' LLM, in its own process
    main()
