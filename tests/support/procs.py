"""Ending the processes a test started in their own session (``start_new_session=True``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def kill_tree(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """End ``proc`` and everything in its process group: SIGTERM, then SIGKILL after ``grace``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def marked_pids(state_dir: str) -> list[int]:
    """Pids of the processes a stack in ``state_dir`` started (the desktop's, the desktop
    server's and the chat app's markers, image/lib.sh), whichever user they run as."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        for var in environ:
            name, _, value = var.partition(b"=")
            if name.startswith(b"COMPUTER_USE_") and value.split(b"@", 1)[-1].startswith(
                state_dir.encode()
            ):
                found.append(int(entry))
                break
    return found


def kill_marked(state_dir: str) -> None:
    """SIGKILL whatever a stack in ``state_dir`` left running."""
    for pid in marked_pids(state_dir):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
