"""One agent per desktop: a second run on a display in use fails with a clear message (loop,
CLI, the reference's sampling_loop), the chat app asks to stop the other session's agent, and
the lock dies with its holder, however it ends."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from computer_use_demo.agent.events import ErrorEvent
from computer_use_demo.agent.loop import agent_events, sampling_loop
from computer_use_demo.app import runner as ui_runner
from computer_use_demo.desktop.lock import (
    DESKTOP_BUSY,
    DesktopBusy,
    DesktopLock,
    DesktopUnavailable,
)
from computer_use_demo.sessions.trajectory import Trajectory
from tests.fake_api import FakeAnthropicAPI, message, text, tool_use
from tests.support.loop import (
    collect,
    collection,
    config,
    done,
    fake_api_fixture,  # noqa: F401 - fixture
    of,
    sleeper_tool,
    user,
)
from tests.support.ui import all_text, app, chat_tab, run_until, ui_home  # noqa: F401

HOLD = (
    "import sys, time; from computer_use_demo.desktop.lock import DesktopLock; "
    "DesktopLock(sys.argv[1]).acquire('the CLI test'); print('locked', flush=True); "
    "time.sleep(120)"
)


@pytest.fixture
def holder() -> Iterator[subprocess.Popen[str]]:
    """Another process that holds display :97's lock until killed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, "97"], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


def test_the_lock_is_exclusive_per_display_and_says_who_holds_it() -> None:
    first = DesktopLock("91").acquire("session 'weather'")
    try:
        with pytest.raises(DesktopBusy) as busy:
            DesktopLock("91").acquire()
        assert ":91" in str(busy.value) and "session 'weather'" in str(busy.value)
        assert f"pid {os.getpid()}" in str(busy.value) and "stop it first" in str(busy.value)
        assert DesktopLock("91").holder() is not None
        with DesktopLock("92"):  # another display is another desktop
            pass
    finally:
        first.release()
    assert DesktopLock("91").holder() is None
    DesktopLock("91").acquire().release()
    assert oct(DesktopLock("91").path.parent.stat().st_mode & 0o777) == "0o700"


def test_the_lock_is_released_when_its_holder_is_killed(holder: subprocess.Popen[str]) -> None:
    with pytest.raises(DesktopBusy, match=f"the CLI test, pid {holder.pid}"):
        DesktopLock("97").acquire()
    holder.send_signal(signal.SIGKILL)  # a crash: no release, no cleanup of any kind
    holder.wait(10)
    assert DesktopLock("97").holder() is None
    DesktopLock("97").acquire().release()


