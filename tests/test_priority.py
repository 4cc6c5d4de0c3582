"""The API loop's selector tells the simulation loop's selector when to step aside."""

from __future__ import annotations

import asyncio
import socket
import threading

from aitrader.priority import Priority


def test_serving_selector_is_idle_only_while_it_blocks() -> None:
    prio = Priority()
    sel = prio.api_selector()
    a, b = socket.socketpair()
    try:
        sel.register(a, 1)  # EVENT_READ
        seen: list[bool] = []
        blocked = threading.Event()

        def serve() -> None:
            blocked.set()
            seen.append(bool(sel.select(5.0)))
            seen.append(prio.api_busy)

        t = threading.Thread(target=serve)
        prio.api_busy = True
        t.start()
        blocked.wait()
        for _ in range(500):  # until the thread is inside select()
            if not prio.api_busy:
                break
            threading.Event().wait(0.001)
        assert prio.api_busy is False  # blocked waiting for I/O: idle
        b.send(b"x")
        t.join()
        assert seen == [True, True]  # woke with work: busy again
        assert sel.select(0) and prio.api_busy  # a non-blocking poll leaves it busy
    finally:
        sel.close()
        a.close()
        b.close()


def test_simulation_selector_waits_while_the_api_is_busy_and_no_longer() -> None:
    """The simulation's selector does not return while the API loop is busy; it returns
    once the API is idle (long before its 30 s cap)."""
    prio = Priority(yield_max=30.0, step=0.001)
    sel = prio.simulation_selector()
    try:
        sel.select(0)
        assert prio.yielded == 0.0  # the API is idle: no waiting at all
        prio.api_busy = True
        idle = threading.Timer(0.05, lambda: setattr(prio, "api_busy", False))
        idle.start()
        sel.select(0)
        assert not prio.api_busy  # it returned only after the API went idle
        assert prio.yielded > 0
        idle.join()
    finally:
        sel.close()


def test_simulation_selector_never_waits_forever() -> None:
    """With the API busy all the time, the simulation still advances: each select returns
    after at most `yield_max`, the API still busy."""
    prio = Priority(yield_max=0.01, step=0.001)
    sel = prio.simulation_selector()
    try:
        prio.api_busy = True
        for _ in range(3):
            sel.select(0)
        assert prio.api_busy  # it returned while the API was still busy
    finally:
        sel.close()


def test_both_loops_run_on_the_priority_selectors() -> None:
    prio = Priority()
    api = asyncio.SelectorEventLoop(prio.api_selector())
    sim = asyncio.SelectorEventLoop(prio.simulation_selector())
    try:
        assert api.run_until_complete(asyncio.sleep(0.01, "api")) == "api"
        assert sim.run_until_complete(asyncio.sleep(0.01, "sim")) == "sim"
    finally:
        api.close()
        sim.close()
