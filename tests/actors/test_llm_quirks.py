"""Provider quirks, each reproduced by the fake chat-completions server and handled: reasoning
models, content as a list of parts, several tool calls in one message, a reply cut at the token
limit, no usage, a 400 "context length exceeded", an HTML 502 page. (Malformed tool-call JSON
and a response that never ends are in test_llm_agent.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aitrader.agent.llm import DROPPED, text_of
from aitrader.store import Store
from aitrader.testing.fake_llm import STOP, FakeLLM, Fault, Turn, finish, tools
from tests.actors.test_llm_agent import run_llm_day
from tests.stack import Stack


async def _rows(store: Store, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    async with store.read() as conn:
        cur = await conn.execute(sql, args)
        return [tuple(r) for r in await cur.fetchall()]


async def test_a_reasoning_model(stack: Stack, llm: FakeLLM, tmp_path: Path) -> None:
    """`reasoning_content` beside `content`, and `content: null` with tool calls: the calls
    run, the reasoning is not taken for the answer, the stop signal in `content` ends the day."""
    llm.script("fake/reasoner", [
        Turn(calls=tools(("buy", {"symbol": "AAPL", "amount": 1})).calls,
             reasoning="AAPL looks cheap; buy one."),
        Turn(content=f"Bought one share. {STOP}", reasoning="Done, stop now."),
    ])
    out, store, sig, _ = await run_llm_day(stack, llm, tmp_path, "fake/reasoner")
    try:
        assert out.status == "completed"
        assert await _rows(store, "SELECT action, symbol FROM trades WHERE model = ?", sig) \
            == [("buy", "AAPL")]
        summary = await _rows(store, "SELECT summary FROM attempts WHERE model = ?", sig)
        assert summary == [("Bought one share.",)]
    finally:
        await store.close()


async def test_content_as_a_list_of_parts(stack: Stack, llm: FakeLLM, tmp_path: Path) -> None:
    llm.script("fake/parts", [Turn(content=f"All set for today. {STOP}", parts=True)])
    out, store, sig, _ = await run_llm_day(stack, llm, tmp_path, "fake/parts")
    try:
        assert out.status == "completed"
        rows = await _rows(store, "SELECT summary, stop_signal FROM attempts WHERE model = ?",
                           sig)
        assert rows == [("All set for today.", 1)]  # the text, not a list's repr
    finally:
        await store.close()
    assert text_of([{"type": "text", "text": "a"}, "b", {"type": "image_url"}, 3]) == "ab"


async def test_several_tool_calls_in_one_message(stack: Stack, llm: FakeLLM,
                                                 tmp_path: Path) -> None:
    llm.script("fake/multi", [
        tools(("get_price_local", {"symbol": "MSFT", "date": "2025-10-01"}),
              ("buy", {"symbol": "MSFT", "amount": 1}), ("buy", {"symbol": "AAPL", "amount": 2})),
        finish()])
    out, store, sig, _ = await run_llm_day(stack, llm, tmp_path, "fake/multi")
    try:
        assert out.status == "completed"
        assert await _rows(store, "SELECT symbol, quantity FROM trades WHERE model = ? "
                           "ORDER BY id", sig) == [("MSFT", "1"), ("AAPL", "2")]
        second = llm.calls_for("fake/multi")[1]["messages"]
        assert [m["role"] for m in second[-4:]] == ["assistant", "tool", "tool", "tool"]
    finally:
        await store.close()


async def test_a_reply_cut_at_the_token_limit_and_no_usage(stack: Stack, llm: FakeLLM,
                                                           tmp_path: Path) -> None:
    """`finish_reason: "length"` is recorded as such and the model is nudged to go on; an
    answer without `usage` counts no tokens and costs nothing, and nothing breaks."""
    llm.script("fake/cut", [Turn(content="I was going to buy", finish_reason="length",
                                 usage=False), finish()])
    out, store, sig, _ = await run_llm_day(stack, llm, tmp_path, "fake/cut")
    try:
        assert out.status == "completed"
        calls = await _rows(store, "SELECT outcome, prompt_tokens, completion_tokens, cost_usd "
                            "FROM llm_calls WHERE model = ? ORDER BY id", sig)
        assert calls[0] == ("length", 0, 0, 0.0) and calls[1][0] == "ok" and calls[1][1] > 0
        nudged = llm.calls_for("fake/cut")[1]["messages"][-1]
        assert nudged["role"] == "user" and STOP in nudged["content"]
    finally:
        await store.close()


async def test_context_length_exceeded_drops_the_oldest_tool_results_once(
        stack: Stack, llm: FakeLLM, tmp_path: Path) -> None:
    """The second request is refused for its length: the older half of the tool results
    lose their content (their call ids stay), the request goes again once, the log says so."""
    llm.script("fake/long", [
        tools(("get_price_local", {"symbol": "AAPL", "date": "2025-10-01"}),
              ("get_price_local", {"symbol": "MSFT", "date": "2025-10-01"})),
        finish()], faults=[Fault(none=True), Fault(context_length=True)])
    out, store, sig, _ = await run_llm_day(stack, llm, tmp_path, "fake/long", call_retries=0)
    try:
        assert out.status == "completed"
        calls = await _rows(store, "SELECT outcome, error FROM llm_calls WHERE model = ? "
                            "ORDER BY id", sig)
        assert [c[0] for c in calls] == ["ok", "context_length", "ok"]
        assert "1 oldest tool results dropped" in calls[1][1]
        retried = llm.calls_for("fake/long")[-1]["messages"]
        results = [m for m in retried if m["role"] == "tool"]
        assert [m["content"] == DROPPED for m in results] == [True, False]
        notes = await _rows(store, "SELECT m.content FROM messages m JOIN attempts a ON "
                            "a.id = m.attempt_id WHERE a.model = ? AND m.role = 'note'", sig)
        assert len(notes) == 1 and "oldest tool results were dropped" in json.loads(
            notes[0][0])["content"]
    finally:
        await store.close()


async def test_context_length_exceeded_twice_fails_the_day_clearly(
        stack: Stack, llm: FakeLLM, tmp_path: Path) -> None:
    llm.script("fake/huge", [
        tools(("get_price_local", {"symbol": "AAPL", "date": "2025-10-01"})), finish()],
        faults=[Fault(none=True), Fault(context_length=True), Fault(context_length=True)])
    out, store, _, _ = await run_llm_day(stack, llm, tmp_path, "fake/huge")
    try:
        assert out.status == "failed"
        assert "exceeds the model's context even with its oldest tool results dropped" in (
            out.error or "")
    finally:
        await store.close()


async def test_an_html_502_page_is_retried_and_never_shown(stack: Stack, llm: FakeLLM,
                                                           tmp_path: Path) -> None:
    llm.script("fake/gateway", [finish()], faults=[Fault(502, html=True)])
    out, store, sig, waits = await run_llm_day(stack, llm, tmp_path, "fake/gateway")
    try:
        assert out.status == "completed" and len(waits) == 1  # one backoff, then success
        calls = await _rows(store, "SELECT outcome, error FROM llm_calls WHERE model = ? "
                            "ORDER BY id", sig)
        assert [c[0] for c in calls] == ["http_502", "ok"]
        assert "html" not in (calls[0][1] or "").lower()
    finally:
        await store.close()


async def test_every_exchange_is_kept_whole(stack: Stack, llm: FakeLLM, tmp_path: Path) -> None:
    """Each HTTP exchange with the LLM API is stored as it went over the wire: the request
    body as sent (messages and tools), the raw response (with the `reasoning_content` the
    client library drops), a failed one's status and body too; numbered within the attempt."""
    llm.script("fake/kept", [
        Turn(calls=tools(("buy", {"symbol": "AAPL", "amount": 1})).calls, reasoning="hmm"),
        finish()], faults=[Fault(502, html=True)])
    out, store, sig, _ = await run_llm_day(stack, llm, tmp_path, "fake/kept")
    try:
        assert out.status == "completed"
        rows = await _rows(store, "SELECT call, status, request, response FROM llm_exchanges "
                           "WHERE model = ? ORDER BY id", sig)
        assert [(r[0], r[1]) for r in rows] == [(0, 502), (1, 200), (2, 200)]
        assert "502 Bad Gateway" in rows[0][3]
        sent = [json.loads(r[2]) for r in rows]
        assert sent[1] == llm.calls_for("fake/kept")[1]  # byte for byte what the server got
        assert {t["function"]["name"] for t in sent[1]["tools"]} >= {"buy", "sell"}
        answer = json.loads(rows[1][3])
        assert answer["choices"][0]["message"]["reasoning_content"] == "hmm"
        assert sent[2]["messages"][-1]["role"] == "tool"
        calls = await _rows(store, "SELECT COUNT(*) FROM llm_calls WHERE model = ?", sig)
        assert calls == [(3,)]
    finally:
        await store.close()
