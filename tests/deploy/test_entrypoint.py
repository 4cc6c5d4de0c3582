"""entrypoint.sh outside a container: it prepares, starts the tool servers, waits for their
health, execs the API; SIGTERM stops the API gracefully and the tool servers with it. And it
fails fast, with a message naming the cause, on a missing setting or a tool server that
cannot start."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aitrader.tools.ports import free_ports
from tests.deploy.helpers import ROOT, alive, http, run_demo_job, wait_gone

ENTRYPOINT = ROOT / "entrypoint.sh"
pytestmark = pytest.mark.timeout(300)


def entry_env(tmp: Path, ports: list[int], configs: Path = ROOT / "configs",
              **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AITRADER_", "OPENAI_", "API_")) and not k.endswith("_PORT")}
    return {**env, "PYTHON": sys.executable, "FASTMCP_CHECK_FOR_UPDATES": "off",
            "AITRADER_DATA_DIR": str(tmp / "data"), "AITRADER_LOG_DIR": str(tmp / "logs"),
            "AITRADER_CONFIGS_DIR": str(configs),
            "AITRADER_NEWS_FILE": str(tmp / "news.jsonl"),
            "MATH_HTTP_PORT": str(ports[0]), "SEARCH_HTTP_PORT": str(ports[1]),
            "TRADE_HTTP_PORT": str(ports[2]), "GETPRICE_HTTP_PORT": str(ports[3]),
            "API_HOST": "127.0.0.1", "API_PORT": str(ports[4]),
            "AITRADER_STARTUP_TIMEOUT": "90", **extra}


def tool_pids(tmp: Path) -> list[int]:
    return [int(p.read_text()) for p in sorted((tmp / "data" / "run").glob("*.pid"))]


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    ports = free_ports(5)
    log = (tmp_path / "entrypoint.log").open("wb")
    proc = subprocess.Popen(["bash", str(ENTRYPOINT)], env=entry_env(tmp_path, ports),
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{ports[4]}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail("entrypoint.sh exited: "
                            + (tmp_path / "entrypoint.log").read_text()[-2000:])
            try:
                if http("GET", f"{base}/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the API never answered /health"
            time.sleep(0.2)
        yield proc, base, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in tool_pids(tmp_path):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()


def test_starts_serves_a_job_and_stops_with_its_tool_servers(
        started: tuple[subprocess.Popen[bytes], str, Path]) -> None:
    proc, base, tmp = started
    pids = tool_pids(tmp)
    assert len(pids) == 4 and all(alive(p) for p in pids)
    run_demo_job(base)

    proc.send_signal(signal.SIGTERM)  # the API itself: entrypoint.sh exec'd it
    assert proc.wait(timeout=40) == 0
    assert wait_gone(pids, 15) == [], "the tool servers outlived the API"
    text = (tmp / "entrypoint.log").read_text()
    for name in ("math", "search", "trade", "price"):
        assert f"entrypoint: {name} tool server up" in text
    assert "demo market" in text


def test_a_missing_key_fails_fast_naming_it(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    doc = json.loads((ROOT / "configs" / "default_config.json").read_text())
    for m in doc["models"]:
        m["enabled"] = m["signature"] == "gpt-5"
    (configs / "default_config.json").write_text(json.dumps(doc))
    out = subprocess.run(["bash", str(ENTRYPOINT)], capture_output=True, text=True, timeout=120,
                         env=entry_env(tmp_path, free_ports(5), configs))
    assert out.returncode == 1
    text = out.stdout + out.stderr
    assert "OPENAI_API_KEY" in text and "'gpt-5'" in text
    assert "not starting" in text
    assert tool_pids(tmp_path) == []  # nothing was started


def test_a_tool_server_that_cannot_start_stops_the_start(tmp_path: Path) -> None:
    ports = free_ports(5)
    with socket.socket() as squatter:  # the trade server's port is taken
        squatter.bind(("127.0.0.1", ports[2]))
        squatter.listen()
        out = subprocess.run(["bash", str(ENTRYPOINT)], capture_output=True, text=True,
                             timeout=180, env=entry_env(tmp_path, ports))
    assert out.returncode == 1
    assert "the trade tool server exited during start-up" in out.stderr
    assert wait_gone(tool_pids(tmp_path), 15) == []  # the others were stopped


def test_bad_settings_are_named(tmp_path: Path) -> None:
    out = subprocess.run(["bash", str(ENTRYPOINT)], capture_output=True, text=True, timeout=60,
                         env=entry_env(tmp_path, free_ports(5), TRADE_HTTP_PORT="80x"))
    assert out.returncode == 1 and "trade tool server's port must be a number" in out.stderr
