"""Free TCP ports for servers a test starts itself (private Redis, RabbitMQ, PostgreSQL,
HTTP): chosen below the kernel's ephemeral range, so a restarted server gets its port back."""

from __future__ import annotations

import random
import socket
from pathlib import Path

__all__ = ["free_port"]


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free port BELOW the kernel's ephemeral range: while a server is down, its clients'
    reconnects can otherwise self-connect (a socket whose ephemeral source port is the
    server's port connects to itself) and hold the port the restart needs."""
    top = _ephemeral_start()
    for _ in range(200):
        port = random.randrange(max(1024, top - 12000), top)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port below {top} after 200 tries")
