"""The daily flow walked step by step (tests/windmill/workspace.py) against a live service and
a real Postgres: it runs, stores what /results says, notifies, and a second run stops early
with the same rows. Each way it can fail ends in a clear message from the failure module."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from aitrader.tools.ports import free_ports
from tests.live import Service
from tests.windmill.test_scripts import stored_equals_service
from tests.windmill.workspace import Flow, ScriptFailed, rows


class Webhook:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the stdlib's name
                n = int(self.headers.get("Content-Length", 0))
                received.append({"auth": self.headers.get("Authorization"),
                                 **json.loads(self.rfile.read(n))})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()
    hook.server.server_close()


def flow_input(service: Service, db: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"api": service.api(), "db": db, "poll_seconds": 1, "max_polls": 120, **extra}


def test_the_daily_flow_runs_then_stops_early(service: Service, pg_db: dict[str, Any],
                                              webhook: Webhook) -> None:
    hook = {"url": webhook.url, "token": "hook-secret"}
    run = Flow(flow_input(service, pg_db, webhook=hook))
    results = run.run()
    polls = run.steps.count("c")
    assert run.steps == ["a", *["c"] * polls, "d", "e", "f"] and polls >= 1
    assert not run.stopped
    job = results["a"]["job_id"]
    assert results["a"]["date_range"] == ["2025-10-02", "2025-10-31"]
    assert results["b"][-1]["done"] and len(results["b"]) == polls
    assert results["d"]["status"] == "completed"
    assert results["e"]["result_rows"] == 2 * 22 and results["e"]["days"] == 22
    stored = stored_equals_service(service, pg_db)
    assert len(stored) == 44
    assert webhook.received == [{
        "auth": "Bearer hook-secret", "text": results["f"]["text"], "job_id": job,
        "status": "completed", "duration_seconds": results["d"]["total_duration_seconds"],
        "date_range": ["2025-10-02", "2025-10-31"], "stored_rows": 44}]
    assert "daily simulation completed" in results["f"]["text"]

    again = Flow(flow_input(service, pg_db, webhook=hook))
    results = again.run()
    assert again.stopped and again.steps == ["a"]  # nothing to run: the rest is skipped
    assert results["a"]["skipped"] and results["a"]["last_simulation_date"] == "2025-10-31"
    assert stored_equals_service(service, pg_db) == stored
    assert len(webhook.received) == 1
    # storing the same job again changes nothing either
    Flow(flow_input(service, pg_db))._execute(
        again.doc["value"]["modules"][3], {"api": service.api(), "db": pg_db, "job_id": job})
    assert stored_equals_service(service, pg_db) == stored


def test_no_webhook_no_notification(service: Service, pg_db: dict[str, Any]) -> None:
    run = Flow(flow_input(service, pg_db, config_path="configs/default_config.json"))
    run.run()
    assert run.steps == ["a"] and run.stopped  # current: stops before anything else
    # a run with work to do and no webhook input: everything but the notification runs
    run = Flow(flow_input(service, pg_db, config_path="configs/extra.json"))
    results = run.run()
    assert not run.stopped and run.steps[-2:] == ["d", "e"] and "f" not in run.steps
    assert results["d"]["status"] == "completed" and results["f"] is None
    assert results["e"]["result_rows"] > 0


def failed(run: Flow) -> str:
    with pytest.raises(ScriptFailed) as info:
        run.run()
    assert run.failure is not None and run.failure["failed"]
    assert run.failure["message"] == info.value.message
    assert run.failure["step"] == info.value.step
    return info.value.message


def test_a_service_that_is_down(pg_db: dict[str, Any], webhook: Webhook) -> None:
    down = f"http://127.0.0.1:{free_ports(1)[0]}"
    run = Flow({"api": {"base_url": down, "token": "x"}, "db": pg_db, "poll_seconds": 1,
                "webhook": {"url": webhook.url}})
    message = failed(run)
    assert message.startswith(f"cannot reach the aitrader service at {down}")
    assert run.steps == ["a", "a", "a", "failure"]  # retries (waits shortened), then failure
    assert run.failure["notified"] and webhook.received[0]["status"] == "failed"
    assert "failed at step a" in webhook.received[0]["text"]


def test_a_wrong_token(service: Service, pg_db: dict[str, Any]) -> None:
    run = Flow({**flow_input(service, pg_db), "api": service.api("not-the-token")})
    assert "refused the token (HTTP 401)" in failed(run)
    assert run.failure["step"] == "a"


def test_other_work_running_is_a_409(service: Service, pg_db: dict[str, Any]) -> None:
    slow = service.call("POST", "/simulate/trigger", {"config_path": "configs/slow.json"})
    assert slow["status"] == "accepted", slow
    try:
        run = Flow(flow_input(service, pg_db, config_path="configs/failing.json"))
        message = failed(run)
        assert message.startswith(f"another simulation is running on the service "
                                  f"(job {slow['job_id']}, 2025-10-02..2025-10-31)")
    finally:
        service.call("POST", f"/simulate/jobs/{slow['job_id']}/cancel")
        assert service.wait_job(slow["job_id"])["status"] == "cancelled"


def test_a_job_that_fails_fails_the_flow(service: Service, pg_db: dict[str, Any]) -> None:
    run = Flow(flow_input(service, pg_db, config_path="configs/failing.json"))
    message = failed(run)
    job = run.results["a"]["job_id"]
    assert run.failure["step"] == "d"
    assert message.startswith(f"job {job} ended failed")
    assert "first failure: broken on 2025-10-02" in message
    assert "e" not in run.results  # nothing stored
    assert rows(pg_db, "SELECT to_regclass('ai_trader_results')") == [(None,)]
