"""The CLI in a real terminal (tmux) against the fake Messages API: text shows as it streams,
p takes the desktop (no API call while paused) and p hands it back (the next request carries
the note)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.agent.pause import HANDED_BACK
from tests.fake_api import FakeAnthropicAPI, Reply, message, text, tool_use
from tests.support.loop import fake_api_fixture  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[1]
STORY = "Once upon a time there was a terminal that printed words as they came, slowly, to the end."

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (image/packages/test.txt)"
)


class Terminal:
    """One tmux server of our own (its socket in tmp), one window running a command."""

    def __init__(self, tmp: Path, name: str = "tmux") -> None:
        self.socket = str(tmp / f"{name}.sock")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", self.socket, *args], capture_output=True, text=True, timeout=20
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, command: str) -> None:
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "60", command)
        self.tmux("set-option", "-g", "remain-on-exit", "on")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-200")

    def wait_for(self, wanted: str | Callable[[str], bool], timeout: float = 30) -> str:
        check = wanted if callable(wanted) else (lambda s: wanted in s)
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            assert time.monotonic() < deadline, f"timed out waiting for {wanted!r}:\n{screen}"
            time.sleep(0.1)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=20)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(tmp_path)
    try:
        yield term
    finally:
        term.close()


def cli_command(api: FakeAnthropicAPI, *args: str) -> str:
    env = {
        "ANTHROPIC_API_KEY": "sk-ant-tmux-secret",
        "PYTHONWARNINGS": "ignore",
        "BIND_ADDR": "127.0.0.1",
    }
    argv = [sys.executable, "-m", "computer_use_demo", "--base-url", api.url, "--no-save", *args]
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return f"cd {shlex.quote(str(REPO))} && env -u ANTHROPIC_BASE_URL {assigns} {shlex.join(argv)}"


def test_streamed_text_shows_before_the_reply_ends(
    fake_api: FakeAnthropicAPI, terminal: Terminal
) -> None:
    fake_api.push(message(text(STORY), chunk_delay=0.3))  # about 3 s of streaming
    terminal.start(cli_command(fake_api, "tell a story"))
    partial = terminal.wait_for("Claude: Once upon")
    assert "to the end." not in partial
    final = terminal.wait_for("Done: end_turn")
    assert final.count(STORY) == 1


def test_p_takes_the_desktop_and_p_hands_it_back(
    fake_api: FakeAnthropicAPI, terminal: Terminal
) -> None:
    def after_the_tool(body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]["content"]
        noted = any(b.get("text") == HANDED_BACK for b in last if isinstance(b, dict))
        return message(text("Back at it." if noted else "No note came."))

    fake_api.push(message(tool_use("bash", {"command": "sleep 3"})), after_the_tool)
    terminal.start(cli_command(fake_api, "do something slow"))
    terminal.wait_for('→ bash {"command": "sleep 3"}')
    terminal.keys("p")
    terminal.wait_for("Paused: the desktop is yours", timeout=30)
    time.sleep(1.5)
    assert len(fake_api.requests) == 1  # none while paused
    terminal.keys("p")
    screen = terminal.wait_for("Done: end_turn", timeout=30)
    assert "Handed back: Claude is told." in screen and "Claude: Back at it." in screen
    assert len(fake_api.requests) == 2 and not fake_api.invalid_requests


def test_an_ask_is_answered_on_the_terminal(
    fake_api: FakeAnthropicAPI, terminal: Terminal, tmp_path: Path
) -> None:
    def answer(body: dict[str, Any]) -> Reply:
        (result,) = body["messages"][-1]["content"][:1]
        refused = result.get("is_error") and "denied this action" in str(result["content"])
        return message(text("You said no, so I stop here." if refused else "It ran."))

    fake_api.push(
        message(tool_use("bash", {"command": "echo typed-in-tmux"})),
        answer,
        message(tool_use("bash", {"command": "echo second-time"})),
        answer,
    )
    terminal.start(cli_command(fake_api, "--approve", "bash=ask", "run things"))
    terminal.wait_for("? Allow bash command: echo typed-in-tmux ? [y/N]")
    assert len(fake_api.requests) == 1
    terminal.keys("n")
    screen = terminal.wait_for("Done: end_turn")
    assert "no (Claude is told you denied it)" in screen
    assert "Claude: You said no, so I stop here." in screen
    assert "← typed-in-tmux" not in screen

    again = Terminal(tmp_path, "again")
    try:
        again.start(cli_command(fake_api, "--approve", "bash=ask", "run again"))
        again.wait_for("? Allow bash command: echo second-time ? [y/N]")
        again.keys("y")
        screen = again.wait_for("Done: end_turn")
    finally:
        again.close()
    assert "← second-time" in screen and "Claude: It ran." in screen
    assert not fake_api.invalid_requests
