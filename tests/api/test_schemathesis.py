"""Property-based: schemathesis drives the live service from its own OpenAPI document
(hundreds of generated requests, malformed ones included): no 5xx, and every response
matches the document."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from aitrader.tools.ports import free_ports
from tests.stack import ROOT, Stack, wait_http


async def test_schemathesis_finds_nothing(stack: Stack) -> None:
    """`schemathesis run` with every check but "schema-valid data must be accepted" (a valid
    shape can still name a config or model that does not exist): exit code 0. The service
    has a token, so the authentication checks (none, a wrong one) run too."""
    port = free_ports(1)[0]
    token = "schemathesis-token"
    env = {**stack.env, "API_PORT": str(port), "API_HOST": "127.0.0.1",
           "AITRADER_API_TOKEN": token,
           "AITRADER_CONFIGS_DIR": str(ROOT / "configs"), "MAX_CONCURRENT_JOBS": "1"}
    serve = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aitrader", "serve", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_http(f"{base}/health")
        st = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "schemathesis"), "run", f"{base}/openapi.json",
            "--checks", "all", "--exclude-checks", "positive_data_acceptance",
            "--header", f"Authorization: Bearer {token}",
            "--max-examples", "60", "--no-color", env={**os.environ, "NO_COLOR": "1"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(st.communicate(), 300)
        text = out.decode()
        assert st.returncode == 0, text[-4000:]
        found = re.search(r"(\d+) generated, (\d+) passed", text)
        assert found, text[-1000:]
        generated, passed = int(found.group(1)), int(found.group(2))
        assert generated >= 300 and passed == generated, text[-1000:]
    finally:
        serve.terminate()
        await serve.wait()
