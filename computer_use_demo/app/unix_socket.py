"""Run the chat app (Streamlit) on a unix socket, so that only the agent's user can reach it.

On 127.0.0.1 any local user (the desktop's, which runs whatever the model asks) could talk to
Streamlit, which has no token of its own: send messages, answer the agent's own approvals. A
unix socket in the agent half's private folder (0700) is reachable by its user alone; the door
(``computer_use_demo/door/server.py --streamlit-socket``) proxies to it.

Streamlit's ``server.address=unix://…`` is refused by its Starlette server (the Streamlit we
install: "Unix sockets are not supported with Starlette currently"), though the server itself
serves any socket it is given (uvicorn). So this launcher hands it one: it replaces the one
function that binds Streamlit's TCP socket with one that binds ``PATH`` (0600), then runs
Streamlit's own command line. An older, Tornado-based Streamlit gets ``unix://PATH`` itself.

    python -m computer_use_demo.app.unix_socket PATH -- run computer_use_demo/streamlit.py ...
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import sys
from collections.abc import Callable

SOCKET_MODE = 0o600


def bind_unix(path: str, backlog: int = 128) -> socket.socket:
    """A listening, non-blocking unix socket at ``path`` (0600 from its creation on). A stale
    socket file of ours is replaced; anything else at ``path`` is refused."""
    with contextlib.suppress(FileNotFoundError):
        info = os.lstat(path)
        if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.geteuid():
            raise SystemExit(f"{path} exists and is not a socket of ours: refusing to replace it")
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o777 & ~SOCKET_MODE)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def binder(path: str) -> Callable[..., tuple[socket.socket, str]]:
    """A stand-in for Streamlit's ``_bind_server_socket``: the same result, on ``path``."""

    def bind(
        server_address: str, bind_address: str, port: int, backlog: int
    ) -> tuple[socket.socket, str]:
        return bind_unix(path, backlog), bind_address

    return bind


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    path, streamlit_args = args[0], args[2:]
    from streamlit.web import cli

    try:
        from streamlit.web.server.starlette import starlette_server
    except ImportError:
        # An older Streamlit (Tornado, like the reference's 1.41) binds unix:// itself (0600).
        streamlit_args += ["--server.address", f"unix://{path}"]
    else:
        if not hasattr(starlette_server, "_bind_server_socket"):
            raise SystemExit(
                "this Streamlit has no _bind_server_socket: the chat app cannot run on a unix "
                "socket"
            )
        starlette_server._bind_server_socket = binder(path)  # type: ignore[attr-defined]
    try:
        cli.main.main(args=streamlit_args, prog_name="streamlit", standalone_mode=True)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
