"""API latency and WebSocket fan-out while a 10-model simulation runs in `aitrader serve`.

Starts the fake LLM (`python -m aitrader.testing.fake_llm`: 10 valid tool calls per model-day,
3 per turn, each answer after 50 ms), the four tool servers and `aitrader serve`, each in its
own process, triggers a 10-model simulation long enough to outlast the measurement, waits for
its first results, then from other processes (one per phase, not the service's):
1. drives GET /simulate/status/{id} and GET /results (alternately) OPEN LOOP at each rate for
   --seconds (default 10): request i is due at start + i/rate and goes out then whatever the
   earlier ones are doing, and its latency is measured from that SCHEDULED time to the end of
   its response, so queueing in the client or in the server is not hidden. Prints p50, p99 and
   max per rate, errors (any status but 200, any failure), how late the client fired
   (send lag p99) and its CPU use (near 100% means the client, not the server, was the limit);
2. connects --viewers WebSocket viewers to /ws, and once all are connected and a second has
   passed, measures every event's lag (receive time minus the event's "time" field, which is
   stamped in the simulation when it is published, to the millisecond) for --ws-seconds:
   p50/p99, messages and distinct events, viewers dropped by the server (1013: too slow) or
   otherwise, and the client's CPU use. The viewers are picows connections by default (a
   Cython client, a callback per frame): 1,000 viewers of aiohttp's client, each a task woken
   per message, need about a core of their own on this machine, and their own queueing then
   becomes most of the lag measured; `--client aiohttp` measures with them anyway.
Around each phase's measurement the worker also reads the service's side: the CPU of the
`aitrader serve` process (100% = one core), how busy the whole machine was (all cores; other
work on the machine shows here), and the share of the service loop's 100 ms ticks that fired
more than 50 / 100 ms late (its /metrics loop-lag histogram, before and after).
After each phase it checks that the job is still running, and prints it: a phase during which
the job ended did not measure the API under a running simulation. At the end it checks the
simulation's own work (every tool result of a completed model-day valid). Either failing makes
the exit code 1.

Targets on a 2-core machine: p99 < 50 ms at 500 requests/s while 10 models simulate; 1,000
WebSocket viewers with event lag p99 < 100 ms. `--market crypto/hourly` runs the job on 24
sessions a day (issue 13: the target must hold for it too).

    python bench/api_load.py [--viewers 1000] [--rates 100,200,500,800,1000] [--seconds 10]
                             [--ws-seconds 10] [--client picows|aiohttp]
                             [--market us/daily|crypto/hourly|...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import attrs

ROOT = Path(__file__).resolve().parents[1]
MODELS = 10
TOOL_CALLS = 10  # per model-day, 3 per LLM turn
PER_TURN = 3
LLM_DELAY = 0.05  # seconds per LLM answer
TARGET_RATE, TARGET_P99, TARGET_LAG = 500, 50.0, 100.0


def pct(xs: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    xs = sorted(xs)
    return xs[max(0, math.ceil(q * len(xs)) - 1)] if xs else float("nan")


async def job_status(http: aiohttp.ClientSession, job: str) -> dict[str, Any]:
    async with http.get(f"/simulate/status/{job}") as resp:
        doc: dict[str, Any] = await resp.json()
    return doc


# -- the second process ---------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")
STALLS = (0.05, 0.1)  # loop-lag bounds reported per phase


def _proc_cpu(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        raw = fh.read()
    fields = raw[raw.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _machine() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, all cores."""
    with open("/proc/stat") as fh:
        ticks = [int(x) for x in fh.readline().split()[1:9]]
    idle = ticks[3] + ticks[4]
    return sum(ticks) - idle, sum(ticks)


def _families(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: [(s.name, s.labels, s.value) for s in f.samples]
            for f in text_string_to_metric_families(text)}


def _lag_histogram(text: str) -> dict[float, float]:
    """The service's event-loop lag histogram: {upper bound: cumulative count}, +Inf too."""
    return {float(labels["le"]): value
            for name, labels, value in _families(text).get("aitrader_event_loop_lag_seconds",
                                                           [])
            if name.endswith("_bucket")}


