"""Fixtures and helpers of the chat-app tests: an isolated home, free ports and displays of the
UI range (ports 18100-18199, displays :80-:89), the app in Streamlit's AppTest, and the real
stack started by image/ scripts.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.net import port_free
from tests.support.procs import kill_marked, kill_tree, marked_pids
from tests.support.xvfb import display_in_use

REPO = Path(__file__).resolve().parents[2]
IMAGE = REPO / "image"
APP = str(REPO / "computer_use_demo" / "streamlit.py")
PORTS = range(18100, 18200)
DISPLAYS = range(80, 90)

#: Environment that would leak the developer's own credentials or settings into a test.
CLEARED_ENV = (
    "ACCESS_TOKEN",
    "ALLOWED_HOSTS",
    "VNC_PASSWORD",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "API_PROVIDER",
    "HIDE_WARNING",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "CLOUD_ML_REGION",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "ANTHROPIC_VERTEX_PROJECT_ID",
    "ANTHROPIC_VERTEX_ACCESS_TOKEN",
)


@pytest.fixture
def ui_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home: settings and sessions go to tmp_path/.anthropic; no credentials leak in."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CONFIG_DIR", raising=False)
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    # Credential lookups must never wait on cloud metadata servers.
    # The tests' servers listen on loopback only: approvals default to auto there.
    monkeypatch.setenv("BIND_ADDR", "127.0.0.1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-aws-credentials"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(home / "no-gcloud"))
    return home / ".anthropic"


def free_ports(n: int, exclude: set[int] | frozenset[int] = frozenset()) -> list[int]:
    """``n`` ports of the UI range nobody listens on (in random order: test runs side by side
    on one machine then rarely pick the same ones at the same moment)."""
    candidates = random.sample(PORTS, len(PORTS))
    found = [p for p in candidates if p not in exclude and port_free(p)][:n]
    if len(found) < n:
        pytest.skip("no free ports left in 18100-18199")
    return found


def free_display() -> int:
    """A display number of the UI range with no X server (nor a stale lock of one)."""
    for n in random.sample(DISPLAYS, len(DISPLAYS)):
        if not display_in_use(n):
            return n
    pytest.skip("no free display in :80-:89")
    raise AssertionError  # unreachable


def wait_http(url: str, timeout: float = 30.0) -> bytes:
    """GET ``url`` until it answers 200; its body."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read()
        except Exception as e:
            last = e
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s: {last}")


def app(timeout: float = 30) -> AppTest:
    """A fresh browser session of the app (a new tab: state comes only from disk and env)."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    assert not at.exception, at.exception
    return at


def all_text(node: Any) -> str:
    """Every string a rendered subtree shows (values, labels, bodies), for searching."""
    out: list[str] = []

    def walk(n: Any) -> None:
        for attr in ("value", "label", "body", "placeholder", "help"):
            v = getattr(n, attr, None)
            if isinstance(v, str):
                out.append(v)
        proto = getattr(n, "proto", None)
        if proto is not None:
            out.append(str(proto))
        children = getattr(n, "children", None)
        if isinstance(children, dict):
            for c in children.values():
                walk(c)

    walk(node)
    return "\n".join(out)


def chat_tab(at: AppTest) -> Any:
    return next(t for t in at.tabs if t.label == "Chat")


def run_until(at: AppTest, done: Callable[[AppTest], bool], timeout: float = 60) -> AppTest:
    """Rerun the page (as its poll would) until ``done``."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return at
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; page shows:\n{all_text(at.main)[-3000:]}")
        time.sleep(0.2)


@dataclass
class Stack:
    """The real stack (desktop + chat app + combined page) of one test module."""

    env: dict[str, str]
    display: int
    http_port: int
    streamlit_port: int
    novnc_port: int
    vnc_port: int
    state_dir: Path
    home: Path

    @property
    def token(self) -> str:
        """The door's token: ACCESS_TOKEN, or the one start_webapp.sh generated."""
        return self.env.get("ACCESS_TOKEN") or (
            (self.state_dir / "webapp" / "access-token").read_text().strip()
        )

    @property
    def door_url(self) -> str:
        """The door (port 8080 in the image), without the token."""
        return f"http://127.0.0.1:{self.http_port}/"

    @property
    def page_url(self) -> str:
        """The combined page, through the door, with the token (the URL the start prints)."""
        return f"{self.door_url}?token={self.token}"

    @property
    def app_url(self) -> str:
        """The chat app alone, through the door (it listens on a unix socket that only the
        agent's user reaches), with the token: the door keeps it as a cookie."""
        return f"{self.door_url}chat/?token={self.token}"

    @property
    def desktop_state(self) -> Path:
        """The desktop's own folder: ``desktop/`` when the entrypoint split the halves, else
        the state folder itself (the desktop's scripts run alone)."""
        split = self.state_dir / "desktop"
        return split if split.is_dir() else self.state_dir

    def logs(self) -> str:
        out = []
        for log in sorted(self.state_dir.rglob("*.log")):
            with contextlib.suppress(OSError):
                out.append(f"--- {log}\n{log.read_text(errors='replace')[-4000:]}")
        return "\n".join(out)


