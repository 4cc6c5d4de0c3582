"""The command line as a terminal user meets it: version, help, --db anywhere, read-only
commands that create nothing, clear one-line errors, JSON alone on stdout, a taken port, a
config from anywhere, the live table's pace, and Ctrl-C telling how to resume."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aitrader import __version__
from aitrader.cli import build_parser
from aitrader.testing.fake_llm import FakeLLM, finish
from aitrader.tools.ports import free_ports, tool_env
from tests.stack import Stack


def aitrader(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("AITRADER_", "OPENAI_"))}
    return subprocess.run([sys.executable, "-m", "aitrader", *args], env={**full, **(env or {})},
                          text=True, capture_output=True, timeout=timeout, check=False, cwd=cwd)


def one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    """The output of a refusal: exit code 2, a single `error:` line on stderr, no traceback."""
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    return lines[0]


def test_version() -> None:
    out = aitrader("--version")
    assert (out.returncode, out.stdout.strip()) == (0, f"aitrader {__version__}")


def test_every_command_and_argument_has_help() -> None:
    def walk(parser: argparse.ArgumentParser, path: str) -> list[str]:
        missing = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    helps = {a.dest: a.help for a in action._choices_actions}
                    if not helps.get(name):
                        missing.append(f"{path} {name}")
                    missing += walk(sub, f"{path} {name}")
            elif not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
        return missing

    assert walk(build_parser(), "aitrader") == []


def test_db_before_or_after_the_command(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    made = aitrader("prices", "demo", "--start", "2025-10-01", "--end", "2025-10-03", "--db",
                    str(db))
    assert made.returncode == 0 and db.exists(), made.stderr
    for args in (("--db", str(db), "prices", "status"), ("prices", "status", "--db", str(db))):
        out = aitrader(*args)
        assert out.returncode == 0 and "102 symbols, 2025-10-01 to 2025-10-03" in out.stdout


@pytest.mark.parametrize("command", [["report"], ["prices", "status"], ["ledger", "check"],
                                     ["export-aitrader", "out"]])
def test_read_only_commands_create_nothing(tmp_path: Path, command: list[str]) -> None:
    """A missing database is a clear error; neither it nor its folder is created."""
    db = tmp_path / "nowhere" / "aitrader.db"
    line = one_error_line(aitrader(*command, "--db", str(db), cwd=tmp_path))
    assert f"there is no database at {db}" in line
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "out").exists()


def test_clear_refusals(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    aitrader("prices", "demo", "--start", "2025-10-01", "--end", "2025-10-03", "--db", str(db))
    line = one_error_line(aitrader("ledger", "check", "--model", "ghost", "--db", str(db)))
    assert line == "error: there is no model 'ghost' in the ledger"
    line = one_error_line(aitrader("report", "--start", "2025-10-03", "--end", "2025-10-01",
                                   "--db", str(db)))
    assert line == "error: --end 2025-10-01 is before --start 2025-10-03"


def test_json_is_alone_on_stdout(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    aitrader("prices", "demo", "--start", "2025-10-01", "--end", "2025-10-03", "--db", str(db))
    out = aitrader("prices", "status", "--json", "--db", str(db))
    assert out.returncode == 0
    doc = json.loads(out.stdout)  # nothing else on stdout
    assert doc["symbols"] == 102 and doc["synthetic"] is True
    assert "102 symbols" in out.stderr  # the summary for a person went to stderr


def test_serve_on_a_taken_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        started = time.monotonic()
        out = aitrader("serve", env={"API_HOST": "127.0.0.1", "API_PORT": str(port),
                                     "AITRADER_DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert one_error_line(out) == (f"error: port {port} on 127.0.0.1 is in use by another "
                                   "program: stop it, or set API_PORT to a free port")
    assert time.monotonic() - started < 30
    assert not (tmp_path / "aitrader.db").exists()  # nothing was started before the bind


def test_mcp_on_a_taken_port_names_the_server_and_its_setting(tmp_path: Path) -> None:
    ports = free_ports(4)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports[2]))
        squatter.listen()
        out = aitrader("mcp", "--max-restarts", "0", env=tool_env(
            ports, AITRADER_DB=str(tmp_path / "m.db"),
            AITRADER_NEWS_FILE=str(tmp_path / "none.jsonl")))
    assert out.returncode == 1
    assert (f"error: port {ports[2]} on 127.0.0.1 is in use by another program: stop it, "
            "or set TRADE_HTTP_PORT to a free port") in out.stderr
    assert "the trade tool server exited during start-up (exit code 2)" in out.stderr
    assert "Traceback" not in out.stderr


def test_run_takes_a_config_from_anywhere_and_checks_it_first(stack: Stack,
                                                              tmp_path: Path) -> None:
    """A config outside configs/ runs (with the live table's pace: rate and ETA); a bad one is
    refused, naming the field, before any tool server starts."""
    elsewhere = tmp_path / "mine" / "exp.json"
    elsewhere.parent.mkdir()
    elsewhere.write_text(json.dumps({
        "market": "database", "date_range": {"init_date": "2025-10-01"},
        "models": [{"name": "m", "basemodel": "baseline/momentum", "signature": "m"}]}))
    out = aitrader("run", str(elsewhere), "--end", "2025-10-08", env=stack.env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "tool servers running" in out.stdout  # the stack's, already up
    assert "5/5 model-days" in out.stdout and "/s, ETA" in out.stdout
    bad = tmp_path / "mine" / "bad.json"
    bad.write_text(json.dumps({"models": [{"name": "x", "basemodel": "openai/gpt-5",
                                           "signature": "x"}]}))
    env = {**tool_env(free_ports(4)), "AITRADER_DB": str(tmp_path / "b.db")}
    line = one_error_line(aitrader("run", str(bad), env=env))
    assert "model x needs an API key" in line
    assert not (tmp_path / "b.db").exists()  # nothing started, nothing created
    broken = tmp_path / "mine" / "broken.json"
    broken.write_text(json.dumps({"models": [{"name": "x", "basemodel": "baseline/momentum",
                                              "signature": "x"}],
                                  "agent_config": {"max_steps": 0}}))
    line = one_error_line(aitrader("run", str(broken), env=env))
    assert "$.agent_config.max_steps: must be greater than 0" in line


async def test_ctrl_c_tells_how_to_resume(stack: Stack) -> None:
    """SIGINT in the middle of `aitrader run`: exit code 130 and a line saying that the
    completed days are kept and that the same command resumes; it does."""
    llm = FakeLLM()
    await llm.start()
    llm.script("fake/slow", [finish()], delay=0.3)
    try:
        path = stack.write_config([{"name": "slow", "basemodel": "fake/slow",
                                    "signature": "slow", "openai_base_url": llm.base_url,
                                    "openai_api_key": "sk-x"}], "slow.json")
        config = str(stack.configs / Path(path).name)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aitrader", "run", config, "--end", "2025-10-31",
            env=stack.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        async with asyncio.timeout(60):
            while len(llm.calls_for("fake/slow")) < 3:
                assert proc.returncode is None
                await asyncio.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 130, (out + err).decode()
        assert ("stopped: every completed model-day is kept; run the same command again: "
                "it resumes the job where it stopped") in err.decode()
        assert b"Traceback" not in err
        again = await asyncio.to_thread(aitrader, "run", config, "--end", "2025-10-31",
                                        env=stack.env, timeout=180)
        assert again.returncode == 0 and "resuming job" in again.stdout, again.stderr
    finally:
        await llm.stop()
