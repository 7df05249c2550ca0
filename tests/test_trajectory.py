"""Saved runs: screenshots as files, crash tolerance, reloading the history to continue."""

from __future__ import annotations

from pathlib import Path

import pytest

from computer_use_demo.agent import history as h
from computer_use_demo.agent.events import (
    ApiExchange,
    AssistantBlock,
    Done,
    StepStarted,
    ToolResultEvent,
    UserMessage,
)
from computer_use_demo.sessions.trajectory import Trajectory, list_trajectories
from computer_use_demo.tools import ToolCollection, ToolFailure, ToolResult
from tests.fake_api import FakeAnthropicAPI, message, text, tool_use
from tests.support.images import png_b64
from tests.support.loop import (
    collect,
    config,
    done,
    fake_api_fixture,  # noqa: F401 - fixture
    screenshot_tool,
    user,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_a_run_saved_and_loaded_back(fake_api: FakeAnthropicAPI, tmp_path: Path) -> None:
    fake_api.push(message(text("Taking one."), tool_use("snap", {})), message(text("Done.")))
    trajectory = Trajectory.create(tmp_path, title="pictures")
    trajectory.append(UserMessage(text="take a picture"))
    events = await collect(
        config(fake_api), user("take a picture"), tools=ToolCollection(screenshot_tool())
    )
    for event in events:
        trajectory.append(event)

    raw = (trajectory.path / "messages.jsonl").read_text()
    assert "iVBOR" not in raw, "screenshots are files, never inline base64"
    pngs = list((trajectory.path / "images").glob("*.png"))
    assert len(pngs) == 1, "the same screenshot in the result and in Done is stored once"
    assert pngs[0].read_bytes().startswith(b"\x89PNG")

    reopened = Trajectory.open(trajectory.path)
    assert reopened.id == trajectory.id and reopened.title == "pictures"
    loaded = reopened.events()
    assert [type(e) for e in loaded] == [UserMessage, *[type(e) for e in events]]
    assert loaded[-1] == events[-1], "Done comes back identical, images included"
    result = next(e for e in loaded if isinstance(e, ToolResultEvent))
    assert result.result == next(e for e in events if isinstance(e, ToolResultEvent)).result
    assert reopened.messages() == done(events).messages

    # the loaded history continues the conversation (the fake API validates it)
    fake_api.push(message(text("Continuing.")))
    more = await collect(config(fake_api), [*reopened.messages(), *user("one more?")])
    assert done(more).reason == "end_turn" and fake_api.requests[-1].valid


def test_a_crashed_run_is_rebuilt_and_healed(tmp_path: Path) -> None:
    trajectory = Trajectory.create(tmp_path)
    image = png_b64()
    for event in [
        UserMessage(text="go"),
        StepStarted(step=1),
        AssistantBlock(block={"type": "text", "text": "two things"}),
        AssistantBlock(block={"type": "tool_use", "id": "t1", "name": "snap", "input": {}}),
        AssistantBlock(block={"type": "tool_use", "id": "t2", "name": "snap", "input": {}}),
        ToolResultEvent(
            tool_use_id="t1", name="snap", result=ToolResult(output="one", base64_image=image)
        ),
    ]:
        trajectory.append(event)
    with open(trajectory.path / "messages.jsonl", "ab") as f:
        f.write(b'{"kind":"tool_result","tool_use_id":"t2","na')  # killed mid-write
    messages = Trajectory.open(trajectory.path).messages()
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    results = messages[2]["content"]
    assert results[0]["content"][1]["source"]["data"] == image
    assert results[1] == {
        "type": "tool_result",
        "tool_use_id": "t2",
        "content": h.STOPPED_BY_USER,
        "is_error": True,
    }
    # appending after the crash starts a fresh line: nothing is lost
    trajectory.append(ToolResultEvent(tool_use_id="t9", name="x", result=ToolFailure(error="late")))
    events = trajectory.events()
    assert len(events) == 7 and isinstance(events[-1].result, ToolFailure)


def test_api_exchanges_keep_only_their_newest_messages(tmp_path: Path) -> None:
    trajectory = Trajectory.create(tmp_path)
    body = {"model": "m", "messages": [{"role": "user", "content": f"m{i}"} for i in range(10)]}
    trajectory.append(
        ApiExchange(method="POST", url="u", request_headers={}, request_body=body, status=200)
    )
    (saved,) = trajectory.events()
    assert saved.request_body["messages"] == body["messages"][-2:]
    assert saved.request_body["omitted_messages"] == 8


def test_list_trajectories_newest_first_with_steps(tmp_path: Path) -> None:
    first = Trajectory.create(tmp_path, title="first")
    first.append(StepStarted(step=1))
    second = Trajectory.create(tmp_path, title="second")
    for step in (1, 2, 3):
        second.append(StepStarted(step=step))
    second.append(Done(reason="end_turn", steps=3, messages=[]))
    infos = list_trajectories(tmp_path)
    assert [(i.title, i.steps) for i in infos] == [("second", 3), ("first", 1)]
    assert infos[0].id > infos[1].id, "ids sort by creation time"
    assert list_trajectories(tmp_path / "nowhere") == []
    with pytest.raises(FileNotFoundError):
        Trajectory.open(tmp_path / "nowhere")


def test_rebuilding_never_changes_the_saved_done() -> None:
    from computer_use_demo.agent.events import AssistantBlock, Done, StepStarted
    from computer_use_demo.sessions.trajectory import rebuild_messages

    history = [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
    ]
    done = Done(reason="end_turn", steps=1, messages=history)
    before = [dict(m, content=list(m["content"])) for m in history]
    block = {"type": "text", "text": "more"}
    rebuilt = rebuild_messages([done, AssistantBlock(block=block)])
    assert rebuilt[-1]["content"][-1] == block
    assert done.messages == before
    rebuild_messages([done, StepStarted(step=2), AssistantBlock(block=block)])
    assert done.messages == before
