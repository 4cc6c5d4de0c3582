"""The `aitrader` command as a user runs it: real processes, a real database file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from aitrader.tools.health import probe
from aitrader.tools.ports import free_ports, tool_env
from tests.conftest import ROOT, shared_data
from tests.deploy.helpers import alive
from tests.stack import Stack, wait_http


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "AITRADER_DB": str(tmp_path / "cli.db"), **(env or {})}
    full.pop("ALPHAADVANTAGE_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "aitrader", *args], env=full, text=True,
                          capture_output=True, timeout=120, check=False)


def test_demo_then_status(tmp_path: Path) -> None:
    """`prices demo` fills the universe; `prices status` labels it synthetic, with no gaps."""
    out = run(tmp_path, "prices", "demo", "--start", "2025-10-01", "--end", "2025-10-10")
    assert out.returncode == 0, out.stderr
    assert "synthetic demo market" in out.stdout and "102 symbols" in out.stdout
    st = run(tmp_path, "prices", "status", "--json")
    assert st.returncode == 0
    doc = json.loads(st.stdout)  # stdout is the JSON alone; the words go to stderr
    assert doc == {"first": "2025-10-01", "last": "2025-10-10", "symbols": 102, "absent": [],
                   "synthetic": True, "gaps": {}}
    assert "includes the synthetic demo market" in st.stderr
    empty = run(tmp_path, "report")
    assert empty.returncode == 2 and "no models in the ledger yet" in empty.stderr


def test_demo_prices_for_another_market_and_frequency(tmp_path: Path) -> None:
    """`prices demo --market crypto --frequency hourly` writes that feed only."""
    import sqlite3

    out = run(tmp_path, "prices", "demo", "--market", "crypto", "--frequency", "hourly",
              "--start", "2025-11-08", "--end", "2025-11-09")
    assert out.returncode == 0, out.stderr
    assert "Crypto (10 coins in USDT), hourly: 10 symbols" in out.stdout
    db = sqlite3.connect(tmp_path / "cli.db")
    rows = db.execute("SELECT market, frequency, COUNT(*), MIN(session) FROM bars "
                      "GROUP BY 1, 2").fetchall()
    db.close()
    assert rows == [("crypto", "hourly", 10 * 48, "2025-11-08T00:00:00+00:00")]
    bad = run(tmp_path, "prices", "demo", "--market", "forex")
    assert bad.returncode == 2 and "invalid choice: 'forex'" in bad.stderr


def test_backup_while_the_database_is_being_written(tmp_path: Path) -> None:
    """A backup taken during writes is a consistent, complete copy; it never overwrites."""
    import sqlite3

    assert run(tmp_path, "prices", "demo", "--start", "2025-10-01", "--end", "2025-10-03"
               ).returncode == 0
    writer = sqlite3.connect(tmp_path / "cli.db")
    writer.execute("BEGIN IMMEDIATE")  # a write in progress: not in the copy, not in its way
    writer.execute("DELETE FROM bars")
    out = run(tmp_path, "backup", str(tmp_path / "copy.db"))
    writer.rollback()
    writer.close()
    assert out.returncode == 0, out.stderr
    assert "integrity ok" in out.stdout
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("SELECT COUNT(*) FROM bars").fetchone()[0] == 102 * 3
    copy.close()
    again = run(tmp_path, "backup", str(tmp_path / "copy.db"))
    assert again.returncode == 2 and "exists" in again.stderr


def test_real_data_import_and_october_leaderboard(tmp_path: Path) -> None:
    """Import the real prices and histories, then report October 2025 with QQQ."""
    assert run(tmp_path, "prices", "import", str(shared_data("nasdaq100-daily"))).returncode == 0
    imp = run(tmp_path, "import-aitrader", str(shared_data("ai-trader-positions")))
    assert imp.returncode == 0 and "gpt-5: 21 days, 45 trades" in imp.stdout
    rep = run(tmp_path, "report", "--start", "2025-10-01", "--end", "2025-10-30")
    assert rep.returncode == 0, rep.stderr
    assert "Leaderboard 2025-10-01 to 2025-10-30" in rep.stdout
    assert "QQQ (benchmark)" in rep.stdout and "synthetic" not in rep.stdout
    # QQQ's own close-to-close (the published +3.78%: from the close of the models' init
    # date) beside whole shares bought at the 10-02 open (+3.04%); 252 sessions a year, USD
    assert "index QQQ (close to close) 2025-10-01 to 2025-10-30: +3.78%" in rep.stdout
    assert "QQQ (benchmark)" in rep.stdout and "+3.04%" in rep.stdout
    assert "annualised with 252 sessions per year; amounts in USD" in rep.stdout
    lines = [x for x in rep.stdout.splitlines() if "deepseek-chat-v3.1" in x]
    assert lines and "11,388.94" in lines[0] and "+13.89%" in lines[0]
    js = json.loads(run(tmp_path, "report", "--json", "--start", "2025-10-01",
                        "--end", "2025-10-30").stdout)
    assert js["rows"][0]["name"] == "deepseek-chat-v3.1"
    assert js["rows"][-1]["name"] == "QQQ" and js["rows"][-1]["benchmark"]
    assert js["currency"] == "USD" and js["periods_per_year"] == 252
    assert js["index"]["from_session"] == "2025-10-01"
    assert {"sharpe", "sortino", "max_drawdown", "calmar", "win_rate", "volatility",
            "annualised_return", "cumulative_return"} <= set(js["rows"][0])
    chk = run(tmp_path, "ledger", "check")
    assert chk.returncode == 0 and "ledger invariants hold" in chk.stdout
    exp = run(tmp_path, "export-aitrader", str(tmp_path / "out"), "--model", "gpt-5")
    assert exp.returncode == 0
    lines = (tmp_path / "out" / "gpt-5" / "position" / "position.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["date"] == "2025-10-30"


@pytest.mark.parametrize(("args", "message"), [
    (["prices", "demo", "--start", "2025-13-01"], "--start must be a date as YYYY-MM-DD"),
    (["import-aitrader", "/nonexistent-folder"], "not a folder"),
    (["prices", "fetch", "--symbols", "AAPL"], "needs ALPHAADVANTAGE_API_KEY"),
    (["prices", "import", "/nonexistent.json"], "no such file"),
    (["report"], "there is no database at"),
])
def test_bad_input_is_a_clear_error(tmp_path: Path, args: list[str], message: str) -> None:
    """Exit code 2 and one line that says what is wrong; no traceback."""
    out = run(tmp_path, *args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_a_tool_server_with_bad_settings_says_so(tmp_path: Path) -> None:
    """A malformed port is one clear line and exit code 2, not a traceback."""
    env = {**os.environ, "GETPRICE_HTTP_PORT": "eighty", "AITRADER_DB": str(tmp_path / "x.db")}
    out = subprocess.run([sys.executable, str(ROOT / "mcp" / "price_server.py")], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert "GETPRICE_HTTP_PORT must be a whole number" in out.stderr
    assert "Traceback" not in out.stderr


def _wait(urls: list[str], up: bool, timeout: float = 30) -> None:
    """Until every tool server at `urls` is up (or every one down), by the service's probe."""
    async def states() -> list[bool]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
            return [(await probe(http, url))["status"] == "up" for url in urls]

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s == up for s in asyncio.run(states())):
            return
        time.sleep(0.1)
    raise TimeoutError(f"servers not {'up' if up else 'down'}: {urls}")


