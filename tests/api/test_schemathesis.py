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
from tests.servers import ROOT, Servers, wait_healthy


async def test_schemathesis_finds_nothing(servers: Servers, tmp_path: Path) -> None:
    """`schemathesis run` with every check but "schema-valid data must be accepted" (a valid
    shape can still name a config or model that does not exist): exit code 0."""
    port = free_ports(1)[0]
    env = {**os.environ, "AITRADER_DB": str(servers.db), "API_PORT": str(port),
           "API_HOST": "127.0.0.1", "AITRADER_DATA_DIR": str(tmp_path / "data"),
           "AITRADER_CONFIGS_DIR": str(ROOT / "configs"), "MAX_CONCURRENT_JOBS": "1",
           **{var: str(servers.settings.ports[n]) for n, var in (
               ("math", "MATH_HTTP_PORT"), ("search", "SEARCH_HTTP_PORT"),
               ("trade", "TRADE_HTTP_PORT"), ("price", "GETPRICE_HTTP_PORT"))}}
    serve = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aitrader", "serve", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(wait_healthy, [base])
        st = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "schemathesis"), "run", f"{base}/openapi.json",
            "--checks", "all", "--exclude-checks", "positive_data_acceptance",
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
