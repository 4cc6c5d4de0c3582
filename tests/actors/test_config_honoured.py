"""Settings a config gives are honoured: each tool call's time limit (`tool_timeout`) and where
the model-days' logs go (`log_config.log_path`)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from aitrader.actors.messages import JobRequest
from aitrader.store.jobs import JobView
from aitrader.store.results import results_on
from aitrader.testing.fake_llm import finish, tools
from tests.actors.conftest import Sim, finished, settled


def days(view: JobView) -> list[tuple[str, str, str | None]]:
    return [(d.date, d.status.value, d.error) for d in view.details or ()]


async def test_a_tool_call_is_cut_at_the_configs_tool_timeout(sim: Sim) -> None:
    """The price server stops answering (SIGSTOP) between two jobs: with tool_timeout 1 s,
    the next day's first price look-up fails after 1 s naming the server and the tool, and
    the job ends; a session opened while it does not answer fails the same way; once it
    answers again, the next job runs."""
    path = sim.write_config([sim.baseline("m")],
                            agent_config={"max_retries": 0, "base_delay": 0,
                                          "tool_timeout": 1})
    price = sim.stack.servers.procs["price"].pid
    sub = sim.bus.subscribe(maxsize=100_000)

    async def run(*days: str) -> JobView:
        answer = await sim.host.trigger(JobRequest(path, days[0], days[-1]))
        assert answer.job is not None
        await finished(sub, answer.job.id, wait=30)
        return await settled(sim.store, answer.job.id)

    assert (await run("2025-10-02")).job.status == "completed"  # its sessions are open
    os.kill(price, signal.SIGSTOP)
    try:
        assert days(await run("2025-10-03", "2025-10-06")) == [
            ("2025-10-03", "failed",
             "the price tool server did not answer get_price_local within 1 s"),
            ("2025-10-06", "failed", "not run: 2025-10-03 failed")]
        # the call that timed out left the session as it was; a model whose sessions open
        # now (a new actor) finds the server silent at once
        other = sim.write_config([sim.baseline("n")], "other.json",
                                 agent_config={"max_retries": 0, "tool_timeout": 1})
        answer = await sim.host.trigger(JobRequest(other, "2025-10-02", "2025-10-02"))
        assert answer.job is not None
        await finished(sub, answer.job.id, wait=30)
        url = sim.stack.url("price")
        assert days(await settled(sim.store, answer.job.id)) == [
            ("2025-10-02", "failed",
             f"the price tool server at {url} is unreachable (no answer within 1 s)")]
    finally:
        os.kill(price, signal.SIGCONT)
    assert (await run("2025-10-03", "2025-10-06")).job.status == "completed"


async def test_the_logs_go_where_the_config_says(sim: Sim, tmp_path: Path) -> None:
    """log_config.log_path names the folder of AI-Trader's log.jsonl files, and /results
    reports the file of each model-day."""
    logs = tmp_path / "elsewhere" / "agent_logs"
    sim.llm.script("fake/x", [tools(("buy", {"symbol": "AAPL", "amount": 1})), finish()])
    path = sim.write_config([sim.llm_model("x")], log_config={"log_path": str(logs)})
    sub = sim.bus.subscribe(maxsize=100_000)
    answer = await sim.host.trigger(JobRequest(path, "2025-10-02", "2025-10-03"))
    assert answer.job is not None
    await finished(sub, answer.job.id)
    assert (await settled(sim.store, answer.job.id)).job.status == "completed"
    for day in ("2025-10-02", "2025-10-03"):
        expected = logs / "x" / "log" / day / "log.jsonl"
        lines = [json.loads(x) for x in expected.read_text().splitlines()]
        assert [x["step"] for x in lines] == [0, 1, 2]
        found = await results_on(sim.store, day, "x", full=True)
        assert found.results[0].detail is not None
        assert found.results[0].detail.log_file == str(expected)
    assert not (Path("data") / "agent_data" / "x").exists()  # not the default folder