def test_mcp_launcher_restarts_a_server_that_dies(tmp_path: Path) -> None:
    """A tool server killed under `aitrader mcp` is started again (a new process answering
    /health, its pid file updated); the launcher keeps running until Ctrl-C."""
    ports = free_ports(4)
    env = {**os.environ, **tool_env(ports, AITRADER_DB=str(tmp_path / "m.db"),
                                     AITRADER_NEWS_FILE=str(tmp_path / "none.jsonl"))}
    pids = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "aitrader", "mcp", "--pid-dir", str(pids),
                             "--ready-file", str(tmp_path / "ready")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        while "tool servers up" not in (line := proc.stdout.readline()):
            assert line, "the launcher ended before saying the servers are up"
        assert (tmp_path / "ready").exists()
        first = int((pids / "trade.pid").read_text())
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while int((pids / "trade.pid").read_text()) == first:
            assert time.monotonic() < deadline, "the trade server was not restarted"
            time.sleep(0.1)
        _wait([f"http://127.0.0.1:{p}" for p in ports], up=True)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        _, err = proc.communicate(timeout=10)
        assert "tool_server_died" in err and "trade" in err
        assert not (tmp_path / "ready").exists() and list(pids.glob("*.pid")) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(x) for x in text.split()]


@pytest.mark.parametrize("how", ["sigint", "child_dies", "launcher_killed"])
def test_mcp_launcher_starts_all_and_stops_all(tmp_path: Path, how: str) -> None:
    """`aitrader mcp` brings up the four servers; Ctrl-C stops them all (exit 0); when one
    dies and no restart is allowed the others are stopped too (exit 1); and a launcher
    killed outright (SIGKILL, no chance to clean up) leaves none of them behind."""
    ports = free_ports(4)
    env = {**os.environ, **tool_env(ports, AITRADER_DB=str(tmp_path / "m.db"),
                                     AITRADER_NEWS_FILE=str(tmp_path / "none.jsonl"))}
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    proc = subprocess.Popen([sys.executable, "-m", "aitrader", "mcp", "--max-restarts", "0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        while "tool servers up" not in (line := proc.stdout.readline()):
            assert line, "the launcher ended before saying the servers are up"
        _wait(urls, up=True)
        kids = _children(proc.pid)
        assert len(kids) == 4
        if how == "sigint":
            proc.send_signal(signal.SIGINT)
        elif how == "child_dies":
            os.kill(kids[2], signal.SIGKILL)
        else:
            proc.send_signal(signal.SIGKILL)
        code = proc.wait(30)
        assert code == {"sigint": 0, "child_dies": 1, "launcher_killed": -signal.SIGKILL}[how]
        _wait(urls, up=False, timeout=5)
        deadline = time.monotonic() + 10  # a server may take a moment to finish its exit
        while (running := [k for k in kids if alive(k)]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running == []
        _, err = proc.communicate(timeout=10)
        if how == "child_dies":
            assert "tool server exited" in err
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_run_the_demo_simulation_then_catch_up(tmp_path: Path) -> None:
    """`aitrader run` on the default config: demo market, the tool servers started for it,
    both baselines through the end date, the leaderboard with QQQ; then nothing to do."""
    env = {**tool_env(free_ports(4), AITRADER_NEWS_FILE=str(tmp_path / "none.jsonl"))}
    config = str(ROOT / "configs" / "default_config.json")
    first = run(tmp_path, "run", config, "--end", "2025-10-08", env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "tool servers started" in first.stdout
    assert "simulating 10 model-days" in first.stdout
    board = first.stdout[first.stdout.index("Leaderboard 2025-10-01 to 2025-10-08"):]
    assert "synthetic demo market" in board
    for name in ("momentum", "buy-and-hold", "QQQ (benchmark)"):
        assert name in board
    again = run(tmp_path, "run", config, "--end", "2025-10-08", env=env)
    assert again.returncode == 0
    assert "up to date" in again.stdout
    check = run(tmp_path, "ledger", "check")
    assert "ledger invariants hold" in check.stdout


def test_run_another_market_reports_the_configs_window(tmp_path: Path) -> None:
    """`run` on an SSE 50 daily config ending 2025-10-14: the job's sessions, then its
    leaderboard in CNY with the SSE 50 index over that window, not up to today's data."""
    env = {**tool_env(free_ports(4), AITRADER_NEWS_FILE=str(tmp_path / "none.jsonl"))}
    doc = json.loads((ROOT / "configs" / "demo_cn_daily.json").read_text())
    doc["date_range"] = {"init_date": "2025-10-09", "end_date": "2025-10-14"}
    config = tmp_path / "cn.json"
    config.write_text(json.dumps(doc))
    done = run(tmp_path, "run", str(config), env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    board = " ".join(done.stdout[done.stdout.index("Leaderboard 2025-10-09 to 2025-10-14"):]
                     .split())
    assert "value (CNY)" in board and "000016.SH (benchmark)" in board
    assert "annualised with 242 sessions per year; amounts in CNY" in board


@pytest.mark.parametrize(("args", "says"), [
    ((), ("completed (10 model-days)", "GET /results  2025-10-08", "momentum")),
    (("--market", "crypto"), ("completed (10 model-days)", "GET /results  2025-11-05",
                             "momentum-crypto-daily")),
], ids=["us-daily", "crypto-daily"])
def test_demo_drives_the_service_then_stops_on_sigterm(tmp_path: Path, args: tuple[str, ...],
                                                       says: tuple[str, ...]) -> None:
    """`aitrader demo [--market ...]`: the service and tool servers come up, the catch-up runs
    through the API and the WebSocket, /results is printed, /health answers; SIGTERM stops
    everything."""
    ports = free_ports(5)
    env = {**os.environ, **tool_env(ports[:4], AITRADER_DB=str(tmp_path / "demo.db"),
                                     AITRADER_NEWS_FILE=str(tmp_path / "none.jsonl"),
                                     AITRADER_DATA_DIR=str(tmp_path / "data"),
                                     API_PORT=str(ports[4]))}
    end = "2025-11-05" if args else "2025-10-08"
    proc = subprocess.Popen([sys.executable, "-m", "aitrader", "demo", "--end", end, *args],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    lines = []
    try:
        assert proc.stdout is not None
        while "keeps running" not in (line := proc.stdout.readline()):
            assert line, "the demo ended early"
            lines.append(line)
        out = "".join(lines)
        assert "POST /simulate/trigger -> 202" in out
        assert all(x in out for x in says), out
        with urllib.request.urlopen(f"http://127.0.0.1:{ports[4]}/health", timeout=5) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        _wait([f"http://127.0.0.1:{p}" for p in ports], up=False, timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


async def test_serve_shuts_down_gracefully(stack: Stack) -> None:
    """`aitrader serve` answers /health; on SIGTERM it closes WebSockets with 1001 and exits."""
    port = free_ports(1)[0]
    env = {**stack.env, "API_PORT": str(port), "API_HOST": "127.0.0.1"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "aitrader", "serve",
                                                env=env, cwd=ROOT)
    try:
        await wait_http(f"http://127.0.0.1:{port}/health")
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(f"http://127.0.0.1:{port}/ws")
            proc.send_signal(signal.SIGTERM)
            msg = await ws.receive(timeout=15)
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1001
            await ws.close()
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
