"""Shared by the deployment tests: tools that CI installs, processes seen from /proc, HTTP."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def need_tool(name: str, how: str) -> str:
    """The path of a command-line tool; skip without it, but fail under CI (.ci/run installs
    it)."""
    path = shutil.which(name) or (str(ROOT / ".venv" / "bin" / name)
                                  if (ROOT / ".venv" / "bin" / name).exists() else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {name} is missing: .ci/run installs it ({how})")
        pytest.skip(f"{name} is not installed ({how})")
    return path


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def http(method: str, url: str, body: dict[str, Any] | None = None,
         timeout: float = 10.0) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def run_demo_job(base: str, seconds: float = 180) -> tuple[dict[str, Any], dict[str, Any]]:
    """Trigger the default config up to 2025-10-10, wait for `completed`, read /results: the
    job's final status and the results, after checking both."""
    status, body = http("POST", f"{base}/simulate/trigger", {"end_date": "2025-10-10"})
    assert status == 202, (status, body)
    deadline = time.monotonic() + seconds
    while (view := http("GET", f"{base}/simulate/status/{body['job_id']}")[1])["status"] \
            != "completed":
        assert view["status"] in ("pending", "running"), view
        assert time.monotonic() < deadline, view
        time.sleep(0.3)
    status, results = http("GET", f"{base}/results")
    assert status == 200 and results["date"] == "2025-10-10", results
    assert sorted(r["model"] for r in results["results"]) == ["buy-and-hold", "momentum"]
    return view, results
