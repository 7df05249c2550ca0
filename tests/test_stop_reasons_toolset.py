"""max_tokens cutting off the last member call of a computer toolset batch, on a real Xvfb:
the cut-off call is never run; after an earlier member failed it carries the halt text (the
batch rule), else the max_tokens error; the fake API, which checks both, accepts the turn."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from computer_use_demo.agent.events import ToolStarted
from tests.fake_api import FakeAnthropicAPI, message, text
from tests.fake_api.toolset import HALT_TEXT, member_use
from tests.support.loop import collect, config, done, fake_api_fixture, of, user  # noqa: F401
from tests.support.xvfb import XDisplay, use_display, xvfb

pytestmark = pytest.mark.desktop

VERSION = "computer_toolset_20260801"


@pytest.fixture(scope="module")
def display() -> Iterator[XDisplay]:
    with xvfb(range(90, 100), 1280, 800) as d:
        yield d


@pytest.fixture
def on_display(display: XDisplay, monkeypatch: pytest.MonkeyPatch) -> XDisplay:
    return use_display(display, monkeypatch)


def results(api: FakeAnthropicAPI) -> list[dict[str, Any]]:
    return api.valid_requests[-1].body["messages"][-1]["content"]


@pytest.mark.parametrize("first_fails", [False, True])
async def test_a_cut_off_member_call_is_answered_not_run(
    fake_api: FakeAnthropicAPI, on_display: XDisplay, first_fails: bool
) -> None:
    first = [5000, 5000] if first_fails else [10, 20]  # off screen: the member fails
    fake_api.push(
        message(
            member_use("mouse_move", {"coordinate": first}, "toolu_1"),
            member_use("left_click", {"coordinate": [3]}, "toolu_2"),  # cut off mid-input
            stop_reason="max_tokens",
        ),
        message(text("Let me try that again.")),
    )
    cfg = config(fake_api, model="claude-opus-5-5", tool_version=VERSION, max_tokens=2000)
    events = await collect(cfg, user("go"))
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    assert done(events).reason == "end_turn"
    assert [e.name for e in of(events, ToolStarted)] == ["mouse_move"], "the cut-off one never ran"
    one, two = results(fake_api)
    assert bool(one.get("is_error")) is first_fails
    assert two["is_error"] and two["toolset_name"] == "computer"
    if first_fails:
        assert two["content"] == HALT_TEXT["computer"]
    else:
        assert "max_tokens limit (2000 tokens)" in str(two["content"])
