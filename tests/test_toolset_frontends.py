"""The computer toolset's batch (ok, failure, halt) through the two front ends a person uses:
the headless CLI as a subprocess, and the chat app in Streamlit's AppTest, both against the
fake API (which validates the toolset's wire format) and a real Xvfb."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from computer_use_demo.app import runner as ui_runner
from computer_use_demo.sessions.trajectory import Trajectory, list_trajectories
from tests.fake_api import FakeAnthropicAPI, message, text
from tests.fake_api.server import DEFAULT_SECRET
from tests.fake_api.toolset import HALT_TEXT, member_use
from tests.fake_api.validate import validate_request
from tests.support.loop import fake_api_fixture  # noqa: F401 - fixture
from tests.support.ui import (  # noqa: F401 - fixture
    all_text,
    app,
    chat_tab,
    free_display,
    free_ports,
    run_until,
    ui_home,
)
from tests.support.xvfb import XDisplay, use_display, xvfb
from tests.test_cli import cli, finish

pytestmark = pytest.mark.desktop

MODEL = "claude-opus-4-8"
VERSION = "computer_toolset_20260801"
HALT = HALT_TEXT["computer"]


def batch() -> list:
    return [
        message(
            text("Three steps."),
            member_use("mouse_move", {"coordinate": [640, 360]}, "toolu_1"),
            member_use("left_click", {"coordinate": [9000, 10]}, "toolu_2"),
            member_use("screenshot", {}, "toolu_3"),
        ),
        message(text("The click was off the screen; stopping here.")),
    ]


def check_results(api: FakeAnthropicAPI) -> None:
    """The fake accepted every request; the batch came back ok, error, halt."""
    assert not api.invalid_requests, api.invalid_requests[0].error
    assert len(api.valid_requests) == 2
    one, two, three = api.valid_requests[1].body["messages"][-1]["content"]
    assert all(r["toolset_name"] == "computer" for r in (one, two, three))
    assert not one.get("is_error") and two["is_error"] and three["is_error"]
    assert three["content"] == HALT


@pytest.fixture
def display(monkeypatch: pytest.MonkeyPatch) -> Iterator[XDisplay]:
    with xvfb([free_display()], 1280, 720) as d:
        yield use_display(d, monkeypatch)


def test_the_cli_runs_a_toolset_batch(
    fake_api: FakeAnthropicAPI, display: XDisplay, tmp_path: Path
) -> None:
    fake_api.push(*batch())
    args = ("--model", MODEL, "--tool-version", VERSION, "--trajectory-dir", str(tmp_path))
    code, out, err = finish(cli(*args, "click it", api=fake_api))
    assert code == 0, err
    check_results(fake_api)
    assert '→ computer.mouse_move {"coordinate": [640, 360]}' in out
    assert "← Moved the mouse." in out
    assert "← error: " in out and "out of bounds" in out
    assert f"← error: {HALT}" in out
    assert "→ computer.screenshot" not in out  # halted: never started
    assert "Claude: The click was off the screen; stopping here." in out
    # The saved trajectory rebuilds a history the API accepts, toolset_name included.
    (info,) = list_trajectories(tmp_path)
    messages = Trajectory.open(info.path).messages()
    results = messages[2]["content"]
    assert [r.get("toolset_name") for r in results] == ["computer"] * 3
    assert results[2]["content"] == HALT
    body = {"model": MODEL, "max_tokens": 64, "tools": [{"type": VERSION}], "messages": messages}
    validate_request(
        {"x-api-key": "k", "anthropic-version": "2023-06-01"}, body, secret=DEFAULT_SECRET
    )


@pytest.fixture
def home(ui_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:  # noqa: F811
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-4242424242")
    yield ui_home
    ui_runner.stop_all(timeout=15)


def test_the_chat_app_shows_a_toolset_batch(
    home: Path, display: XDisplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    (port,) = free_ports(1)
    with FakeAnthropicAPI(port=port) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        api.push(*batch())
        at = app()
        at.text_input(key="model").set_value(MODEL).run()
        at.radio(key="tool_version").set_value(VERSION).run()
        at.chat_input[0].set_value("click it").run()
        at = run_until(at, lambda a: "stopping here" in all_text(chat_tab(a)))
        check_results(api)
        assert api.valid_requests[0].body["tools"][0] == {"type": VERSION}
    chat = chat_tab(at)
    shown = all_text(chat)
    assert "Tool Use: computer.left_click" in shown
    assert any("Moved the mouse." in m.value for m in chat.markdown)
    errors = [e.value for e in chat.error]
    assert any("out of bounds" in e for e in errors) and HALT in errors
