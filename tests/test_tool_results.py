"""What the model gets back: both streams of a command, is_error only for a real failure, a
system note on its own, and never a whitespace-only text block (the API answers 400), also
when a saved session already holds some. The real loop, real bash, the validating fake API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.agent.events import AssistantBlock, Done, ToolResultEvent, UserMessage
from computer_use_demo.app import runner as ui_runner
from computer_use_demo.sessions.trajectory import Trajectory
from computer_use_demo.tools import BashTool20250124, CLIResult, ToolCollection
from tests.fake_api import FakeAnthropicAPI, message, text, tool_use
from tests.fake_api.validate import Invalid, validate_request
from tests.support.loop import collect, config, done, fake_api_fixture, of, user  # noqa: F401


def results_of(record: Any) -> dict[str, dict[str, Any]]:
    last = record.body["messages"][-1]["content"]
    return {b["tool_use_id"]: b for b in last if b["type"] == "tool_result"}


def texts(block: dict[str, Any]) -> str:
    content = block["content"]
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


async def test_bash_results_carry_both_streams_and_the_real_outcome(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("x")
    fake_api.push(
        message(
            text("\n\n"),  # whitespace-only text from the model: never sent back
            tool_use("bash", {"command": f"cd {tmp_path} && ls file /missing"}, id="t_ls"),
        ),
        message(tool_use("bash", {"command": "echo '<html>'; echo '% Total' >&2"}, id="t_curl")),
        message(tool_use("bash", {"restart": True}, id="t_restart")),
        message(tool_use("bash", {"command": "echo"}, id="t_newline")),
        message(text("Done.")),
    )
    bash = BashTool20250124()
    try:
        events = await collect(config(fake_api), user("look"), tools=ToolCollection(bash))
    finally:
        await bash.stop()
    assert done(events).reason == "end_turn"
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    requests = fake_api.valid_requests

    ls = results_of(requests[1])["t_ls"]
    assert ls["is_error"] is True
    assert "stdout:\nfile" in texts(ls) and "stderr:\n" in texts(ls) and "/missing" in texts(ls)
    assert texts(ls).endswith("exit status 2")
    assert requests[1].body["messages"][1]["content"][0]["type"] == "tool_use"

    curl = results_of(requests[2])["t_curl"]
    assert curl["is_error"] is False
    assert texts(curl) == "stdout:\n<html>\nstderr:\n% Total"

    restart = results_of(requests[3])["t_restart"]
    assert texts(restart) == "<system>tool has been restarted.</system>"

    newline = results_of(requests[4])["t_newline"]
    assert (newline["content"], newline["is_error"]) == ([], False)
    shown = [e.block for e in of(events, AssistantBlock) if e.block["type"] == "text"]
    assert shown == [{"type": "text", "text": "Done."}], "blank text is no event either"
    exit_codes = [
        getattr(e.result, "exit_code", None)
        for e in of(events, ToolResultEvent)
        if e.name == "bash"
    ]
    assert exit_codes == [2, 0, None, 0]


@pytest.mark.parametrize(
    "content",
    [
        " \n\t",
        [{"type": "text", "text": "\n"}],
        [{"type": "text", "text": "hi"}, {"type": "text", "text": "\u2003 "}],
    ],
)
def test_the_fake_api_refuses_whitespace_only_text(content: Any) -> None:
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": content}]}
    with pytest.raises(Invalid, match="must contain non-whitespace text") as refused:
        validate_request(headers, body, secret=b"s")
    assert refused.value.status == 400 and refused.value.error_type == "invalid_request_error"


def test_the_fake_api_refuses_whitespace_inside_a_tool_result() -> None:
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    use = {"type": "tool_use", "id": "t", "name": "bash", "input": {}}
    result = {
        "type": "tool_result",
        "tool_use_id": "t",
        "content": [{"type": "text", "text": "\n"}],
    }
    body = {
        "model": "m",
        "max_tokens": 10,
        "tools": [{"name": "bash", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [use]},
            {"role": "user", "content": [result]},
        ],
    }
    with pytest.raises(Invalid, match="non-whitespace"):
        validate_request(headers, body, secret=b"s")


async def test_a_saved_session_with_blank_blocks_loads_and_continues(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    """Sessions saved before the fix hold "\\n" tool outputs and blank text: they go on."""
    saved = [
        {"role": "user", "content": [{"type": "text", "text": "run it"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": " \n"},
                {"type": "tool_use", "id": "t1", "name": "bash", "input": {"command": "echo"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "text", "text": "\n"}],
                    "is_error": False,
                }
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "It printed nothing."}]},
        {"role": "user", "content": "\n"},
    ]
    trajectory = Trajectory.create(tmp_path)
    trajectory.append(UserMessage(text="run it"))
    trajectory.append(ToolResultEvent(tool_use_id="t1", name="bash", result=CLIResult(output="\n")))
    trajectory.append(Done(reason="end_turn", steps=2, messages=saved))
    history = Trajectory.open(trajectory.path).messages()

    fake_api.push(message(text("Still here.")))
    events = await collect(config(fake_api), [*history, *user("and now?")])
    assert done(events).reason == "end_turn"
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    sent = fake_api.valid_requests[0].body["messages"]
    assert sent[2]["content"][0]["content"] == []
    assert sent[-1]["content"][-1]["text"] == "and now?"


def test_blank_user_input_never_becomes_a_message(fake_api: FakeAnthropicAPI, tmp_path) -> None:
    trajectory = Trajectory.create(tmp_path)
    with pytest.raises(ValueError, match="empty"):
        ui_runner.send_message(trajectory, config(fake_api), " \n ")
    assert Trajectory.open(trajectory.path).events() == []
    cli = subprocess.run(
        [sys.executable, "-m", "computer_use_demo", "--no-save", "  \n"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": fake_api.url},
    )
    assert cli.returncode == 2 and "give a task" in cli.stderr
    assert not fake_api.requests
