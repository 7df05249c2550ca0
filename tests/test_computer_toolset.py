"""The computer toolset against a real Xvfb: each member does what it says, screenshots are sent
at the screen's own size within the model's image limits, and a turn's batch of member calls
runs in order and halts at the first failure (``ToolCollection.run_turn``)."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from anthropic.lib.tools._toolsets._runnable import HALT_TEXT
from PIL import Image, ImageGrab

from computer_use_demo.agent.events import ToolResultEvent, ToolStarted
from computer_use_demo.agent.history import STOPPED_BY_USER
from computer_use_demo.desktop.screen import HIGH_RES_IMAGES, STANDARD_IMAGES, ImageLimits, Scaling
from computer_use_demo.tools import ToolCollection
from computer_use_demo.tools.approval import Approval
from computer_use_demo.tools.computer_toolset import ComputerToolset20260801
from tests.support.xvfb import XDisplay, xvfb
from tests.test_computer import (  # noqa: F401 - apps is a fixture
    App,
    apps,
    start_recorder,
    start_xev,
    wait_until,
    xev_events,
)

pytestmark = pytest.mark.desktop

DISPLAYS = range(90, 100)
HALT = HALT_TEXT["computer"]


@pytest.fixture(scope="module")
def full_hd() -> Iterator[XDisplay]:
    with xvfb(DISPLAYS, 1920, 1080) as display:
        yield display


@pytest.fixture(scope="module")
def uhd() -> Iterator[XDisplay]:
    with xvfb(DISPLAYS, 3840, 2160) as display:
        yield display


def toolset(display: XDisplay, **kwargs: Any) -> ComputerToolset20260801:
    return ComputerToolset20260801(
        width=display.width, height=display.height, display_num=display.number, **kwargs
    )


def use(name: str, n: int, **tool_input: Any) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": f"toolu_{n}",
        "name": name,
        "input": tool_input,
        "toolset_name": "computer",
    }


def image_of(block: Mapping[str, Any]) -> Image.Image:
    (item,) = [c for c in block["content"] if c["type"] == "image"]
    return Image.open(io.BytesIO(base64.b64decode(item["source"]["data"])))


def texts(block: Mapping[str, Any]) -> list[str]:
    content = block["content"]
    if isinstance(content, str):
        return [content]
    return [c["text"] for c in content if c["type"] == "text"]


async def turn(
    tools: ToolCollection, calls: list[dict[str, Any]], stop: asyncio.Event | None = None
) -> tuple[list[dict[str, Any]], list[Any]]:
    results: list[dict[str, Any]] = []
    events = [e async for e in tools.run_turn(calls, results=results, stop=stop or asyncio.Event())]
    return results, events


# --- image sizing (no display needed) -------------------------------------------------------


def test_limits_keep_a_full_hd_screen_as_it_is() -> None:
    assert HIGH_RES_IMAGES.fits(1920, 1080)
    assert Scaling.within(1920, 1080, HIGH_RES_IMAGES) == Scaling(1920, 1080, 1920, 1080)


@pytest.mark.parametrize("limits", [HIGH_RES_IMAGES, STANDARD_IMAGES])
@pytest.mark.parametrize("size", [(3840, 2160), (2560, 1600), (5120, 1440), (1440, 3200)])
def test_bigger_screens_shrink_to_the_largest_size_that_fits(
    limits: ImageLimits, size: tuple[int, int]
) -> None:
    w, h = size
    scaling = Scaling.within(w, h, limits)
    aw, ah = scaling.api_width, scaling.api_height
    assert limits.fits(aw, ah)
    assert not limits.fits(aw + 1, round((aw + 1) * h / w))  # the largest: one more is over
    assert abs(aw / ah - w / h) < 0.01
    # Every API point maps onto the screen and back to itself (pixel centres).
    for x, y in ((0, 0), (aw - 1, ah - 1), (aw // 3, ah // 2)):
        assert scaling.to_api(*scaling.to_screen(x, y)) == (x, y)


# --- members on the desktop -----------------------------------------------------------------


async def test_screenshot_is_native_at_full_hd(full_hd: XDisplay) -> None:
    computer = toolset(full_hd)
    assert computer.screen.scaling == Scaling(1920, 1080, 1920, 1080)
    tools = ToolCollection(computer)
    results, _ = await turn(tools, [use("screenshot", 1)])
    assert image_of(results[0]).size == (1920, 1080)
    assert results[0]["toolset_name"] == "computer" and not results[0].get("is_error")


async def test_click_lands_exactly_and_cursor_position_reports_it(
    full_hd: XDisplay,
    apps: Callable[..., App],  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    log = start_xev(apps, full_hd, tmp_path, "button")
    tools = ToolCollection(toolset(full_hd))
    results, _ = await turn(
        tools,
        [
            use("left_click", 1, coordinate=[1234, 567]),
            use("right_click", 2, coordinate=[1800, 1000], text="shift"),
            use("cursor_position", 3),
        ],
    )
    assert texts(results[0]) == ["Clicked."]
    assert texts(results[1]) == ["Right-clicked."]
    assert texts(results[2]) == ["X=1800,Y=1000"]
    wait_until(lambda: len(xev_events(log)) >= 4, 5, "four button events")
    events = xev_events(log)
    assert events[0] == ("ButtonPress", 1234, 567, 0, "1")
    assert events[2] == ("ButtonPress", 1800, 1000, 0x1, "3")  # ShiftMask held


async def test_clicks_scale_back_exactly_on_a_screen_too_big_to_send(
    uhd: XDisplay,
    apps: Callable[..., App],  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    log = start_xev(apps, uhd, tmp_path, "button")
    computer = toolset(uhd)
    scaling = computer.screen.scaling
    assert scaling.scaled and HIGH_RES_IMAGES.fits(scaling.api_width, scaling.api_height)
    tools = ToolCollection(computer)
    point = (scaling.api_width // 3, scaling.api_height // 2)
    results, _ = await turn(
        tools, [use("left_click", 1, coordinate=list(point)), use("screenshot", 2)]
    )
    assert not computer.screen.action_pending  # the screenshot waited for the screen to settle
    assert image_of(results[1]).size == (scaling.api_width, scaling.api_height)
    wait_until(lambda: len(xev_events(log)) >= 2, 5, "the click")
    x, y = scaling.to_screen(*point)
    assert xev_events(log)[0] == ("ButtonPress", x, y, 0, "1")
    assert (x, y) == (
        int((point[0] + 0.5) * 3840 / scaling.api_width),
        int((point[1] + 0.5) * 2160 / scaling.api_height),
    )


async def test_zoom_cuts_the_unscaled_screen(
    uhd: XDisplay,
    apps: Callable[..., App],  # noqa: F811 - the fixture
) -> None:
    term = apps(uhd, ["xterm", "-geometry", "40x5+0+0", "-T", "zoomtest", "-e", "sleep 600"])
    term.wait_for_window("zoomtest")
    computer = toolset(uhd)
    scaling = computer.screen.scaling
    region = [0, 0, scaling.api_width // 4, scaling.api_height // 4]
    results, _ = await turn(ToolCollection(computer), [use("zoom", 1, region=region)])
    zoomed = image_of(results[0]).convert("RGB")
    box = scaling.region_to_screen(region)
    full = ImageGrab.grab(xdisplay=uhd.name).crop(box)  # the real pixels, 4K
    assert zoomed.size == HIGH_RES_IMAGES.fit(full.width, full.height, enlarge=True)
    assert zoomed.width >= full.width  # never fewer pixels than the screen has there
    expected = full.resize(zoomed.size, Image.Resampling.LANCZOS)
    assert zoomed.tobytes() == expected.tobytes()


@pytest.fixture
def recorder(
    full_hd: XDisplay,
    apps: Callable[..., App],  # noqa: F811 - the fixture
    tmp_path: Path,
) -> tuple[ComputerToolset20260801, Path]:
    """An xterm whose tty is copied byte for byte into a file."""
    return toolset(full_hd), start_recorder(apps, full_hd, tmp_path)


async def test_type_types_and_key_repeats(
    recorder: tuple[ComputerToolset20260801, Path],
) -> None:
    computer, out = recorder
    tools = ToolCollection(computer)
    results, events = await turn(
        tools,
        [
            use("mouse_move", 1, coordinate=[300, 200]),  # focus follows the pointer
            use("type", 2, text="héllo $(id)"),
            use("key", 3, text="x", repeat=4),
            use("key", 4, text="shift+y"),
            use("key", 5, text="Return"),
        ],
    )
    assert [texts(r) for r in results] == [
        ["Moved the mouse."],
        ["Typed."],
        ["Pressed x."],
        ["Pressed shift+y."],
        ["Pressed Return."],
    ]
    assert all(r["toolset_name"] == "computer" and not r.get("is_error") for r in results)
    expected = "héllo $(id)xxxxY\n".encode()
    wait_until(lambda: len(out.read_bytes()) >= len(expected), 10, f"keys: {out.read_bytes()!r}")
    assert out.read_bytes() == expected
    started = [e for e in events if isinstance(e, ToolStarted)]
    assert [e.name for e in started] == ["mouse_move", "type", "key", "key", "key"]
    assert all(e.toolset_name == "computer" for e in events)


async def test_batch_halts_after_the_first_failure(full_hd: XDisplay) -> None:
    tools = ToolCollection(toolset(full_hd))
    results, events = await turn(
        tools,
        [
            use("mouse_move", 1, coordinate=[10, 10]),
            use("left_click", 2, coordinate=[5000, 10]),  # off the screen
            use("screenshot", 3),
            use("key", 4, text="Return"),
        ],
    )
    assert [r["tool_use_id"] for r in results] == ["toolu_1", "toolu_2", "toolu_3", "toolu_4"]
    assert all(r["toolset_name"] == "computer" for r in results)
    assert not results[0].get("is_error")
    assert results[1]["is_error"] and "out of bounds" in texts(results[1])[0]
    for halted in results[2:]:
        assert halted["is_error"] and texts(halted) == [HALT]
    # Halted calls never started; every call has its result event, in order.
    assert [e.tool_use_id for e in events if isinstance(e, ToolStarted)] == ["toolu_1", "toolu_2"]
    reported = [e for e in events if isinstance(e, ToolResultEvent)]
    assert [e.result.error for e in reported[2:]] == [HALT, HALT]


async def test_plain_tools_still_run_after_a_toolset_failure(full_hd: XDisplay) -> None:
    from computer_use_demo.tools import FunctionTool

    async def echo(text: str) -> str:
        return f"echo {text}"

    extra = FunctionTool(
        name="echo",
        description="echo",
        input_schema={"type": "object", "properties": {"text": {"type": "string"}}},
        function=echo,
    )
    tools = ToolCollection(toolset(full_hd), extra)
    plain = {"type": "tool_use", "id": "toolu_p", "name": "echo", "input": {"text": "hi"}}
    results, _ = await turn(
        tools, [use("zoom", 1, region=[0, 0, 1, 1, 1]), plain, use("wait", 2, duration=0)]
    )
    assert results[0]["is_error"] and "region" in texts(results[0])[0]
    assert results[1] == {
        "type": "tool_result",
        "tool_use_id": "toolu_p",
        "content": [{"type": "text", "text": "echo hi"}],
        "is_error": False,
    }
    assert texts(results[2]) == [HALT]


async def test_a_denying_approver_gets_the_sdks_denial(full_hd: XDisplay, tmp_path: Path) -> None:
    asked: list[tuple[str, str, dict[str, Any]]] = []

    async def deny_typing(tool: str, action: str, tool_input: Mapping[str, Any]) -> Approval:
        asked.append((tool, action, dict(tool_input)))
        return Approval(approved=action != "type", reason="no typing")

    tools = ToolCollection(toolset(full_hd), approve=deny_typing)
    results, _ = await turn(
        tools, [use("mouse_move", 1, coordinate=[3, 4]), use("type", 2, text="rm -rf ~")]
    )
    assert asked == [
        ("computer", "mouse_move", {"coordinate": [3, 4]}),
        ("computer", "type", {"text": "rm -rf ~"}),
    ]
    assert texts(results[1]) == [
        "The user did not grant permission to run 'type'. Do not retry it unless the user asks you to."
    ]
    assert results[1]["is_error"] and results[1]["toolset_name"] == "computer"


async def test_a_stop_mid_member_answers_it_stopped(full_hd: XDisplay) -> None:
    tools = ToolCollection(toolset(full_hd))
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    started = time.monotonic()
    results, _ = await turn(tools, [use("wait", 1, duration=20), use("screenshot", 2)], stop=stop)
    assert time.monotonic() - started < 5
    assert results == [
        {
            "type": "tool_result",
            "content": STOPPED_BY_USER,
            "tool_use_id": "toolu_1",
            "is_error": True,
            "toolset_name": "computer",
        }
    ]  # the screenshot is left for the caller to answer (heal)


async def test_zoom_after_an_action_shows_what_it_did(
    full_hd: XDisplay,
    apps: Callable[..., App],  # noqa: F811 - the fixture
) -> None:
    words = "echo selectable words here; exec sleep 600"
    argv = ["xterm", "-geometry", "60x10+0+0", "-T", "zoomsettle", "-fa", "DejaVu Sans Mono"]
    apps(full_hd, [*argv, "-fs", "14", "-e", "sh", "-c", words]).wait_for_window("zoomsettle")
    computer = toolset(full_hd)
    tools = ToolCollection(computer)
    region = [0, 0, 300, 40]
    results, _ = await turn(
        tools, [use("zoom", 1, region=region), use("double_click", 2, coordinate=[30, 12])]
    )
    assert computer.screen.action_pending  # the click is not known to have been drawn yet
    more, _ = await turn(tools, [use("zoom", 3, region=region)])
    assert not computer.screen.action_pending  # the zoom waited for the screen to settle
    before, after = image_of(results[0]), image_of(more[0])
    assert before.size == after.size and before.tobytes() != after.tobytes()  # the selection
