"""API latency and WebSocket fan-out while a 10-model simulation runs.

Starts the tool servers, `aitrader serve` and an instant scripted LLM (own processes), triggers
a 10-model simulation, then from a second process:
1. drives GET /simulate/status/{id} and GET /results at increasing request rates (open loop,
   3 s per rate) and prints p50/p99 latency per rate and the highest rate with p99 < 50 ms;
2. connects 1,000 WebSocket viewers and measures each event's lag (receive time minus the
   event's publish time) for 10 s: p50/p99, events delivered, viewers dropped.
Targets on this machine: p99 < 50 ms at >= 500 requests/s; 1,000 viewers with lag p99 < 100 ms.

    python bench/api_load.py [--viewers 1000] [--rates 100,200,400,600,800,1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))] if xs else float("nan")


# -- the second process ---------------------------------------------------------------------

async def http_worker(base: str, job: str, rates: list[int], seconds: float) -> None:
    conn = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(base, connector=conn) as http:
        for rate in rates:
            lat: list[float] = []
            errors = 0

            async def one(i: int, lat: list[float] = lat) -> None:
                nonlocal errors
                path = f"/simulate/status/{job}" if i % 2 else "/results"
                t = time.perf_counter()
                try:
                    async with http.get(path) as r:
                        await r.read()
                        if r.status >= 500:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                lat.append((time.perf_counter() - t) * 1000)

            tasks = []
            start = time.perf_counter()
            n = int(rate * seconds)
            for i in range(n):  # open loop: requests go out on schedule, whatever the latency
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.ensure_future(one(i)))
            await asyncio.gather(*tasks)
            took = time.perf_counter() - start
            print(json.dumps({"rate": rate, "achieved": round(n / took), "p50": pct(lat, 0.5),
                              "p99": pct(lat, 0.99), "errors": errors}), flush=True)


async def ws_worker(base: str, viewers: int, seconds: float) -> None:
    """Viewers read from the moment they connect; lag is counted once all are connected and
    a second has passed (the steady state, not the connection ramp)."""
    conn = aiohttp.TCPConnector(limit=0)
    lags: list[float] = []
    received = 0
    closed = 0
    counting = asyncio.Event()
    stop = asyncio.Event()

    async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
        nonlocal received, closed
        while not stop.is_set():
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                if not stop.is_set():
                    closed += 1
                return
            if counting.is_set():
                now = datetime.now(UTC)
                event = json.loads(msg.data)
                sent = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
                lags.append((now - sent).total_seconds() * 1000)
                received += 1

    async with aiohttp.ClientSession(base, connector=conn) as http:
        socks, tasks = [], []
        for _ in range(viewers):
            ws = await http.ws_connect("/ws", heartbeat=None)
            socks.append(ws)
            tasks.append(asyncio.ensure_future(read(ws)))
        await asyncio.sleep(1.0)
        counting.set()
        await asyncio.sleep(seconds)
        stop.set()
        for w in socks:
            await w.close()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"viewers": viewers, "events": received, "dropped": closed,
                      "p50": pct(lags, 0.5), "p99": pct(lags, 0.99)}), flush=True)


# -- the driver -----------------------------------------------------------------------------

def _lag_buckets(text: str) -> dict[float, float]:
    """Share of loop-lag ticks above each of a few bounds, from the histogram's buckets."""
    from prometheus_client.parser import text_string_to_metric_families

    buckets: dict[float, float] = {}
    total = 0.0
    for fam in text_string_to_metric_families(text):
        if fam.name == "aitrader_event_loop_lag_seconds":
            for s in fam.samples:
                if s.name.endswith("_bucket"):
                    buckets[float(s.labels["le"])] = s.value
                elif s.name.endswith("_count"):
                    total = s.value
    if not total:
        return {}
    return {b: 1 - buckets[b] / total for b in (0.01, 0.05, 0.1, 0.25) if b in buckets}

