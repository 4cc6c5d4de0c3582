"""A live aitrader service (token on, demo market Aug-Oct 2025, its own tool servers and
database) and a real PostgreSQL server, for the Windmill scripts and flow."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import psycopg2
import pytest

from aitrader.tools.ports import free_ports, tool_env
from tests.windmill.workspace import ROOT

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


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("windmill-service")
    ports = free_ports(6)
    configs = tmp / "configs"
    configs.mkdir()
    shutil.copy(ROOT / "configs" / "default_config.json", configs)
    llm = f"http://127.0.0.1:{ports[5]}/v1"
    for name, model in {
        # every model-day fails: its LLM API cannot be reached
        "failing.json": {"name": "broken", "basemodel": "fake/broken", "signature": "broken",
                         "openai_base_url": "http://127.0.0.1:9/v1", "openai_api_key": "sk-x"},
        # a slow LLM (1 s per answer): a job that runs long enough to be in the way
        "slow.json": {"name": "slow", "basemodel": "fake/slow", "signature": "slow",
                      "openai_base_url": llm, "openai_api_key": "sk-x"},
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
        subprocess.Popen([sys.executable, "-m", "tests.fakes.llm", str(ports[5]), "3", "1.0"],
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


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        if os.environ.get("CI"):
            pytest.fail("CI is set but PostgreSQL is missing: .ci/run installs Debian's "
                        "postgresql")
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    return Path(found[-1]).parent


@pytest.fixture(scope="session")
def postgres() -> Iterator[dict[str, Any]]:
    """A PostgreSQL server on a free port in a temporary folder (as the postgres user when
    the tests run as root: initdb refuses root)."""
    bindir = _pg_bin()
    folder = Path(tempfile.mkdtemp(prefix="aitrader-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_ports(1)[0]
    data = folder / "data"
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l",
                    str(folder / "server.log"), "-w", "-t", "60", "-o",
                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "start"], check=True, capture_output=True)
    try:
        yield {"host": "127.0.0.1", "port": port, "user": "postgres", "dbname": "postgres",
               "sslmode": "disable", "password": ""}
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_db(postgres: dict[str, Any]) -> dict[str, Any]:
    """A new, empty database on the server: a Windmill postgresql resource."""
    name = f"results_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(**{**postgres, "password": None})
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    return {**postgres, "dbname": name}
