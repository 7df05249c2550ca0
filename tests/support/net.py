"""Port checks for the tests that start servers on ports of their area's range."""

from __future__ import annotations

import contextlib
import socket


def port_free(port: int) -> bool:
    """True if no socket holds ``port`` on any IPv4 address and nothing answers on loopback.

    Binding 0.0.0.0 clashes with a server bound to any address (0.0.0.0 or 127.0.0.1 alike);
    SO_REUSEADDR lets a port whose last connection is in TIME_WAIT count as free, as it is for a
    server that sets it too. The connect catches a listener the bind cannot see.
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    with socket.socket() as s, contextlib.suppress(OSError):
        s.settimeout(0.2)
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return False
    return True
