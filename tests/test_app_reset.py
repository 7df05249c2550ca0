"""Reset in the chat app: stops the agent, restarts ALL of the real desktop, clears the chat."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from computer_use_demo.app import runner as ui_runner
from tests.fake_api import FakeAnthropicAPI, message, tool_use
from tests.support.bash import alive
from tests.support.procs import kill_tree
from tests.support.ui import (
    Stack,
    all_text,
    app,
    chat_tab,
    free_ports,
    run_until,
    running_stack,
    stack_env,
    ui_home,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.desktop
PARTS = ("xvfb", "mutter", "tint2", "x11vnc", "novnc")


@pytest.fixture
def desktop(
    tmp_path: Path,
    ui_home: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    stack = stack_env(tmp_path)
    with running_stack(stack, webapp=False):
        for name in (
            "DISPLAY_NUM",
            "WIDTH",
            "HEIGHT",
            "VNC_PORT",
            "NOVNC_PORT",
            "STATE_DIR",
            "XAUTHORITY",
        ):
            monkeypatch.setenv(name, stack.env[name])
        monkeypatch.setenv("BIND_ADDR", "127.0.0.1")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-reset-test-000000")
        yield stack
        ui_runner.stop_all(timeout=15)


def pids(stack: Stack) -> dict[str, int]:
    return {p: int((stack.state_dir / f"{p}.pid").read_text()) for p in PARTS}


def test_reset_restarts_the_whole_desktop_and_clears_the_chat(
    desktop: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    (port,) = free_ports(
        1, exclude={desktop.http_port, desktop.streamlit_port, desktop.novnc_port, desktop.vnc_port}
    )
    with FakeAnthropicAPI([message(tool_use("bash", {"command": "sleep 60"}))], port=port) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        before = pids(desktop)
        # An app opened on the desktop (it carries the desktop's marker, as panel launches do).
        marker = f"COMPUTER_USE_DESKTOP_MARK=:{desktop.display}@{desktop.state_dir}"
        app_proc = subprocess.Popen(
            ["env", marker, "sleep", "300"], start_new_session=True, env=desktop.env
        )
        try:
            at = app(timeout=120)
            at.chat_input[0].set_value("a long task").run()
            at = run_until(at, lambda a: "bash sleep 60" in all_text(a.main))
            session_id = at.query_params["session"]
            run = ui_runner.get_run(session_id)
            assert run is not None and run.running

            started = time.monotonic()
            at.button(key="reset").click().run()
            assert not at.exception, at.exception
            assert time.monotonic() - started < 60
            assert not at.error, [e.value for e in at.error]

            # The agent was stopped, the chat is cleared (a new, empty session).
            assert not run.running and run.done is not None and run.done.reason == "stopped"
            assert at.query_params["session"] == "new"
            assert "a long task" not in all_text(chat_tab(at))
            # Every part of the desktop is new and running; the app on it is gone.
            after = pids(desktop)
            for part in PARTS:
                assert after[part] != before[part], part
                assert alive(after[part]) and not alive(before[part]), part
            assert app_proc.wait(10) is not None
            env = {**os.environ, "DISPLAY": f":{desktop.display}"}
            assert subprocess.run(["xdpyinfo"], env=env, capture_output=True).returncode == 0
        finally:
            if app_proc.poll() is None:
                kill_tree(app_proc)
