"""A live aitrader service as its users meet it: `aitrader serve` and `aitrader mcp` in their
own processes, token on, a demo market for Aug-Oct 2025 in its own database, a scripted LLM
(0.2 s per answer) for a job that takes long enough to watch, and configs for the default
baselines, a slow model, a model whose every day fails and one more baseline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from aitrader.tools.ports import free_ports, tool_env

ROOT = Path(__file__).resolve().parents[1]

TOKEN = "windmill-test-token"


@attrs.define
class Service:
    base: str
    configs: Path
    env: dict[str, str]
    llm_port: int

    def api(self, token: str = TOKEN) -> dict[str, str]:
        return {"base_url": self.base, "token": token}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        req = urllib.request.Request(
            self.base + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return {"http_status": exc.code, **json.loads(exc.read() or b"{}")}

    def wait_job(self, job_id: str, seconds: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            view = self.call("GET", f"/simulate/status/{job_id}")
            if view["status"] not in ("pending", "running"):
                return dict(view)
            assert time.monotonic() < deadline, view
            time.sleep(0.3)


def _wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the process serving {url} exited"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def start_service(tmp: Path) -> Iterator[Service]:
    ports = free_ports(6)
    configs = tmp / "configs"
    configs.mkdir()
    shutil.copy(ROOT / "configs" / "default_config.json", configs)
    llm = f"http://127.0.0.1:{ports[5]}/v1"
    for name, model in {
        # every model-day fails: its LLM API cannot be reached
        "failing.json": {"name": "broken", "basemodel": "fake/broken", "signature": "broken",
                         "openai_base_url": "http://127.0.0.1:9/v1", "openai_api_key": "sk-x"},
        # a slow LLM (0.2 s per answer): a job that runs long enough to be in the way
        "slow.json": {"name": "slow", "basemodel": "fake/slow", "signature": "slow",
                      "openai_base_url": llm, "openai_api_key": "sk-x"},
        # one more baseline: work of its own whenever a test needs a job that succeeds
        "extra.json": {"name": "extra", "basemodel": "baseline/buy-and-hold",
                       "signature": "extra"},
    }.items():
        (configs / name).write_text(json.dumps({
            "market": "database", "date_range": {"init_date": "2025-10-01"},
            "agent_config": {"max_retries": 0, "base_delay": 0, "llm_timeout": 2},
            "models": [model]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AITRADER_", "OPENAI_"))}
    env.update(tool_env(ports[:4], AITRADER_DB=str(tmp / "wm.db"),
                        AITRADER_DATA_DIR=str(tmp / "data"),
                        AITRADER_NEWS_FILE=str(tmp / "news.jsonl"),
                        AITRADER_CONFIGS_DIR=str(configs), AITRADER_API_TOKEN=TOKEN,
                        API_HOST="127.0.0.1", API_PORT=str(ports[4]),
                        FASTMCP_CHECK_FOR_UPDATES="off", MAX_CONCURRENT_JOBS="1"))
    subprocess.run([sys.executable, "-m", "aitrader", "prices", "demo", "--start", "2025-08-01",
                    "--end", "2025-10-31"], env=env, check=True, capture_output=True,
                   cwd=tmp)
    procs = [
        subprocess.Popen([sys.executable, "-m", "aitrader.testing.fake_llm", "--port",
                          str(ports[5]), "--tool-calls", "3", "--delay", "0.2"],
                         cwd=ROOT, stdout=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "aitrader", "mcp"], env=env, cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    serve = subprocess.Popen([sys.executable, "-m", "aitrader", "serve"], env=env, cwd=tmp,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(serve)
    try:
        _wait_http(f"http://127.0.0.1:{ports[4]}/health", serve)
        yield Service(f"http://127.0.0.1:{ports[4]}", configs, env, ports[5])
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()




@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    yield from start_service(tmp_path_factory.mktemp("service"))

