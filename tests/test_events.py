"""The event bus: stored with monotonic sequence numbers, fanned out in order, slow viewers
cut off without slowing the publisher, and replay from a sequence number."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aitrader.events import Event, EventBus, Subscription
from aitrader.store import Store


async def test_concurrent_publishers_are_seen_in_sequence_order(store: Store) -> None:
    """Fifty concurrent publishes arrive at a subscriber in strictly increasing seq order,
    and the stored events equal what was delivered."""
    bus = EventBus(store)
    sub = bus.subscribe()
    await asyncio.gather(*[bus.publish("model_day.tool_call", job_id="j", model=f"m{i % 3}",
                                       tool="buy", n=i) for i in range(50)])
    got = [await sub.get(1) for _ in range(50)]
    seqs = [e.seq for e in got if e]
    assert seqs == sorted(seqs) and len(set(seqs)) == 50
    stored = await bus.since(0)
    assert [e.seq for e in stored] == seqs
    assert {e.data["n"] for e in stored} == set(range(50))


async def test_slow_subscriber_is_cut_off_not_waited_for(store: Store) -> None:
    """A full queue ends that subscription (overflowed) after what it already holds, with no
    gap, so it can resume from its last seq; others and the publisher go on."""
    bus = EventBus(store)
    slow, fast = bus.subscribe(maxsize=3), bus.subscribe(maxsize=100)
    for i in range(10):
        await bus.publish("job.status", job_id="j", n=i)
    assert slow.overflowed and slow.closed
    drained = [e async for e in _take(slow)]
    assert [e.data["n"] for e in drained] == [0, 1, 2]
    missed = await bus.since(drained[-1].seq)
    assert [e.data["n"] for e in missed] == list(range(3, 10))
    assert [e.data["n"] for e in [await fast.get(1) for _ in range(10)] if e] == list(range(10))


async def _take(sub: Subscription) -> AsyncIterator[Event]:
    async for e in sub:
        yield e


async def test_replay_since_and_job_filter(store: Store) -> None:
    """`since` returns what came after a seq, optionally for one job; subscriptions filter."""
    bus = EventBus(store)
    only_b = bus.subscribe(job_id="b")
    first = await bus.publish("job.created", job_id="a")
    await bus.publish("job.created", job_id="b")
    await bus.publish("job.status", job_id="a", status="running")
    assert [e.type for e in await bus.since(first.seq)] == ["job.created", "job.status"]
    assert [e.job_id for e in await bus.since(0, job_id="a")] == ["a", "a"]
    e = await only_b.get(1)
    assert e is not None and e.job_id == "b"
    assert await only_b.get(0.05) is None
    assert (await bus.since(0))[-1].to_json()["status"] == "running"
