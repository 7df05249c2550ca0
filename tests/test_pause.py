"""Take over and hand back at the loop: a taken gate pauses the run at a step boundary (no
API call while paused), calls answered while the person had the desktop are not run, and the
next request carries the note and a fresh screenshot of the real (Xvfb) screen."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.agent import pause as p
from computer_use_demo.agent.events import Done, Paused, Resumed, ToolResultEvent
from computer_use_demo.agent.loop import agent_events
from computer_use_demo.sessions.trajectory import rebuild_messages
from computer_use_demo.tools import ComputerTool20250124, ToolCollection
from tests.fake_api import FakeAnthropicAPI, message, text, tool_use
from tests.support.loop import (
    DISPLAYS,
    config,
    done,
    fake_api_fixture,  # noqa: F401 - fixture
    of,
    user,
    weather_tool,
)
from tests.support.xvfb import xvfb

pytestmark = pytest.mark.desktop


def last_user(request: Any) -> list[dict[str, Any]]:
    return request.body["messages"][-1]["content"]


async def run_with(cfg: Any, tools: ToolCollection, gate: p.PauseGate, on_event: Any) -> list[Any]:
    events = []
    async for event in agent_events(cfg, user("check the weather"), tools=tools, pause=gate):
        events.append(event)
        await on_event(event, events)
    return events


def test_a_pause_before_the_tools_run_answers_them_not_run(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []
    fake_api.push(
        message(tool_use("get_weather", {"location": "Phoenix, AZ"}, id="toolu_w")),
        message(text("All done.")),
    )
    gate = p.PauseGate(tmp_path / "control")
    paused_requests: list[int] = []

    async def on_event(event: Any, events: list[Any]) -> None:
        if isinstance(event, ToolResultEvent) or getattr(event, "kind", "") == "assistant":
            gate.take()  # taken while Claude's answer came in: its call must not run
        if isinstance(event, Paused):
            assert (tmp_path / "control").exists()
            await asyncio.sleep(1.0)
            paused_requests.append(len(fake_api.requests))
            threading.Timer(0.2, gate.hand_back).start()

    with xvfb(DISPLAYS) as display:
        computer = ComputerTool20250124(
            display_num=display.number, width=display.width, height=display.height
        )
        tools = ToolCollection(weather_tool(calls), computer)
        cfg = config(fake_api, extra_tools=(weather_tool(calls),))
        events = asyncio.run(run_with(cfg, tools, gate, on_event))
    assert calls == []  # the tool call was never run
    (result,) = of(events, ToolResultEvent)
    assert result.result.error == p.NOT_RUN
    assert paused_requests == [1]  # no API call while paused
    (resumed,) = of(events, Resumed)
    assert resumed.screenshot and done(events).reason == "end_turn"
    sent = last_user(fake_api.requests[1])
    assert sent[0]["type"] == "tool_result" and sent[0]["is_error"]
    assert sent[1] == {"type": "text", "text": p.HANDED_BACK}
    assert sent[2]["type"] == "image" and sent[2]["source"]["data"] == resumed.screenshot
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    # A session rebuilt from its events (no Done yet, e.g. after a crash) has the note too.
    rebuilt = rebuild_messages([e for e in events if not isinstance(e, Done)])
    assert {"type": "text", "text": p.HANDED_BACK} in rebuilt[-2]["content"]


def test_a_pause_at_the_step_boundary_waits_for_the_running_tool(
    fake_api: FakeAnthropicAPI,
) -> None:
    fake_api.push(
        message(tool_use("get_weather", {"location": "Phoenix, AZ"})),
        message(text("38 degrees.")),
    )
    gate = p.PauseGate()  # in memory, as the CLI uses it
    calls: list[dict[str, Any]] = []
    timeline: list[tuple[str, float]] = []

    async def on_event(event: Any, events: list[Any]) -> None:
        if getattr(event, "kind", "") == "tool_started":
            gate.take()  # while the tool runs: it finishes, then the run pauses
        if isinstance(event, Paused):
            timeline.append(("paused", time.monotonic()))
            await asyncio.sleep(0.8)
            timeline.append(("requests", len(fake_api.requests)))
            gate.hand_back()

    tools = ToolCollection(weather_tool(calls))
    cfg = config(fake_api, extra_tools=(weather_tool(calls),))
    events = asyncio.run(run_with(cfg, tools, gate, on_event))
    assert calls == [{"location": "Phoenix, AZ", "unit": "celsius"}]  # it ran to its end
    assert timeline[1] == ("requests", 1)
    (paused,) = of(events, Paused)
    assert paused.step == 1 and paused.skipped == 0
    (resumed,) = of(events, Resumed)
    assert resumed.screenshot is None  # no computer tool in this run: the note alone
    sent = last_user(fake_api.requests[1])
    assert sent[0]["type"] == "tool_result" and not sent[0].get("is_error")
    assert sent[-1]["text"] == p.HANDED_BACK  # (with the prompt cache's breakpoint)
    assert done(events).reason == "end_turn"


def test_a_stop_while_paused_ends_the_run(fake_api: FakeAnthropicAPI) -> None:
    gate = p.PauseGate()
    gate.take()

    async def main() -> list[Any]:
        stop = asyncio.Event()
        events = []
        async for event in agent_events(config(fake_api), user("hi"), stop=stop, pause=gate):
            events.append(event)
            if isinstance(event, Paused):
                stop.set()
        return events

    events = asyncio.run(main())
    assert done(events).reason == "stopped" and fake_api.requests == []
    assert not of(events, Resumed)


def test_the_control_file_is_shared(tmp_path: Path) -> None:
    path = tmp_path / "state" / "person-in-control"
    a, b = p.PauseGate(path), p.PauseGate(path)
    a.take()
    assert b.paused and path.exists()
    b.hand_back()
    assert not a.paused
    assert p.control_file({"CONTROL_FILE": str(path)}) == path
    assert p.control_file({"STATE_DIR": "/x"}) == Path("/x/person-in-control")
