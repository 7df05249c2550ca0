"""The loop with the computer toolset group against the fake API and a real Xvfb: a batch of
member calls whose second fails is answered ok, error, halt text, each with toolset_name, and
the fake API (which validates the toolset's wire format) accepts every request."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.agent.events import Done, ToolResultEvent, ToolStarted
from computer_use_demo.agent.history import STOPPED_BY_USER, heal
from computer_use_demo.agent.loop import agent_events
from tests.fake_api import FakeAnthropicAPI, message, text
from tests.fake_api.server import DEFAULT_SECRET
from tests.fake_api.toolset import HALT_TEXT, member_use
from tests.fake_api.validate import validate_request
from tests.support.loop import collect, config, done, fake_api_fixture, of, user  # noqa: F401
from tests.support.xvfb import XDisplay, use_display, xvfb

pytestmark = pytest.mark.desktop

MODEL = "claude-opus-4-8"
VERSION = "computer_toolset_20260801"
HALT = HALT_TEXT["computer"]


@pytest.fixture(scope="module")
def display() -> Iterator[XDisplay]:
    with xvfb(range(90, 100), 1920, 1080) as d:
        yield d


@pytest.fixture
def on_display(display: XDisplay, monkeypatch: pytest.MonkeyPatch) -> XDisplay:
    """The environment the group's tools read their display from (as in the container)."""
    return use_display(display, monkeypatch)


def batch_with_a_failure() -> list[Any]:
    return [
        message(
            text("Three steps."),
            member_use("mouse_move", {"coordinate": [100, 200]}, "toolu_1"),
            member_use("left_click", {"coordinate": [5000, 5000]}, "toolu_2"),  # off screen
            member_use("screenshot", {}, "toolu_3"),
        ),
        message(text("The click missed the screen.")),
    ]


def last_results(fake_api: FakeAnthropicAPI) -> list[dict[str, Any]]:
    return fake_api.valid_requests[-1].body["messages"][-1]["content"]


async def test_a_batch_halts_after_its_failure(
    fake_api: FakeAnthropicAPI, on_display: XDisplay
) -> None:
    fake_api.push(*batch_with_a_failure())
    events = await collect(config(fake_api, model=MODEL, tool_version=VERSION), user("go"))
    assert done(events).reason == "end_turn"
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    first = fake_api.valid_requests[0]
    assert first.body["tools"][0] == {"type": "computer_toolset_20260801"}
    assert "anthropic-beta" not in first.headers  # generally available
    one, two, three = last_results(fake_api)
    assert [r["toolset_name"] for r in (one, two, three)] == ["computer"] * 3
    assert not one.get("is_error") and one["content"] == [
        {"type": "text", "text": "Moved the mouse."}
    ]
    assert two["is_error"] and "out of bounds" in str(two["content"])
    assert three["is_error"] and three["content"] == HALT
    # Events: the halted call never started; each result names its toolset.
    assert [e.name for e in of(events, ToolStarted)] == ["mouse_move", "left_click"]
    reported = of(events, ToolResultEvent)
    assert [(e.name, e.toolset_name) for e in reported] == [
        ("mouse_move", "computer"),
        ("left_click", "computer"),
        ("screenshot", "computer"),
    ]
    assert reported[2].result.error == HALT
    # The member tool_uses went back with their toolset_name (the fake refuses them without).
    sent = fake_api.valid_requests[1].body["messages"][1]["content"]
    assert [b.get("toolset_name") for b in sent if b["type"] == "tool_use"] == ["computer"] * 3


async def test_screenshots_are_sent_at_full_hd(
    fake_api: FakeAnthropicAPI, on_display: XDisplay
) -> None:
    import base64
    import io

    from PIL import Image

    fake_api.push(message(member_use("screenshot", {}, "toolu_s")), message(text("seen")))
    await collect(config(fake_api, model=MODEL, tool_version=VERSION), user("look"))
    assert not fake_api.invalid_requests
    (shot,) = last_results(fake_api)
    data = base64.b64decode(shot["content"][0]["source"]["data"])
    assert Image.open(io.BytesIO(data)).size == (1920, 1080)


