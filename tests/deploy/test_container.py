"""The unmodified Dockerfile, built and run with podman by ../shared/tools/container-check.sh
(a local python:3.11-slim stand-in, no Docker Hub): /health, the image's HEALTHCHECK, a job
from trigger to /results (tests/deploy/smoke.py), then `podman stop` within the grace period
with a clean exit."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from aitrader.tools.ports import free_ports
from tests.conftest import SHARED
from tests.deploy.helpers import ROOT

CHECK = SHARED / "tools" / "container-check.sh"


@pytest.mark.timeout(1800)
def test_the_image_builds_serves_a_job_and_stops_cleanly() -> None:
    if not CHECK.exists() or os.geteuid() != 0:
        why = f"{CHECK} is absent" if not CHECK.exists() else "container-check.sh needs root"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {why}")
        pytest.skip(why)
    env = {**os.environ, "WORK": os.environ.get("AITRADER_PODMAN_WORK", "/tmp/podman-ci"),
           "PORT": str(free_ports(1)[0]),
           "SMOKE": f"{sys.executable} {ROOT / 'tests' / 'deploy' / 'smoke.py'}"}
    out = subprocess.run(["bash", str(CHECK), str(ROOT)], env=env, capture_output=True,
                         text=True, timeout=1700)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:]
    for line in ("container-check: /health 200", "image HEALTHCHECK healthy",
                 "smoke: 4 tool servers and the API running as uid 1000",
                 "smoke: /results for 2025-10-10: buy-and-hold, momentum",
                 "smoke: a killed tool server came back"):
        assert line in text, text[-4000:]
    stopped = re.search(r"stopped in (\d+)s \(exit code (\d+)\)", text)
    assert stopped, text[-2000:]
    seconds, code = int(stopped[1]), int(stopped[2])
    assert seconds < 20 and code == 0, stopped[0]  # SIGTERM handled, not killed at 20 s
