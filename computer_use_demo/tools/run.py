"""``run`` as the reference's tools know it: a command's output as text, truncated with the
reference's note. Processes themselves are started in one place, ``desktop/processes.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..desktop.processes import kill_group as kill_group
from ..desktop.processes import run_process
from ..desktop.processes import signal_group as signal_group
from ..desktop.processes import spawn as spawn

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
    code, out, err = await run_process(cmd, timeout, input=input, env=env)
    return code, maybe_truncate(out, truncate_after), maybe_truncate(err, truncate_after)
