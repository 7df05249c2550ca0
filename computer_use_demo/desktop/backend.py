"""What the agent's tools need from a desktop, named after what the desktop does: its pixels,
processes, bash sessions and files. Two implementations: in-process (``local.LocalDesktop``,
library use, forks, the reference's tests) and the desktop server (``client.RemoteDesktop``, a
unix socket or TCP with a token). No API semantics here: physical pixels, argv lists, bytes.

File access is synchronous, as the editor's methods are (the reference's ``read_file`` and
``write_file`` are plain methods): a file operation is a few microseconds locally and one short
request through the server. Everything else is a coroutine.

Errors: every failure is a ``DesktopError`` (``DesktopUnreachable`` when the server does not
answer, ``ScreenError``, ``ShellError``), and file operations raise ``OSError`` with the errno
the desktop's file system gave, so the editor words them the same whichever backend it uses.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .capture import Box, Shot
from .shell import ShellOutput


@dataclass(frozen=True)
class DesktopInfo:
    """The desktop as its server sees it: the X display and its size in pixels."""

    display: str
    width: int
    height: int


@dataclass(frozen=True)
class ProcessResult:
    """A finished process: its exit status and what it printed (as text)."""

    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class FileStat:
    """What the editor needs to know about a path (``os.stat_result``'s fields)."""

    mode: int
    size: int
    nlink: int
    uid: int
    gid: int

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)


@dataclass(frozen=True)
class Listing:
    """A folder and what is in it, some levels deep (sorted, hidden items left out below the
    folder asked for), and the sub-folders that could not be read (with why)."""

    paths: list[str]
    unreadable: list[str]


@runtime_checkable
class ShellSession(Protocol):
    """One persistent bash: commands run one at a time, in the same shell (cwd, variables)."""

    #: Seconds a command may take before the shell is stopped (the next call must restart).
    timeout: float

    @property
    def pid(self) -> int | None:
        """The shell's pid (its process group), once started."""

    async def start(self) -> None:
        """Start the shell now (it also starts on the first command)."""

    async def run(self, command: str) -> ShellOutput:
        """Run ``command``; ShellError if the shell timed out, exited or was stopped."""

    async def stop(self) -> None:
        """End the shell and every process in its group; the session cannot be used again."""


@runtime_checkable
class Desktop(Protocol):
    """One desktop: its screen, input (processes such as xdotool), bash sessions and files."""

    #: The X display the desktop's processes draw on (``:1``).
    display: str

    async def info(self) -> DesktopInfo:
        """The display and its size."""

    async def screenshot(
        self,
        *,
        settle: bool = False,
        region: Box | None = None,
        size: tuple[int, int] | None = None,
        expect: tuple[int, int] | None = None,
    ) -> Shot:
        """The screen as PNG: settled after an action if asked, cut to ``region`` (screen
        pixels), resized to exactly ``size``; ScreenError unless the screen is ``expect``."""

    async def note_screen(self, expect: tuple[int, int] | None = None) -> None:
        """Remember the screen before an action (the next settled screenshot compares)."""

    async def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        note_screen: bool = False,
    ) -> ProcessResult:
        """Run ``argv`` to completion on the desktop (never through a shell), with DISPLAY set
        and ``env`` added to the desktop's environment; the whole process group is killed on
        timeout (TimeoutError). With ``note_screen``, ``note_screen()`` first."""

    def bash(self, *, timeout: float) -> ShellSession:
        """A new bash session (the shell starts with its first command)."""

    def stat(self, path: str, *, follow: bool = True) -> FileStat:
        """``path``'s stat (``follow=False``: the link itself); OSError if there is none."""

    def read_bytes(self, path: str, limit: int) -> bytes:
        """The bytes of the regular file ``path``; OSError(EFBIG) past ``limit`` bytes."""

    def create_file(self, path: str, data: bytes) -> tuple[str, ...]:
        """Create ``path`` with ``data``, and the folders it needs (returned, outermost
        first); never over an existing file (FileExistsError)."""

    def replace_file(self, path: str, data: bytes) -> None:
        """Make ``data`` the content of the existing file ``path``, so that a failure leaves
        it whole (a temporary file renamed over it, mode and owner kept)."""

    def list_tree(self, path: str, depth: int = 2) -> Listing:
        """The folder ``path`` and what is in it, ``depth`` levels deep."""

    def remove_file(self, path: str) -> None:
        """Remove the file ``path`` (a missing file is no error)."""

    def remove_dirs(self, dirs: Sequence[str]) -> None:
        """Remove the folders ``dirs`` (innermost last in the list) while they are empty."""

    async def aclose(self) -> None:
        """Release what the backend holds (connections); sessions end with their owners."""
