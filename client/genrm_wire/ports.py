"""`free_port()`: the one helper that both sides of the wire need, the service for its managed engines and the
client for the gateway it launches; it lives here, below both, so that neither imports the other."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
