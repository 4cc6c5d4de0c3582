"""Simulation throughput: N models x M sessions with an instant scripted LLM making K tool
calls per model-day, through the real tool servers, the actors and the supervisor.

The LLM is the fake chat-completions server (tests/fakes/llm.py) in its own process; the tool
servers are the real ones; the supervisor and actors run in this process. Prints model-days
per second, this process's CPU milliseconds per model-day and per tool call, and peak memory
(this process, and this process plus its children).

    python bench/simulate.py                 # the issue's table: N=1,10,50 (M=20, K=10); N=5, K=0
    python bench/simulate.py -n 10 -m 20 -k 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import attrs

from aitrader import priority
from aitrader.actors.host import SimulationHost
from aitrader.actors.messages import JobRequest
from aitrader.events import EventBus
from aitrader.market import demo
from aitrader.market.calendar import nyse
from aitrader.market.prices import upsert_bars
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.tools.launcher import ToolServers
from aitrader.tools.ports import free_ports, tool_env

ROOT = Path(__file__).resolve().parents[1]


async def one(n: int, m: int, k: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="aitrader-sim-"))
    cal = nyse()
    sessions = cal.between(date(2025, 3, 3), date(2025, 12, 31))[:m]
    async with Store(tmp / "sim.db") as store:
        await upsert_bars(store, demo.generate(cal, date(2025, 1, 2), sessions[-1], seed=3))
    ports = free_ports(5)
    llm = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aitrader.testing.fake_llm", "--port", str(ports[4]),
        "--tool-calls", str(k), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE)
    assert llm.stdout is not None
    await llm.stdout.readline()
    configs = tmp / "configs"
    configs.mkdir()
    (configs / "bench.json").write_text(json.dumps({
        "market": "database", "date_range": {"init_date": "2025-02-28"},
        "agent_config": {"max_retries": 0, "max_steps": 5},
        "models": [{"name": f"m{i}", "basemodel": "fake/bench", "signature": f"m{i}",
                    "openai_base_url": f"http://127.0.0.1:{ports[4]}/v1",
                    "openai_api_key": "sk-bench"} for i in range(n)]}))
    env = {**os.environ, **tool_env(ports[:4], AITRADER_DB=str(tmp / "sim.db"),
                                     AITRADER_NEWS_FILE=str(tmp / "none.jsonl"))}
    settings = Settings.from_env(env)
    servers = ToolServers(settings, env=env)
    await servers.start()
    try:
        async with Store(tmp / "sim.db", readers=4) as store:
            bus = EventBus(store)
            sub = bus.subscribe(maxsize=10_000_000)
            async with SimulationHost(attrs.evolve(settings, configs_dir=configs), bus,
                                      env={}) as host:
                cpu0, t0 = time.process_time(), time.perf_counter()
                answer = await host.trigger(JobRequest("configs/bench.json",
                                                       sessions[0].isoformat(),
                                                       sessions[-1].isoformat()))
                assert answer.job is not None
                status = ""
                async for e in sub:
                    if e.type == "job.finished":
                        status = str(e.data["status"])
                        break
                wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        await servers.stop()
        llm.terminate()
        await llm.wait()
    days = n * m
    return {"n": n, "m": m, "k": k, "status_ok": float(status == "completed"),
            "model_days_per_s": days / wall, "cpu_ms_per_model_day": cpu * 1000 / days,
            "cpu_ms_per_tool_call": cpu * 1000 / (days * k) if k else 0.0, "wall_s": wall,
            "peak_mb_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_mb_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int)
    parser.add_argument("-m", type=int, default=20)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    runs = [(args.n, args.m, args.k)] if args.n else [(1, 20, 10), (10, 20, 10), (50, 20, 10),
                                                        (5, 20, 0)]
    print(f"simulation throughput ({os.cpu_count()} cores, Python {sys.version.split()[0]}); "
          "CPU ms are this process's (supervisor, actors, agents), not the tool servers'")
    print("|  N |  M |  K | model-days/s | CPU ms/model-day | CPU ms/tool call | wall s "
          "| peak MB (self) | peak MB (children) | ok |")
    print("|----|----|----|--------------|------------------|------------------|--------"
          "|----------------|--------------------|----|")
    for n, m, k in runs:
        r = priority.run(one(n, m, k))
        print(f"| {n:>2} | {m:>2} | {k:>2} | {r['model_days_per_s']:>12.1f} | "
              f"{r['cpu_ms_per_model_day']:>16.1f} | {r['cpu_ms_per_tool_call']:>16.2f} | "
              f"{r['wall_s']:>6.1f} | {r['peak_mb_self']:>14.0f} | "
              f"{r['peak_mb_children']:>18.0f} | {'yes' if r['status_ok'] else 'NO'} |",
              flush=True)


if __name__ == "__main__":
    main()
