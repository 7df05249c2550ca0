"""Private by construction: what the agent half writes (saved sessions, settings, the pause
state, the door's control file) is 0700/0600 whatever the process umask, so the desktop's user
(another user on the same machine) reads none of it."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from computer_use_demo.agent.events import ToolResultEvent, UserMessage
from computer_use_demo.agent.pause import PauseGate
from computer_use_demo.app.settings import save_text
from computer_use_demo.door.server import control
from computer_use_demo.sessions.trajectory import Trajectory
from computer_use_demo.tools import ToolResult
from tests.support.images import png_b64


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(top: Path) -> dict[str, int]:
    """Every folder and file under ``top`` (itself included): its permission bits."""
    found = {str(top): stat.S_IMODE(top.stat().st_mode)}
    for path in top.rglob("*"):
        found[str(path)] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_private(top: Path) -> None:
    for path, mode in modes(top).items():
        want = 0o700 if Path(path).is_dir() else 0o600
        assert mode == want, f"{path} is {oct(mode)} (want {oct(want)})"


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_a_saved_session_is_private_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    root = tmp_path / "deep" / "sessions"
    with umask(mask):
        trajectory = Trajectory.create(root, title="private")
        trajectory.append(UserMessage(text="hello"))
        trajectory.append(
            ToolResultEvent(
                tool_use_id="t1", name="computer", result=ToolResult(base64_image=png_b64())
            )
        )
    assert list((trajectory.path / "images").iterdir()), "the screenshot went to a file"
    assert_private(tmp_path / "deep")


def test_settings_pause_and_control_files_are_private(tmp_path: Path) -> None:
    with umask(0):
        save_text("api_key", "sk-ant-private", {"CONFIG_DIR": str(tmp_path / "cfg" / "a")})
        PauseGate(tmp_path / "state" / "webapp" / "person-in-control").take()
        control(tmp_path / "door" / "x" / "control", take=True)
    for top in ("cfg", "state", "door"):
        assert_private(tmp_path / top)
