"""`aitrader demo`: the whole stack on this machine, driven the way Windmill or curl would.

Generates the demo market, starts the four tool servers and the service, triggers a catch-up
through POST /simulate/trigger, follows it over the WebSocket, prints GET /results, and keeps
the service running until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import date

import aiohttp
from aiohttp import web
from rich.console import Console
from rich.table import Table

from aitrader.api.app import create_app
from aitrader.config import load_config
from aitrader.market import demo
from aitrader.runner import tool_servers
from aitrader.settings import Settings
from aitrader.store import Store


def config_name(market: str = "us", frequency: str = "daily") -> str:
    """The config a demo of that market and frequency runs (shipped in configs/)."""
    if (market, frequency) == ("us", "daily"):
        return "default_config.json"
    return f"demo_{market}_{frequency}.json"


async def run_demo(settings: Settings, console: Console, *, end: str | None = None,
                   config: str = "default_config.json") -> int:
    path = settings.configs_dir / config
    if not path.is_file():
        console.print(f"[red]error:[/red] {path.name} is not in the configs folder (the demo "
                      "of each market runs the config shipped for it)", highlight=False)
        return 2
    config_path = f"configs/{config}"
    sim = load_config(path)
    async with Store(settings.db_path) as store:
        n = await demo.ensure(store, sim.venue, date.fromisoformat(sim.date_range.init_date),
                              settings.demo_seed)
    if n:
        console.print(f"generated {n:,} bars of the synthetic demo market")
    async with tool_servers(settings) as how:
        console.print(f"tool servers {how}")
        runner = web.AppRunner(create_app(settings), shutdown_timeout=10)
        await runner.setup()
        await web.TCPSite(runner, settings.api_host, settings.api_port).start()
        host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "") else settings.api_host
        base = f"http://{host}:{settings.api_port}"
        console.print(f"service on {base} (API docs: {base}/docs)")
        headers = {"Authorization": f"Bearer {settings.api_token}"} if settings.api_token \
            else {}
        try:
            async with aiohttp.ClientSession(base, headers=headers) as http:
                request = {"config_path": config_path, **({"end_date": end} if end else {})}
                await _drive(http, console, request)
            console.print(f"\nthe service keeps running on {base}; Ctrl-C stops it")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            await runner.cleanup()
    return 0


async def _drive(http: aiohttp.ClientSession, console: Console,
                 request: dict[str, str]) -> None:
    async with http.post("/simulate/trigger", json=request) as resp:
        body = await resp.json()
    console.print(f"POST /simulate/trigger -> {resp.status} {json.dumps(body)[:300]}")
    if body.get("status") == "current":
        console.print("nothing to simulate: every model is up to date")
    else:
        job = body["job_id"]
        done = 0
        async with http.ws_connect(f"/ws?job_id={job}") as ws:
            async for msg in ws:
                event = json.loads(msg.data)
                if event["type"] == "model_day.finished":
                    done += 1
                    console.print(f"  {event['date']} {event['model']:<14} "
                                  f"{event.get('status'):<10} value "
                                  f"{event.get('value', '-')}", highlight=False)
                elif event["type"] == "job.finished":
                    console.print(f"job {job[:8]} {event['status']} ({done} model-days)")
                    break
    async with http.get("/results") as resp:
        res = await resp.json()
    table = Table(title=f"GET /results  {res.get('date', '')}")
    for col in ("model", "portfolio value", "daily return", "holdings"):
        table.add_column(col)
    for row in res.get("results", []):
        pos = {k: v for k, v in row["positions"].items() if k != "CASH"}
        table.add_row(row["model"], f"{row['daily_pnl']['portfolio_value']:,.2f}",
                      f"{row['daily_pnl']['return_pct']:+.2f}%",
                      ", ".join(f"{k} {v}" for k, v in pos.items()) or "cash only")
    console.print(table)