async def main(viewers: int, rates: list[int]) -> None:
    from aitrader.market import demo
    from aitrader.market.calendar import nyse
    from aitrader.market.prices import upsert_bars
    from aitrader.settings import Settings
    from aitrader.store import Store
    from aitrader.tools.launcher import ToolServers
    from aitrader.tools.ports import free_ports, tool_env

    tmp = Path(tempfile.mkdtemp(prefix="aitrader-load-"))
    cal = nyse()
    async with Store(tmp / "load.db") as store:
        await upsert_bars(store, demo.generate(cal, date(2024, 9, 3), date(2025, 12, 31),
                                               seed=5))
    ports = free_ports(6)
    configs = tmp / "configs"
    configs.mkdir()
    (configs / "load.json").write_text(json.dumps({
        "market": "database", "date_range": {"init_date": "2024-12-31"},
        "agent_config": {"max_retries": 0},
        "models": [{"name": f"m{i}", "basemodel": "fake/bench", "signature": f"m{i}",
                    "openai_base_url": f"http://127.0.0.1:{ports[4]}/v1",
                    "openai_api_key": "sk-bench"} for i in range(10)]}))
    env = {**os.environ, **tool_env(ports[:4], AITRADER_DB=str(tmp / "load.db"),
                                     AITRADER_NEWS_FILE=str(tmp / "none.jsonl"),
                                     AITRADER_CONFIGS_DIR=str(configs),
                                     AITRADER_DATA_DIR=str(tmp / "data"),
                                     API_PORT=str(ports[5]), API_HOST="127.0.0.1")}
    llm = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aitrader.testing.fake_llm", "--port", str(ports[4]),
        "--tool-calls", "5", "--delay", "0.05", cwd=ROOT,
        stdout=asyncio.subprocess.PIPE)
    assert llm.stdout is not None
    await llm.stdout.readline()
    servers = ToolServers(Settings.from_env(env), env=env)
    await servers.start()
    serve = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aitrader", "serve", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    base = f"http://127.0.0.1:{ports[5]}"
    try:
        async with aiohttp.ClientSession(base) as http:
            for _ in range(200):
                try:
                    async with http.get("/health") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            async with http.post("/simulate/trigger",
                                 json={"config_path": "configs/load.json",
                                       "end_date": "2025-12-31"}) as resp:
                job = (await resp.json())["job_id"]
            triggered = time.perf_counter()

            async def worker(*args: str) -> list[dict[str, Any]]:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, __file__, "--worker", *args, cwd=ROOT,
                    stdout=asyncio.subprocess.PIPE)
                out, _ = await proc.communicate()
                return [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]

            http_rows = await worker("http", base, job, ",".join(map(str, rates)))
            ws_rows = await worker("ws", base, str(viewers))
            async with http.get(f"/simulate/status/{job}") as resp:
                st = await resp.json()
            ran = time.perf_counter() - triggered
            async with http.get("/metrics") as resp:
                lag = _lag_buckets(await resp.text())
    finally:
        serve.terminate()
        await serve.wait()
        await servers.stop()
        llm.terminate()
        await llm.wait()
    print(f"API latency while a 10-model simulation runs ({os.cpu_count()} cores; job "
          f"{st['status']}, {st['progress']['completed']} model-days done by the end, "
          f"{st['progress']['completed'] / ran:.1f}/s under this load)")
    print("| target req/s | achieved | p50 ms | p99 ms | 5xx/errors |")
    print("|--------------|----------|--------|--------|------------|")
    for row in http_rows:
        print(f"| {row['rate']:>12} | {row['achieved']:>8} | {row['p50']:>6.1f} | "
              f"{row['p99']:>6.1f} | {row['errors']:>10} |")
    ok = [row["rate"] for row in http_rows if row["p99"] < 50 and row["errors"] == 0]
    print(f"highest rate with p99 < 50 ms: {max(ok) if ok else 'none'} requests/s")
    print("event-loop stalls in the service (how late a 100 ms timer fired), share of ticks: "
          + ", ".join(f"> {k * 1000:g} ms {v:.1%}" for k, v in lag.items()))
    for w in ws_rows:
        print(f"WebSocket: {w['viewers']} viewers, {w['events']} events delivered, "
              f"{w['dropped']} dropped, lag p50 {w['p50']:.1f} ms, p99 {w['p99']:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--rates", default="100,200,400,600,800,1000")
    parser.add_argument("--worker", nargs="+")
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "http":
            asyncio.run(http_worker(rest[0], rest[1], [int(x) for x in rest[2].split(",")],
                                    3.0))
        else:
            asyncio.run(ws_worker(rest[0], int(rest[1]), 10.0))
    else:
        asyncio.run(main(args.viewers, [int(x) for x in args.rates.split(",")]))
