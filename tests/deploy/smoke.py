"""Run by container-check.sh against the container (BASE=http://127.0.0.1:PORT): a trigger,
status polled to completed, the results; and, from the host, the container's processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.deploy.helpers import http, run_demo_job


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

    # a tool server that dies inside the container is started again by the launcher
    ctr = subprocess.run("podman ps -q --filter ancestor=localhost/aitrader-check:latest",
                         shell=True, capture_output=True, text=True, check=True).stdout.split()[0]

    def price_pid() -> str:
        return subprocess.run(["podman", "exec", ctr, "cat", "/app/data/run/price.pid"],
                              capture_output=True, text=True, check=True).stdout.strip()

    first = price_pid()
    subprocess.run(["podman", "exec", ctr, "sh", "-c", f"kill -KILL {first}"], check=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            now, healthy = price_pid(), http("GET", f"{base}/health", timeout=3)[0] == 200
        except (OSError, subprocess.CalledProcessError):
            now, healthy = first, False
        if now != first and healthy:
            break
        assert time.monotonic() < deadline, "the price tool server did not come back"
        time.sleep(0.5)
    print(f"smoke: a killed tool server came back (price pid {first} -> {now}), /health 200")


if __name__ == "__main__":
    main()
