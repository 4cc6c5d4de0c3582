"""Input an adversarial client sends, each found by such a run: a 4xx with the `{error,
message}` body, never a 500, nothing logged as a server failure, nothing lost."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import structlog

from aitrader.api.app import create_app
from aitrader.testing.fake_llm import FakeLLM
from tests.api.conftest import Api, Client, ServiceServer, api_settings, write_config
from tests.stack import Stack

CONFIG = "configs/api.json"


async def raw_exchange(api: Api, request: bytes, *, read: bool = True) -> tuple[int, dict[str, str],
                                                                                bytes]:
    """Send bytes no well-behaved client would, read the answer: status, headers, body."""
    server = api.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if read and length else b""
        return status, headers, body
    finally:
        writer.close()


def error_body(raw: bytes) -> dict[str, Any]:
    body = json.loads(raw)
    assert set(body) >= {"error", "message"}, body
    assert "Traceback" not in body["message"] and "/tmp" not in body["message"]
    return dict(body)


async def test_hostile_trigger_bodies_are_400(api: Api, caplog: pytest.LogCaptureFixture
                                              ) -> None:
    """Nested 30,000 deep, an integer of 5,000 digits, gzip declared on a plain body: each a
    400 with the error body (on one keep-alive client: an unreadable body closes its
    connection), and nothing logged as a failure of the server, by us or by aiohttp."""
    with structlog.testing.capture_logs() as logged:
        for data, headers in [
                (b"[" * 30_000 + b"]" * 30_000, {}),
                (b'{"config_path": ' + b"7" * 5_000 + b"}", {}),
                (b'{"a": ' * 8_000 + b"1" + b"}" * 8_000, {}),
                (json.dumps({"config_path": CONFIG}).encode(), {"Content-Encoding": "gzip"}),
                (gzip.compress(b"{not json"), {"Content-Encoding": "gzip"})]:
            resp = await api.client.post(
                "/simulate/trigger", data=data,
                headers={"Content-Type": "application/json", **headers})
            body = await resp.json()
            assert resp.status == 400 and body["error"] == "invalid_input", (data[:40], body)
    assert not [e for e in logged if e["log_level"] == "error"], logged
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    # a real gzip body is still read
    resp = await api.client.post(
        "/simulate/trigger", data=gzip.compress(json.dumps({"config_path": CONFIG,
                                                            "colour": 1}).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert resp.status == 400 and "colour" in (await resp.json())["message"]


async def test_unicode_digits_and_huge_numbers_in_queries(api: Api) -> None:
    """`limit=²`, a 5,000-digit offset, `since=²` on the WebSocket: 400, not 500."""
    huge = "9" * 5_000
    for path in ("/simulate/jobs?limit=²", "/simulate/jobs?limit=٣",
                 f"/simulate/jobs?offset={huge}", f"/simulate/jobs?limit={huge}",
                 "/ws?since=²", f"/ws?since={huge}", "/ws?since=-1"):
        resp = await api.client.get(path)
        assert resp.status == 400, (path, resp.status)
        assert error_body(await resp.read())["error"] == "invalid_input"
    resp = await api.client.get("/simulate/jobs?limit=3&offset=0")
    assert resp.status == 200


@pytest.mark.parametrize("content", [
    b"\xff\xfe not utf-8 \x80", b"[" * 30_000 + b"]" * 30_000,
    b'{"models": [' + b"7" * 5_000 + b"]}"])
async def test_hostile_config_files_are_400(api: Api, content: bytes) -> None:
    """A config in configs/ that is not UTF-8, nested too deep or holds a huge number: 400
    naming the file, not a 500."""
    (api.stack.configs / "hostile.json").write_bytes(content)
    resp = await api.client.post("/simulate/trigger",
                                 json={"config_path": "configs/hostile.json"})
    body = error_body(await resp.read())
    assert resp.status == 400 and "hostile.json" in body["message"], body


async def test_results_cache_key_is_the_parsed_query(api: Api) -> None:
    """An encoded `&` inside a value is one (bad) date, whatever was asked before: the
    cache never answers it with the body of the query it looks like."""
    odd = "/results?date=2025-10-03%26model%3Dmomentum"
    first = await api.client.get(odd)
    await api.client.get("/results?date=2025-10-03&model=momentum")
    again = await api.client.get(odd)
    assert first.status == again.status == 400
    assert (await again.json())["error"] == "invalid_date"


async def test_parser_errors_and_missing_files_answer_json(api: Api) -> None:
    """aiohttp's own parser errors (a bad request line, a header without a colon, a bad
    Content-Length) and a missing dashboard file: the `{error, message}` body."""
    for request in [b"GARBAGE\r\n\r\n",
                    b"GET /health HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
                    b"POST /simulate/trigger HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                    b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n"]:
        status, headers, body = await raw_exchange(api, request)
        assert status == 400, request
        assert headers["content-type"].startswith("application/json"), headers
        assert error_body(body)["error"] == "bad_request"
    for path in ("/ui/nothing.js", "/ui/", "/docs/static/none.css"):
        resp = await api.client.get(path)
        assert resp.status == 404 and error_body(await resp.read())["error"] == "not_found", path


async def test_a_client_gone_mid_send_is_no_server_error(api: Api) -> None:
    """A client that hangs up halfway through its body: not an error in the log, not a 5xx
    in the metrics."""
    with structlog.testing.capture_logs() as logged:
        server = api.client.server
        for _ in range(3):
            _, writer = await asyncio.open_connection(server.host, server.port)
            writer.write(b"POST /simulate/trigger HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
                         b'{"config_path": "con')
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.close()
        await asyncio.sleep(0.3)
    assert not [e for e in logged if e["log_level"] in ("error", "critical")], logged
    metrics = await (await api.client.get("/metrics")).text()
    counted = [line for line in metrics.splitlines()
               if line.startswith('aitrader_http_requests_total{method="POST"')]
    assert counted == ['aitrader_http_requests_total{method="POST",route="/simulate/trigger",'
                       'status="499"} 3.0'], counted


async def test_non_utf8_bearer_token_is_401(stack: Stack, fake_llm: FakeLLM,
                                            aiohttp_client: Callable[..., Awaitable[Client]]
                                            ) -> None:
    """A bearer token that is not UTF-8 (or not ASCII) is refused with 401, not a 500."""
    settings = api_settings(stack, AITRADER_API_TOKEN="s3cret-token")
    write_config(stack, fake_llm)
    client = await aiohttp_client(ServiceServer(create_app(settings)))
    api = Api(client, settings, fake_llm, stack)
    for token in (b"\xff\xfe\xfd", "sécret".encode(), b"s3cret-token\xff"):
        status, _, body = await raw_exchange(
            api, b"GET /simulate/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
            b"\r\n\r\n")
        assert status == 401 and error_body(body)["error"] == "unauthorized", token
    resp = await client.get("/ws?token=s%C3%A9cret")
    assert resp.status == 401