def stack_env(tmp: Path, *, extra: dict[str, str] | None = None) -> Stack:
    display = free_display()
    http_port, streamlit_port, novnc_port, vnc_port = free_ports(4)
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    # In /tmp itself, not in pytest's private folder: the desktop's own user (the entrypoint
    # runs the desktop as it when the tests run as root) must pass through to its folder.
    state = Path(tempfile.mkdtemp(prefix="cud-state-"))
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env.update(
        HOME=str(home),
        DISPLAY_NUM=str(display),
        WIDTH="1024",
        HEIGHT="768",
        HTTP_PORT=str(http_port),
        STREAMLIT_PORT=str(streamlit_port),
        NOVNC_PORT=str(novnc_port),
        VNC_PORT=str(vnc_port),
        BIND_ADDR="127.0.0.1",
        STATE_DIR=str(state),
        # The test's own X clients use the desktop's cookie (Xvfb admits no one else): where
        # the desktop's scripts alone put it (the entrypoint's is in desktop/, see pointer).
        XAUTHORITY=str(state / "Xauthority"),
        READY_TIMEOUT="60",
        # The door's token, known before the start (a test may drop it to have one made).
        ACCESS_TOKEN=secrets.token_urlsafe(24),
        AWS_EC2_METADATA_DISABLED="true",
        NO_GCE_CHECK="True",
    )
    env.pop("CONFIG_DIR", None)
    env.update(extra or {})
    return Stack(env, display, http_port, streamlit_port, novnc_port, vnc_port, state, home)


def run_script(stack: Stack, name: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(IMAGE / name)],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextlib.contextmanager
def running_stack(stack: Stack, *, webapp: bool = True) -> Iterator[Stack]:
    """Start the desktop (and the app) with the project's own scripts; stop all of it after."""
    try:
        for script in ("start_desktop.sh", "start_webapp.sh")[: 2 if webapp else 1]:
            done = run_script(stack, script)
            assert done.returncode == 0, f"{script} failed:\n{done.stderr}\n{stack.logs()}"
        yield stack
    finally:
        for script in ("stop_webapp.sh", "stop_desktop.sh"):
            with contextlib.suppress(Exception):
                run_script(stack, script, timeout=60)
        shutil.rmtree(stack.state_dir, ignore_errors=True)


@contextlib.contextmanager
def entrypoint(stack: Stack, tmp: Path, log_copy: Path) -> Iterator[Path]:
    """image/entrypoint.sh for ``stack``, up once the door and the chat app answer; yields its
    output's path. Afterwards all of it is stopped and the logs are copied to ``log_copy``."""
    out = tmp / "entrypoint.log"
    log = open(out, "w")
    proc = subprocess.Popen(
        ["bash", str(IMAGE / "entrypoint.sh")],
        env=stack.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for path in ("healthz", "chat/_stcore/health?token="):
            # The token as it is once the door runs (the door may make it when it starts).
            url = f"{stack.door_url}{path}" + (stack.token if path.endswith("=") else "")
            deadline = time.monotonic() + 120
            while True:  # until it answers, or the start gave up (its output says why)
                try:
                    wait_http(url, timeout=2)
                    break
                except AssertionError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(
                            f"{url} does not answer; the start said:\n{out.read_text()}"
                        ) from None
        yield out
    finally:
        kill_tree(proc, grace=60)
        left = marked_pids(str(stack.state_dir))  # whatever the entrypoint left (none, we hope)
        kill_marked(str(stack.state_dir))
        log.close()
        log_copy.parent.mkdir(parents=True, exist_ok=True)
        log_copy.write_text(out.read_text(errors="replace") + "\n" + stack.logs())
        shutil.rmtree(stack.state_dir, ignore_errors=True)
        assert not left, f"the entrypoint left processes running: {left}"


def pointer(stack: Stack) -> tuple[int, int]:
    """Where the X pointer of the stack's desktop is."""
    env = {**stack.env, "DISPLAY": f":{stack.display}"}
    cookie = stack.desktop_state / "Xauthority"
    if cookie.exists():
        env["XAUTHORITY"] = str(cookie)
    out = subprocess.run(
        ["xdotool", "getmouselocation", "--shell"],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    where = dict(line.split("=", 1) for line in out.split())
    return int(where["X"]), int(where["Y"])
