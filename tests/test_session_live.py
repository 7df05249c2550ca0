"""A run steered through its session folder (sessions/live.py), as another process does it
(the chat for a run of the task API, the task API for a run of the chat): the note of who
runs it, a stop request, an approval's answer; and a finished run that another process went
on with is read from disk again."""

from __future__ import annotations

import os
import time
from pathlib import Path

from computer_use_demo.agent import history as h
from computer_use_demo.agent.events import ApprovalAnswered, UserMessage
from computer_use_demo.app import runner as ui_runner
from computer_use_demo.sessions import live
from computer_use_demo.sessions.trajectory import Trajectory
from computer_use_demo.tools.approval_policy import ApprovalPolicy
from tests.fake_api import message, text, tool_use
from tests.support.loop import config, fake_api_fixture  # noqa: F401 - fixture


def wait_for(check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


def test_the_note_says_who_runs_the_session(fake_api, tmp_path: Path) -> None:
    trajectory = Trajectory.create(tmp_path / "sessions", title="note")
    try:
        fake_api.push(message(tool_use("bash", {"command": "sleep 30"})), message(text("Ok.")))
        run = ui_runner.send_message(trajectory, config(fake_api), "sleep", owner="task API")
        note = wait_for(lambda: live.runner_of(trajectory.path))
        assert note["pid"] == os.getpid() and note["owner"] == "task API"
        assert live.running_elsewhere(trajectory.path) is None  # it is this very process
        # Another process asks it to stop, through the folder.
        wait_for(lambda: run.run_events()[-1].kind == "tool_started")
        live.request_stop(trajectory.path)
        done = run.wait(30)
        assert done is not None and done.reason == "stopped"
        assert live.runner_of(trajectory.path) is None  # the note goes with the run
        assert not (trajectory.path / live.STOP_FILE).exists()
        assert done.messages == h.heal(done.messages)
    finally:
        ui_runner.stop_all(timeout=15)


def test_an_approval_answered_through_the_folder(fake_api, tmp_path: Path) -> None:
    trajectory = Trajectory.create(tmp_path / "sessions", title="approve")
    cfg = config(fake_api, approval=ApprovalPolicy(bash="ask"))
    try:
        fake_api.push(message(tool_use("bash", {"command": "echo ran"})), message(text("Ok.")))
        run = ui_runner.send_message(trajectory, cfg, "ask me")
        asked = wait_for(run.pending_approval)
        live.send_answer(trajectory.path, asked.id, True)
        done = run.wait(30)
        assert done is not None and done.reason == "end_turn"
        answered = [e for e in run.snapshot()[1] if isinstance(e, ApprovalAnswered)]
        assert answered == [ApprovalAnswered(id=asked.id, approved=True)]
        assert not any((trajectory.path / live.ANSWERS_DIR).iterdir())  # used up
    finally:
        ui_runner.stop_all(timeout=15)


def test_a_session_another_process_went_on_with_is_read_again(fake_api, tmp_path: Path) -> None:
    trajectory = Trajectory.create(tmp_path / "sessions", title="fresh")
    try:
        fake_api.push(message(text("First answer.")))
        run = ui_runner.send_message(trajectory, config(fake_api), "first")
        assert run.wait(30) is not None
        wait_for(lambda: run.file_stamp is not None)
        assert ui_runner.current_run(trajectory) is run
        # Another process (the task API, say) appends to the same session.
        Trajectory.open(trajectory.path).append(UserMessage(text="from elsewhere"))
        assert ui_runner.current_run(trajectory) is None
        events = ui_runner.session_events(trajectory)
        assert any(isinstance(e, UserMessage) and e.text == "from elsewhere" for e in events)
    finally:
        ui_runner.stop_all(timeout=15)


def test_bad_answers_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "session"
    folder.mkdir()
    for bad in ("../escape", "", "a/b"):
        try:
            live.send_answer(folder, bad, True)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was taken")
    assert live.take_answer(folder, "../escape") is None
    assert live.take_answer(folder, "nothing-yet") is None
    assert not live.take_stop_request(folder)
