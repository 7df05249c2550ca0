"""The desktop scripts (image/): bring-up, idempotence, the panel's launchers, stop-all.

Runs the real start/stop scripts on a display and ports of this area's range, and checks the
real programs: mutter managing the screen, tint2's panel, x11vnc speaking RFB, noVNC serving
its page, Firefox opening from the panel.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from computer_use_demo.tools.computer import ComputerTool20250124
from tests.support.images import png
from tests.support.net import port_free
from tests.support.xvfb import display_in_use

pytestmark = pytest.mark.desktop

IMAGE = Path(__file__).resolve().parent.parent / "image"
DISPLAYS = range(69, 49, -1)  # from the top of the range: test_computer starts at the bottom
VNC_PORTS = range(5950, 5970)
NOVNC_PORTS = range(6150, 6170)
SECRET = "sk-ant-desktop-secret-0123456789"


@dataclass
class Desktop:
    env: dict[str, str]
    state: Path

    @property
    def display(self) -> int:
        return int(self.env["DISPLAY_NUM"])

    @property
    def marker(self) -> bytes:
        return f"COMPUTER_USE_DESKTOP_MARK=:{self.display}@{self.state}".encode()

    def run(self, script: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(IMAGE / script)], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def pid(self, part: str) -> int:
        return int((self.state / f"{part}.pid").read_text())

    def processes(self) -> list[int]:
        """Pids of live processes that belong to this desktop (they carry its marker)."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
                status = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if self.marker in environ.split(b"\0") and status.rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(entry))
        return found


def make_env(state: Path, **extra: str) -> dict[str, str]:
    display = next(d for d in DISPLAYS if not display_in_use(d))
    vnc = next(p for p in VNC_PORTS if port_free(p))
    novnc = next(p for p in NOVNC_PORTS if port_free(p))
    env = {
        **os.environ,
        "DISPLAY_NUM": str(display),
        "VNC_PORT": str(vnc),
        "NOVNC_PORT": str(novnc),
        "WIDTH": "1024",
        "HEIGHT": "768",
        "STATE_DIR": str(state),
        "READY_TIMEOUT": "60",
        # The clients of the test (xprop, xdotool, the computer tool) use the desktop's cookie.
        "XAUTHORITY": str(state / "Xauthority"),
        # A secret in the environment that starts the desktop: no part may inherit it.
        "ANTHROPIC_API_KEY": SECRET,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        **extra,
    }
    env.pop("DISPLAY", None)
    return env


def force_stop(desktop: Desktop) -> None:
    """Last resort after a failed test: kill what the stop script may have missed."""
    for pid in desktop.processes():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    state = tmp_path_factory.mktemp("desktop")
    desk = Desktop(make_env(state), state)
    try:
        started = desk.run("start_desktop.sh")
        assert started.returncode == 0, started.stderr
        yield desk
    finally:
        desk.run("stop_desktop.sh")
        force_stop(desk)


