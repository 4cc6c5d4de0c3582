"""WebSocket resume, /metrics, /health and auth, through the real app."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import websockets
from prometheus_client.parser import text_string_to_metric_families

from aitrader import __version__
from aitrader.api.app import create_app
from aitrader.api.keys import SIMULATION
from aitrader.testing.fake_llm import FakeLLM, finish, tools
from aitrader.tools.launcher import ToolServers
from aitrader.tools.ports import free_ports
from tests.api.conftest import Api, Client, api_settings, write_config
from tests.api.test_contract import CONFIG, RANGE, wait_done
from tests.deploy.helpers import need_tool
from tests.stack import Stack, until


async def test_websocket_reconnect_with_since_gets_every_event_once(api: Api) -> None:
    """A viewer that drops mid-job and reconnects with since=<last seq> receives every event
    of the job exactly once, in order, ending with job.finished."""
    api.llm.script("fake/trader", [tools(("buy", {"symbol": "AAPL", "amount": 1})),
                                   finish()], delay=0.05)
    resp = await api.client.post("/simulate/trigger", json=RANGE)
    job = (await resp.json())["job_id"]
    seen: list[dict[str, Any]] = []
    ws = await api.client.ws_connect(f"/ws?job_id={job}&since=0")
    for _ in range(5):
        seen.append(json.loads((await ws.receive(timeout=10)).data))
    await ws.close()
    ws = await api.client.ws_connect(f"/ws?job_id={job}&since={seen[-1]['seq']}")
    while seen[-1]["type"] != "job.finished":
        msg = await ws.receive(timeout=20)
        assert msg.type == aiohttp.WSMsgType.TEXT
        seen.append(json.loads(msg.data))
    await ws.close()
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    resp = await api.client.get(f"/ws?since=0&job_id={job}")  # not a websocket upgrade
    assert resp.status in (400, 426)
    stored = await _stored_seqs(api, job)
    assert seqs == stored
    assert {e["type"] for e in seen} >= {"job.created", "job.status", "model_day.started",
                                         "model_day.tool_call", "model_day.finished",
                                         "job.finished"}


async def _stored_seqs(api: Api, job: str) -> list[int]:
    from aitrader.api.keys import BUS

    return [e.seq for e in await api.client.app[BUS].since(0, job_id=job)]


def _families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(fams: dict[str, Any], name: str, **labels: str) -> float:
    fam = fams.get(name)
    if fam is None:
        return 0.0
    return float(sum(s.value for s in fam.samples if s.name == f"{name}_total"
               and all(s.labels.get(k) == v for k, v in labels.items())))


async def test_metrics_parse_and_move(api: Api) -> None:
    """/metrics parses with prometheus_client's parser; the families are there and move."""
    before = _families(await (await api.client.get("/metrics")).text())
    for name in ("aitrader_jobs", "aitrader_model_sessions", "aitrader_tool_calls",
                 "aitrader_llm_tokens", "aitrader_llm_cost_usd", "aitrader_websocket_viewers",
                 "aitrader_http_requests", "aitrader_model_session_duration_seconds",
                 "aitrader_tool_call_duration_seconds", "aitrader_actor_mailbox_depth",
                 "aitrader_event_loop_lag_seconds", "aitrader_actor_restarts",
                 "aitrader_events"):
        assert name in before, name
    resp = await api.client.post("/simulate/trigger", json=RANGE)
    await wait_done(api, (await resp.json())["job_id"])

    async def counted() -> dict[str, Any] | None:  # the metrics task counts events as they come
        fams = _families(await (await api.client.get("/metrics")).text())
        return fams if _value(fams, "aitrader_jobs", status="completed") >= 1 else None

    after = await until(counted)
    assert _value(after, "aitrader_model_sessions", status="completed") - \
        _value(before, "aitrader_model_sessions", status="completed") == 6
    assert _value(after, "aitrader_tool_calls", tool="buy", result="ok") >= 3
    assert _value(after, "aitrader_llm_tokens", model="trader",
                  kind="completion") == 120
    assert _value(after, "aitrader_jobs", status="completed") == 1  # counted once, ended
    assert {s.labels["status"] for s in after["aitrader_jobs"].samples
            if s.name == "aitrader_jobs_total"} == {"completed"}
    assert _gauge(after, "aitrader_jobs_running") == 0
    # the last session each model completed: Monday 6 October 2025, closed 20:00 UTC
    closed = datetime(2025, 10, 6, 20, 0, tzinfo=UTC).timestamp()
    for model in ("trader", "momentum"):
        assert _gauge(after, "aitrader_last_completed_session_timestamp_seconds",
                      model=model) == closed
    assert _value(after, "aitrader_http_requests", method="POST", route="/simulate/trigger",
                  status="202") >= 1
    assert {s.labels["version"] for s in after["aitrader_build_info"].samples} == {__version__}
    assert _gauge(after, "process_resident_memory_bytes") > 0
    ws = await api.client.ws_connect("/ws")  # a viewer is not a request of a duration
    await ws.close()

    async def ws_counted() -> dict[str, Any] | None:  # once its handler has returned
        fams = _families(await (await api.client.get("/metrics")).text())
        return fams if _value(fams, "aitrader_http_requests", route="/ws", status="101") \
            else None

    final = await until(ws_counted)
    assert not [s for s in final["aitrader_http_request_duration_seconds"].samples
                if s.labels.get("route") == "/ws"]
    promtool = need_tool("promtool", "Debian's prometheus package; .ci/run installs it")
    checked = await asyncio.create_subprocess_exec(
        promtool, "check", "metrics", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await checked.communicate(await (await api.client.get("/metrics")).read())
    assert (checked.returncode, out.decode()) == (0, "")


def _gauge(fams: dict[str, Any], name: str, **labels: str) -> float:
    return float(sum(s.value for s in fams[name].samples if s.name == name
                     and all(s.labels.get(k) == v for k, v in labels.items())))


async def test_health_turns_503_when_a_tool_server_stops(
        stack: Stack, fake_llm: FakeLLM,
        aiohttp_client: Callable[..., Awaitable[Client]]) -> None:
    """A math server that is not running makes /health 503 naming it; once it runs, 200;
    and without the simulation loop /health says so and triggers answer 503."""
    port = free_ports(1)[0]
    settings = api_settings(stack, MATH_HTTP_PORT=str(port))
    write_config(stack, fake_llm)
    client = await aiohttp_client(create_app(settings))
    resp = await client.get("/health")
    body = await resp.json()
    assert resp.status == 503 and body["status"] == "unhealthy"
    assert body["services"]["mcp_math"]["status"] == "down"
    assert body["services"]["mcp_trade"]["status"] == "up"
    assert body["database"]["status"] == "up" and body["storage"]["writable"]
    math = ToolServers(settings, env={**stack.env, "MATH_HTTP_PORT": str(port)},
                       names=("math",))
    await math.start()
    try:
        resp = await client.get("/health")
        assert resp.status == 200 and (await resp.json())["status"] == "healthy"
        assert (await resp.json())["simulation"] == {"status": "up"}
        # the simulation loop gone (as if its thread died): unhealthy, and triggers say so
        await client.app[SIMULATION].__aexit__(None, None, None)
        resp = await client.get("/health")
        body = await resp.json()
        assert resp.status == 503 and body["simulation"] == {"status": "down"}
        resp = await client.post("/simulate/trigger", json={})
        assert resp.status == 503 and (await resp.json())["error"] == "unavailable"
    finally:
        await math.stop()


async def test_token_auth(stack: Stack, fake_llm: FakeLLM,
                          aiohttp_client: Callable[..., Awaitable[Client]]) -> None:
    """With a token set every endpoint but /health answers 401 without it, and with it what
    it answers to anyone (nothing run yet: a trigger starts a job, unknown jobs are 404);
    the WebSocket also takes ?token=."""
    settings = api_settings(stack, AITRADER_API_TOKEN="s3cret-token")
    write_config(stack, fake_llm, "default_config.json")
    client = await aiohttp_client(create_app(settings))
    good = {"Authorization": "Bearer s3cret-token"}
    for method, path, status in [
            ("GET", "/simulate/current", 404), ("GET", "/simulate/jobs", 200),
            ("GET", "/results", 404), ("GET", "/results/performance", 200),
            ("GET", "/metrics", 200),
            ("POST", "/simulate/trigger", 202), ("GET", "/simulate/status/x", 404),
            ("POST", "/simulate/jobs/x/cancel", 404), ("POST", "/simulate/jobs/x/retry", 404),
            ("GET", "/ws", None)]:
        resp = await client.request(method, path)
        assert resp.status == 401, path
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        resp = await client.request(method, path,
                                    headers={"Authorization": "Bearer wrong"})
        assert resp.status == 401, path
        if status is not None:
            resp = await client.request(method, path, headers=good)
            assert resp.status == status, (path, await resp.text())
    health = await client.get("/health")
    assert health.status == 200 and (await health.json())["auth_required"] is True
    # the API's description holds no data: a browser or a client generator opens it as is
    for path in ("/openapi.json", "/docs", "/docs/static/swagger-ui-bundle.js"):
        assert (await client.get(path)).status == 200, path
    assert (await (await client.get("/openapi.json")).json())["security"] == [{"bearer": []}]
    ws = await client.ws_connect("/ws?token=s3cret-token")
    await ws.close()
    # the dashboard page and its assets hold no data: a browser opens them without a header
    page = await client.get("/")
    assert page.status == 200 and page.content_type == "text/html"
    assert '<script src="/ui/app.js"' in await page.text()
    for asset, kind in (("/ui/app.js", "javascript"), ("/ui/app.css", "text/css")):
        resp = await client.get(asset)
        assert resp.status == 200 and kind in resp.content_type, asset
    for outside in ("/ui/../../settings.py", "/ui/%2e%2e/openapi.py", "/ui/"):
        assert (await client.get(outside)).status in (401, 403, 404), outside  # never a file


async def test_slow_viewer_is_cut_with_1013_and_catches_up(api: Api, monkeypatch: Any) -> None:
    """A viewer that stops reading (an independent client, `websockets`, with a 4 KiB receive
    buffer and a queue of one message) does not hold up the job; once more than 8 KiB wait for
    it, it gets a 1013 close frame naming the `since` to resume from, after every event it
    was sent; reconnecting with that since delivers the rest: every event of the job once."""
    import aitrader.api.fanout as fanout

    monkeypatch.setattr(fanout, "MAX_UNSENT", 8 * 1024)
    port = api.client.port
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    slow = await websockets.connect(f"ws://127.0.0.1:{port}/ws", sock=sock, max_queue=1,
                                    compression=None)
    resp = await api.client.post("/simulate/trigger", json={
        "config_path": CONFIG, "start_date": "2025-10-02", "end_date": "2025-10-31",
        "models": ["momentum"]})  # ~20 sessions of ~45 tool calls: ~1,000 events
    job = (await resp.json())["job_id"]
    done = await wait_done(api, job)  # the job is not held up by the viewer
    assert done["status"] == "completed"
    got, closed = await _read_until_closed(slow)
    assert closed.rcvd is not None and closed.rcvd.code == 1013
    assert got and closed.rcvd.reason == f"too slow; reconnect with since={got[-1]['seq']}"
    mine = [e["seq"] for e in got if e["job_id"] == job]
    assert len(mine) < len(await _stored_seqs(api, job))  # it was cut before the end
    async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws?since={got[-1]['seq']}&job_id={job}") as rest:
        more: list[dict[str, Any]] = []
        while not more or more[-1]["type"] != "job.finished":
            more.append(json.loads(await asyncio.wait_for(rest.recv(), 10)))
    assert mine + [e["seq"] for e in more] == await _stored_seqs(api, job)


async def _read_until_closed(ws: websockets.ClientConnection
                             ) -> tuple[list[dict[str, Any]], websockets.ConnectionClosed]:
    got: list[dict[str, Any]] = []
    try:
        while True:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    except websockets.ConnectionClosed as closed:
        return got, closed
