"""The listening socket `aitrader serve` and the tool servers bind before they start."""

from __future__ import annotations

import asyncio
import socket

from aitrader.tools.ports import listening_socket


async def test_accepted_connections_get_tcp_nodelay() -> None:
    """asyncio sets TCP_NODELAY on accepted connections only when the listening socket says
    it is TCP; without it every small answer waited ~40 ms for a delayed ACK (a tool call
    took 50 ms instead of a few)."""
    sock = listening_socket("127.0.0.1", 0, setting="TEST_PORT")
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=sock)
    async with server:
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(seen, 5) == 1
        writer.close()
        await writer.wait_closed()
