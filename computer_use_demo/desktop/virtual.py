"""A private virtual desktop started on demand: Xvfb, mutter, tint2 and its desktop server —
what many desktops need.

The stack's desktop (image/start_desktop.sh) is one long-lived desktop on a fixed display. An
eval run (or anything else that needs several desktops on one machine) wants many short-lived
ones: ``VirtualDesktop`` starts Xvfb on a display the X server picks itself (``-displayfd``:
no race with other programs choosing a free number), admits only clients holding its own
random cookie, brings up the window manager, the panel and the desktop server (server.py, on
a unix socket in its private folder), and says when all are ready. ``agent_env`` is the
environment of an agent that drives it (its tools reach it through that server).

Every process of a desktop, and everything started with its ``env`` (apps, the agent's
shells, their children, however detached) carries a marker variable, the stack's own rule
(image/lib.sh): ``reset`` ends exactly those processes but the desktop's own parts, and
``stop`` ends them all. The parts die with the process that started them (``PR_SET_PDEATHSIG``),
so a killed harness leaves no X server behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from .errors import DesktopError
from .processes import scrubbed_env
from .select import DESKTOP_ENV

#: The variable every process of one desktop carries (its value: the desktop's id).
MARKER_ENV = "COMPUTER_USE_DESKTOP_ID"
READY_TIMEOUT = 30.0
#: Where display numbers are looked for: above the stack's (:1) and the tests' (:50-:99).
FIRST_DISPLAY = 100
POLL = 0.02
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_GET_DUMPABLE = 3
_MODIFIERS = ("shift", "ctrl", "alt", "super")
#: The stack's panel settings (a source checkout); without them tint2 uses its defaults.
_TINT2RC = Path(__file__).resolve().parents[2] / "image" / "desktop" / "tint2rc"


class DesktopStartError(DesktopError):
    """A part of the desktop did not come up (the text says which, with its log's end)."""


def die_with_parent() -> None:
    """In the child before exec: SIGKILL when the process that started it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def keep_memory_private() -> None:
    """Make this process (and what it forks) undumpable: another process of the same user,
    such as an app on a desktop run by that user, can then neither read its environment or
    memory under /proc nor attach to it. (execve undoes it: the programs it starts are not
    covered, and get no secret anyway.) Root is not stopped by it."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0)


def memory_private() -> bool:
    """Whether ``keep_memory_private`` is in force for this process."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(_PR_GET_DUMPABLE) == 0
    except Exception:
        return False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def marked_pids(marker: str) -> list[int]:
    """Live processes of ours whose environment holds ``MARKER_ENV=marker``."""
    entry = f"{MARKER_ENV}={marker}".encode()
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes()
        except OSError:
            continue
        if entry in environ.split(b"\0") and _alive(int(name)):
            found.append(int(name))
    return found


def kill_pids(pids: list[int], grace: float = 1.0) -> None:
    """SIGTERM ``pids``, then SIGKILL what is still alive after ``grace`` seconds."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(POLL)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


class VirtualDesktop:
    """One desktop of its own: ``await start()``, use ``env``, ``await reset()``, ``stop()``.

    ``state`` is a private folder for its cookie, logs and the home folder of its user
    (``home``, emptied by every reset). ``wm``/``panel`` off give a bare X server.
    """

    def __init__(
        self,
        state: Path,
        *,
        width: int = 1024,
        height: int = 768,
        wm: bool = True,
        panel: bool = True,
        server: bool = True,
        first_display: int = FIRST_DISPLAY,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.state = Path(state)
        self.width = width
        self.height = height
        self.wm = wm
        self.panel = panel
        self.server = server
        self.first_display = first_display
        self.extra_env = dict(extra_env or {})
        self.id = secrets.token_hex(8)
        self.number: int | None = None
        self.parts: dict[str, subprocess.Popen[bytes]] = {}
        #: The desktop's own processes (its parts and what they started), spared by reset.
        self.base: set[int] = set()
        #: Seconds the last start took, to ready (for benchmarks and reports).
        self.start_seconds = 0.0

    # -------------------------------------------------------------- facts

    @property
    def display(self) -> str:
        if self.number is None:
            raise DesktopStartError("the desktop is not started")
        return f":{self.number}"

    @property
    def home(self) -> Path:
        return self.state / "home"

    @property
    def xauthority(self) -> Path:
        return self.state / "Xauthority"

    @property
    def socket(self) -> Path:
        """The desktop server's unix socket (in the private state folder)."""
        return self.state / "desktop.sock"

    @property
    def agent_env(self) -> dict[str, str]:
        """``env`` for an agent on this desktop: its tools go through the desktop server."""
        url = f"unix://{self.socket}" if self.server else ""
        return {**self.env, DESKTOP_ENV: url}

    @property
    def env(self) -> dict[str, str]:
        """The environment of a process on this desktop: its display and cookie, its home,
        the screen settings the tools read, the marker; never a secret of ours."""
        return {
            **scrubbed_env(),
            "DISPLAY": self.display,
            "DISPLAY_NUM": str(self.number),
            "WIDTH": str(self.width),
            "HEIGHT": str(self.height),
            "XAUTHORITY": str(self.xauthority),
            "HOME": str(self.home),
            "XDG_SESSION_TYPE": "x11",
            "STATE_DIR": str(self.state),  # the desktop's lock lives there (lock.py)
            DESKTOP_ENV: "",  # the desktop's own processes act on it in-process
            MARKER_ENV: self.id,
            **self.extra_env,
        }

    def alive(self) -> bool:
        return bool(self.parts) and all(p.poll() is None for p in self.parts.values())

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start the X server, the window manager and the panel; return once all are ready
        (DesktopError, with the part's log, if one is not within READY_TIMEOUT)."""
        began = time.monotonic()
        self.state.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.state, 0o700)
        self.home.mkdir(mode=0o700, exist_ok=True)
        cookie = secrets.token_hex(16)
        await self._start_xvfb(cookie)
        waits = []
        if self.server:
            self.socket.unlink(missing_ok=True)
            self._spawn("server", [
                sys.executable, "-m", "computer_use_demo.desktop.server",
                "--unix", str(self.socket), "--display", self.display,
            ])  # fmt: skip
            waits.append(self._wait("server", self._server_listening))
        if self.wm:
            self._spawn("mutter", ["mutter", "--replace", "--sm-disable"])
            waits.append(self._wait("mutter", self._wm_running))
        if self.panel:
            self._spawn("tint2", ["tint2", *self._tint2_args()])
            waits.append(self._wait("tint2", self._window_with_class, "tint2"))
        await asyncio.gather(*waits)
        # What the parts started themselves (mutter's session bus) belongs to the desktop.
        self.base = set(marked_pids(self.id))
        self.start_seconds = time.monotonic() - began

    async def reset(self) -> None:
        """Back to a fresh desktop: every process started on it ends (its own parts stay),
        its home folder is emptied. A desktop whose part died is started again."""
        kill_pids([p for p in marked_pids(self.id) if p not in self.base])
        _empty(self.home)  # the folder stays: it is the desktop server's (and shells') cwd
        if not self.alive():
            self.stop()
            await self.start()
            return
        # No key left held, the pointer back in the middle.
        await self._output("xdotool", "keyup", *_MODIFIERS)
        await self._output("xdotool", "mousemove", str(self.width // 2), str(self.height // 2))

    def stop(self) -> None:
        """End the desktop: its parts and everything started on it."""
        kill_pids([p.pid for p in self.parts.values()] + marked_pids(self.id), grace=0.5)
        for proc in self.parts.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(2)
        self.parts.clear()
        self.base = set()
        self.number = None

    async def __aenter__(self) -> VirtualDesktop:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------- parts

    async def _start_xvfb(self, cookie: str) -> None:
        server_auth = self.state / "server.auth"
        server_auth.unlink(missing_ok=True)
        (self.state / "Xauthority").unlink(missing_ok=True)
        # The server admits the cookies of its -auth file, whatever display they name.
        await self._xauth(server_auth, "add", ":0", ".", cookie)
        for number in _candidates(self.first_display):
            line = await self._try_xvfb(number, server_auth)
            if line.strip().isdigit():
                break
            try:  # it exited: another server took the number first; try the next one
                self.parts["xvfb"].wait(5)
            except subprocess.TimeoutExpired:  # alive but silent: give up on it
                self.stop()
                raise DesktopStartError(f"Xvfb did not start: {self._log_tail('xvfb')}") from None
        else:
            raise DesktopStartError(f"no free X display from :{self.first_display} up")
        self.number = int(line)
        # Clients find the cookie under the display's number, on any host ("wild", ffff).
        await self._xauth(self.xauthority, "add", self.display, ".", cookie)
        code, entry = await self._xauth(self.xauthority, "nlist", self.display)
        if code == 0 and entry.strip():
            await self._xauth(self.xauthority, "nmerge", "-", input="ffff" + entry.strip()[4:])

    async def _try_xvfb(self, number: int, server_auth: Path) -> str:
        """Start Xvfb on :number; the number it reports once it accepts clients ("" if it
        exited, e.g. the display was taken meanwhile)."""
        read, write = os.pipe()
        try:
            self._spawn(
                "xvfb",
                [
                    "Xvfb",
                    f":{number}",
                    "-displayfd",
                    str(write),
                    "-screen",
                    "0",
                    f"{self.width}x{self.height}x24",
                    "-dpi",
                    "96",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                    "-auth",
                    str(server_auth),
                ],
                pass_fds=(write,),
                env=scrubbed_env(),
            )
        finally:
            os.close(write)
        try:
            return await asyncio.wait_for(asyncio.to_thread(_read_line, read), READY_TIMEOUT)
        except TimeoutError:
            return ""
        finally:
            os.close(read)

    async def _xauth(self, path: Path, *args: str, input: str | None = None) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            "xauth",
            "-q",
            "-f",
            str(path),
            *args,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out, _ = await proc.communicate(input.encode() + b"\n" if input is not None else None)
        return proc.returncode or 0, out.decode(errors="replace")

    def _tint2_args(self) -> list[str]:
        if not _TINT2RC.is_file():
            return []
        text = _TINT2RC.read_text()
        browser = next(
            (
                f"/usr/share/applications/{app}.desktop"
                for app in ("firefox-esr", "firefox")
                if Path(f"/usr/share/applications/{app}.desktop").is_file()
            ),
            "/usr/share/applications/firefox-esr.desktop",
        )
        editor = "/usr/share/applications/org.xfce.mousepad.desktop"
        rc = self.state / "tint2rc"
        rc.write_text(text.replace("@BROWSER_APP@", browser).replace("@EDITOR_APP@", editor))
        return ["-c", str(rc)]

    def _spawn(
        self,
        name: str,
        argv: list[str],
        *,
        pass_fds: tuple[int, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        log = open(self.state / f"{name}.log", "wb")
        try:
            self.parts[name] = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**(env or self.env), MARKER_ENV: self.id},
                cwd=self.home,
                pass_fds=pass_fds,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        finally:
            log.close()

    def _log_tail(self, name: str, lines: int = 20) -> str:
        try:
            text = (self.state / f"{name}.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.strip().splitlines()[-lines:]) or "(empty log)"

    async def _wait(self, name: str, check: object, *args: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not await check(*args):  # type: ignore[operator]
            if self.parts[name].poll() is not None:
                raise DesktopStartError(
                    f"{name} exited before it was ready: {self._log_tail(name)}"
                )
            if time.monotonic() > deadline:
                raise DesktopStartError(f"{name} not ready after {READY_TIMEOUT:g}s")
            await asyncio.sleep(POLL)

    async def _output(self, *argv: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self.env,
        )
        out, _ = await proc.communicate()
        return out.decode(errors="replace") if proc.returncode == 0 else ""

    async def _server_listening(self) -> bool:
        # It says so once it listens (desktop/server.py).
        try:
            return "desktop server for" in (self.state / "server.log").read_text(errors="replace")
        except OSError:
            return False

    async def _wm_running(self) -> bool:
        # An EWMH window manager points the root window at a check window carrying its name.
        out = await self._output("xprop", "-root", "_NET_SUPPORTING_WM_CHECK")
        if "window id" not in out:
            return False
        return "=" in await self._output("xprop", "-id", out.split()[-1], "_NET_WM_NAME")

    async def _window_with_class(self, klass: str) -> bool:
        return bool((await self._output("xdotool", "search", "--class", klass)).split())


def _empty(folder: Path) -> None:
    """Remove everything in ``folder`` but the folder itself."""
    folder.mkdir(mode=0o700, exist_ok=True)
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _candidates(first: int) -> list[int]:
    """Display numbers from ``first`` up with no X server (nor a lock of one) yet."""
    return [
        n
        for n in range(first, first + 1000)
        if not os.path.exists(f"/tmp/.X{n}-lock") and not os.path.exists(f"/tmp/.X11-unix/X{n}")
    ][:50]


def _read_line(fd: int) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")