def rfb_banner(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        return sock.recv(12)


def wait_until(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def x(desktop: Desktop, *argv: str, cookie: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DISPLAY": f":{desktop.display}"}
    env["XAUTHORITY"] = desktop.env["XAUTHORITY"] if cookie else "/nonexistent"
    return subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=30)


@pytest.fixture
def with_cookie(desktop: Desktop, monkeypatch: pytest.MonkeyPatch) -> Desktop:
    """The in-process X clients (the computer tool, its screenshots) find the cookie too."""
    monkeypatch.setenv("XAUTHORITY", desktop.env["XAUTHORITY"])
    return desktop


def test_every_part_is_up(desktop: Desktop) -> None:
    # mutter manages the screen: the root window names it as the window manager.
    check = x(desktop, "xprop", "-root", "_NET_SUPPORTING_WM_CHECK").stdout.split()[-1]
    assert "Mutter" in x(desktop, "xprop", "-id", check, "_NET_WM_NAME").stdout
    # tint2's panel is a window on the display, along the bottom edge.
    panel = x(desktop, "xdotool", "search", "--class", "tint2").stdout.split()
    assert panel
    geometry = x(desktop, "xdotool", "getwindowgeometry", panel[0]).stdout
    assert "1024x40" in geometry and "0,728" in geometry
    # x11vnc speaks RFB; noVNC serves its client page.
    assert rfb_banner(int(desktop.env["VNC_PORT"])).startswith(b"RFB 003.00")
    url = f"http://127.0.0.1:{desktop.env['NOVNC_PORT']}/vnc.html"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200 and b"noVNC" in response.read()
    for part in ("xvfb", "mutter", "tint2", "x11vnc", "novnc"):
        assert desktop.pid(part) in desktop.processes(), part


def test_the_desktop_is_private(desktop: Desktop) -> None:
    """Only cookie holders reach the display; the state folder, cookie and logs are ours
    alone; no part (nor what is launched from the panel) inherits a secret."""
    assert x(desktop, "xdpyinfo").returncode == 0
    refused = x(desktop, "xdpyinfo", cookie=False)
    assert refused.returncode != 0 and "unable to open display" in refused.stderr
    assert stat.S_IMODE(desktop.state.stat().st_mode) == 0o700
    cookie = Path(desktop.env["XAUTHORITY"])
    assert stat.S_IMODE(cookie.stat().st_mode) == 0o600 and cookie.stat().st_size > 16
    logs = list(desktop.state.glob("*.log"))
    assert {p.stem for p in logs} >= {"xvfb", "mutter", "tint2", "x11vnc", "novnc"}
    for log in logs:
        assert stat.S_IMODE(log.stat().st_mode) == 0o600, log
    for pid in desktop.processes():
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert SECRET.encode() not in environ, f"pid {pid} has a secret in its environment"
        assert f"XAUTHORITY={cookie}".encode() in environ.split(b"\0"), pid


def test_starting_again_is_harmless(desktop: Desktop) -> None:
    before = {p: desktop.pid(p) for p in ("xvfb", "mutter", "tint2", "x11vnc", "novnc")}
    again = desktop.run("start_desktop.sh")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("already running") == 5
    assert {p: desktop.pid(p) for p in before} == before
    assert rfb_banner(int(desktop.env["VNC_PORT"])).startswith(b"RFB 003.00")


def test_vnc_server_comes_back_when_it_dies(desktop: Desktop) -> None:
    supervisor = desktop.pid("x11vnc")
    children = [
        pid
        for pid in desktop.processes()
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(supervisor)
    ]
    assert children, "x11vnc's serving process"
    os.kill(children[0], signal.SIGKILL)
    port = int(desktop.env["VNC_PORT"])

    def answers() -> bool:
        try:
            return rfb_banner(port).startswith(b"RFB 003.00")
        except OSError:
            return False

    wait_until(answers, 30, "x11vnc to serve again")


def test_firefox_launcher_opens_firefox(with_cookie: Desktop) -> None:
    desktop = with_cookie
    computer = ComputerTool20250124(width=1024, height=768, display_num=desktop.display)

    def firefox_window() -> bool:
        found = x(desktop, "xdotool", "search", "--onlyvisible", "--class", "firefox")
        return found.returncode == 0 and bool(found.stdout.split())

    assert not firefox_window()
    asyncio.run(computer(action="left_click", coordinate=[20, 748]))  # the first launcher
    wait_until(firefox_window, 120, "a Firefox window")


def test_settled_screenshot_shows_the_menu_a_click_opens(with_cookie: Desktop) -> None:
    """Settling must catch what a click shows at once: Firefox's context menu, complete."""
    desktop = with_cookie
    computer = ComputerTool20250124(width=1024, height=768, display_num=desktop.display)
    window = x(desktop, "xdotool", "search", "--onlyvisible", "--class", "firefox").stdout.split()
    assert window, "needs the Firefox window of the launcher test"
    geometry = x(desktop, "xdotool", "getwindowgeometry", "--shell", window[-1]).stdout
    g = dict(line.split("=") for line in geometry.split())
    # A point in the upper left of the page, so the menu opens down and to the right of it.
    cx = int(g["X"]) + int(g["WIDTH"]) // 4
    cy = int(g["Y"]) + int(g["HEIGHT"]) // 3
    box = (cx + 10, cy + 10, cx + 120, cy + 120)  # well inside any context menu

    def still() -> bool:  # Firefox has finished drawing its page
        a = png(asyncio.run(computer(action="screenshot"))).crop(box).tobytes()
        time.sleep(0.5)
        return a == png(asyncio.run(computer(action="screenshot"))).crop(box).tobytes()

    wait_until(still, 60, "Firefox to stop redrawing")
    # Firefox builds the menu on its first use (~300 ms even on an idle machine: a slow app,
    # for a later screenshot); once built it opens at once (50-90 ms): that is what settling
    # must catch. So open and close it once first.
    asyncio.run(computer(action="right_click", coordinate=[cx, cy]))
    time.sleep(1.0)
    asyncio.run(computer(action="key", text="Escape"))
    wait_until(still, 30, "the menu to close")
    before = png(asyncio.run(computer(action="mouse_move", coordinate=[cx, cy]))).crop(box)
    try:
        after = png(asyncio.run(computer(action="right_click"))).crop(box)
        time.sleep(1.0)
        later = png(asyncio.run(computer(action="screenshot"))).crop(box)
    finally:
        asyncio.run(computer(action="key", text="Escape"))
    assert after.tobytes() != before.tobytes(), "the settled screenshot misses the menu"
    assert after.tobytes() == later.tobytes(), "the settled screenshot caught a half-drawn menu"


def test_stop_ends_everything(desktop: Desktop) -> None:
    assert len(desktop.processes()) >= 5
    stopped = desktop.run("stop_desktop.sh")
    assert stopped.returncode == 0, stopped.stderr
    assert desktop.processes() == []
    assert x(desktop, "xdpyinfo").returncode != 0
    assert port_free(int(desktop.env["VNC_PORT"])) and port_free(int(desktop.env["NOVNC_PORT"]))
    assert not list(desktop.state.glob("*.pid"))


def test_start_fails_loudly_with_the_part_log(tmp_path: Path) -> None:
    desk = Desktop(make_env(tmp_path, READY_TIMEOUT="5"), tmp_path)
    # Take the VNC port (bound, not listening: nothing answers there), so x11vnc cannot.
    with socket.socket() as blocker:
        blocker.bind(("0.0.0.0", int(desk.env["VNC_PORT"])))
        try:
            result = desk.run("start_desktop.sh")
        finally:
            desk.run("stop_desktop.sh")
            force_stop(desk)
    # x11vnc with -loop keeps retrying, so the failure is a timeout that shows its log.
    assert result.returncode != 0
    assert "x11vnc not ready" in result.stderr or "x11vnc exited" in result.stderr
    assert "last lines of" in result.stderr and "x11vnc.log" in result.stderr
    assert desk.processes() == []


def test_entrypoint_starts_and_stops_on_sigterm(tmp_path: Path) -> None:
    # A copy of image/ without the web app, so only the entrypoint and the desktop run; in
    # /tmp itself, where the desktop's own user (as root, the entrypoint runs the desktop as
    # it) may read the scripts and pass through to its folder.
    top = Path(tempfile.mkdtemp(prefix="cud-entrypoint-"))
    top.chmod(0o755)
    image = top / "image"
    shutil.copytree(IMAGE, image, ignore=shutil.ignore_patterns("start_webapp.sh", "webapp"))
    state = top / "state"
    split = os.geteuid() == 0
    # The supervisor runs on the test's Python (the copy has no .venv beside it).
    desk = Desktop(
        make_env(state, SUPERVISOR_PYTHON=sys.executable), state / "desktop" if split else state
    )
    proc = subprocess.Popen(
        [str(image / "entrypoint.sh")],
        env=desk.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "is ready" in line:
                break
        assert any("The desktop is ready" in line for line in lines), lines
        assert len(desk.processes()) >= 5
        if split:  # its parts run as the desktop's own user
            assert all(Path(f"/proc/{pid}").stat().st_uid != 0 for pid in desk.processes())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert desk.processes() == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        force_stop(desk)
        shutil.rmtree(top, ignore_errors=True)


def test_a_state_folder_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    """Another local user pre-creates the state folder: start fails and says why."""
    foreign = tmp_path / "planted"
    foreign.mkdir(mode=0o777)
    os.chown(foreign, 65534, 65534)  # nobody
    desk = Desktop(make_env(foreign), foreign)
    try:
        result = desk.run("start_desktop.sh")
    finally:
        force_stop(desk)
    assert result.returncode != 0
    assert f"the state folder {foreign} belongs to nobody" in result.stderr
    assert "refusing to start" in result.stderr and "STATE_DIR" in result.stderr
    assert desk.processes() == [] and not list(foreign.iterdir())
    # The entrypoint (the image's and scripts/start's) stops at the same check.
    entry = subprocess.run(
        [str(IMAGE / "entrypoint.sh")], env=desk.env, capture_output=True, text=True, timeout=60
    )
    assert entry.returncode != 0 and "belongs to nobody" in entry.stderr
    assert "ready" not in entry.stdout
    # A symbolic link in its place is refused too (it could point anywhere).
    link = tmp_path / "link"
    link.symlink_to(foreign)
    result = Desktop(make_env(link), link).run("start_desktop.sh")
    assert result.returncode != 0 and "not a plain folder" in result.stderr


def test_default_state_folder_is_private(tmp_path: Path) -> None:
    """No STATE_DIR: the folder is in $XDG_RUNTIME_DIR (made 0700), not a guessable /tmp one."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = make_env(tmp_path, XDG_RUNTIME_DIR=str(runtime))
    env.pop("STATE_DIR")
    done = subprocess.run(
        ["bash", "-c", f"source {IMAGE / 'lib.sh'} && echo $STATE_DIR && echo $XAUTHORITY"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    state, xauthority = done.stdout.split()
    assert state == f"{runtime}/computer-use-{env['DISPLAY_NUM']}"
    assert xauthority == f"{state}/Xauthority"
    assert stat.S_IMODE(Path(state).stat().st_mode) == 0o700