@attrs.define
class Snapshot:
    """What a worker reads just before and just after its measurement: the service's CPU
    (`aitrader serve`'s process), the machine's, and the service's loop-lag histogram."""

    wall: float
    service_cpu: float
    machine: tuple[int, int]
    lag: dict[float, float]

    @classmethod
    async def take(cls, http: aiohttp.ClientSession, pid: int) -> Snapshot:
        async with http.get("/metrics") as resp:
            text = await resp.text()
        return cls(time.perf_counter(), _proc_cpu(pid), _machine(), _lag_histogram(text))

    def since(self, before: Snapshot) -> dict[str, Any]:
        wall = self.wall - before.wall
        busy, total = (a - b for a, b in zip(self.machine, before.machine, strict=True))
        ticks = self.lag.get(math.inf, 0.0) - before.lag.get(math.inf, 0.0)
        stalls = {b: (ticks - (self.lag.get(b, 0.0) - before.lag.get(b, 0.0))) / ticks
                  if ticks else float("nan") for b in STALLS}
        return {"service_cpu": (self.service_cpu - before.service_cpu) / wall,
                "machine_busy": busy / total if total else float("nan"), "stalls": stalls}


async def http_worker(base: str, job: str, rate: int, seconds: float, pid: int) -> None:
    """One phase: `rate` requests/s for `seconds`, open loop; one JSON line."""
    loop = asyncio.get_running_loop()
    lat: list[float] = []
    send_lag: list[float] = []
    errors: dict[str, int] = {}
    sizes: dict[str, int] = {}  # the last body of each kind, in bytes
    # no cap on connections: a capped pool would queue requests in the client (that would be
    # counted, as latency runs from the scheduled time, but it is not the server's doing)
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base, connector=conn,
                                     timeout=aiohttp.ClientTimeout(total=30)) as http:
        for _ in range(5):  # connections and code paths warm, outside the measurement
            async with http.get("/results") as r:
                await r.read()

        async def one(i: int, due: float) -> None:
            send_lag.append((loop.time() - due) * 1000)
            kind = "status" if i % 2 else "results"
            path = f"/simulate/status/{job}" if i % 2 else "/results"
            why = ""
            try:
                async with http.get(path) as r:
                    sizes[kind] = len(await r.read())
                    if r.status != 200:
                        why = f"HTTP {r.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                why = type(exc).__name__
            if why:
                errors[why] = errors.get(why, 0) + 1
            else:
                lat.append((loop.time() - due) * 1000)

        n = max(1, round(rate * seconds))
        tasks: list[asyncio.Task[None]] = []
        before = await Snapshot.take(http, pid)
        cpu0 = time.process_time()
        start = loop.time() + 0.05
        i = 0
        while i < n:  # open loop: every request due by now goes out now
            now = loop.time()
            while i < n and start + i / rate <= now:
                tasks.append(asyncio.create_task(one(i, start + i / rate)))
                i += 1
            if i < n:
                await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
        sent = loop.time()
        await asyncio.gather(*tasks)
        done = loop.time()
        cpu = time.process_time() - cpu0
        service = (await Snapshot.take(http, pid)).since(before)
        st = await job_status(http, job)
    print(json.dumps({**service,
        "rate": rate, "requests": n, "sent_per_s": n / (sent - start + 1 / rate),
        "ok": len(lat), "p50": pct(lat, 0.5), "p99": pct(lat, 0.99),
        "max": max(lat, default=float("nan")), "send_lag_p99": pct(send_lag, 0.99),
        "errors": errors, "client_cpu": cpu / (done - start), "job": st["status"],
        "completed": st["progress"]["completed"], "seconds": done - start, "sizes": sizes,
        "total_days": st["progress"]["total_model_days"],
    }), flush=True)


def _event_time(text: str, cache: dict[str, float]) -> float:
    """The event's "time" as a Unix time, without decoding the whole event."""
    i = text.find('"time": "')
    stamp = text[i + 9:text.find('"', i + 9)] if i >= 0 else json.loads(text)["time"]
    t = cache.get(stamp)
    if t is None:
        if len(cache) > 100_000:
            cache.clear()
        t = cache[stamp] = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    return t


