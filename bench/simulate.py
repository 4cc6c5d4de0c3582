"""Simulation throughput: N models x M sessions, a scripted LLM making K tool calls per
model-day (3 per LLM turn), through the real tool servers and the SimulationHost.

What runs: the fake OpenAI-compatible LLM (`python -m aitrader.testing.fake_llm`, own process,
no delay) answers every model with K valid tool calls per model-day, 3 per turn: price
look-ups of the session's previous trading day and, last, a buy of 1 AAPL; then the stop
signal. The four tool servers are the real ones (own processes); the supervisor and the
actors run in this process on the SimulationHost's loop, exactly as `aitrader serve` hosts
them; this process's main loop is a ServingLoop receiving every event on the mirror bus.

What is measured, from the trigger to the job's `job.finished` event:
- model-days per second (wall clock);
- CPU milliseconds per model-day and per tool call for the WHOLE PROCESS TREE (this process,
  the four tool servers and the fake LLM: utime+stime from /proc/<pid>/stat of every pid,
  before and after), and this process's own share (the service side: supervisor, actors,
  agents, mirror bus), and a per-process breakdown;
- peak memory: the SUM of the tree's RSS (/proc/<pid>/statm, sampled every 50 ms), and this
  process's own peak RSS over the same window.
The sampler thread's own CPU is subtracted from this process's figure.

Every tool call must be valid: after the run it counts the calls the model-day events report
as failed (`model_day.tool_call` with error true) and the tool results the models read that
were refusals (a payload with an "error", or "Error: ..."), checks that every model-day
completed, that N x M x K calls were made and that each model-day with K > 0 bought once.
Any failed check is printed and the exit code is 1.

No fixed target beyond "as fast as before": 68 model-days/s at N=5 K=0 and 21 model-days/s at
N=50 K=10 (on the 2-core reference machine, with nothing else running).

Markets (issue 13): `--market crypto/hourly` runs the same model on 24 sessions a day (its
look-ups are coins' previous-session bars, its buy 0.0001 BTC-USDT). Targets: model-sessions/s
within 10% of the US daily figure at the same N and K, and a 10-model x 30-day crypto-hourly job
(7,200 model-sessions) under 1 GB peak memory (the tree's sum).

    python bench/simulate.py                 # the table: N=1,10,50 (M=20, K=10); N=5, K=0
    python bench/simulate.py -n 10 -m 20 -k 10
    python bench/simulate.py --markets       # US daily vs crypto hourly, N=10 M=120 K=10,
                                             # then the 10 x 720 crypto-hourly job
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs

from aitrader import logs, markets, priority
from aitrader.actors.host import SimulationHost
from aitrader.actors.messages import JobRequest
from aitrader.events import EventBus
from aitrader.market import demo
from aitrader.market.prices import Feed, upsert_bars
from aitrader.settings import Settings
from aitrader.store import Store
from aitrader.tools.launcher import ToolServers
from aitrader.tools.ports import free_ports, tool_env

ROOT = Path(__file__).resolve().parents[1]
PER_TURN = 3
FIRST_SESSION = date(2025, 3, 3)
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- the process tree ------------------------------------------------------------------------

def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2:].split()


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICK if fields is not None else 0.0


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class TreeSampler:
    """Sums the tree's RSS every `every` seconds in a thread, keeping the peaks; its own CPU
    time is kept so that it can be taken out of this process's figure."""

    def __init__(self, pids: list[int], every: float = 0.05) -> None:
        self.pids = pids
        self.every = every
        self.peak_tree = 0
        self.peak_self = 0
        self.samples = 0
        self.own_cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def _sample(self) -> None:
        sizes = [rss_bytes(p) for p in self.pids]
        self.peak_tree = max(self.peak_tree, sum(sizes))
        self.peak_self = max(self.peak_self, sizes[0])
        self.samples += 1

    def _run(self) -> None:
        start = time.thread_time()
        while not self._stop.wait(self.every):
            self._sample()
        self._sample()
        self.own_cpu = time.thread_time() - start

    def __enter__(self) -> TreeSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- one run ---------------------------------------------------------------------------------

@attrs.frozen
class Checks:
    status: str
    completed: int
    tool_calls: int
    tool_errors: int  # model_day.tool_call events with error true
    refused: int  # tool results that are refusals (an "error" in the payload)
    trades: int

    def problems(self, n: int, m: int, k: int) -> list[str]:
        out = []
        if self.status != "completed":
            out.append(f"the job ended {self.status}")
        if self.completed != n * m:
            out.append(f"{self.completed} of {n * m} model-days completed")
        if self.tool_calls != n * m * k:
            out.append(f"{self.tool_calls} tool calls made, {n * m * k} expected")
        if self.tool_errors or self.refused:
            out.append(f"{self.tool_errors} tool calls failed, {self.refused} were refused")
        if self.trades != (n * m if k else 0):
            out.append(f"{self.trades} trades, {n * m if k else 0} expected")
        return out


