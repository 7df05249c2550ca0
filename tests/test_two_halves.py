"""Two halves on the real stack (image/entrypoint.sh as root): the desktop runs as its own user,
and nothing the agent can run there reaches a secret.

A scripted model (the fake Messages API) makes the agent try every way to the key, the door's
token and the agent's state: the environment, every process's /proc/*/environ, the key, token
and settings files, `sudo -n`, `ps eww`, the editor viewing those files, the chat app's port and
socket, the pause file, the Firefox policy, the desktop server's socket. Each attempt's refusal
is asserted on what the model got back, and no request the fake API received carries the key
or the token in its body. Then AGENT_SUDO: off by default, and =1 gives the desktop's user sudo
(the start says what that gives away).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from computer_use_demo.agent.prompts import system_prompt
from tests.fake_api import FakeAnthropicAPI
from tests.support.halves import (
    DESKTOP_USER,
    KEY,
    NOT_WIRED,
    Attempt,
    check_refusals,
    exfil_plan,
    run_task,
    scripted,
    tools_use_the_desktop_server,
)
from tests.support.procs import kill_marked, kill_tree
from tests.support.ui import Stack, entrypoint, free_display, free_ports, stack_env

pytestmark = [
    pytest.mark.browser,
    pytest.mark.desktop,
    pytest.mark.skipif(os.geteuid() != 0, reason="two users take root (the entrypoint drops)"),
]


def test_the_system_prompt_says_what_the_desktop_allows() -> None:
    no_sudo = system_prompt(sudo=False)
    assert "no sudo" in no_sudo and "apt-get" in no_sudo and "feel free to install" not in no_sudo
    assert "feel free to install" in system_prompt(sudo=True)
    assert "feel free to install" in system_prompt(sudo=None)  # unknown: the reference's words


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: str) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("halves")
    (api_port,) = free_ports(1)
    plan: list[Attempt] = []
    with FakeAnthropicAPI(port=api_port, default=scripted(plan)) as api:
        s = stack_env(tmp, extra={"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": KEY})
        # The key in the agent's config folder too (what the sidebar saves), and settings.
        config = s.home / ".anthropic"
        config.mkdir(mode=0o700)
        (config / "api_key").write_text(KEY)
        (config / "settings.json").write_text("{}")
        with entrypoint(s, tmp, Path(artifacts_dir) / "halves-logs" / "stack.log"):
            door_pid = (s.state_dir / "webapp" / "webpage.pid").read_text().strip()
            plan.extend(
                exfil_plan(
                    home=PurePosixPath(s.home),
                    state=PurePosixPath(s.state_dir),
                    door_url=s.door_url,
                    door_pid=door_pid,
                )
            )
            s.api = api  # type: ignore[attr-defined]
            s.plan = plan  # type: ignore[attr-defined]
            yield s


@pytest.mark.skipif(not tools_use_the_desktop_server(), reason=NOT_WIRED)
def test_nothing_the_agent_runs_reaches_a_secret(stack: Stack) -> None:
    run_task(stack.page_url, f"{stack.door_url}chat/")
    check_refusals(stack.api, stack.plan, key=KEY, token=stack.token)  # type: ignore[attr-defined]
    # The chat app listens on no TCP port at all (only its socket, tried above).
    streamlit = int((stack.state_dir / "webapp" / "streamlit.pid").read_text())
    assert not tcp_listeners(streamlit), "the chat app listens on TCP"


def test_the_desktop_server_runs_as_the_desktop_and_its_socket_is_the_agents(
    stack: Stack,
) -> None:
    """The desktop's user made the socket, then lost it to the agent: only the agent connects,
    and the desktop's user can neither reach the folder nor put a socket of its own there."""
    socket = stack.state_dir / "desktop-server" / "desktop.sock"
    for path, mode in ((socket, 0o600), (socket.parent, 0o700)):
        info = path.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (os.getuid(), mode), path
    info = subprocess.run(
        ["curl", "-sS", "--unix-socket", str(socket), "http://desktop/v1/info"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert json.loads(info.stdout)["user"] == DESKTOP_USER, info.stdout + info.stderr
    tries = "rm -f {0}; ls {1}; python3 -c 'import socket; socket.socket(1).bind(\"{1}/x\")'"
    tried = subprocess.run(
        [
            "setpriv",
            f"--reuid={DESKTOP_USER}",
            f"--regid={DESKTOP_USER}",
            "--init-groups",
            "sh",
            "-c",
            tries.format(socket, socket.parent),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert tried.stderr.count("Permission denied") == 3, tried.stderr
    assert socket.exists()


def test_reset_restarts_the_desktop_as_its_own_user(stack: Stack) -> None:
    """The chat app's Reset (image/desktop_ctl.sh, as root: the image's agent calls it through
    sudo) restarts every part of the desktop as the desktop's user, with root's notes."""
    desktop = stack.state_dir / "desktop"
    before = (desktop / "xvfb.pid").read_text().strip()
    done = subprocess.run(
        ["bash", "image/desktop_ctl.sh", "restart", str(stack.display)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    after = (desktop / "xvfb.pid").read_text().strip()
    assert after != before
    assert Path(f"/proc/{after}").stat().st_uid == int(
        subprocess.run(["id", "-u", DESKTOP_USER], capture_output=True, text=True).stdout
    )
    # Anything but a number, or a display the entrypoint did not start, is refused.
    for args in (["restart", "1; id"], ["restart", "97"], ["reboot", "1"]):
        bad = subprocess.run(
            ["bash", "image/desktop_ctl.sh", *args],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=Path(__file__).resolve().parents[1],
        )
        assert bad.returncode != 0, args


def tcp_listeners(pid: int) -> list[int]:
    """The TCP ports process ``pid`` listens on (its sockets in /proc/net/tcp*, state 0A)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def sudo_as_desktop() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "setpriv",
            f"--reuid={DESKTOP_USER}",
            f"--regid={DESKTOP_USER}",
            "--init-groups",
            "sudo",
            "-n",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("agent_sudo", ["0", "1"])
def test_agent_sudo_is_opt_in_and_says_what_it_gives_away(tmp_path: Path, agent_sudo: str) -> None:
    """The desktop half alone (COMPUTER_USE_ROLE=desktop): without AGENT_SUDO its user has no
    sudo (and its processes no new privileges); AGENT_SUDO=1 gives it sudo."""
    env = {**os.environ, "COMPUTER_USE_ROLE": "desktop", "AGENT_SUDO": agent_sudo}
    state = Path(stack_env(tmp_path).state_dir)
    vnc, novnc = free_ports(2)
    env.update(
        DISPLAY_NUM=str(free_display()),
        STATE_DIR=str(state),
        VNC_PORT=str(vnc),
        NOVNC_PORT=str(novnc),
        BIND_ADDR="127.0.0.1",
        READY_TIMEOUT="60",
    )
    out = tmp_path / "out.log"
    with out.open("w") as log:
        proc = subprocess.Popen(
            ["bash", "image/entrypoint.sh"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=Path(__file__).resolve().parents[1],
        )
    try:
        deadline = time.monotonic() + 90
        while "desktop is ready" not in out.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        xvfb = (state / "desktop" / "xvfb.pid").read_text().strip()
        status = Path(f"/proc/{xvfb}/status").read_text()
        sudo = sudo_as_desktop()
        if agent_sudo == "1":
            assert sudo.returncode == 0, sudo.stderr
            assert re.search(r"^NoNewPrivs:\s+0", status, re.M)
        else:
            assert sudo.returncode != 0
            assert re.search(r"^NoNewPrivs:\s+1", status, re.M)
            assert not Path("/etc/sudoers.d/computer-use-desktop").exists()
    finally:
        kill_tree(proc, grace=30)
        kill_marked(str(state))
        shutil.rmtree(state, ignore_errors=True)
    assert not Path("/etc/sudoers.d/computer-use-desktop").exists(), "sudo outlived the run"
    assert ("passwordless sudo" in out.read_text()) == (agent_sudo == "1")


def test_not_root_the_start_refuses_and_says_how(tmp_path: Path) -> None:
    """As another user, the start cannot drop to the desktop's user: it says so and what to do
    (run it as root, or one user on purpose), and starts nothing."""
    top = Path(tempfile.mkdtemp(prefix="cud-nonroot-"))
    try:
        top.chmod(0o755)
        shutil.copytree(Path(__file__).resolve().parents[1] / "image", top / "image")
        done = subprocess.run(
            [
                "setpriv",
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "bash",
                str(top / "image" / "entrypoint.sh"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": os.environ["PATH"], "HOME": "/nonexistent", "DISPLAY_NUM": "89"},
        )
    finally:
        shutil.rmtree(top, ignore_errors=True)
    assert done.returncode != 0
    assert f"runs as its own user ({DESKTOP_USER})" in done.stderr
    assert "sudo ./scripts/start" in done.stderr and "DESKTOP_USER=nobody" in done.stderr
    assert "ready" not in done.stdout
