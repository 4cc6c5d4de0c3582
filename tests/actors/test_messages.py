"""The supervisor's inbox: commands bounded, reports always taken, replies settled."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from aitrader.actors.messages import BatchDone, CancelJob, Inbox, answer
from aitrader.errors import NotFound, Unavailable
from aitrader.store.jobs import JobRow


async def test_commands_beyond_the_bound_are_refused_at_once() -> None:
    inbox = Inbox(max_commands=2)
    waiting: list[asyncio.Future[JobRow]] = [
        asyncio.ensure_future(inbox.ask(lambda reply: CancelJob("j", reply))) for _ in range(2)]
    await asyncio.sleep(0)  # both are posted
    with pytest.raises(Unavailable, match="too many requests"):
        await inbox.ask(lambda reply: CancelJob("j", reply))
    for _ in range(5):  # reports are never refused
        inbox.report(BatchDone("j", "m"))
    first = await inbox.get()
    assert isinstance(first, CancelJob)
    # one command taken: room for one more
    third: asyncio.Future[JobRow] = asyncio.ensure_future(
        inbox.ask(lambda reply: CancelJob("k", reply)))
    await asyncio.sleep(0)
    assert not third.done()  # posted, waiting for its reply
    for task in (*waiting, third):
        task.cancel()
    await asyncio.gather(*waiting, third, return_exceptions=True)


async def test_answer_settles_the_reply_with_the_result_or_the_error() -> None:
    loop = asyncio.get_running_loop()

    async def found() -> str:
        return "ok"

    async def missing() -> str:
        raise NotFound("no job 'x'")

    async def locked() -> str:
        raise sqlite3.OperationalError("database is locked")

    replies: list[asyncio.Future[str]] = [loop.create_future() for _ in range(3)]
    for reply, work in zip(replies, (found(), missing(), locked()), strict=True):
        await answer(reply, work)
    assert replies[0].result() == "ok"
    assert isinstance(replies[1].exception(), NotFound)
    busy = replies[2].exception()
    assert isinstance(busy, Unavailable) and "database is locked" in busy.message