def _is_refusal(stored: str) -> bool:
    """A stored tool message (`Recorder.messages`) whose content is an error or a refusal."""
    text = json.loads(stored).get("content")
    if not isinstance(text, str):
        return True
    if text.startswith("Error"):
        return True
    try:
        payload = json.loads(text)
    except ValueError:
        return False
    return isinstance(payload, dict) and "error" in payload


async def _stored_checks(db: Path) -> tuple[int, int]:
    """(refused tool results, trades) as the database has them."""
    async with Store(db) as store, store.read() as conn:
        cur = await conn.execute("SELECT content FROM messages WHERE role = 'tool'")
        refused = sum(_is_refusal(r[0]) for r in await cur.fetchall())
        cur = await conn.execute("SELECT COUNT(*) FROM trades")
        row = await cur.fetchone()
    return refused, int(row[0]) if row else 0


async def one(n: int, m: int, k: int, label: str = "us/daily") -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="aitrader-sim-"))
    llm: asyncio.subprocess.Process | None = None
    servers: ToolServers | None = None
    market = markets.get(*label.split("/"))
    try:
        cal = market.schedule.calendar()
        sessions = market.sessions(FIRST_SESSION, cal.last_closed())[:m]
        if len(sessions) < m:
            raise SystemExit(f"only {len(sessions)} sessions from {FIRST_SESSION} to today")
        if len(market.sessions_of_day(sessions[-1].day)) != \
                sum(s.day == sessions[-1].day for s in sessions):
            raise SystemExit(f"M={m} is not a whole number of {label} trading days")
        before = cal.previous(sessions[0].day)
        assert before is not None
        db = tmp / "sim.db"
        (tmp / "none.jsonl").touch()  # no news (the bench model does not search)
        async with Store(db) as store:
            await upsert_bars(store, Feed(market.key, str(market.frequency)), demo.generate(
                market, before - timedelta(10), sessions[-1].day, seed=3))
        ports = free_ports(5)
        llm = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aitrader.testing.fake_llm", "--port", str(ports[4]),
            "--tool-calls", str(k), "--per-turn", str(PER_TURN), "--market", label, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE)
        assert llm.stdout is not None
        if (await llm.stdout.readline()).strip() != b"ready":
            raise RuntimeError("the fake LLM did not start")
        configs = tmp / "configs"
        configs.mkdir()
        (configs / "bench.json").write_text(json.dumps({
            "market": market.key, "frequency": str(market.frequency), "data": "database",
            "date_range": {"init_date": before.isoformat()},
            # the LLM answers ceil(K/3) turns of calls, then the stop signal
            "agent_config": {"max_retries": 0, "max_steps": math.ceil(k / PER_TURN) + 2},
            "models": [{"name": f"m{i}", "basemodel": "fake/bench", "signature": f"m{i}",
                        "openai_base_url": f"http://127.0.0.1:{ports[4]}/v1",
                        "openai_api_key": "sk-bench"} for i in range(n)]}))
        env = {**os.environ, **tool_env(ports[:4], AITRADER_DB=str(db),
                                         AITRADER_DATA_DIR=str(tmp / "data"),
                                         AITRADER_NEWS_FILE=str(tmp / "none.jsonl"))}
        settings = Settings.from_env(env)
        servers = ToolServers(settings, env=env)
        await servers.start()
        names = {os.getpid(): "service (this process)",
                 **{p.pid: f"{name} server" for name, p in servers.procs.items()},
                 llm.pid: "fake LLM"}
        calls = errors = completed = 0
        status = ""
        async with Store(db, readers=4) as store:
            bus = EventBus(store)
            sub = bus.subscribe(maxsize=10_000_000)
            async with SimulationHost(attrs.evolve(settings, configs_dir=configs), bus,
                                      env={}) as host:
                tree = descendants(os.getpid())  # this process first
                if set(names) - set(tree):
                    raise RuntimeError("a bench process is not in this process's tree")
                with TreeSampler(tree) as sampler:
                    cpu0 = {p: cpu_seconds(p) for p in tree}
                    t0 = time.perf_counter()
                    answer = await host.trigger(JobRequest(
                        "configs/bench.json", sessions[0].day.isoformat(),
                        sessions[-1].day.isoformat()))
                    if answer.job is None:
                        raise RuntimeError(f"the trigger started no job: {answer}")
                    async for e in sub:
                        if e.type == "model_day.tool_call":
                            calls += 1
                            errors += bool(e.data.get("error"))
                        elif e.type == "model_day.finished":
                            completed += e.data.get("status") == "completed"
                        elif e.type == "job.finished":
                            status = str(e.data["status"])
                            break
                    wall = time.perf_counter() - t0
                    cpu = {p: cpu_seconds(p) - cpu0[p] for p in tree}
                cpu[os.getpid()] -= sampler.own_cpu
                gone = set(tree) - set(descendants(os.getpid()))
                if gone:
                    raise RuntimeError(f"processes ended during the run: {sorted(gone)}")
        refused, trades = await _stored_checks(db)
    finally:
        try:
            if servers is not None:
                await servers.stop()
        finally:
            if llm is not None and llm.returncode is None:
                llm.terminate()
                await llm.wait()
            shutil.rmtree(tmp, ignore_errors=True)
    days = n * m
    per_process: dict[str, float] = {}
    for pid, seconds in cpu.items():
        name = names.get(pid, f"other ({pid})")
        per_process[name] = per_process.get(name, 0.0) + seconds
    total = sum(cpu.values())
    return {
        "wall": wall, "days_per_s": days / wall,
        "tree_ms_day": total * 1000 / days, "self_ms_day": cpu[os.getpid()] * 1000 / days,
        "tree_ms_call": total * 1000 / (days * k) if k else None,
        "self_ms_call": cpu[os.getpid()] * 1000 / (days * k) if k else None,
        "peak_tree_mb": sampler.peak_tree / 2**20, "peak_self_mb": sampler.peak_self / 2**20,
        "samples": sampler.samples, "processes": len(tree),
        "per_process_ms_day": {name: s * 1000 / days for name, s in per_process.items()},
        "checks": Checks(status, completed, calls, errors, refused, trades),
    }


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, help="models (one row; default: the whole table)")
    parser.add_argument("-m", type=int, default=20, help="sessions (default 20)")
    parser.add_argument("-k", type=int, default=10, help="tool calls per model-day (10)")
    parser.add_argument("--market", default="us/daily",
                        help="market/frequency of the -n run (default us/daily)")
    parser.add_argument("--markets", action="store_true",
                        help="US daily against crypto hourly, then 10 x 720 crypto hourly")
    args = parser.parse_args()
    logs.configure(level="INFO")  # as `aitrader serve`; to stderr, the table is on stdout
    runs = [(args.n, args.m, args.k, args.market)] if args.n else \
        [(10, 120, 10, "us/daily"), (10, 120, 10, "crypto/hourly"),
         (10, 720, 10, "crypto/hourly")] if args.markets else \
        [(1, 20, 10, "us/daily"), (10, 20, 10, "us/daily"), (50, 20, 10, "us/daily"),
         (5, 20, 0, "us/daily")]
    print(f"simulation throughput ({os.cpu_count()} cores, Python {sys.version.split()[0]}); "
          "tree = the whole process tree (this process + 4 tool servers + the fake LLM), "
          "CPU summed over its processes, peak MB = peak of the SUM of their RSS "
          "(sampled every 50 ms); self = this process (supervisor, actors, agents, mirror "
          "bus); tool calls are 3 per LLM turn")
    print()
    print("| market |  N |  M |  K | model-days/s | CPU ms/model-day tree | self | "
          "CPU ms/tool call tree | self | peak MB tree (sum) | self | wall s | "
          "tool calls | failed/refused |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    results = []
    failed = False
    for n, m, k, label in runs:
        r = priority.run(one(n, m, k, label))
        c: Checks = r["checks"]
        results.append((n, m, k, r))
        print(f"| {label} | {n} | {m} | {k} | {r['days_per_s']:.1f} | {r['tree_ms_day']:.1f} | "
              f"{r['self_ms_day']:.1f} | {_ms(r['tree_ms_call'])} | {_ms(r['self_ms_call'])} | "
              f"{r['peak_tree_mb']:.0f} | {r['peak_self_mb']:.0f} | {r['wall']:.1f} | "
              f"{c.tool_calls} | {c.tool_errors + c.refused} |", flush=True)
        for problem in c.problems(n, m, k):
            failed = True
            print(f"  CHECK FAILED (N={n} M={m} K={k}): {problem}", flush=True)
    print()
    print("CPU ms per model-day, by process:")
    print()
    names = sorted({name for *_, r in results for name in r["per_process_ms_day"]})
    print("| N | M | K | " + " | ".join(names) + " |")
    print("|---:|---:|---:|" + "---:|" * len(names))
    for n, m, k, r in results:
        share = r["per_process_ms_day"]
        print(f"| {n} | {m} | {k} | " + " | ".join(f"{share.get(x, 0.0):.1f}" for x in names)
              + " |")
    print()
    print("reference (2-core machine, nothing else running): 68 model-days/s at N=5 K=0, "
          "21 model-days/s at N=50 K=10")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
