"""Prometheus as operators run it (Debian's `prometheus` package): promtool on the shipped
scrape config and alert rules, a real Prometheus server scraping a live service with its
bearer token through a job, the counters read back through Prometheus's HTTP API, and the
Grafana dashboard asking only for metrics the service exports."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aitrader.tools.ports import free_ports
from tests.deploy.helpers import ROOT, need_tool
from tests.live import TOKEN, Service

DEPLOY = ROOT / "deploy"
pytestmark = pytest.mark.timeout(300)


def _config(tmp: Path, target: str, *, scrape: str = "15s") -> Path:
    """The shipped config, pointed at `target`, its token in a file of the test's own."""
    token = tmp / "aitrader.token"
    token.write_text(TOKEN + "\n")
    text = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    text = text.replace("/etc/prometheus/aitrader.token", str(token))
    text = text.replace('"aitrader:8080"', f'"{target}"')
    text = text.replace("scrape_interval: 15s", f"scrape_interval: {scrape}")
    config = tmp / "prometheus.yml"
    config.write_text(text)
    (tmp / "alerts.yml").write_text((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return config


def test_promtool_accepts_the_config_and_the_rules(tmp_path: Path) -> None:
    promtool = need_tool("promtool", "Debian's prometheus package; .ci/run installs it")
    for args in (["check", "config", str(_config(tmp_path, "127.0.0.1:8080"))],
                 ["check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")]):
        out = subprocess.run([promtool, *args], capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stdout + out.stderr
    rules = subprocess.run([promtool, "check", "rules",
                            str(DEPLOY / "prometheus" / "alerts.yml")],
                           capture_output=True, text=True, check=True)
    assert "SUCCESS: 5 rules found" in rules.stdout


@pytest.fixture
def prometheus(service: Service, tmp_path: Path) -> Iterator[str]:
    binary = need_tool("prometheus", "Debian's prometheus package; .ci/run installs it")
    port = free_ports(1)[0]
    target = service.base.removeprefix("http://")
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, f"--config.file={_config(tmp_path, target, scrape='1s')}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(base + "/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "Prometheus never got ready"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


def _query(base: str, promql: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.loads(resp.read())
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _value(base: str, promql: str) -> float | None:
    found = _query(base, promql)
    return float(found[0]["value"][1]) if found else None


def test_a_prometheus_server_scrapes_a_job(service: Service, prometheus: str) -> None:
    """Prometheus scrapes /metrics with the bearer token while a job runs: the target is up,
    the model-session counter moves through several scrapes to the job's total, the job is
    counted once, and every tool server is reported up."""
    def scraped() -> float | None:
        return _value(prometheus, 'up{job="aitrader"}')

    deadline = time.monotonic() + 30
    while scraped() != 1.0:
        assert time.monotonic() < deadline, _query(prometheus, "up")
        time.sleep(0.5)
    started = service.call("POST", "/simulate/trigger", {
        "config_path": "configs/slow.json", "start_date": "2025-10-02",
        "end_date": "2025-10-15"})
    assert "job_id" in started, started
    completed = 'sum(aitrader_model_sessions_total{status="completed"}) or vector(0)'
    seen: list[float] = []
    deadline = time.monotonic() + 120
    while not seen or seen[-1] < 10:  # 10 sessions, 2 to 15 October
        assert time.monotonic() < deadline, seen
        value = _value(prometheus, completed)
        if value is not None and (not seen or value != seen[-1]):
            seen.append(value)
        time.sleep(0.5)
    assert len(seen) >= 3 and seen == sorted(seen)  # it moved, scrape after scrape
    done = service.wait_job(started["job_id"])
    assert done["status"] == "completed"
    deadline = time.monotonic() + 30
    while _value(prometheus, 'aitrader_jobs_total{status="completed"}') is None:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert _value(prometheus, "sum(aitrader_jobs_total)") == 1.0  # once, at its end
    assert _value(prometheus, "aitrader_jobs_running") == 0.0
    up = {r["metric"]["server"]: r["value"][1]
          for r in _query(prometheus, "aitrader_tool_server_up")}
    assert up == {"math": "1", "search": "1", "trade": "1", "price": "1"}
    closed = datetime(2025, 10, 15, 20, 0, tzinfo=UTC).timestamp()  # 16:00 in New York
    assert _value(prometheus, 'aitrader_last_completed_session_timestamp_seconds'
                              '{model="slow"}') == closed


def test_the_dashboard_asks_for_metrics_the_service_exports(service: Service) -> None:
    """Every metric a panel of deploy/grafana/aitrader.json queries is on /metrics."""
    req = urllib.request.Request(service.base + "/metrics",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
    exported = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    dashboard = json.loads((DEPLOY / "grafana" / "aitrader.json").read_text())
    asked = {name for panel in dashboard["panels"] for target in panel["targets"]
             for name in re.findall(r"\b((?:aitrader|process)_[a-z_]+)", target["expr"])}
    assert len(asked) >= 15
    assert sorted(asked - exported) == []
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {"${DS_PROMETHEUS}"}
