"""Who runs a session now, and the requests another process sends that run: stop, and the
answers to its approvals.

A session's run lives in the process that started it (the chat app, or the door for the
task API and the MCP server), but the person may watch it elsewhere: the chat follows a run
the task API started, and the task API stops or approves a run the chat started. The session
folder is what both share (trajectory.py), so the run notes itself there (``run.json``: pid,
who started it) and looks there for requests (a ``stop`` file, ``answers/<approval id>``).
Files, not sockets: nothing new listens, and the folders are already 0700 and ours.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

RUN_FILE = "run.json"
STOP_FILE = "stop"
ANSWERS_DIR = "answers"
_APPROVAL_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def mark_running(folder: Path, owner: str) -> None:
    """Note that this process runs the session in ``folder`` (``owner``: what to call it)."""
    record = {"pid": os.getpid(), "owner": owner, "since": time.time()}
    with contextlib.suppress(OSError):
        (folder / STOP_FILE).unlink(missing_ok=True)  # an old request is not for this run
        _write(folder / RUN_FILE, json.dumps(record).encode())


def clear_running(folder: Path) -> None:
    """The run in this process ended: no note, no requests left over."""
    for name in (RUN_FILE, STOP_FILE):
        with contextlib.suppress(OSError):
            path = folder / name
            if name != RUN_FILE or _read(path).get("pid") == os.getpid():
                path.unlink(missing_ok=True)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def runner_of(folder: Path) -> dict[str, Any] | None:
    """The note of the process that runs this session now (pid, owner, since), or None: no
    run, or its process died (a crash leaves the note; a dead pid means nobody)."""
    record = _read(folder / RUN_FILE)
    pid = record.get("pid")
    if not isinstance(pid, int) or not _alive(pid):
        return None
    return record


def running_elsewhere(folder: Path) -> dict[str, Any] | None:
    """``runner_of``, when that is another process than this one."""
    record = runner_of(folder)
    return record if record is not None and record["pid"] != os.getpid() else None


def request_stop(folder: Path) -> None:
    """Ask the process that runs this session to stop it (it looks a few times a second)."""
    _write(folder / STOP_FILE, b"stop\n")


def take_stop_request(folder: Path) -> bool:
    """Whether a stop was asked for (the request is used up)."""
    try:
        (folder / STOP_FILE).unlink()
    except OSError:
        return False
    return True


def send_answer(folder: Path, approval_id: str, approved: bool) -> None:
    """The person's answer to an approval a run of another process asked for."""
    if not _APPROVAL_ID.match(approval_id):
        raise ValueError(f"not an approval id: {approval_id!r}")
    answers = folder / ANSWERS_DIR
    answers.mkdir(mode=0o700, exist_ok=True)
    _write(answers / approval_id, json.dumps({"approved": approved}).encode())


def take_answer(folder: Path, approval_id: str) -> bool | None:
    """The answer sent for ``approval_id`` (used up), or None when none came yet."""
    if not _APPROVAL_ID.match(approval_id):
        return None
    path = folder / ANSWERS_DIR / approval_id
    record = _read(path)
    if "approved" not in record:
        return None
    with contextlib.suppress(OSError):
        path.unlink()
    return record["approved"] is True