async def test_a_second_run_on_the_same_desktop_fails_and_sends_nothing(
    fake_api: FakeAnthropicAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY_NUM", "93")
    started = asyncio.Event()
    fake_api.push(message(tool_use("sleep", {})))
    stop = asyncio.Event()
    first = agent_events(
        config(fake_api), user("wait"), tools=collection(sleeper_tool(started)), stop=stop
    )
    consumer = asyncio.ensure_future(_drain(first))
    await asyncio.wait_for(started.wait(), 20)
    sent = len(fake_api.requests)

    events = await collect(config(fake_api), user("me too"), tools=collection())
    (error,) = of(events, ErrorEvent)
    assert error.error_type == DESKTOP_BUSY and ":93" in error.message
    assert done(events).reason == "error" and len(fake_api.requests) == sent

    stop.set()
    await asyncio.wait_for(consumer, 20)
    fake_api.push(message(text("Now it is my turn.")))
    events = await collect(config(fake_api), user("me too"), tools=collection())
    assert done(events).reason == "end_turn", "the first run released the desktop at its end"


async def _drain(events) -> None:  # type: ignore[no-untyped-def]
    async for _ in events:
        pass


def test_the_cli_fails_clearly_while_another_process_has_the_desktop(
    fake_api: FakeAnthropicAPI, holder: subprocess.Popen[str]
) -> None:
    env = {
        **os.environ,
        "DISPLAY_NUM": "97",
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "ANTHROPIC_BASE_URL": fake_api.url,
    }
    cli = subprocess.run(
        [sys.executable, "-m", "computer_use_demo", "--no-save", "click something"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert cli.returncode == 1, (cli.stdout, cli.stderr)
    assert "another agent is already using the desktop :97" in cli.stdout
    assert f"pid {holder.pid}" in cli.stdout
    assert not fake_api.requests


async def test_sampling_loop_raises_while_the_desktop_is_in_use(
    holder: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY_NUM", "97")
    seen: list[object] = []
    with pytest.raises(DesktopUnavailable, match="one agent per desktop"):
        await sampling_loop(
            model="claude-sonnet-4-5-20250929",
            provider="anthropic",  # type: ignore[arg-type]
            system_prompt_suffix="",
            messages=user("hello"),  # type: ignore[arg-type]
            output_callback=seen.append,
            tool_output_callback=lambda *a: seen.append(a),
            api_response_callback=lambda *a: seen.append(a),
            api_key="sk-ant-test",
            tool_version="computer_use_20250124",
        )
    assert seen == []


def test_runner_refuses_a_second_session_unless_told_to_stop_the_first(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    first = Trajectory.create(tmp_path, title="first")
    second = Trajectory.create(tmp_path, title="second")
    fake_api.push(message(tool_use("bash", {"command": "sleep 30"})))
    try:
        running = ui_runner.send_message(first, config(fake_api), "wait")
        _wait(lambda: len(fake_api.requests) == 1 and running.running)
        with pytest.raises(ui_runner.OtherSessionRunning) as busy:
            ui_runner.send_message(second, config(fake_api), "me too")
        assert busy.value.run is running and "first" in str(busy.value)
        assert Trajectory.open(second.path).events() == [], "nothing recorded"
        assert running.running and len(fake_api.requests) == 1

        fake_api.push(message(text("Second here.")))
        after = ui_runner.send_message(second, config(fake_api), "me too", stop_others=True)
        assert running.done is not None and running.done.reason == "stopped"
        assert after.wait(30) is not None and after.done.reason == "end_turn"
    finally:
        ui_runner.stop_all(timeout=15)


def _wait(condition, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def second_task_while_first_runs(
    fake_api: FakeAnthropicAPI, monkeypatch: pytest.MonkeyPatch
) -> AppTest:
    """The app with an agent at work in one session (a 30 s command), then "New session" and a
    second message: where both of the app's choices (stop it and send, keep it) start."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-4242424242")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.url)
    fake_api.push(message(tool_use("bash", {"command": "sleep 30"})))
    at = app()
    at.chat_input[0].set_value("first task").run()
    at = run_until(at, lambda a: "bash sleep 30" in all_text(a.main))
    at.button(key="new_session_button").click().run()
    at.chat_input[0].set_value("second task").run()
    return at


def test_app_asks_before_a_new_session_stops_the_running_agent(
    ui_home: Path,  # noqa: F811
    fake_api: FakeAnthropicAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The issue's case: "New session" during a run, then a message."""
    try:
        at = second_task_while_first_runs(fake_api, monkeypatch)
        assert len(fake_api.requests) == 1, "no second agent started"
        running = [r for r in ui_runner._RUNS.values() if r.running]
        assert len(running) == 1 and running[0].trajectory.title == "first task"
        warning = " ".join(w.value for w in at.warning)
        assert "still working in another session" in warning and "second task" in warning

        fake_api.push(message(text("Second task done.")))
        at.button(key="stop_other_and_send").click().run()
        at = run_until(at, lambda a: "Second task done." in all_text(chat_tab(a)))
        assert running[0].done is not None and running[0].done.reason == "stopped"
        assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
        assert not any("still working" in w.value for w in at.warning)
    finally:
        ui_runner.stop_all(timeout=15)


def test_app_keeps_the_other_agent_when_asked_to(
    ui_home: Path,  # noqa: F811
    fake_api: FakeAnthropicAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        at = second_task_while_first_runs(fake_api, monkeypatch)
        at.button(key="keep_other_running").click().run()
        assert not any("still working" in w.value for w in at.warning)
        (running,) = [r for r in ui_runner._RUNS.values() if r.running]
        assert running.trajectory.title == "first task" and len(fake_api.requests) == 1
        assert running.done is None, "still at work"
    finally:
        ui_runner.stop_all(timeout=15)
