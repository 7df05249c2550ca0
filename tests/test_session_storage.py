"""Sessions stored incrementally: every run's Done keeps what the previous one saved instead
of repeating it, each screenshot is decoded and written once, the app keeps screenshots on
disk (not base64 in memory), and files in the old layout (whole histories) still load."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, ClassVar

from computer_use_demo.agent.events import Done, ToolResultEvent, UserMessage
from computer_use_demo.app import runner as ui_runner
from computer_use_demo.sessions.trajectory import EVENTS_FILE, Trajectory
from computer_use_demo.tools import FunctionTool, ToolCollection, ToolResult
from tests.fake_api import FakeAnthropicAPI, message, text, tool_use
from tests.support.images import png_b64
from tests.support.loop import config, fake_api_fixture  # noqa: F401 - fixture


class CountedImage(str):
    """Base64 text that counts how often it is encoded to bytes (base64 decoding does that)."""

    decodes: ClassVar[int] = 0

    def encode(self, *args: Any, **kwargs: Any) -> bytes:  # type: ignore[override]
        CountedImage.decodes += 1
        return super().encode(*args, **kwargs)


def counted_screenshot_tool() -> FunctionTool:
    shots = iter(range(1, 10_000))

    async def snap() -> ToolResult:
        n = next(shots)
        return ToolResult(output=f"shot {n}", base64_image=CountedImage(png_b64(8 + n, 8)))

    return FunctionTool(
        name="snap",
        description="Take a picture",
        input_schema={"type": "object", "properties": {}},
        function=snap,
    )


def done_lines(trajectory: Trajectory) -> list[dict[str, Any]]:
    lines = (trajectory.path / EVENTS_FILE).read_text().split("\n")
    return [json.loads(line) for line in lines if line.startswith('{"kind":"done"')]


def run_session(api: FakeAnthropicAPI, trajectory: Trajectory, runs: int, steps: int) -> list:
    tools = ToolCollection(counted_screenshot_tool())
    dones = []
    try:
        for run in range(runs):
            api.push(*(message(text(f"step {s}"), tool_use("snap", {})) for s in range(steps)))
            api.push(message(text(f"run {run} done")))
            started = ui_runner.send_message(trajectory, config(api), f"task {run}", tools=tools)
            assert started.wait(60) is not None and started.done.reason == "end_turn"
            dones.append(started)
    finally:
        ui_runner.stop_all(timeout=15)
    assert not api.invalid_requests, api.invalid_requests[0].error
    return dones


def test_each_done_stores_only_what_changed_and_loads_back_whole(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    trajectory = Trajectory.create(tmp_path / "sessions", title="long")
    CountedImage.decodes = 0
    runs, steps = 8, 3
    run_session(fake_api, trajectory, runs, steps)

    saved = done_lines(trajectory)
    assert len(saved) == runs
    sizes = [len(json.dumps(d)) for d in saved]
    # Each run adds the same amount: a Done's line does not grow with the session.
    assert max(sizes[1:]) < 1.5 * min(sizes[1:]), sizes
    assert all(d.get("kept_messages", 0) > 0 for d in saved[1:])
    # Each screenshot decoded once (to be written), not again by every later Done.
    assert CountedImage.decodes == runs * steps, CountedImage.decodes
    assert len(list((trajectory.path / "images").iterdir())) == runs * steps

    # The history comes back whole and exact, and the conversation goes on from it.
    reopened = Trajectory.open(trajectory.path)
    events = reopened.events()
    dones = [e for e in events if isinstance(e, Done)]
    assert len(dones[-1].messages) == 1 + runs * (2 * steps + 1) + (runs - 1)
    images = [
        item["source"]["data"]
        for m in dones[-1].messages
        for b in m["content"]
        if b.get("type") == "tool_result"
        for item in b["content"]
        if item.get("type") == "image"
    ]
    assert images == [png_b64(8 + n, 8) for n in range(1, runs * steps + 1)]
    assert reopened.messages() == dones[-1].messages
    for before, after in itertools.pairwise(dones):
        assert after.messages[: len(before.messages) - 1] == before.messages[:-1]


def test_the_app_keeps_screenshots_on_disk_and_still_continues(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    trajectory = Trajectory.create(tmp_path / "sessions", title="light")
    (first, second) = run_session(fake_api, trajectory, 2, 2)
    for run in (first, second):
        assert run.messages == [], "a finished run lets go of its history"
        _assert_no_base64(run.snapshot()[1])
    ui_runner._SAVED.clear()
    saved = ui_runner.saved_events(Trajectory.open(trajectory.path))
    _assert_no_base64(saved)
    files = [e.image_file for e in saved if isinstance(e, ToolResultEvent)]
    assert len(files) == 4 and all(Path(f).is_file() for f in files)

    # Continuing from the light history sends the real screenshots (the fake checks them).
    ui_runner.forget(trajectory.id)
    fake_api.push(message(text("Still here.")))
    again = ui_runner.send_message(Trajectory.open(trajectory.path), config(fake_api), "more?")
    try:
        assert again.wait(60) is not None and again.done.reason == "end_turn"
    finally:
        ui_runner.stop_all(timeout=15)
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    sent = fake_api.valid_requests[-1].body["messages"]
    data = [
        i["source"].get("data")
        for m in sent
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result"
        for i in b["content"]
        if isinstance(i, dict) and i.get("type") == "image"
    ]
    assert data and all(d and d.startswith("iVBOR") for d in data)


def _assert_no_base64(events: list) -> None:
    for event in events:
        if isinstance(event, ToolResultEvent):
            assert event.result.base64_image is None
        if isinstance(event, Done):
            assert '"data"' not in json.dumps(event.messages)


def test_a_session_saved_with_whole_histories_still_loads_and_continues(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    """The layout before deltas: every Done line holds the whole history, images inline."""
    image = png_b64(9, 9)
    history = [
        {"role": "user", "content": [{"type": "text", "text": "look"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "snap", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": image},
                        }
                    ],
                    "is_error": False,
                }
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "A red square."}]},
    ]
    folder = tmp_path / "old"
    folder.mkdir()
    lines = [
        {"kind": "user", "text": "look"},
        {"kind": "done", "reason": "end_turn", "steps": 2, "messages": history[:2]},
        {"kind": "done", "reason": "end_turn", "steps": 2, "messages": history},
    ]
    (folder / EVENTS_FILE).write_text("".join(json.dumps(line) + "\n" for line in lines))
    old = Trajectory.open(folder)
    assert old.messages() == history
    assert [type(e) for e in old.events()] == [UserMessage, Done, Done]

    fake_api.push(message(text("Still a red square.")))
    run = ui_runner.send_message(old, config(fake_api), "and now?")
    try:
        assert run.wait(60) is not None and run.done.reason == "end_turn"
    finally:
        ui_runner.stop_all(timeout=15)
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    assert Trajectory.open(folder).messages()[:4] == history
