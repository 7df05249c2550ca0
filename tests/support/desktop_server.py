"""The desktop server for tests: started for real (``python -m computer_use_demo.desktop.server``)
on a unix socket or on TCP with a token, on a test display; always killed afterwards."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tests.support.net import port_free
from tests.support.procs import kill_tree
from tests.support.xvfb import XDisplay

#: TCP ports the desktop server tests and benchmark may use.
PORTS = range(18300, 18400)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class RunningServer:
    """A started desktop server: where it listens, its token (TCP), its process."""

    url: str
    token: str | None
    proc: subprocess.Popen
    socket_path: str | None = None


def free_port() -> int:
    for port in PORTS:
        if port_free(port):
            return port
    raise RuntimeError(f"no free port in {PORTS}")


def server_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "computer_use_demo.desktop.server", *args]


def start(
    argv: Sequence[str],
    *,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 20.0,
) -> subprocess.Popen:
    """Start the server with ``argv`` (after ``prefix``, e.g. ``ip netns exec NAME``); return
    once it printed that it listens (RuntimeError with its output if it exits instead)."""
    proc = subprocess.Popen(
        [*prefix, *server_command(*argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
        env=env,
        start_new_session=True,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "desktop server for" not in line:
        rest = line + (proc.stdout.read() if proc.poll() is not None else "")
        kill_tree(proc)
        raise RuntimeError(f"the desktop server did not start: {rest}")
    return proc


@contextlib.contextmanager
def unix_server(display: XDisplay | str, *extra: str) -> Iterator[RunningServer]:
    """The server for ``display`` on a unix socket in a private temporary folder (a display
    name alone is enough for what needs no screen: bash and files)."""
    name = display if isinstance(display, str) else display.name
    with tempfile.TemporaryDirectory(prefix="desktop-server-") as folder:
        path = os.path.join(folder, "desktop.sock")
        proc = start(["--unix", path, "--display", name, *extra])
        try:
            yield RunningServer(f"unix://{path}", None, proc, path)
        finally:
            kill_tree(proc)


@contextlib.contextmanager
def tcp_server(display: XDisplay, host: str = "127.0.0.1") -> Iterator[RunningServer]:
    """The server for ``display`` on TCP ``host`` with a fresh token."""
    with tempfile.TemporaryDirectory(prefix="desktop-server-") as folder:
        token = secrets.token_urlsafe(32)
        token_file = os.path.join(folder, "token")
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(token + "\n")
        port = free_port()
        proc = start(
            ["--tcp", f"{host}:{port}", "--token-file", token_file, "--display", display.name]
        )
        try:
            yield RunningServer(f"http://{host}:{port}", token, proc)
        finally:
            kill_tree(proc)
