"""Typed keys for what the application shares (aiohttp's AppKey)."""

from __future__ import annotations

import attrs
from aiohttp import web

from aitrader.actors.host import SimulationHost
from aitrader.api.cache import ReadCache
from aitrader.api.fanout import Broadcast
from aitrader.api.metrics import Metrics
from aitrader.events import EventBus
from aitrader.settings import Settings
from aitrader.store import Store

SETTINGS = web.AppKey("settings", Settings)
CACHE = web.AppKey("cache", ReadCache)
STORE = web.AppKey("store", Store)
BUS = web.AppKey("bus", EventBus)
SIMULATION = web.AppKey("simulation", SimulationHost)
METRICS = web.AppKey("metrics", Metrics)


@attrs.define
class Viewers:
    """The open WebSockets, closed with 1001 on shutdown."""

    sockets: set[web.WebSocketResponse] = attrs.Factory(set)


SOCKETS = web.AppKey("viewers", Viewers)
BROADCAST = web.AppKey("broadcast", Broadcast)
