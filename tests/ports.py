"""Ports for the servers tests start: each suite part takes its own range, so suites running side by side
on one machine do not collide."""

from __future__ import annotations

import random
import socket


def free_port(ports: range) -> int:
    """A port of `ports` nobody listens on now, tried in no set order (two suites at once rarely pick the same)."""
    for port in random.sample(ports, len(ports)):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")
