"""The OpenAPI document as client generators and linters read it: Redocly's recommended rules
report no error, and a Python client generated from the live document by
openapi-python-client triggers a job, follows it and reads the results and the performance
through its typed functions only."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.deploy.helpers import ROOT, need_tool
from tests.live import TOKEN, Service

pytestmark = pytest.mark.timeout(300)
PACKAGE = "aitrader_generated_client"


def _document(service: Service, tmp: Path) -> Path:
    """/openapi.json as anyone fetches it: without the token (it holds no data)."""
    with urllib.request.urlopen(service.base + "/openapi.json", timeout=10) as resp:
        doc = json.loads(resp.read())
    path = tmp / "openapi.json"
    path.write_text(json.dumps(doc))
    return path


def test_redocly_recommended_rules_report_no_error(service: Service, tmp_path: Path) -> None:
    redocly = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "redocly"
    if not redocly.exists():
        need_tool("redocly", "npm's @redocly/cli; .ci/run installs it in .ci/node")
    out = subprocess.run([str(redocly), "lint", str(_document(service, tmp_path)),
                          "--extends", "recommended", "--format", "stylish"],
                         capture_output=True, text=True, timeout=120, check=False)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert " error " not in text and "Your API description is valid" in text, text


@pytest.fixture
def client_package(service: Service, tmp_path: Path) -> Iterator[ModuleType]:
    """The client openapi-python-client generates from the live document, importable."""
    generator = need_tool("openapi-python-client", "PyPI, in the test extras")
    out = subprocess.run(
        [generator, "generate", "--path", str(_document(service, tmp_path)), "--meta", "none",
         "--output-path", str(tmp_path / PACKAGE)],
        capture_output=True, text=True, timeout=180, check=False, cwd=tmp_path,
        env={**os.environ,  # its post hooks run ruff, which is in this venv
             "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Warning" not in out.stdout + out.stderr, out.stdout + out.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_a_generated_client_runs_a_job_and_reads_its_results(
        service: Service, client_package: ModuleType) -> None:
    trigger = _module("api.jobs.trigger_simulation")
    status = _module("api.jobs.get_job_status")
    results = _module("api.results.get_results")
    performance = _module("api.results.get_performance")
    models = _module("models")
    client = client_package.AuthenticatedClient(base_url=service.base, token=TOKEN)
    with client:
        accepted = trigger.sync(client=client, body=models.TriggerRequest(
            config_path="configs/extra.json", start_date=date(2025, 10, 2),
            end_date=date(2025, 10, 10)))
        assert isinstance(accepted, models.Accepted), accepted
        assert accepted.models == ["extra"] and accepted.date_range == [
            date(2025, 10, 2), date(2025, 10, 10)]
        deadline = time.monotonic() + 120
        while True:
            job = status.sync(job_id=accepted.job_id, client=client)
            assert isinstance(job, models.Job), job
            if job.status not in (models.JobStatus.PENDING, models.JobStatus.RUNNING):
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.3)
        assert job.status == models.JobStatus.COMPLETED
        assert job.progress.completed == 7 and job.completed_at is not None
        assert {d.status for d in job.progress.details} == {models.ModelDayStatus.COMPLETED}
        day = results.sync(client=client, date=date(2025, 10, 10), model="extra",
                           detail=models.GetResultsDetail.FULL)
        assert isinstance(day, models.Results), day
        (row,) = day.results
        assert row.model == "extra" and row.positions.additional_properties["CASH"] < 10_000
        held = {k: v for k, v in row.positions.additional_properties.items() if k != "CASH"}
        assert held and all(isinstance(n, int) and n > 0 for n in held.values())
        assert row.daily_pnl.portfolio_value > 0 and row.trades == []  # bought on day one
        assert row.ai_reasoning.stop_signal_received is True
        assert row.llm_usage.calls == 0
        perf = performance.sync(client=client, model="extra", end_date=date(2025, 10, 10))
        assert isinstance(perf, models.Performance), perf
        series = perf.models.additional_properties["extra"]
        assert [p.date for p in series.series][-1] == "2025-10-10"  # a session id
        assert perf.currency == "USD" and series.metrics.periods_per_year == 252
        assert perf.index is not None and isinstance(perf.index.return_, float)
        assert isinstance(series.metrics.cumulative_return, float)
        assert perf.benchmark is not None and perf.benchmark.symbol == "QQQ"