async def ws_worker_picows(base: str, job: str, viewers: int, seconds: float,
                           pid: int) -> None:
    """The same measurement with picows (a Cython client: a callback per frame, no task per
    viewer woken per message), so that the viewers' own CPU does not become the lag."""
    import picows

    lags: list[float] = []
    seqs: set[str] = set()
    cache: dict[str, float] = {}
    closes: dict[str, int] = {}
    state = {"counting": False, "stopped": False}

    class Listener(picows.WSListener):
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == picows.WSMsgType.TEXT:
                if state["counting"] and not state["stopped"]:
                    text = frame.get_payload_as_ascii_text()
                    lags.append((time.time() - _event_time(text, cache)) * 1000)
                    seqs.add(text[8:text.find(",", 8)])
            elif frame.msg_type == picows.WSMsgType.CLOSE and not state["stopped"]:
                why = f"closed {frame.get_close_code()}"
                closes[why] = closes.get(why, 0) + 1

    url = base.replace("http://", "ws://") + "/ws"
    transports: list[Any] = []
    failed: dict[str, int] = {}

    async def connect() -> None:
        try:
            transport, _ = await picows.ws_connect(Listener, url)
            transports.append(transport)
        except (OSError, picows.WSError) as exc:
            failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1

    t0 = time.perf_counter()
    for lo in range(0, viewers, 50):
        await asyncio.gather(*(connect() for _ in range(lo, min(viewers, lo + 50))))
    connect_s = time.perf_counter() - t0
    async with aiohttp.ClientSession(base) as http:
        await asyncio.sleep(1.0)
        before = await Snapshot.take(http, pid)
        cpu0, w0 = time.process_time(), time.perf_counter()
        state["counting"] = True
        await asyncio.sleep(seconds)
        state["stopped"] = True
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - w0
        service = (await Snapshot.take(http, pid)).since(before)
        st = await job_status(http, job)
    for transport in transports:
        transport.disconnect()
    await asyncio.gather(*(t.wait_disconnected() for t in transports), return_exceptions=True)
    print(json.dumps({**service, "viewers": viewers, "connected": len(transports),
                      "connect_failed": failed, "client": "picows",
                      "connect_s": connect_s, "messages": len(lags), "events": len(seqs),
                      "seconds": wall, "closed": closes, "p50": pct(lags, 0.5),
                      "p99": pct(lags, 0.99), "max": max(lags, default=float("nan")),
                      "client_cpu": cpu / wall, "job": st["status"],
                      "completed": st["progress"]["completed"]}), flush=True)


async def ws_worker(base: str, job: str, viewers: int, seconds: float, pid: int) -> None:
    """Viewers read from the moment they connect; lag is counted once all are connected and
    a second has passed (the steady state, not the connection ramp)."""
    conn = aiohttp.TCPConnector(limit=0)
    lags: list[float] = []
    seqs: set[str] = set()
    cache: dict[str, float] = {}
    closes: dict[str, int] = {}
    counting = asyncio.Event()
    stop = asyncio.Event()

    async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                if not stop.is_set():
                    why = f"closed {ws.close_code}" if ws.close_code else msg.type.name
                    closes[why] = closes.get(why, 0) + 1
                return
            if counting.is_set() and not stop.is_set():
                text: str = msg.data
                lags.append((time.time() - _event_time(text, cache)) * 1000)
                seqs.add(text[8:text.find(",", 8)])

    async with aiohttp.ClientSession(base, connector=conn) as http:
        socks: list[aiohttp.ClientWebSocketResponse] = []
        failed: dict[str, int] = {}

        async def connect() -> None:
            try:
                socks.append(await http.ws_connect("/ws", heartbeat=None))
            except (aiohttp.ClientError, TimeoutError) as exc:
                failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1

        t0 = time.perf_counter()
        tasks: list[asyncio.Task[None]] = []
        for lo in range(0, viewers, 50):
            await asyncio.gather(*(connect() for _ in range(lo, min(viewers, lo + 50))))
            tasks.extend(asyncio.create_task(read(ws)) for ws in socks[len(tasks):])
        connect_s = time.perf_counter() - t0
        await asyncio.sleep(1.0)
        before = await Snapshot.take(http, pid)
        cpu0, w0 = time.process_time(), time.perf_counter()
        counting.set()
        await asyncio.sleep(seconds)
        stop.set()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - w0
        service = (await Snapshot.take(http, pid)).since(before)
        st = await job_status(http, job)
        await asyncio.gather(*(w.close() for w in socks), return_exceptions=True)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({**service, "viewers": viewers, "connected": len(socks),
                      "connect_failed": failed,
                      "connect_s": connect_s, "messages": len(lags), "events": len(seqs),
                      "seconds": wall, "closed": closes, "p50": pct(lags, 0.5),
                      "p99": pct(lags, 0.99), "max": max(lags, default=float("nan")),
                      "client_cpu": cpu / wall, "job": st["status"],
                      "completed": st["progress"]["completed"]}), flush=True)


