"""Run by container-check.sh against the container (BASE=http://127.0.0.1:PORT): a trigger,
status polled to completed, the results; and, from the host, the container's processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.deploy.helpers import run_demo_job


def main() -> None:
    base = os.environ["BASE"]
    top = subprocess.run(
        "podman top $(podman ps -q --filter ancestor=localhost/aitrader-check:latest) "
        "user args", shell=True, capture_output=True, text=True, check=True).stdout
    procs = [line for line in top.splitlines()[1:] if "python" in line]
    servers = [p for p in procs if "_server.py" in p]
    assert len(servers) == 4 and any("aitrader serve" in p for p in procs), top
    assert all(p.split()[0] in ("aitrader", "1000") for p in procs), top  # not root
    print(f"smoke: 4 tool servers and the API running as uid 1000 ({len(procs)} processes)")

    view, results = run_demo_job(base)
    print(f"smoke: job {view['job_id']} completed, {view['progress']['completed']} "
          "model-days")
    models = sorted(r["model"] for r in results["results"])
    print(f"smoke: /results for {results['date']}: {', '.join(models)}")


if __name__ == "__main__":
    main()
