"""The chat app (Streamlit AppTest) with saved sessions and live runs against the fake API:
rendering of every block type, redaction, errors, usage, progress, interrupt, stop, sessions.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from computer_use_demo.agent.events import (
    ApiExchange,
    AssistantBlock,
    Done,
    ErrorEvent,
    StepStarted,
    ToolResultEvent,
    ToolStarted,
    Usage,
    UserMessage,
)
from computer_use_demo.app import runner as ui_runner
from computer_use_demo.sessions.trajectory import Trajectory, list_trajectories
from computer_use_demo.tools.base import CLIResult, ToolResult
from tests.fake_api import FakeAnthropicAPI, message, text, tool_use
from tests.support.images import png_b64
from tests.support.ui import (  # noqa: F401 - fixture
    APP,
    all_text,
    app,
    chat_tab,
    free_ports,
    run_until,
    ui_home,
)

API_KEY = "sk-ant-test-key-4242424242"


@pytest.fixture
def home(ui_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:  # noqa: F811
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    yield ui_home
    ui_runner.stop_all(timeout=15)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropicAPI]:
    (port,) = free_ports(1)
    with FakeAnthropicAPI(port=port) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        yield server


def http_tab(at: AppTest) -> Any:
    return next(t for t in at.tabs if t.label == "HTTP Exchange Logs")


def images(node: Any) -> list[Any]:
    found: list[Any] = []

    def walk(n: Any) -> None:
        if getattr(n, "type", None) in ("image", "imgs"):
            found.append(n)
        children = getattr(n, "children", None)
        if isinstance(children, dict):
            for c in children.values():
                walk(c)

    walk(node)
    return found


def save_session(home: Path, events: list, title: str = "saved") -> Trajectory:
    trajectory = Trajectory.create(home / "sessions", title=title)
    for ev in events:
        trajectory.append(ev)
    return trajectory


def idle(at: AppTest) -> bool:
    return not [b for b in at.button if b.key == "stop_agent"]


EVERY_BLOCK = [
    UserMessage(text="Please **check** the weather"),
    StepStarted(step=1),
    AssistantBlock(
        block={"type": "thinking", "thinking": "Let me think it over", "signature": "s"}
    ),
    AssistantBlock(block={"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"}),
    AssistantBlock(block={"type": "text", "text": "I will look at the screen."}),
    AssistantBlock(
        block={
            "type": "tool_use",
            "id": "t1",
            "name": "computer",
            "input": {"action": "screenshot"},
        }
    ),
    ToolStarted(tool_use_id="t1", name="computer", input={"action": "screenshot"}),
    ToolResultEvent(
        tool_use_id="t1", name="computer", result=ToolResult(base64_image=png_b64(colour="green"))
    ),
    AssistantBlock(
        block={"type": "tool_use", "id": "t2", "name": "bash", "input": {"command": "uname"}}
    ),
    ToolResultEvent(tool_use_id="t2", name="bash", result=CLIResult(output="Linux-output-line")),
    ToolResultEvent(tool_use_id="t3", name="bash", result=CLIResult(error="bash-failed-here")),
    ErrorEvent(message="Number of requests exceeded", status=429, retry_after=42),
    Usage(input_tokens=1500, output_tokens=120, cache_read_input_tokens=700, cost_usd=0.0123),
    Done(reason="error", steps=1),
]


def test_every_block_type_renders_and_screenshots_can_be_hidden(home: Path) -> None:
    save_session(home, EVERY_BLOCK)
    at = app()
    chat = chat_tab(at)
    shown = all_text(chat)
    for expected in (
        "Please **check** the weather",
        "Let me think it over",
        "Redacted thinking",
        "I will look at the screen.",
        "Tool Use: computer",
        '"action": "screenshot"',
        "Tool Use: bash",
        "Linux-output-line",
        "bash-failed-here",
        "Rate limited",
        "Retry after 42 s",
    ):
        assert expected in shown, expected
    assert "Traceback" not in shown
    assert len(images(chat)) == 1
    # CLI output is code, errors are red (st.error), the thinking sits in an expander.
    assert any(c.value == "Linux-output-line" for c in chat.code)
    assert any(e.value == "bash-failed-here" for e in chat.error)
    assert any(e.label == "Thinking" for e in chat.expander)
    # The live usage line.
    assert any(
        "1,500 in" in c.value and "700 read" in c.value and "$0.0123" in c.value for c in at.caption
    )
    bubbles = len(chat.chat_message)

    at.checkbox(key="hide_images").check().run()
    chat = chat_tab(at)
    assert images(chat) == []
    # The screenshot-only result disappears entirely; the others stay.
    assert len(chat.chat_message) == bubbles - 1
    assert "Linux-output-line" in all_text(chat)


def test_http_log_redacts_every_secret(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-value-123456")
    exchange = ApiExchange(
        method="POST",
        url="https://example.googleapis.com/v1/messages?key=google-api-key-98765&alt=json",
        request_headers={
            "x-api-key": API_KEY,
            "authorization": "Bearer ya29.google-token-abcdef",
            "x-amz-security-token": "aws-session-token-zzzz",
            "anthropic-version": "2023-06-01",
            "x-custom": f"prefix {API_KEY} suffix",
        },
        request_body={
            "model": "m",
            "messages": [{"role": "user", "content": "uses aws-secret-value-123456 here"}],
        },
        status=200,
        response_headers={"set-cookie": "session=cookie-secret-1", "request-id": "req_1"},
        response_body={"content": [{"type": "text", "text": "hello"}]},
        elapsed_ms=12.5,
    )
    save_session(home, [UserMessage(text="hi"), StepStarted(step=1), exchange])
    at = app()
    log = all_text(http_tab(at))
    assert "anthropic-version: 2023-06-01" in log and "req_1" in log and "hello" in log
    assert "[REDACTED]" in log
    for secret in (
        API_KEY,
        "ya29.google-token-abcdef",
        "aws-session-token-zzzz",
        "google-api-key-98765",
        "cookie-secret-1",
        "aws-secret-value-123456",
    ):
        assert secret not in log, secret
    # ...and nowhere else on the page either.
    assert API_KEY not in all_text(at.main)


def test_a_message_runs_the_agent_and_the_session_is_saved(
    home: Path, api: FakeAnthropicAPI
) -> None:
    api.push(
        message(text("Running a command."), tool_use("bash", {"command": "echo hello-$((6*7))"})),
        message(text("All done: the answer is 42.")),
    )
    at = app()
    at.chat_input[0].set_value("say hello").run()
    run_until(at, lambda a: idle(a) and "All done" in all_text(chat_tab(a)))
    shown = all_text(chat_tab(at))
    assert "say hello" in shown and "hello-42" in shown
    assert any(c.value.strip() == "hello-42" for c in chat_tab(at).code)
    assert len(api.valid_requests) == 2 and not api.invalid_requests
    # The request carried the settings: the key reached the API, the model is the sidebar's.
    sent = api.valid_requests[0].headers
    assert API_KEY in (sent.get("x-api-key"), sent.get("authorization", "").removeprefix("Bearer "))
    assert api.valid_requests[0].body["model"] == at.text_input(key="model").value
    # The HTTP log shows both exchanges without the key.
    log = all_text(http_tab(at))
    assert log.count("/v1/messages") >= 2 and API_KEY not in log

    # Saved: a new tab (or an app restart) shows the same conversation, listed in the sidebar.
    sessions = list_trajectories(home / "sessions")
    assert len(sessions) == 1 and sessions[0].title == "say hello"
    ui_runner.forget(sessions[0].id)
    again = app()
    assert "All done: the answer is 42." in all_text(chat_tab(again))
    assert any(b.label == "say hello" for b in again.sidebar.button)
    assert again.query_params["session"] == sessions[0].id


def test_progress_line_and_stop_button(home: Path, api: FakeAnthropicAPI) -> None:
    api.push(message(tool_use("bash", {"command": "sleep 30"})))
    at = app()
    at.chat_input[0].set_value("wait a while").run()
    at = run_until(at, lambda a: "bash sleep 30" in all_text(a.main))
    progress = next(i.value for i in at.info if "Step" in i.value)
    assert progress.startswith("Step 1") and "bash sleep 30" in progress
    started = time.monotonic()
    at.button(key="stop_agent").click().run()
    run_until(at, idle, timeout=20)
    assert time.monotonic() - started < 15  # the sleeping tool was killed, not waited for
    shown = all_text(chat_tab(at))
    assert "Stopped by the user" in shown and "stopped by the user" in shown


def test_new_message_interrupts_the_running_agent(home: Path, api: FakeAnthropicAPI) -> None:
    api.push(
        message(tool_use("bash", {"command": "sleep 30"}, id="toolu_sleep")),
        message(text("Fine, doing the new thing.")),
    )
    at = app()
    at.chat_input[0].set_value("first task").run()
    at = run_until(at, lambda a: "bash sleep 30" in all_text(a.main))
    started = time.monotonic()
    at.chat_input[0].set_value("actually, do this instead").run()
    run_until(at, lambda a: idle(a) and "Fine, doing the new thing." in all_text(chat_tab(a)))
    assert time.monotonic() - started < 20
    assert not api.invalid_requests, api.invalid_requests[0].error
    last = api.valid_requests[-1].body["messages"]
    # The stopped tool_use is answered, then the reference's note, then the new message.
    turn = last[-1]
    assert turn["role"] == "user"
    kinds = [(b["type"], b.get("text") or b.get("tool_use_id")) for b in turn["content"]]
    assert kinds[0] == ("tool_result", "toolu_sleep")
    assert turn["content"][0]["is_error"] is True
    assert ("text", ui_runner.INTERRUPT_TEXT) in kinds
    assert kinds[-1] == ("text", "actually, do this instead")
    shown = all_text(chat_tab(at))
    assert shown.index("first task") < shown.index("actually, do this instead")


def test_api_errors_are_readable(home: Path, api: FakeAnthropicAPI, monkeypatch) -> None:
    from tests.fake_api import error

    api.push(*[error(429, "Too many requests", retry_after=0) for _ in range(10)])
    at = app()
    at.chat_input[0].set_value("hello").run()
    run_until(at, lambda a: idle(a) and bool(a.error), timeout=90)
    shown = "\n".join(e.value for e in chat_tab(at).error)
    assert "Rate limited" in shown and "Too many requests" in shown
    assert "Traceback" not in shown


def test_sessions_list_open_and_new(home: Path, api: FakeAnthropicAPI) -> None:
    older = save_session(home, [UserMessage(text="older conversation text")], title="older one")
    time.sleep(0.05)
    newer = save_session(home, [UserMessage(text="newer conversation text")], title="newer one")
    at = app()
    # The newest session opens by default; both are listed.
    assert "newer conversation text" in all_text(chat_tab(at))
    labels = [b.label for b in at.sidebar.button]
    assert "older one" in labels and "newer one" in labels
    at.button(key=f"session_{older.id}").click().run()
    assert "older conversation text" in all_text(chat_tab(at))
    assert "newer conversation text" not in all_text(chat_tab(at))
    assert at.query_params["session"] == older.id

    # A reload with the session in the URL reopens it.
    again = AppTest.from_file(APP, default_timeout=30)
    again.query_params["session"] = older.id
    again.run()
    assert "older conversation text" in all_text(chat_tab(again))
    # A bad id in the URL falls back to the newest session.
    bad = AppTest.from_file(APP, default_timeout=30)
    bad.query_params["session"] = "../../etc"
    bad.run()
    assert "newer conversation text" in all_text(chat_tab(bad))

    # New session: an empty chat; the first message creates a third saved session.
    at.button(key="new_session_button").click().run()
    assert "conversation text" not in all_text(chat_tab(at))
    api.push(message(text("Hi from the third session.")))
    at.chat_input[0].set_value("third one").run()
    run_until(at, lambda a: idle(a) and "Hi from the third session." in all_text(chat_tab(a)))
    sessions = list_trajectories(home / "sessions")
    assert len(sessions) == 3 and sessions[0].title == "third one"
    assert {s.id for s in sessions[1:]} == {older.id, newer.id}
    assert "Download HTML replay" in all_text(at.sidebar)