# -- the driver -----------------------------------------------------------------------------

async def _stop(proc: asyncio.subprocess.Process | None, grace: float = 30.0) -> None:
    if proc is None or proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def _worker(*args: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--worker", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    try:
        out, _ = await proc.communicate()
    finally:
        await _stop(proc, 5.0)
    if proc.returncode:
        raise RuntimeError(f"the {args[0]} worker exited with code {proc.returncode}")
    rows = [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]
    if len(rows) != 1:
        raise RuntimeError(f"the {args[0]} worker printed {len(rows)} results, not one")
    row: dict[str, Any] = rows[0]
    return row


async def _stored_checks(db: Path) -> tuple[int, int, int]:
    """(completed model-days, their tool results, the refused or failed ones)."""
    from aitrader.store import Store

    async with Store(db) as store, store.read() as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM attempts WHERE status = 'completed'")
        row = await cur.fetchone()
        cur = await conn.execute(
            "SELECT m.content FROM messages m JOIN attempts a ON a.id = m.attempt_id "
            "WHERE a.status = 'completed' AND m.role = 'tool'")
        results = [r[0] for r in await cur.fetchall()]
    bad = 0
    for stored in results:
        text = json.loads(stored).get("content")
        try:
            payload = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            payload = text
        bad += (not isinstance(text, str) or text.startswith("Error")
                or (isinstance(payload, dict) and "error" in payload))
    return int(row[0]) if row else 0, len(results), bad


def _stall_text(stalls: dict[float, float]) -> str:
    return " / ".join(f"{v:.1%}" for v in stalls.values())


async def main(viewers: int, rates: list[int], seconds: float, ws_seconds: float,
               client: str = "picows", label: str = "us/daily") -> int:
    from aitrader import logs, markets
    from aitrader.market import demo
    from aitrader.market.prices import Feed, upsert_bars
    from aitrader.settings import Settings
    from aitrader.store import Store
    from aitrader.tools.launcher import ToolServers
    from aitrader.tools.ports import free_ports, tool_env

    logs.configure(level="WARNING")  # to stderr: the tables are on stdout
    # the job must outlast the measurement: a model-day takes at least (turns x delay), so
    # at most this many model-days per second per model, however fast the rest is
    turns = math.ceil(TOOL_CALLS / PER_TURN) + 1
    per_model = 1 / (turns * LLM_DELAY)
    planned = len(rates) * (seconds + 5) + viewers / 50 + ws_seconds + 20
    venue = markets.get(*label.split("/"))
    cal = venue.schedule.calendar()
    trading_days = cal.between(demo.ANCHOR, cal.last_closed())
    per_day = len(venue.sessions_of_day(trading_days[-1]))
    needed = math.ceil(planned * per_model * 1.25)
    wanted_days = math.ceil(needed / per_day)
    picked = trading_days[-min(wanted_days, len(trading_days) - 1):]
    init = trading_days[-len(picked) - 1]
    sessions = venue.sessions(picked[0], picked[-1])
    market = trading_days[-len(picked) - 10:]  # the demo bars: a little look-back before the job
    print(f"the job: {MODELS} models x {len(sessions)} {venue.label} sessions ({sessions[0]} to "
          f"{sessions[-1]}); a model-day takes >= {turns} x {LLM_DELAY * 1000:.0f} ms of LLM, "
          f"so the job lasts >= {len(sessions) / per_model:.0f} s; the measurement is planned "
          f"at ~{planned:.0f} s", flush=True)
    if len(sessions) < needed:
        print(f"  (the demo market has only {len(sessions)} sessions, {needed} wanted: the job "
              "may end before the measurement does; see 'job at the end' below)", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="aitrader-load-"))
    llm = serve = None
    servers: ToolServers | None = None
    try:
        db = tmp / "load.db"
        async with Store(db) as store:
            await upsert_bars(store, Feed(venue.key, str(venue.frequency)),
                              demo.generate(venue, market[0], market[-1], seed=5))
        (tmp / "none.jsonl").touch()
        ports = free_ports(6)
        configs = tmp / "configs"
        configs.mkdir()
        (configs / "load.json").write_text(json.dumps({
            "market": venue.key, "frequency": str(venue.frequency), "data": "database",
            "date_range": {"init_date": init.isoformat()},
            "agent_config": {"max_retries": 0, "max_steps": turns + 1},
            "models": [{"name": f"m{i}", "basemodel": "fake/bench", "signature": f"m{i}",
                        "openai_base_url": f"http://127.0.0.1:{ports[4]}/v1",
                        "openai_api_key": "sk-bench"} for i in range(MODELS)]}))
        env = {**os.environ, **tool_env(ports[:4], AITRADER_DB=str(db),
                                         AITRADER_NEWS_FILE=str(tmp / "none.jsonl"),
                                         AITRADER_CONFIGS_DIR=str(configs),
                                         AITRADER_DATA_DIR=str(tmp / "data"),
                                         API_PORT=str(ports[5]), API_HOST="127.0.0.1")}
        env.pop("AITRADER_API_TOKEN", None)  # an open API: no token to send
        llm = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "aitrader.testing.fake_llm", "--port", str(ports[4]),
            "--tool-calls", str(TOOL_CALLS), "--per-turn", str(PER_TURN),
            "--delay", str(LLM_DELAY), "--market", venue.label, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE)
        assert llm.stdout is not None
        if (await llm.stdout.readline()).strip() != b"ready":
            raise RuntimeError("the fake LLM did not start")
        servers = ToolServers(Settings.from_env(env), env=env)
        await servers.start()
        with (tmp / "serve.log").open("wb") as log:
            serve = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "aitrader", "serve", env=env, cwd=ROOT,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{ports[5]}"
        async with aiohttp.ClientSession(base) as http:
            for _ in range(600):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get("/health") as resp:
                        if resp.status == 200:
                            break
                if serve.returncode is not None:
                    raise RuntimeError("aitrader serve exited during start-up")
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("aitrader serve did not become healthy")
            async with http.post("/simulate/trigger",
                                 json={"config_path": "configs/load.json",
                                       "end_date": sessions[-1].day.isoformat()}) as resp:
                body = await resp.json()
                if resp.status != 202:
                    raise RuntimeError(f"the trigger answered {resp.status}: {body}")
                job: str = body["job_id"]
            for _ in range(600):  # /results has something to show once a day is done
                st = await job_status(http, job)
                if st["progress"]["completed"] >= MODELS or st["status"] != "running":
                    break
                await asyncio.sleep(0.1)
            if st["status"] != "running":
                raise RuntimeError(f"the job is {st['status']} before the measurement")
            measured = time.perf_counter()
            done0 = st["progress"]["completed"]

            http_rows: list[dict[str, Any]] = []
            for rate in rates:  # one worker process per phase
                http_rows.append(await _worker("http", base, job, str(rate), str(seconds),
                                               str(serve.pid)))
            ws_row = await _worker("ws" if client == "picows" else "ws-aiohttp", base, job,
                                   str(viewers), str(ws_seconds),
                                   str(serve.pid))
            st = await job_status(http, job)
            ran = time.perf_counter() - measured
            if st["status"] == "running":  # stop it, and let it stop, before the service
                async with http.post(f"/simulate/jobs/{job}/cancel") as resp:
                    await resp.read()
                for _ in range(300):
                    if (await job_status(http, job))["status"] not in ("pending", "running"):
                        break
                    await asyncio.sleep(0.1)
        await _stop(serve)
        days, results, refused = await _stored_checks(db)
    except BaseException:
        if (tmp / "serve.log").exists():
            tail = (tmp / "serve.log").read_text(errors="replace").splitlines()[-20:]
            print("aitrader serve's log ends:\n  " + "\n  ".join(tail), file=sys.stderr)
        raise
    finally:
        try:
            await _stop(serve)
            if servers is not None:
                await servers.stop()
        finally:
            await _stop(llm, 5.0)
            shutil.rmtree(tmp, ignore_errors=True)

    done = st["progress"]["completed"] - done0
    print(f"API latency while a {MODELS}-model simulation runs ({os.cpu_count()} cores, "
          f"Python {sys.version.split()[0]}); {done} model-days done during the measurement, "
          f"{done / ran:.1f}/s under this load")
    print()
    print(f"open loop, {seconds:g} s per rate, GET /simulate/status/{{id}} and GET /results "
          "alternately; latency from each request's scheduled time. service CPU: the "
          "`aitrader serve` process (100% = one core); machine: all cores busy, this bench's "
          "processes and anything else; loop stalls: share of the service loop's 100 ms "
          f"ticks late by > {' / '.join(f'{b * 1000:g}' for b in STALLS)} ms")
    print()
    print("| target req/s | sent/s | ok | p50 ms | p99 ms | max ms | errors | "
          "client send lag p99 ms | client CPU | service CPU | machine busy | loop stalls | "
          "job at the end |")
    print("|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
    ok = True
    for row in http_rows:
        errors = ", ".join(f"{k} x{v}" for k, v in row["errors"].items()) or "0"
        print(f"| {row['rate']} | {row['sent_per_s']:.0f} | {row['ok']} | {row['p50']:.1f} | "
              f"{row['p99']:.1f} | {row['max']:.1f} | {errors} | {row['send_lag_p99']:.1f} | "
              f"{row['client_cpu']:.0%} | {row['service_cpu']:.0%} | "
              f"{row['machine_busy']:.0%} | {_stall_text(row['stalls'])} | "
              f"{row['job']} ({row['completed']} days done) |")
        ok = ok and row["job"] == "running"
    last = http_rows[-1]
    print()
    print(f"bodies at the end: status {last['sizes'].get('status', 0) / 1024:.0f} KiB (the job "
          f"has {last['total_days']} model-days; the status lists every one), results "
          f"{last['sizes'].get('results', 0) / 1024:.1f} KiB")
    good = [r["rate"] for r in http_rows if r["p99"] < TARGET_P99 and not r["errors"]]
    print()
    print(f"highest rate with p99 < {TARGET_P99:g} ms and no errors: "
          f"{max(good) if good else 'none'} requests/s (target: p99 < {TARGET_P99:g} ms at "
          f"{TARGET_RATE} requests/s)")
    print()
    print(f"WebSocket viewers' client: {client}")
    print(f"| WebSocket viewers | connected | messages | distinct events | lag p50 ms | "
          f"lag p99 ms (target < {TARGET_LAG:g}) | max ms | dropped | client CPU | "
          "service CPU | machine busy | loop stalls | job at the end |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|")
    w = ws_row
    dropped = ", ".join(f"{k} x{v}" for k, v in w["closed"].items()) or "0"
    failed = sum(w["connect_failed"].values())
    print(f"| {w['viewers']} | {w['connected']}{f' ({failed} failed)' if failed else ''} "
          f"| {w['messages']} | {w['events']} | {w['p50']:.1f} | {w['p99']:.1f} | "
          f"{w['max']:.1f} | {dropped} | {w['client_cpu']:.0%} | {w['service_cpu']:.0%} | "
          f"{w['machine_busy']:.0%} | {_stall_text(w['stalls'])} | {w['job']} "
          f"({w['completed']} days done) |")
    ok = ok and w["job"] == "running"
    print()
    print("lag = receive time - the event's \"time\" (stamped to the millisecond, so up to "
          f"1 ms high); counted over {ws_seconds:g} s after all viewers connected (in "
          f"{w['connect_s']:.1f} s) and 1 s passed. Client CPU near 100% means the client "
          "process, not the service, was the limit of that phase.")
    print(f"the simulation's own work: {days} model-days completed, {results} tool results "
          f"in them, {refused} refused or failed")
    if not ok:
        print("the job was NOT running at the end of every phase: those phases did not "
              "measure the API under a running simulation", file=sys.stderr)
    if refused:
        print("some tool calls of the simulation were refused or failed", file=sys.stderr)
    return 0 if ok and not refused else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--rates", default="100,200,500,800,1000", help="requests/s, one "
                        "phase each")
    parser.add_argument("--seconds", type=float, default=10.0, help="per rate (10)")
    parser.add_argument("--ws-seconds", type=float, default=10.0,
                        help="WebSocket lag measurement (10)")
    parser.add_argument("--client", choices=("picows", "aiohttp"), default="picows",
                        help="the WebSocket viewers' client library (picows)")
    parser.add_argument("--market", default="us/daily",
                        help="the job's market/frequency (default us/daily)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "http":
            asyncio.run(http_worker(rest[0], rest[1], int(rest[2]), float(rest[3]),
                                    int(rest[4])))
        else:
            viewers_main = ws_worker_picows if kind == "ws" else ws_worker
            asyncio.run(viewers_main(rest[0], rest[1], int(rest[2]), float(rest[3]),
                                     int(rest[4])))
    else:
        sys.exit(asyncio.run(main(args.viewers, [int(x) for x in args.rates.split(",")],
                                  args.seconds, args.ws_seconds, args.client,
                                  args.market)))
