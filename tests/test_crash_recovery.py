"""A run cut off by the app's death (kill -9) is told as a crash when its session is next
opened: the chat says so, the cut tool call is answered with that, and the next message goes
on from a valid history (the fake API validates it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from computer_use_demo.agent.events import Done, ToolStarted
from computer_use_demo.app import runner as ui_runner
from computer_use_demo.app.runner import INTERRUPT_TEXT
from computer_use_demo.sessions.trajectory import APP_STOPPED, Trajectory
from tests.fake_api import message, text, tool_use
from tests.support.loop import MODEL, config, fake_api_fixture  # noqa: F401 - fixture
from tests.support.ui import all_text, app, chat_tab, ui_home  # noqa: F401 - fixture

#: The chat app's runner in a process of its own: one message, then it waits to be killed.
APP_PROCESS = """
import sys, time
from computer_use_demo.agent.loop import LoopConfig
from computer_use_demo.app import runner
from computer_use_demo.sessions.trajectory import Trajectory

config = LoopConfig(model=sys.argv[3], api_key="sk-ant-test-secret", base_url=sys.argv[2],
                    max_retries=0, context_editing=False, compaction=False)
runner.send_message(Trajectory.open(sys.argv[1]), config, "count to a million, slowly")
time.sleep(600)
"""


def _started(trajectory: Trajectory) -> bool:
    return any(isinstance(e, ToolStarted) for e in trajectory.events(images=False))


def _crash_mid_tool(fake_api, trajectory: Trajectory) -> None:
    """Run the session in another process until its bash call runs, then kill -9 it."""
    fake_api.push(message(tool_use("bash", {"command": "sleep 300"})))
    proc = subprocess.Popen(
        [sys.executable, "-c", APP_PROCESS, str(trajectory.path), fake_api.url, MODEL],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _started(trajectory):
            assert proc.poll() is None, "the app process ended early"
            assert time.monotonic() < deadline, "the bash call never started"
            time.sleep(0.1)
        # A live app's session is not taken for a crashed one.
        assert trajectory.close_interrupted() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def test_a_killed_run_is_closed_as_interrupted_and_the_next_message_goes_on(
    fake_api, tmp_path: Path
) -> None:
    trajectory = Trajectory.create(tmp_path / "sessions", title="crash")
    _crash_mid_tool(fake_api, trajectory)
    assert not any(isinstance(e, Done) for e in trajectory.events(images=False))

    events = ui_runner.session_events(trajectory)
    done = events[-1]
    assert isinstance(done, Done) and done.reason == "interrupted"
    assert done.detail == APP_STOPPED and done.steps == 1
    (result,) = [
        b
        for m in Trajectory.open(trajectory.path).messages()
        for b in m["content"]
        if b["type"] == "tool_result"
    ]
    assert result["content"] == APP_STOPPED and result["is_error"]
    # Opening it again changes nothing: the run is closed once.
    assert trajectory.close_interrupted() is None

    fake_api.push(message(text("Starting over.")))
    try:
        run = ui_runner.send_message(trajectory, config(fake_api), "try again")
        assert run.wait(60) is not None and run.done.reason == "end_turn"
    finally:
        ui_runner.stop_all(timeout=15)
    assert not fake_api.invalid_requests
    sent = fake_api.requests[-1].body["messages"]
    assert sent[-1]["role"] == "user"
    texts = [b.get("text") for b in sent[-1]["content"] if b["type"] == "text"]
    assert texts[-2:] == [INTERRUPT_TEXT, "try again"]
    assert sent[-1]["content"][0]["content"] == APP_STOPPED


def test_the_chat_says_the_run_was_interrupted(
    fake_api,
    ui_home: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-secret")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.url)
    sessions = ui_home / "sessions"
    trajectory = Trajectory.create(sessions, title="crash in the chat")
    _crash_mid_tool(fake_api, trajectory)

    page = app()  # a new tab after the restart: the newest session is shown
    shown = all_text(chat_tab(page))
    assert APP_STOPPED in shown
    assert "stopped by the user" not in shown.lower().replace(APP_STOPPED.lower(), ""), (
        "a crash is not a stop"
    )
    lines = (trajectory.path / "messages.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["reason"] == "interrupted"
