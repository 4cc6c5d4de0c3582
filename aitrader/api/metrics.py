"""Prometheus metrics, one registry per application, fed by the event bus and the HTTP layer.

Names follow the conventions: `aitrader_` prefix, `_total` counters, `_seconds` histograms,
no ids in labels.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from aitrader.events import Event


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.jobs = Counter("aitrader_jobs_total", "Jobs by final or current status",
                            ["status"], registry=r)
        self.model_days = Counter("aitrader_model_days_total", "Model-days by outcome",
                                  ["status"], registry=r)
        self.model_day_seconds = Histogram(
            "aitrader_model_day_duration_seconds", "Model-day duration",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900), registry=r)
        self.tool_calls = Counter("aitrader_tool_calls_total", "Tool calls by tool and result",
                                  ["tool", "result"], registry=r)
        self.tool_seconds = Histogram(
            "aitrader_tool_call_duration_seconds", "Tool-call round trip", ["tool"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5), registry=r)
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
                                      "HTTP request duration", ["route"], registry=r)
        self.loop_lag = Histogram(
            "aitrader_event_loop_lag_seconds",
            "How late a 100 ms timer fires: time the event loop was busy with something else",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5), registry=r)

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
        elif event.type == "job.created":
            self.jobs.labels("created").inc()
        elif event.type == "model_day.finished":
            self.model_days.labels(str(data.get("status"))).inc()
            if "duration" in data:
                self.model_day_seconds.observe(float(data["duration"]))
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
            finally:
                self.http.labels(request.method, name, str(status)).inc()
                self.http_seconds.labels(name).observe(time.perf_counter() - started)
        return count
