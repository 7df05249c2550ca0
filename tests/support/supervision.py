"""The supervised stack (image/supervisord.conf) as a test sees it: its parts' pids, killing
one, waiting for it to be back, asking the supervisor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.ui import Stack

#: Every supervised part, by its pid file (under the state folder), as the supervisor names it.
PARTS = {
    "streamlit": "webapp/streamlit.pid",
    "webpage": "webapp/webpage.pid",
    "desktop-server": "desktop/desktop-server.pid",
    "novnc": "desktop/novnc.pid",
    "x11vnc": "desktop/x11vnc.pid",
    "tint2": "desktop/tint2.pid",
    "mutter": "desktop/mutter.pid",
    "xvfb": "desktop/xvfb.pid",
}


def part_pid(stack: Stack, part: str) -> int | None:
    """The part's pid while it runs (its pid file names a live process), else None."""
    try:
        pid = int((stack.state_dir / PARTS[part]).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    return None if state == "Z" else pid


def supervisor_states(stack: Stack) -> dict[str, str]:
    """``{program: state}`` as ``supervisorctl status`` tells (RUNNING, STARTING, FATAL...)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "supervisor.supervisorctl",
            "-s",
            f"unix://{stack.state_dir / 'supervisor.sock'}",
            "status",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    states = {}
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            states[fields[0].split(":")[-1]] = fields[1]
    return states


def wait_all_running(stack: Stack, timeout: float = 60) -> dict[str, int]:
    """Until the supervisor says every part runs and each pid file names a live process;
    the parts' pids."""
    deadline = time.monotonic() + timeout
    while True:
        states = supervisor_states(stack)
        pids = {part: part_pid(stack, part) for part in PARTS}
        if all(states.get(p) == "RUNNING" for p in PARTS) and all(pids.values()):
            return pids  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"not all parts run: {states} {pids}\n{stack.logs()}")
        time.sleep(0.2)


def kill_and_wait_back(stack: Stack, part: str, timeout: float = 30) -> float:
    """kill -9 the part; the seconds until a new process of it runs."""
    pid = part_pid(stack, part)
    assert pid is not None, f"{part} does not run"
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    while True:
        new = part_pid(stack, part)
        if new is not None and new != pid:
            return time.monotonic() - killed
        if time.monotonic() - killed > timeout:
            raise AssertionError(f"{part} is not back after {timeout}s\n{stack.logs()}")
        time.sleep(0.1)
