"""The one place that starts subprocesses: argv lists only, never a shell string.

Each child gets its own process group so that stopping it ends everything it started, and an
environment without secrets (``redaction.scrubbed_env``): the agent's shell, xdotool, and the
apps the agent starts never see a provider key, however they were asked to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
from collections.abc import Mapping, Sequence

from ..redaction import scrubbed_env

TRUNCATED_MESSAGE: str = (
    "<response clipped><NOTE>To save on context only part of this file has been shown to you. "
    "You should retry this tool after you have searched inside the file with `grep -n` in order "
    "to find the line numbers of what you are looking for.</NOTE>"
)
MAX_RESPONSE_LEN: int = 16000


def maybe_truncate(content: str, truncate_after: int | None = MAX_RESPONSE_LEN) -> str:
    """Truncate ``content`` past ``truncate_after`` characters, with the reference's note."""
    if not truncate_after or len(content) <= truncate_after:
        return content
    return content[:truncate_after] + TRUNCATED_MESSAGE


def _argv(cmd: Sequence[str] | str) -> list[str]:
    # A string is split like a shell would, but never given to a shell: forks that call
    # run("xdotool key a") keep working, and nothing in it is interpreted.
    return shlex.split(cmd) if isinstance(cmd, str) else [str(a) for a in cmd]


async def spawn(
    cmd: Sequence[str] | str,
    *,
    stdin: int | None = asyncio.subprocess.DEVNULL,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> asyncio.subprocess.Process:
    """Start ``cmd`` in a new process group with piped stdout/stderr, with ``env`` (default:
    ours) minus every secret."""
    return await asyncio.create_subprocess_exec(
        *_argv(cmd),
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=scrubbed_env(env),
        cwd=cwd,
        start_new_session=True,
    )


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group ``pid``; a group that is already gone is no error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def kill_group(proc: asyncio.subprocess.Process, grace: float = 0.5) -> None:
    """End ``proc`` and every process in its group: SIGTERM, then SIGKILL after ``grace``.

    SIGKILL is sent even when the leader has exited: children may remain in the group.
    """
    signal_group(proc.pid, signal.SIGTERM)
    if proc.returncode is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), timeout=grace)
    signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), timeout=grace)


async def run(
    cmd: Sequence[str] | str,
    timeout: float | None = 120.0,
    truncate_after: int | None = MAX_RESPONSE_LEN,
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[int, str, str]:
    """Run ``cmd`` to completion; return (returncode, stdout, stderr), both truncated.

    On timeout the whole process group is killed and TimeoutError is raised.
    """
    proc = await spawn(
        cmd,
        stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
        env=env,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(input), timeout=timeout)
    except (TimeoutError, asyncio.CancelledError):
        await kill_group(proc)
        raise
    return (
        proc.returncode or 0,
        maybe_truncate(stdout.decode(errors="replace"), truncate_after),
        maybe_truncate(stderr.decode(errors="replace"), truncate_after),
    )
