"""One agent per desktop: a run holds an exclusive lock named for its X display.

Two agents on one screen fight over the mouse and keyboard and each sees the other's clicks as
its own, so a second run on a display that is in use fails at once with a message that says
who holds it. The lock is ``flock`` on a file in the display's private state folder (the
folder the desktop scripts use, image/lib.sh): the kernel releases it when the holding process
ends, however it ends, so a crash never leaves the desktop locked. It is per open file, so it
also keeps apart two runs in the threads of one process (the chat app). The descriptor is not
inherited: a command the agent started cannot keep the desktop locked after the agent exits.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

LOCK_FILE = "agent-{display}.lock"
#: The ErrorEvent.error_type of a run refused because the desktop is in use.
DESKTOP_BUSY = "desktop_busy"
#: Overrides where the lock lives (tests: one folder per test run, apart from a real desktop).
LOCK_DIR_ENV = "AGENT_LOCK_DIR"


class DesktopUnavailable(RuntimeError):
    """A run cannot have the desktop (the message says why and what to do)."""


class DesktopBusy(DesktopUnavailable):
    """Another agent runs on this display (``holder`` says which, when it could be read)."""

    def __init__(self, display: str, holder: str | None) -> None:
        self.display = display
        self.holder = holder
        who = f" ({holder})" if holder else ""
        super().__init__(
            f"another agent is already using the desktop :{display}{who}; stop it first, "
            "then try again (one agent per desktop)"
        )


class DesktopLockError(DesktopUnavailable):
    """The lock cannot be taken at all (its folder is not ours, or cannot be made)."""


def current_display() -> str:
    """The display number the tools drive: $DISPLAY_NUM, else the number in $DISPLAY."""
    number = os.environ.get("DISPLAY_NUM", "").strip()
    if not number:
        display = os.environ.get("DISPLAY", "")
        number = display.rpartition(":")[2].partition(".")[0]
    return number if number.isdigit() else "1"


def display_of(tools: Iterable[object]) -> str:
    """The display a run's tools drive (a computer tool's, a toolset's), else the default."""
    for tool in tools:
        display = getattr(tool, "display", None) or getattr(
            getattr(tool, "desktop", None), "display", None
        )
        if isinstance(display, str) and display.rpartition(":")[2].partition(".")[0].isdigit():
            return display.rpartition(":")[2].partition(".")[0]
    return current_display()


def hold_desktop(tools: Iterable[object], *, owner: str = "") -> DesktopLock:
    """The lock of the display ``tools`` drive, taken (raises DesktopUnavailable)."""
    return DesktopLock(display_of(tools)).acquire(owner)


def lock_dir(display: str) -> Path:
    """$AGENT_LOCK_DIR, else the display's state folder as image/lib.sh chooses it."""
    if os.environ.get(LOCK_DIR_ENV):
        return Path(os.environ[LOCK_DIR_ENV])
    if os.environ.get("STATE_DIR"):
        return Path(os.environ["STATE_DIR"])
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime) and os.stat(runtime).st_uid == os.getuid():
        return Path(runtime) / f"computer-use-{display}"
    return Path(f"/tmp/computer-use-{os.getuid()}-{display}")


def _private(path: Path) -> Path:
    """``path`` as a folder of ours, 0700 (a folder someone else made in /tmp is refused)."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(path)
    except OSError as e:
        raise DesktopLockError(f"cannot make the lock folder {path}: {e}") from e
    if not stat.S_ISDIR(info.st_mode):
        raise DesktopLockError(f"the lock folder {path} is not a plain folder: refusing it")
    if info.st_uid != os.getuid():
        raise DesktopLockError(f"the lock folder {path} belongs to uid {info.st_uid}: refusing it")
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


class DesktopLock:
    """The lock of one display. ``acquire`` raises DesktopBusy when another run holds it."""

    def __init__(self, display: str | None = None) -> None:
        self.display = display if display is not None else current_display()
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return lock_dir(self.display) / LOCK_FILE.format(display=self.display)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _open(self) -> int:
        _private(self.path.parent)
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as e:
            raise DesktopLockError(f"cannot open the lock file {self.path}: {e}") from e

    def acquire(self, owner: str = "") -> DesktopLock:
        """Take the lock, recording who holds it (``owner``: what the UI calls the run)."""
        if self._fd is not None:
            return self
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise DesktopBusy(self.display, holder) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        program = _program()
        record = {"pid": os.getpid(), "program": program, "owner": owner, "since": time.time()}
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the last descriptor releases the flock

    def holder(self) -> str | None:
        """Who holds the lock now, as its file tells (None: nobody). A hint for a message,
        read without locking (probing with flock could make a real acquire fail); only
        ``acquire`` decides."""
        if self._fd is not None:
            return _describe(_read_record(self._fd))
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            record = _read_record(fd)
        finally:
            os.close(fd)
        pid = record.get("pid")
        if not isinstance(pid, int) or not _alive(pid):
            return None  # released (emptied), or its process died (the kernel freed the lock)
        return _describe(record)

    def __enter__(self) -> DesktopLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_record(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(record: dict[str, object]) -> str | None:
    if not record.get("pid"):
        return None
    owner = f"{record['owner']}, " if record.get("owner") else ""
    return f"{owner}pid {record['pid']} {record.get('program') or ''}".strip()


def _program() -> str:
    """What runs here, for a message: ``computer_use_demo`` (the CLI), ``streamlit``..."""
    path = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    return path.parent.name if path.name == "__main__.py" else path.name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_holder(fd: int) -> str | None:
    return _describe(_read_record(fd))
