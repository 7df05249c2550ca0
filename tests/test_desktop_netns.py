"""The remote case across network namespaces: the desktop server on TCP in one namespace, the
agent's loop (and the fake Messages API, on its own loopback) in another, joined only by a veth
pair between the two (both ends in namespaces this test made; nothing routes to the host's
network). A wrong or missing token is refused; a task runs; the person's stop ends a running
``sleep 100`` within a second. The X display is shared through its socket file, as a desktop's
own processes would share it.

Needs root and iproute2 (``ip netns``); skipped otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.desktop_server import REPO, start
from tests.support.procs import kill_tree
from tests.support.remote_run import TYPED
from tests.support.xvfb import XDisplay, xvfb
from tests.test_computer import App

pytestmark = [
    pytest.mark.desktop,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("ip"), reason="network namespaces need root and ip"
    ),
]

DISPLAYS = range(180, 190)
#: Any port: nothing else listens in a namespace this test just made.
PORT = 7017


@dataclass(frozen=True)
class Namespaces:
    """The desktop's namespace and the agent's, and the desktop's address on their link."""

    desktop: str
    agent: str
    desktop_address: str

    def exec(self, name: str) -> list[str]:
        return ["ip", "netns", "exec", name]


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def two_namespaces() -> Iterator[Namespaces]:
    """Two fresh network namespaces joined by a veth pair made between them (never in ours)."""
    tag = f"{os.getpid() % 100000}"
    desktop, agent = f"cud17d-{tag}", f"cud17a-{tag}"
    subnet = f"10.17.{os.getpid() % 250}"
    ip("netns", "add", desktop)
    try:
        ip("netns", "add", agent)
        try:
            inside = ["netns", "exec", desktop, "ip"]
            ip(*inside, "link", "add", "vdesk", "type", "veth", "peer", "name", "vagent", "netns", agent)  # fmt: skip
            ip(*inside, "addr", "add", f"{subnet}.1/30", "dev", "vdesk")
            ip(*inside, "link", "set", "vdesk", "up")
            ip(*inside, "link", "set", "lo", "up")
            there = ["netns", "exec", agent, "ip"]
            ip(*there, "addr", "add", f"{subnet}.2/30", "dev", "vagent")
            ip(*there, "link", "set", "vagent", "up")
            ip(*there, "link", "set", "lo", "up")
            yield Namespaces(desktop, agent, f"{subnet}.1")
        finally:
            subprocess.run(["ip", "netns", "del", agent], capture_output=True, timeout=30)
    finally:
        subprocess.run(["ip", "netns", "del", desktop], capture_output=True, timeout=30)


@dataclass(frozen=True)
class Remote:
    spaces: Namespaces
    url: str
    token: str
    display: XDisplay
    folder: Path


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    folder = tmp_path_factory.mktemp("netns")
    token = secrets.token_urlsafe(32)
    token_file = folder / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    with xvfb(DISPLAYS) as display, two_namespaces() as spaces:
        address = f"{spaces.desktop_address}:{PORT}"
        argv = ["--tcp", address, "--token-file", str(token_file), "--display", display.name]
        server = start(argv, prefix=spaces.exec(spaces.desktop))
        try:
            yield Remote(spaces, f"http://{address}", token, display, folder)
        finally:
            kill_tree(server)


def in_agent_namespace(remote: Remote, code: str) -> str:
    """Run Python ``code`` in the agent's namespace; its stdout."""
    done = subprocess.run(
        [*remote.spaces.exec(remote.spaces.agent), sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def agent_run(remote: Remote, scenario: str, token: str, **paths: str) -> dict:
    """The loop in the agent's namespace (tests/support/remote_run.py); its summary."""
    out = remote.folder / f"{scenario}-{secrets.token_hex(4)}.json"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "DISPLAY_NUM", "WIDTH", "HEIGHT")
    }
    env.update(COMPUTER_USE_DESKTOP=remote.url, COMPUTER_USE_DESKTOP_TOKEN=token)
    argv = [sys.executable, "-m", "tests.support.remote_run", scenario, str(out)]
    argv += [f"{k}={v}" for k, v in paths.items()]
    done = subprocess.run(
        [*remote.spaces.exec(remote.spaces.agent), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_the_agents_namespace_reaches_the_server(remote: Remote) -> None:
    probe = (
        "import socket\n"
        "s = socket.socket(); s.settimeout(2)\n"
        f"print(s.connect_ex(({remote.spaces.desktop_address!r}, {PORT})))\n"
    )
    assert in_agent_namespace(remote, probe).strip() == "0"


def test_a_wrong_or_missing_token_is_refused(remote: Remote) -> None:
    code = (
        "import httpx\n"
        f"url = {remote.url!r} + '/v1/info'\n"
        "def status(token):\n"
        "    headers = {'authorization': f'Bearer {token}'} if token else {}\n"
        "    return httpx.get(url, headers=headers, timeout=10).status_code\n"
        f"print(status(None), status('wrong-token-0123456789'), status({remote.token!r}))\n"
    )
    assert in_agent_namespace(remote, code).split() == ["401", "401", "200"]


def test_a_wrong_token_reaches_the_model_as_an_error(remote: Remote) -> None:
    summary = agent_run(remote, "kill", "not-the-token-0123456789")
    assert summary["invalid_requests"] == []
    for key in ("toolu_kill", "toolu_after"):
        result = summary["results"][key]
        assert result["is_error"] and "refused our token (401)" in result["text"], result


def test_a_task_runs_across_namespaces(remote: Remote) -> None:
    typed, note = remote.folder / "typed.txt", remote.folder / "note.txt"
    xterm = App(
        remote.display,
        ["xterm", "-geometry", "40x10+0+0", "-T", "typing", "-e", "sh", "-c", f"cat > {typed}"],
    )
    try:
        xterm.wait_for_window("typing")
        summary = agent_run(remote, "task", remote.token, note=str(note), typed=str(typed))
    finally:
        xterm.stop()
    assert summary["reason"] == "end_turn" and summary["invalid_requests"] == []
    results = summary["results"]
    assert not [k for k, r in results.items() if r["is_error"]], results
    assert results["toolu_shot"]["images"] == ["image/png"]
    assert f"on {remote.display.name}" in results["toolu_bash"]["text"]
    assert TYPED in results["toolu_bash"]["text"]
    assert note.read_text() == "one\n2\n"


def test_stop_ends_a_running_sleep_within_a_second(remote: Remote) -> None:
    summary = agent_run(remote, "stop", remote.token)
    assert summary["reason"] == "stopped" and summary["invalid_requests"] == []
    assert summary["alive_before_stop"] is True
    assert summary["group_gone_after"] < 1.0, summary
