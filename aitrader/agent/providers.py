"""Per-provider limits shared by every actor: at most N requests in flight and R requests a
minute to one OpenAI-compatible API (its base URL), waiting for a slot instead of provoking a
storm of 429s. A 429 with Retry-After pauses the whole provider, not only the actor that got
it: the other models' next requests wait out the same pause.

The supervisor owns one `Providers`; every actor's LLM agent asks it for its provider's
`Limiter`. All of them run on the simulation's one event loop, so asyncio primitives suffice.
A config's `providers` section sets the limits (`{"https://api.x/v1": {"max_concurrent": 5,
"requests_per_minute": 60}}`); a provider without an entry is unlimited but still measured.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from urllib.parse import urlsplit

import attrs

from aitrader.config import ProviderLimits

# the wait histogram's bounds (seconds); /metrics exports it per provider
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)
DEFAULT_PROVIDER = "https://api.openai.com/v1"


def provider_key(base_url: str | None) -> str:
    """How a provider is named in limits and metrics: scheme, host, port and path of its base
    URL, without credentials, query or a trailing slash."""
    parts = urlsplit((base_url or DEFAULT_PROVIDER).strip())
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


@attrs.define
class WaitStats:
    """How long requests waited for a provider: counts per bucket (not cumulative), sum."""

    buckets: list[int] = attrs.Factory(lambda: [0] * (len(WAIT_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        i = next((k for k, b in enumerate(WAIT_BUCKETS) if seconds <= b), len(WAIT_BUCKETS))
        self.buckets[i] += 1
        self.total += seconds
        self.count += 1


class Limiter:
    """One provider's limits. `slot()` waits for room (concurrency, the rate over the last
    60 s, any pause) and holds a concurrency slot for the request."""

    def __init__(self, name: str, limits: ProviderLimits, *, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.limits = limits
        self._window = window  # seconds the rate counts over (a minute; shorter in tests)
        self._clock = clock
        self._in_flight = 0
        self._sent: collections.deque[float] = collections.deque()
        self._paused_until = 0.0
        self._changed = asyncio.Condition()
        self.max_seen = 0  # the most requests ever in flight at once (tests, diagnostics)
        self.waits = WaitStats()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def update(self, limits: ProviderLimits) -> None:
        self.limits = limits

    def pause(self, seconds: float) -> None:
        """A 429 with Retry-After: no request to this provider for `seconds`."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _wait_needed(self) -> float | None:
        """0: go; >0: wait this long (a pause, the rate); None: wait for a slot to free."""
        now = self._clock()
        if self._paused_until > now:
            return self._paused_until - now
        cap = self.limits.max_concurrent
        if cap is not None and self._in_flight >= cap:
            return None
        rpm = self.limits.requests_per_minute
        while self._sent and self._sent[0] <= now - self._window:
            self._sent.popleft()
        if rpm is not None and len(self._sent) >= rpm:
            return self._sent[0] + self._window - now
        return 0.0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        t0 = self._clock()
        async with self._changed:
            while (wait := self._wait_needed()) != 0.0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=wait)
            self._in_flight += 1
            self.max_seen = max(self.max_seen, self._in_flight)
            self._sent.append(self._clock())
        self.waits.observe(self._clock() - t0)
        try:
            yield
        finally:
            async with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()


class Providers:
    """Every provider's limiter, shared by the actors of one simulation host."""

    def __init__(self) -> None:
        self._limiters: dict[str, Limiter] = {}

    def limiter(self, base_url: str | None,
                configured: Mapping[str, ProviderLimits] | None = None) -> Limiter:
        """The provider's limiter, with the limits a config gives it (the latest config's
        win: every actor shares them)."""
        name = provider_key(base_url)
        limits = next((v for k, v in (configured or {}).items() if provider_key(k) == name),
                      None)
        found = self._limiters.get(name)
        if found is None:
            found = self._limiters[name] = Limiter(name, limits or ProviderLimits())
        elif limits is not None:
            found.update(limits)
        return found

    def stats(self) -> list[tuple[str, int, WaitStats]]:
        """(provider, requests in flight, a copy of its wait statistics); any thread."""
        return [(name, lim.in_flight, attrs.evolve(lim.waits, buckets=list(lim.waits.buckets)))
                for name, lim in list(self._limiters.items())]
