"""Free loopback ports, for tests and benchmarks that start real servers."""

from __future__ import annotations

import socket


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tool_env(ports: list[int], **extra: str) -> dict[str, str]:
    """Environment variables that put the four tool servers on `ports`."""
    names = ("MATH_HTTP_PORT", "SEARCH_HTTP_PORT", "TRADE_HTTP_PORT", "GETPRICE_HTTP_PORT")
    return {**dict(zip(names, map(str, ports), strict=True)), **extra}
