"""A real full disk: `aitrader serve` and its tool servers with their data on a small tmpfs
(in a private mount namespace: `unshare`, no root needed), filled up while they run."""

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

import pytest

from aitrader.tools.ports import free_ports, tool_env
from tests.disk import fill

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
set -e
mount -t tmpfs -o size=48m tmpfs "$MNT"
cp "$SOURCE_DB" "$AITRADER_DB"
setpriv --pdeathsig TERM "$PYTHON" -m aitrader mcp &
exec "$PYTHON" -m aitrader serve
"""


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "--pid", "--fork", "sh", "-c",
                            "mount -t tmpfs tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


def call(base: str, method: str, path: str, body: dict[str, Any] | None = None
         ) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def on_tmpfs(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The service on a 48 MB tmpfs; yields its base URL and the tmpfs as this process sees
    it (through /proc/<pid>/root of a process inside the namespace)."""
    if not _namespaces_work():
        if os.environ.get("CI"):
            pytest.fail("CI is set but unshare cannot make a user and mount namespace here")
        pytest.skip("unshare cannot make a user and mount namespace on this machine")
    ports = free_ports(5)
    mnt = tmp_path / "disk"
    mnt.mkdir()
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "default_config.json").write_text(json.dumps({
        "market": "database", "date_range": {"init_date": "2025-10-01"},
        "agent_config": {"max_retries": 0, "base_delay": 0},
        "log_config": {"log_path": str(mnt / "agent_data")},
        "models": [{"name": "m", "basemodel": "baseline/momentum", "signature": "m"}]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AITRADER_", "OPENAI_"))}
    env.update(tool_env(ports[:4], AITRADER_DB=str(tmp_path / "source.db"),
                        AITRADER_DATA_DIR=str(mnt), AITRADER_NEWS_FILE=str(mnt / "news.jsonl"),
                        AITRADER_CONFIGS_DIR=str(configs), AITRADER_MIN_FREE_MB="1",
                        API_HOST="127.0.0.1", API_PORT=str(ports[4]),
                        FASTMCP_CHECK_FOR_UPDATES="off"))
    subprocess.run([sys.executable, "-m", "aitrader", "prices", "demo", "--start", "2025-09-01",
                    "--end", "2025-10-31"], env=env, check=True, capture_output=True)
    env.update(SOURCE_DB=env["AITRADER_DB"], AITRADER_DB=str(mnt / "aitrader.db"),
               MNT=str(mnt), PYTHON=sys.executable)
    log = (tmp_path / "service.log").open("wb")
    proc = subprocess.Popen(["unshare", "-rm", "--pid", "--fork", "--kill-child",
                             "--mount-proc", "sh", "-c", SCRIPT],
                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{ports[4]}"
    try:
        deadline = time.monotonic() + 120
        while call_or_none(base) != 200:
            assert proc.poll() is None, (tmp_path / "service.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the service never became healthy"
            time.sleep(0.3)
        yield base, Path(f"/proc/{proc.pid}/root") / mnt.relative_to("/")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def call_or_none(base: str) -> int | None:
    try:
        return call(base, "GET", "/health")[0]
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None




def test_a_full_disk_is_503_with_the_reason_and_nothing_is_lost(
        on_tmpfs: tuple[str, Path]) -> None:
    """With the data disk full, a trigger answers 503 saying the disk is full (not a 500)
    and /health is unhealthy, naming it; once there is room again the same trigger starts a
    job that completes, and /health is healthy again."""
    base, disk = on_tmpfs
    assert (disk / "aitrader.db").exists()  # the tmpfs the service writes to
    filler = fill(disk)
    request = {"start_date": "2025-10-02", "end_date": "2025-10-08"}
    status, body = call(base, "POST", "/simulate/trigger", request)
    assert status == 503 and body["error"] == "unavailable", body
    assert "disk is full" in body["message"], body
    status, health = call(base, "GET", "/health")
    assert status == 503 and health["status"] == "unhealthy"
    assert "full" in health["database"]["error"], health
    assert "0 MB free" in health["storage"]["error"], health

    filler.unlink()
    status, body = call(base, "POST", "/simulate/trigger", request)
    assert status == 202, body
    deadline = time.monotonic() + 120
    while True:
        _, view = call(base, "GET", f"/simulate/status/{body['job_id']}")
        if view["status"] not in ("pending", "running"):
            break
        assert time.monotonic() < deadline, view
        time.sleep(0.3)
    assert view["status"] == "completed", view
    assert call(base, "GET", "/health")[0] == 200
