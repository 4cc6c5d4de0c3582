"""Ports: a listening socket bound before anything starts (so a taken port is one clear
error, not a traceback after start-up), and free loopback ports for tests and benchmarks."""

from __future__ import annotations

import socket

from aitrader.errors import ConfigError


def listening_socket(host: str, port: int, *, setting: str) -> socket.socket:
    """A socket bound to (host, port), or ConfigError naming the port and its setting."""
    try:
        family, kind, proto, _, _ = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        # proto must say TCP: asyncio sets TCP_NODELAY on accepted connections only then,
        # and without it every small answer waits ~40 ms for a delayed ACK (Nagle)
        sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): check "
                          f"the host and {setting}", field=setting) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        why = "is in use by another program" if exc.errno == 98 else f"({exc.strerror})"
        raise ConfigError(f"port {port} on {host or 'all interfaces'} {why}: stop it, or set "
                          f"{setting} to a free port", field=setting) from None
    return sock


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
