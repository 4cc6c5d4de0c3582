"""`create_app()`: the service. Resources are cleanup contexts in dependency order (store,
then the event bus and metrics, then the simulation), so they close in reverse.

The supervisor and its actors run in the simulation host (`aitrader.actors.host`: their own
event loop in a thread of this process); this loop only serves HTTP and WebSockets. Its
event bus mirrors the simulation's. Served on a `ServingLoop` (`aitrader.priority`), the
simulation steps aside while this loop is busy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import structlog
from aiohttp import WSCloseCode, web
from prometheus_client.aiohttp import make_aiohttp_handler

from aitrader.actors.host import SimulationHost
from aitrader.api import results, service, simulate, ws
from aitrader.api.auth import auth_middleware
from aitrader.api.cache import ReadCache
from aitrader.api.dashboard import dashboard_routes
from aitrader.api.errors import errors_middleware, json_error_pages
from aitrader.api.fanout import Broadcast
from aitrader.api.keys import (
    BROADCAST,
    BUS,
    CACHE,
    METRICS,
    SETTINGS,
    SIMULATION,
    SOCKETS,
    STORE,
    Viewers,
)
from aitrader.api.metrics import Metrics
from aitrader.api.openapi import docs_routes, openapi
from aitrader.events import EventBus
from aitrader.ledger import Ledger
from aitrader.market.calendar import nyse
from aitrader.settings import TOOL_SERVERS, Settings
from aitrader.store import Store
from aitrader.tools.health import probe_all

log = structlog.get_logger(__name__)

METRICS_TASKS = web.AppKey("metrics_tasks", list)


async def _store(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with Store(settings.db_path, readers=4,
                     busy_timeout_ms=settings.db_busy_timeout_ms) as store:
        app[STORE] = store
        yield


async def _bus(app: web.Application) -> AsyncIterator[None]:
    bus = EventBus(app[STORE])
    app[BUS] = bus
    bus.add_listener(app[BROADCAST].deliver)
    metrics, cache, settings = app[METRICS], app[CACHE], app[SETTINGS]
    ledger = Ledger(app[STORE])
    metrics.last_sessions(await ledger.last_completed_of(await ledger.signatures()))
    sub = bus.subscribe(maxsize=100_000)

    async def count() -> None:
        async for event in sub:
            cache.invalidate(event)
            metrics.observe(event)
            host = app.get(SIMULATION)
            if host is not None:
                for name, depth in host.mailbox_depths():
                    metrics.mailbox.labels(name).set(depth)

    async def probe(every: float = 15.0) -> None:
        while True:
            for name, found in (await probe_all(settings, TOOL_SERVERS)).items():
                metrics.tool_server_up.labels(name).set(1 if found["status"] == "up" else 0)
            await asyncio.sleep(every)

    tasks = app[METRICS_TASKS] = [
        asyncio.create_task(count(), name="metrics"),
        asyncio.create_task(metrics.watch_loop(), name="loop-lag"),
        asyncio.create_task(probe(), name="tool-server-probe")]
    yield
    await cache.close()
    bus.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _simulation(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    # stopping it stops taking work; running model-days are cancelled at a safe point and
    # voided by the actors (and any left running are voided by recovery on the next start)
    async with SimulationHost(settings, app[BUS]) as host:
        app[SIMULATION] = host
        app[METRICS].providers = host.provider_stats
        if not settings.api_token:
            log.warning("api_open", message="AITRADER_API_TOKEN is not set: the API is open "
                        "to anyone who can reach it")
        yield


async def _close_sockets(app: web.Application) -> None:
    for sock in list(app[SOCKETS].sockets):
        await sock.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def create_app(settings: Settings) -> web.Application:
    """The service: serve it on a `ServingLoop` (see `aitrader.priority`)."""
    json_error_pages()
    metrics = Metrics(nyse())
    middlewares = [metrics.middleware(), errors_middleware]
    if settings.api_token:
        middlewares.append(auth_middleware(settings.api_token))
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[CACHE] = ReadCache()
    app[SOCKETS] = Viewers()
    app[BROADCAST] = Broadcast()
    app.cleanup_ctx.extend([_store, _bus, _simulation])
    app.on_shutdown.append(_close_sockets)
    r = app.router
    r.add_post("/simulate/trigger", simulate.trigger)
    r.add_get("/simulate/status/{job_id}", simulate.status)
    r.add_get("/simulate/current", simulate.current)
    r.add_get("/simulate/jobs", simulate.jobs)
    r.add_post("/simulate/jobs/{job_id}/cancel", simulate.cancel)
    r.add_post("/simulate/jobs/{job_id}/retry", simulate.retry)
    r.add_get("/results", results.results)
    r.add_get("/results/performance", results.performance)
    r.add_get("/results/markets", results.market_list)
    r.add_get("/health", service.health)
    r.add_get("/metrics", make_aiohttp_handler(metrics.registry))
    r.add_get("/ws", ws.websocket)
    r.add_get("/openapi.json", openapi)
    docs_routes(app)
    dashboard_routes(app)
    return app
