"""The one place that starts subprocesses: argv lists only, never a shell string.

Each child gets its own process group so that stopping it ends everything it started, and an
environment without secrets (``scrubbed_env``): the agent's shell, xdotool, and the apps the
agent starts never see a provider key, however they were asked to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence

#: Environment variables that hold a provider credential or one of ours, by name; anything
#: ending in _API_KEY, _TOKEN or _PASSWORD, or containing _SECRET, counts too.
SECRET_ENV_NAMES = frozenset(
    {
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_VERTEX_ACCESS_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_BEARER_TOKEN_BEDROCK",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_API_KEY",
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
        "ACCESS_TOKEN",
        "VNC_PASSWORD",
        "API_KEY",
    }
)
SECRET_ENV_SUFFIXES = ("_API_KEY", "_TOKEN", "_PASSWORD")
SECRET_ENV_PARTS = ("_SECRET",)
#: Values of these secret variables are paths, not secrets: removed from the environment, but
#: not replaced in text (every mention of the folder would turn into [REDACTED]).
PATH_ENV_NAMES = frozenset({"GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE"})


def is_secret_env(name: str) -> bool:
    """Whether the environment variable ``name`` holds a secret (image/lib.sh has the same rule
    for the desktop's processes; tests/test_redaction.py checks that the two agree)."""
    upper = name.upper()
    return (
        upper in SECRET_ENV_NAMES
        or upper.endswith(SECRET_ENV_SUFFIXES)
        or any(part in upper for part in SECRET_ENV_PARTS)
    )


def scrubbed_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: ours) without a secret: what every process the tools start gets."""
    env = os.environ if env is None else env
    return {k: v for k, v in env.items() if not is_secret_env(k)}


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


async def run_process(
    cmd: Sequence[str] | str,
    timeout: float | None = 120.0,
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[int, str, str]:
    """Run ``cmd`` to completion; return (returncode, stdout, stderr) as text.

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
    return proc.returncode or 0, stdout.decode(errors="replace"), stderr.decode(errors="replace")


def launch(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: str | None = None, log: str | None = None
) -> int:
    """Start a program that outlives the call (an app on the desktop) in a session of its own,
    its output to the file ``log`` (default: nowhere), without a secret; its pid."""
    with open(log or os.devnull, "ab") as out:
        proc = subprocess.Popen(
            _argv(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=scrubbed_env(env),
            cwd=cwd,
            start_new_session=True,
        )
    return proc.pid
