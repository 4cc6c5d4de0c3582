"""Prometheus metrics, one registry per application, fed by the event bus, the HTTP layer and a
probe of the tool servers. `promtool check metrics` passes on them (a test runs it).

Names follow the conventions: `aitrader_` prefix, `_total` counters, base units (`_seconds`,
`_timestamp_seconds`), no ids in labels (model signatures are a small, configured set; job
ids never appear). What operators alert on (deploy/prometheus/alerts.yml): the last completed
session per model, finished jobs by status, tool servers up, LLM calls by outcome.
"""

from __future__ import annotations

import asyncio
import platform
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from aitrader import __version__
from aitrader.agent.providers import WAIT_BUCKETS, WaitStats
from aitrader.events import Event
from aitrader.market.calendar import Calendar

CLIENT_CLOSED = 499  # nginx's "client closed request": the client left before the answer
STATUS_SENT = web.RequestKey("status_sent", int)  # a handler that sent its status says so


class Metrics:
    def __init__(self, calendar: Calendar) -> None:
        self._calendar = calendar
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        Info("aitrader_build", "The running aitrader", registry=r).info(
            {"version": __version__, "python": platform.python_version()})
        self.jobs = Counter("aitrader_jobs_total", "Jobs that ended, by final status",
                            ["status"], registry=r)
        self.jobs_running = Gauge("aitrader_jobs_running", "Jobs running now", registry=r)
        self._running: set[str] = set()
        self.sessions = Counter("aitrader_model_sessions_total",
                                "Model-sessions (a model's trading session) that ended, by "
                                "status", ["status"], registry=r)
        self.session_seconds = Histogram(
            "aitrader_model_session_duration_seconds", "How long a model-session ran",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900), registry=r)
        self.last_session = Gauge(
            "aitrader_last_completed_session_timestamp_seconds",
            "When the latest session a model has completed closed (Unix time)", ["model"],
            registry=r)
        self.tool_calls = Counter("aitrader_tool_calls_total", "Tool calls by tool and result",
                                  ["tool", "result"], registry=r)
        self.tool_seconds = Histogram(
            "aitrader_tool_call_duration_seconds", "Tool-call round trip", ["tool"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5), registry=r)
        self.tool_server_up = Gauge("aitrader_tool_server_up",
                                    "1 when the tool server answers /health", ["server"],
                                    registry=r)
        self.llm_tokens = Counter("aitrader_llm_tokens_total", "LLM tokens",
                                  ["model", "kind"], registry=r)
        self.llm_cost = Counter("aitrader_llm_cost_usd_total", "LLM cost in USD", ["model"],
                                registry=r)
        self.llm_calls = Counter("aitrader_llm_calls_total", "LLM calls by outcome",
                                 ["model", "outcome"], registry=r)
        self.mailbox = Gauge("aitrader_actor_mailbox_depth", "Messages waiting per actor",
                             ["model"], registry=r)
        self.actor_restarts = Counter(
            "aitrader_actor_restarts_total",
            "Actors restarted after an exception escaped them", ["model"], registry=r)
        self.viewers = Gauge("aitrader_websocket_viewers", "Connected WebSocket viewers",
                             registry=r)
        self.events = Counter("aitrader_events_total", "Events published", ["type"],
                              registry=r)
        self.http = Counter("aitrader_http_requests_total", "HTTP requests",
                            ["method", "route", "status"], registry=r)
        self.http_seconds = Histogram("aitrader_http_request_duration_seconds",
                                      "HTTP request duration (WebSocket connections are not "
                                      "requests of a duration, and are left out)", ["route"],
                                      registry=r)
        self.loop_lag = Histogram(
            "aitrader_event_loop_lag_seconds",
            "How late a 100 ms timer fires: time the event loop was busy with something else",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5), registry=r)
        # the LLM providers' limits, read from the simulation when scraped
        self.providers: Callable[[], list[tuple[str, int, WaitStats]]] = list
        r.register(_ProviderCollector(self))

    def session_closed_at(self, session: str) -> float:
        """When a session ended, as Unix time: an hourly bar's end; a daily session's NYSE
        closing bell (the end of its UTC day when NYSE did not trade that day: another
        market's session)."""
        if len(session) > 10:
            return (datetime.fromisoformat(session) + timedelta(hours=1)).timestamp()
        day = date.fromisoformat(session)
        if self._calendar.is_session(day):
            return self._calendar.close_of(day).timestamp()
        return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + 86_400

    def last_sessions(self, last: Mapping[str, str | None]) -> None:
        """Start from what the ledger holds (the service has just started)."""
        for model, session in last.items():
            self.actor_restarts.labels(model)  # every known model's series, from 0
            if session is not None:
                self.last_session.labels(model).set(self.session_closed_at(session))

    async def watch_loop(self, period: float = 0.1) -> None:
        """Measure event-loop stalls for as long as it runs (a task owned by the app)."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + period
            await asyncio.sleep(period)
            self.loop_lag.observe(max(0.0, loop.time() - due))

    def observe(self, event: Event) -> None:
        """Count what an event says."""
        self.events.labels(event.type).inc()
        data = event.data
        if event.type == "job.finished":
            self.jobs.labels(str(data.get("status"))).inc()
            self._running.discard(event.job_id or "")
            self.jobs_running.set(len(self._running))
        elif event.type == "job.status" and data.get("status") == "running":
            self._running.add(event.job_id or "")
            self.jobs_running.set(len(self._running))
        elif event.type == "model_day.started" and event.model:
            self.actor_restarts.labels(event.model)  # a series at 0 from the model's first day
        elif event.type == "model_day.finished":
            status = str(data.get("status"))
            self.sessions.labels(status).inc()
            if "duration" in data:
                self.session_seconds.observe(float(data["duration"]))
            if status == "completed" and event.model and event.date:
                self.last_session.labels(event.model).set(self.session_closed_at(event.date))
        elif event.type == "model_day.tool_call":
            tool = str(data.get("tool"))
            self.tool_calls.labels(tool, "error" if data.get("error") else "ok").inc()
            self.tool_seconds.labels(tool).observe(float(data.get("ms", 0)) / 1000)
        elif event.type == "actor.restarted":
            self.actor_restarts.labels(event.model or "").inc()
        elif event.type == "llm.call":
            model = event.model or ""
            self.llm_calls.labels(model, str(data.get("outcome"))).inc()
            self.llm_tokens.labels(model, "prompt").inc(int(data.get("prompt_tokens", 0)))
            self.llm_tokens.labels(model, "completion").inc(
                int(data.get("completion_tokens", 0)))
            self.llm_cost.labels(model).inc(float(data.get("cost_usd", 0.0)))

    def middleware(self) -> Callable[..., Any]:
        @web.middleware
        async def count(request: web.Request, handler: Any) -> web.StreamResponse:
            started = time.perf_counter()
            route = request.match_info.route.resource
            name = route.canonical if route is not None else "unmatched"
            status = 500
            try:
                response: web.StreamResponse = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            except asyncio.CancelledError:  # the client went away: not a server error
                status = request.get(STATUS_SENT, CLIENT_CLOSED)
                raise
            finally:
                self.http.labels(request.method, name, str(status)).inc()
                if status != 101:  # a WebSocket lasts as long as its viewer watches
                    self.http_seconds.labels(name).observe(time.perf_counter() - started)
        return count


class _ProviderCollector(Collector):
    """Per LLM provider: requests in flight, and the time requests waited for its limits."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        flight = GaugeMetricFamily("aitrader_llm_provider_in_flight",
                                   "LLM requests in flight per provider", labels=["provider"])
        wait = HistogramMetricFamily(
            "aitrader_llm_provider_wait_seconds", "Time an LLM request waited for its "
            "provider's limits (concurrency, rate, a Retry-After pause)", labels=["provider"])
        for name, in_flight, stats in self._metrics.providers():
            flight.add_metric([name], in_flight)
            running, buckets = 0, []
            for bound, n in zip((*WAIT_BUCKETS, float("inf")), stats.buckets, strict=True):
                running += n
                buckets.append(("+Inf" if bound == float("inf") else str(bound), running))
            wait.add_metric([name], buckets, stats.total)
        yield flight
        yield wait
