"""A private Xvfb for tests: started on a free display from the caller's range, always killed.

Each helper area passes its own display range, so parallel test runs never share a display.
``-noreset`` matters: without it Xvfb resets whenever its last client disconnects and refuses
connections meanwhile, which makes back-to-back xdotool/screenshot calls fail at random.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pytest

from tests.support.procs import kill_tree


@dataclass(frozen=True)
class XDisplay:
    """A running X display: its number, size, and an environment that points at it."""

    number: int
    width: int
    height: int
    pid: int

    @property
    def name(self) -> str:
        return f":{self.number}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.name}


def display_in_use(number: int) -> bool:
    """True if display ``number`` has a lock file or a socket (someone may be using it)."""
    return os.path.exists(f"/tmp/.X{number}-lock") or os.path.exists(f"/tmp/.X11-unix/X{number}")


def x_answers(number: int) -> bool:
    """True if an X server accepts a connection on display ``number`` (setup handshake)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(f"/tmp/.X11-unix/X{number}")
            # Little-endian setup request, protocol 11.0, no authorization.
            sock.sendall(b"l\0\x0b\0\0\0\0\0\0\0\0\0")
            return sock.recv(1) == b"\x01"
        except OSError:
            return False


@contextlib.contextmanager
def xvfb(
    displays: Iterable[int],
    width: int = 1024,
    height: int = 768,
    timeout: float = 15.0,
    log_path: str | None = None,
) -> Iterator[XDisplay]:
    """Start Xvfb on the first free display in ``displays``; yield it; kill it on exit."""
    displays = list(displays)
    for number in displays:
        if display_in_use(number):
            continue
        log = open(log_path or os.devnull, "ab")
        proc = subprocess.Popen(
            [
                "Xvfb",
                f":{number}",
                "-screen",
                "0",
                f"{width}x{height}x24",
                "-nolisten",
                "tcp",
                "-noreset",
                "-dpi",
                "96",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while not x_answers(number):
                if proc.poll() is not None:
                    break  # lost a race for this display: try the next one
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Xvfb :{number} did not answer within {timeout}s")
                time.sleep(0.05)
            else:
                yield XDisplay(number, width, height, proc.pid)
                return
        finally:
            kill_tree(proc)
            log.close()
    raise RuntimeError(f"no free X display in {list(displays)}")


def use_display(display: XDisplay, monkeypatch: pytest.MonkeyPatch) -> XDisplay:
    """Point the settings the tool groups read their screen from (DISPLAY_NUM, WIDTH,
    HEIGHT, as the container sets them) at ``display``, for one test."""
    monkeypatch.setenv("DISPLAY_NUM", str(display.number))
    monkeypatch.setenv("WIDTH", str(display.width))
    monkeypatch.setenv("HEIGHT", str(display.height))
    return display