async def test_a_stop_mid_batch_leaves_a_history_the_api_accepts(
    fake_api: FakeAnthropicAPI, on_display: XDisplay
) -> None:
    fake_api.push(
        message(
            member_use("wait", {"duration": 30}, "toolu_w"),
            member_use("screenshot", {}, "toolu_s"),
            member_use("key", {"text": "Return"}, "toolu_k"),
        )
    )
    stop = asyncio.Event()
    cfg = config(fake_api, model=MODEL, tool_version=VERSION)
    events = []
    async for event in agent_events(cfg, user("wait"), stop=stop):  # type: ignore[arg-type]
        events.append(event)
        if isinstance(event, ToolStarted):
            asyncio.get_running_loop().call_later(0.3, stop.set)
    final = events[-1]
    assert isinstance(final, Done) and final.reason == "stopped"
    answers = final.messages[-1]["content"]
    assert [(a["tool_use_id"], a["content"], a["toolset_name"]) for a in answers] == [
        ("toolu_w", STOPPED_BY_USER, "computer"),
        ("toolu_s", HALT, "computer"),
        ("toolu_k", HALT, "computer"),
    ]
    # The user's next message continues from that history (the loop heals what it is given,
    # which joins the message to the results): the API accepts it.
    body = {
        "model": MODEL,
        "max_tokens": 1024,
        "tools": [{"type": "computer_toolset_20260801"}],
        "messages": heal([*final.messages, *user("go on")]),
    }
    validate_request(
        {"x-api-key": "k", "anthropic-version": "2023-06-01"}, body, secret=DEFAULT_SECRET
    )


async def test_a_batch_taken_over_before_it_runs_is_answered_as_the_api_wants(
    fake_api: FakeAnthropicAPI, on_display: XDisplay, tmp_path: Path
) -> None:
    """Taken over while Claude answered: the first member is "not run", the rest halted."""
    from computer_use_demo.agent import pause

    fake_api.push(
        message(
            member_use("left_click", {"coordinate": [10, 10]}, "toolu_a"),
            member_use("type", {"text": "hello"}, "toolu_b"),
        ),
        message(text("Back again.")),
    )
    gate = pause.PauseGate(tmp_path / "control")
    cfg = config(fake_api, model=MODEL, tool_version=VERSION)
    events = []
    async for event in agent_events(cfg, user("go"), pause=gate):  # type: ignore[arg-type]
        events.append(event)
        if getattr(event, "kind", "") == "assistant":
            gate.take()
        if isinstance(event, pause.Paused):
            asyncio.get_running_loop().call_later(0.2, gate.hand_back)
    assert done(events).reason == "end_turn"
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    first, second = last_results(fake_api)[:2]
    assert (first["content"], second["content"]) == (pause.NOT_RUN, HALT)
    assert [e.result.error for e in of(events, ToolResultEvent)] == [pause.NOT_RUN, HALT]


async def test_a_4k_screen_is_sent_within_the_model_limits(
    fake_api: FakeAnthropicAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Too big to send as it is: shrunk to the largest size the fake (the API) accepts."""
    import base64
    import io

    from PIL import Image

    from computer_use_demo.desktop.screen import HIGH_RES_IMAGES

    fake_api.push(message(member_use("screenshot", {}, "toolu_s")), message(text("seen")))
    with xvfb(range(90, 100), 3840, 2160) as big:
        use_display(big, monkeypatch)
        await collect(config(fake_api, model=MODEL, tool_version=VERSION), user("look"))
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    (shot,) = last_results(fake_api)
    data = base64.b64decode(shot["content"][0]["source"]["data"])
    assert Image.open(io.BytesIO(data)).size == HIGH_RES_IMAGES.fit(3840, 2160)


async def test_a_member_call_without_the_toolset_declared_keeps_the_history_valid(
    fake_api: FakeAnthropicAPI, on_display: XDisplay
) -> None:
    """Only the single computer tool is declared, and the model calls a toolset member: it is
    told the toolset is not there (and which tool to use), and the next request, which carries
    that call and its answer, is one the API accepts: no toolset_name on either."""
    fake_api.push(
        message(text("Clicking."), member_use("left_click", {"coordinate": [10, 10]}, "toolu_m")),
        message(text("I will use the computer tool.")),
    )
    cfg = config(fake_api, model=MODEL, tool_version="computer_use_20251124")
    events = await collect(cfg, user("click"))
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    assert done(events).reason == "end_turn"
    assert fake_api.valid_requests[0].body["tools"][0]["type"] == "computer_20251124"
    (result,) = of(events, ToolResultEvent)
    assert result.toolset_name is None
    assert result.result.error == (
        "Toolset `computer` is not available. Available toolsets: none. "
        'Use the `computer` tool, with `action: "left_click"`.'
    )
    call, answer = fake_api.valid_requests[1].body["messages"][1:3]
    (use,) = [b for b in call["content"] if b["type"] == "tool_use"]
    assert use == {"type": "tool_use", "id": "toolu_m", "name": "left_click",
                   "input": {"coordinate": [10, 10]}}  # fmt: skip
    (block,) = answer["content"]
    assert block["tool_use_id"] == "toolu_m" and block["is_error"]
    assert "toolset_name" not in block
