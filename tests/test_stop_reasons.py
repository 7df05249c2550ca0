"""Every stop reason, scripted on the fake API and run through the real SDK and the loop: each
test fails if that stop reason's handling is removed (it would end as a silent end_turn)."""

from __future__ import annotations

from typing import Any

import pytest

from computer_use_demo.agent.events import Done, ToolResultEvent, ToolStarted
from computer_use_demo.agent.stop_reasons import after_response
from computer_use_demo.tools import ToolCollection
from tests.fake_api import FakeAnthropicAPI, message, text, tool_use
from tests.support.loop import (  # noqa: F401 - fixture
    collect,
    config,
    done,
    fake_api_fixture,
    of,
    user,
    weather_tool,
)


async def run(
    api: FakeAnthropicAPI,
    *replies: Any,
    calls: list[dict[str, Any]] | None = None,
    stream: bool = True,
):
    api.push(*replies)
    cfg = config(api, max_tokens=1000, stream=stream)
    events = await collect(cfg, user("go"), tools=ToolCollection(weather_tool(calls)))
    assert not api.invalid_requests, api.invalid_requests[0].error
    return events


async def test_pause_turn_sends_the_turn_back_as_is_and_goes_on(fake_api: FakeAnthropicAPI) -> None:
    paused = {"type": "text", "text": "Still searching..."}
    events = await run(
        fake_api, message(paused, stop_reason="pause_turn"), message(text("Found it."))
    )
    final = done(events)
    assert (final.reason, final.steps) == ("end_turn", 2)
    second = fake_api.valid_requests[1].body["messages"]
    assert second[-1] == {"role": "assistant", "content": [paused]}, "sent back unchanged"
    # The continuation belongs to the same assistant turn.
    assert final.messages[-1]["content"] == [paused, {"type": "text", "text": "Found it."}]


async def test_compaction_continues_the_turn_too(fake_api: FakeAnthropicAPI) -> None:
    events = await run(
        fake_api, message(text("Compacted."), stop_reason="compaction"), message(text("Done."))
    )
    assert (done(events).reason, done(events).steps) == ("end_turn", 2)


@pytest.mark.parametrize("stream", [True, False])
async def test_refusal_ends_with_the_apis_explanation(
    fake_api: FakeAnthropicAPI, stream: bool
) -> None:
    details = {"type": "refusal", "category": "cyber", "explanation": "This could enable malware."}
    events = await run(
        fake_api,
        message(text("I can't help"), stop_reason="refusal", stop_details=details),
        stream=stream,
    )
    assert fake_api.requests[0].streamed is stream
    final = done(events)
    assert final.reason == "refusal" and final.steps == 1
    assert "declined" in final.detail and "cyber" in final.detail
    assert "This could enable malware." in final.detail
    assert final.messages[-1]["content"] == [{"type": "text", "text": "I can't help"}]


async def test_a_tool_call_cut_off_by_max_tokens_is_not_run_but_answered(
    fake_api: FakeAnthropicAPI,
) -> None:
    calls: list[dict[str, Any]] = []
    cut = tool_use("get_weather", {"location": "Phoe"})
    events = await run(
        fake_api,
        message(text("Checking."), cut, stop_reason="max_tokens"),
        message(text("Let me try again briefly.")),
        calls=calls,
    )
    assert calls == [], "the cut-off call was not run"
    assert not of(events, ToolStarted)
    [result] = of(events, ToolResultEvent)
    assert result.tool_use_id == cut["id"] and "max_tokens" in (result.result.error or "")
    sent = fake_api.valid_requests[1].body["messages"][-1]["content"][0]
    assert sent["type"] == "tool_result" and sent["is_error"] is True
    assert "not run" in str(sent["content"])
    assert (done(events).reason, done(events).steps) == ("end_turn", 2)


async def test_complete_calls_before_a_cut_off_answer_still_run(
    fake_api: FakeAnthropicAPI,
) -> None:
    calls: list[dict[str, Any]] = []
    events = await run(
        fake_api,
        message(tool_use("get_weather", {"location": "Phoenix, AZ"}), text("And then I"),
                stop_reason="max_tokens"),
        message(text("38 degrees.")),
        calls=calls,
    )  # fmt: skip
    assert calls == [{"location": "Phoenix, AZ", "unit": "celsius"}]
    assert done(events).reason == "end_turn"


async def test_a_cut_off_answer_is_reported_as_such(fake_api: FakeAnthropicAPI) -> None:
    events = await run(
        fake_api, message(text("The three reasons are: first,"), stop_reason="max_tokens")
    )
    final = done(events)
    assert final.reason == "max_tokens"
    assert "cut off" in final.detail and "1000 tokens" in final.detail


async def test_a_full_context_window_ends_the_run_saying_so(fake_api: FakeAnthropicAPI) -> None:
    events = await run(
        fake_api, message(text("Partial"), stop_reason="model_context_window_exceeded")
    )
    final = done(events)
    assert final.reason == "context_window_exceeded"
    assert "context window" in final.detail


async def test_an_unknown_stop_reason_ends_the_run_and_runs_nothing(
    fake_api: FakeAnthropicAPI,
) -> None:
    calls: list[dict[str, Any]] = []
    events = await run(
        fake_api,
        message(tool_use("get_weather", {"location": "Phoenix, AZ"}), stop_reason="brand_new"),
        calls=calls,
    )
    final = done(events)
    assert final.reason == "unknown_stop_reason" and "'brand_new'" in final.detail
    assert calls == []
    # The history stays valid: the unrun call is answered, saying why.
    answer = final.messages[-1]["content"][0]
    assert answer["type"] == "tool_result" and answer["is_error"]
    assert "brand_new" in str(answer["content"])


@pytest.mark.parametrize(
    ("stop_reason", "blocks", "action", "reason"),
    [
        ("end_turn", [{"type": "text", "text": "x"}], "done", "end_turn"),
        ("stop_sequence", [{"type": "text", "text": "x"}], "done", "end_turn"),
        ("tool_use", [{"type": "tool_use", "id": "t", "name": "n", "input": {}}], "tools", None),
        ("pause_turn", [], "continue", None),
        ("refusal", [], "done", "refusal"),
        ("max_tokens", [], "done", "max_tokens"),
        ("model_context_window_exceeded", [], "done", "context_window_exceeded"),
        (None, [], "done", "unknown_stop_reason"),
    ],
)
def test_the_table_of_outcomes(
    stop_reason: str | None, blocks: list[dict[str, Any]], action: str, reason: str | None
) -> None:
    outcome = after_response(stop_reason, blocks, max_tokens=10)
    assert (outcome.action, outcome.reason) == (action, reason)
    if action == "done" and reason != "end_turn":
        assert outcome.detail, "never silent"


def test_done_detail_survives_json() -> None:
    from computer_use_demo.agent.events import event_from_json, to_json

    event = Done(reason="refusal", steps=1, detail="declined")
    assert event_from_json(to_json(event)) == event
    assert event_from_json({"kind": "done", "reason": "end_turn"}).detail == ""
