"""The computer tool against a real Xvfb with real xdotool, xev and xterm windows.

xev windows record what the pointer and keyboard really did (button, root position, modifier
state); an xterm running ``cat`` records typed text byte for byte. There is no window manager
on these displays, so windows sit where their -geometry puts them and the keyboard focus
follows the pointer.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from computer_use_demo.tools.base import ToolError
from computer_use_demo.tools.computer import (
    ComputerTool20241022,
    ComputerTool20250124,
    ComputerTool20251124,
)
from tests.support.images import png
from tests.support.xvfb import XDisplay, xvfb

pytestmark = pytest.mark.desktop

DISPLAYS = range(50, 70)


@pytest.fixture(scope="module")
def xga() -> Iterator[XDisplay]:
    with xvfb(DISPLAYS, 1024, 768) as display:
        yield display


@pytest.fixture(scope="module")
def full_hd() -> Iterator[XDisplay]:
    with xvfb(DISPLAYS, 1920, 1080) as display:
        yield display


class App:
    """A program on the test display, killed at the end of the test."""

    def __init__(self, display: XDisplay, argv: list[str], log: Path | None = None) -> None:
        self.display = display
        out = open(log, "wb") if log else subprocess.DEVNULL
        env = {**display.env, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        self.proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        if log:
            out.close()  # type: ignore[union-attr]

    def wait_for_window(self, name: str, timeout: float = 20.0) -> None:
        wait_until(
            lambda: (
                subprocess.run(
                    ["xdotool", "search", "--onlyvisible", "--name", name],
                    env=self.display.env,
                    capture_output=True,
                ).returncode
                == 0
            ),
            timeout,
            f"window {name!r}",
        )
        time.sleep(0.3)  # let it draw

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait()


@pytest.fixture
def apps() -> Iterator[Callable[..., App]]:
    started: list[App] = []

    def start(display: XDisplay, argv: list[str], log: Path | None = None) -> App:
        app = App(display, argv, log)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def tool(cls: type, display: XDisplay) -> ComputerTool20250124:
    return cls(width=display.width, height=display.height, display_num=display.number)


XEV_EVENT = re.compile(
    r"^(\w+) event.*?root:\((-?\d+),(-?\d+)\),\s+state (0x[0-9a-f]+), (?:button|keycode) (\d+)"
    r"(?: \(keysym 0x[0-9a-f]+, (\w+)\))?",
    re.S | re.M,
)


def xev_events(log: Path) -> list[tuple[str, int, int, int, str]]:
    """(event, root x, root y, state, button-or-keysym) of each press/release/motion."""
    text = log.read_text()
    events = []
    for block in text.split("\n\n"):
        block = block.strip()
        if block.startswith("MotionNotify"):
            m = re.search(r"root:\((-?\d+),(-?\d+)\),\s+state (0x[0-9a-f]+)", block)
            assert m, block
            events.append(("MotionNotify", int(m[1]), int(m[2]), int(m[3], 16), ""))
            continue
        m = XEV_EVENT.match(block)
        if m:
            detail = m[6] or m[5]
            events.append((m[1], int(m[2]), int(m[3]), int(m[4], 16), detail))
    return events


def start_xev(apps: Callable[..., App], display: XDisplay, tmp_path: Path, *events: str) -> Path:
    log = tmp_path / "xev.log"
    args = ["xev", "-geometry", f"{display.width - 40}x{display.height - 40}+10+10"]
    for event in events:
        args += ["-event", event]
    apps(display, args, log).wait_for_window("Event Tester")
    return log


# --- screenshots --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [ComputerTool20241022, ComputerTool20250124, ComputerTool20251124])
async def test_screenshot_is_a_png_of_the_advertised_size(
    cls: type, xga: XDisplay, full_hd: XDisplay
) -> None:
    for display, size in ((xga, (1024, 768)), (full_hd, (1366, 768))):
        computer = tool(cls, display)
        params = computer.to_params()
        assert (params["display_width_px"], params["display_height_px"]) == size
        assert params["display_number"] == display.number
        assert png(await computer(action="screenshot")).size == size
    assert ("enable_zoom" in params) == (cls is ComputerTool20251124)


async def test_scrot_backend_gives_the_same_picture(
    full_hd: XDisplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCREENSHOT_BACKEND", "scrot")
    computer = tool(ComputerTool20250124, full_hd)
    assert computer.screen.backend == "scrot"
    assert png(await computer(action="screenshot")).size == (1366, 768)


# --- mouse ----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["xga", "full_hd"])
async def test_click_lands_where_asked(
    which: str, request: pytest.FixtureRequest, apps: Callable[..., App], tmp_path: Path
) -> None:
    display: XDisplay = request.getfixturevalue(which)
    log = start_xev(apps, display, tmp_path, "button")
    computer = tool(ComputerTool20250124, display)
    api_point = (300, 200)
    screen_point = computer.scaling.to_screen(*api_point)

    result = await computer(action="left_click", coordinate=list(api_point))
    assert png(result).size == (computer.scaling.api_width, computer.scaling.api_height)
    await computer(action="right_click")  # no coordinate: where the pointer is
    await computer(action="left_click", coordinate=[310, 210], key="shift")

    wait_until(lambda: len(xev_events(log)) >= 6, 5, "six button events")
    events = xev_events(log)
    assert events[0] == ("ButtonPress", *screen_point, 0, "1")
    assert events[1][0] == "ButtonRelease" and events[1][4] == "1"
    assert events[2] == ("ButtonPress", *screen_point, 0, "3")
    shifted = computer.scaling.to_screen(310, 210)
    assert events[4] == ("ButtonPress", *shifted, 0x1, "1")  # ShiftMask held
    # The pointer is there too, reported back in API coordinates.
    assert (await computer(action="cursor_position")).output == "X=310,Y=210"
    xdo = subprocess.run(  # noqa: ASYNC221 - a quick independent check
        ["xdotool", "getmouselocation"], env=display.env, capture_output=True, text=True
    )
    assert xdo.stdout.startswith(f"x:{shifted[0]} y:{shifted[1]} ")


async def test_double_and_triple_clicks_are_multi_clicks(
    xga: XDisplay, apps: Callable[..., App], tmp_path: Path
) -> None:
    log = start_xev(apps, xga, tmp_path, "button")
    computer = tool(ComputerTool20250124, xga)
    await computer(action="double_click", coordinate=[100, 100])
    await computer(action="triple_click", coordinate=[100, 100], text="ctrl")
    wait_until(lambda: len(xev_events(log)) >= 10, 5, "ten button events")
    presses = [e for e in xev_events(log) if e[0] == "ButtonPress"]
    assert [p[3] for p in presses] == [0, 0, 0x4, 0x4, 0x4]  # the triple click with ctrl
    times = [int(t) for t in re.findall(r"ButtonPress.*?time (\d+)", log.read_text(), re.S)]
    # Close enough together to count as one multi-click in any toolkit (< 250 ms apart).
    gaps = [times[1] - times[0], times[3] - times[2], times[4] - times[3]]
    assert all(0 < gap < 250 for gap in gaps), gaps


async def test_drag_moves_with_the_button_held(
    full_hd: XDisplay, apps: Callable[..., App], tmp_path: Path
) -> None:
    log = start_xev(apps, full_hd, tmp_path, "mouse")
    computer = tool(ComputerTool20250124, full_hd)
    start, end = (100, 100), (600, 400)
    await computer(action="left_click_drag", start_coordinate=list(start), coordinate=list(end))
    s, e = computer.scaling.to_screen(*start), computer.scaling.to_screen(*end)
    wait_until(lambda: any(ev[0] == "ButtonRelease" for ev in xev_events(log)), 5, "the release")
    events = [ev for ev in xev_events(log) if ev[1:3] != s or ev[0] != "MotionNotify"]
    press = next(i for i, ev in enumerate(events) if ev[0] == "ButtonPress")
    release = next(i for i, ev in enumerate(events) if ev[0] == "ButtonRelease")
    assert events[press][1:3] == s
    assert events[release][1:3] == e
    held = [ev for ev in events[press:release] if ev[0] == "MotionNotify"]
    assert held and all(ev[3] & 0x100 for ev in held)  # Button1Mask during the motion
    assert held[-1][1:3] == e


async def test_mouse_down_move_up(
    full_hd: XDisplay, apps: Callable[..., App], tmp_path: Path
) -> None:
    log = start_xev(apps, full_hd, tmp_path, "mouse")
    computer = tool(ComputerTool20250124, full_hd)
    await computer(action="mouse_move", coordinate=[200, 200])
    await computer(action="left_mouse_down")
    await computer(action="mouse_move", coordinate=[250, 260])
    await computer(action="left_mouse_up")
    wait_until(lambda: any(ev[0] == "ButtonRelease" for ev in xev_events(log)), 5, "release")
    events = xev_events(log)
    kinds = [ev[0] for ev in events if ev[0] != "MotionNotify"]
    assert kinds == ["ButtonPress", "ButtonRelease"]
    press = next(ev for ev in events if ev[0] == "ButtonPress")
    assert press[1:3] == computer.scaling.to_screen(200, 200)
    moved = [ev for ev in events if ev[0] == "MotionNotify" and ev[3] & 0x100]
    assert moved[-1][1:3] == computer.scaling.to_screen(250, 260)


async def test_scroll_sends_wheel_clicks_with_modifier(
    xga: XDisplay, apps: Callable[..., App], tmp_path: Path
) -> None:
    log = start_xev(apps, xga, tmp_path, "button")
    computer = tool(ComputerTool20250124, xga)
    await computer(action="scroll", scroll_direction="down", scroll_amount=3, coordinate=[50, 60])
    await computer(action="scroll", scroll_direction="up", scroll_amount=2, text="shift")
    await computer(action="scroll", scroll_direction="left", scroll_amount=1, key="ctrl")
    wait_until(lambda: len(xev_events(log)) >= 12, 5, "twelve wheel events")
    presses = [(ev[4], ev[3], ev[1:3]) for ev in xev_events(log) if ev[0] == "ButtonPress"]
    assert presses == [("5", 0, (50, 60))] * 3 + [("4", 1, (50, 60))] * 2 + [("6", 4, (50, 60))]


async def test_scroll_moves_a_scrollable_window(xga: XDisplay, apps: Callable[..., App]) -> None:
    term = apps(
        xga,
        [
            "xterm",
            "-geometry",
            "80x24+0+0",
            "-T",
            "scrolltest",
            "-sl",
            "1000",
            "-e",
            "sh",
            "-c",
            "seq 1 400; exec sleep 600",
        ],
    )
    term.wait_for_window("scrolltest")
    computer = tool(ComputerTool20250124, xga)
    before = png(await computer(action="mouse_move", coordinate=[200, 150])).tobytes()
    up = png(await computer(action="scroll", scroll_direction="up", scroll_amount=5))
    assert up.tobytes() != before  # the scrollback moved into view
    down = png(await computer(action="scroll", scroll_direction="down", scroll_amount=5))
    assert down.tobytes() == before  # and back to exactly where it was


# --- keyboard -------------------------------------------------------------------------------


@pytest.fixture
def tty_recorder(
    xga: XDisplay, apps: Callable[..., App], tmp_path: Path
) -> tuple[ComputerTool20250124, Path]:
    """An xterm whose tty (no line editing, no echo) is copied byte for byte into a file."""
    computer = tool(ComputerTool20250124, xga)
    return computer, start_recorder(apps, xga, tmp_path)


def start_recorder(apps: Callable[..., App], display: XDisplay, tmp_path: Path) -> Path:
    """Start the recording xterm at the top left of ``display``; the file it writes to."""
    out = tmp_path / "typed.bin"
    out.touch()
    argv = ["xterm", "-u8", "-geometry", "80x24+0+0", "-T", "recorder", "-e", "sh", "-c"]
    term = apps(display, [*argv, f"stty -icanon -echo -isig -ixon; exec cat > {out}"])
    term.wait_for_window("recorder")
    return out


async def test_typed_text_arrives_verbatim(tty_recorder: tuple[ComputerTool20250124, Path]) -> None:
    computer, out = tty_recorder
    text = (
        "a; rm -rf ~ && echo $(whoami) `id` $HOME 'single' \"double\" \\back\\slash\n"
        "tab:\there | pipe > redirect < in * ? [x] {y} # % ^ ! héllo ✓ naïve 😀\n"
    )
    await computer(action="mouse_move", coordinate=[300, 200])  # focus follows the pointer
    result = await computer(action="type", text=text)
    assert png(result).size == (1024, 768)
    expected = text.encode()
    wait_until(
        lambda: len(out.read_bytes()) >= len(expected), 20, f"the typed text: {out.read_bytes()!r}"
    )
    assert out.read_bytes().decode() == text


async def test_key_presses_and_combinations(
    tty_recorder: tuple[ComputerTool20250124, Path], tmp_path: Path
) -> None:
    computer, out = tty_recorder
    await computer(action="mouse_move", coordinate=[300, 200])
    for keys in ("a", "shift+b", "ctrl+a", "Return", "x y z", "Tab", "ctrl+shift+e", "KP_0"):
        await computer(action="key", text=keys)
    expected = b"aB\x01\nxyz\t\x050"
    wait_until(lambda: len(out.read_bytes()) >= len(expected), 10, "the keys")
    assert out.read_bytes() == expected

    # Key text is never an xdotool command chain (xdotool `exec` runs programs).
    marker = tmp_path / "pwned"
    with pytest.raises(ToolError, match="not a key name"):
        await computer(action="key", text=f"a exec touch {marker}")
    with pytest.raises(ToolError, match="not a key name"):
        await computer(action="left_click", key=f"shift exec touch {marker}")
    assert not marker.exists()


async def test_hold_key_holds_for_the_duration(
    xga: XDisplay, apps: Callable[..., App], tmp_path: Path
) -> None:
    log = start_xev(apps, xga, tmp_path, "keyboard")
    computer = tool(ComputerTool20250124, xga)
    await computer(action="mouse_move", coordinate=[300, 300])
    started = time.monotonic()
    await computer(action="hold_key", text="shift", duration=0.5)
    assert time.monotonic() - started >= 0.5
    wait_until(lambda: len(xev_events(log)) >= 2, 5, "press and release")
    kinds = [(ev[0], ev[4]) for ev in xev_events(log)]
    assert kinds[:2] == [("KeyPress", "Shift_L"), ("KeyRelease", "Shift_L")]
    times = [int(t) for t in re.findall(r"Key\w+ event.*?time (\d+)", log.read_text(), re.S)]
    assert times[1] - times[0] >= 450


# --- settling and zoom ----------------------------------------------------------------------


async def test_settled_screenshot_shows_what_the_click_did(
    xga: XDisplay, apps: Callable[..., App]
) -> None:
    term = apps(
        xga,
        [
            "xterm",
            "-geometry",
            "60x10+0+0",
            "-T",
            "selecttest",
            "-fa",
            "DejaVu Sans Mono",
            "-fs",
            "14",
            "-e",
            "sh",
            "-c",
            "echo selectable words here; exec sleep 600",
        ],
    )
    term.wait_for_window("selecttest")
    computer = tool(ComputerTool20250124, xga)
    before = png(await computer(action="mouse_move", coordinate=[500, 500]))
    # A double click on the first word highlights it at once.
    after = png(await computer(action="double_click", coordinate=[30, 12]))
    box = (0, 0, 300, 40)
    assert before.crop(box).tobytes() != after.crop(box).tobytes()


async def test_settling_returns_soon_on_a_still_screen(xga: XDisplay) -> None:
    computer = tool(ComputerTool20250124, xga)
    started = time.monotonic()
    await computer(action="mouse_move", coordinate=[10, 10])
    assert time.monotonic() - started < 1.5  # far below the 2 s maximum


async def test_screenshot_delay_forces_a_fixed_wait(
    xga: XDisplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCREENSHOT_DELAY", "0.6")
    computer = tool(ComputerTool20250124, xga)
    started = time.monotonic()
    await computer(action="mouse_move", coordinate=[10, 10])
    assert time.monotonic() - started >= 0.6


async def test_zoom_returns_full_detail_from_the_unscaled_screen(
    full_hd: XDisplay, tmp_path: Path
) -> None:
    # A one-pixel checkerboard on the root window: detail that scaling blurs into grey.
    bitmap = tmp_path / "checker.xbm"
    bitmap.write_text(
        "#define c_width 2\n#define c_height 2\nstatic char c_bits[] = {\n   0x01, 0x02};\n"
    )
    subprocess.run(  # noqa: ASYNC221 - set-up, before the tool runs
        ["xsetroot", "-bitmap", str(bitmap), "-fg", "black", "-bg", "white"],
        env=full_hd.env,
        check=True,
    )
    computer = tool(ComputerTool20251124, full_hd)
    screenshot = png(await computer(action="screenshot"))
    zoomed = png(await computer(action="zoom", region=[100, 100, 200, 150]))
    assert zoomed.size == (142, 71)  # every screen pixel under the 100x50 region
    assert {c for _, c in zoomed.getcolors(1 << 24)} == {(0, 0, 0), (255, 255, 255)}
    greys = {c for _, c in screenshot.crop((100, 100, 200, 150)).getcolors(1 << 24)}
    assert not greys & {(0, 0, 0), (255, 255, 255)}  # the scaled screenshot lost that detail
    whole = png(await computer(action="zoom", region=[0, 0, 1366, 768]))
    assert whole.width <= 1366 and whole.height == 768  # shrunk to fit the API size


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "params", "message"),
    [
        (ComputerTool20250124, {"action": "zoom", "region": [0, 0, 5, 5]}, "Invalid action: zoom"),
        (ComputerTool20241022, {"action": "scroll"}, "Invalid action: scroll"),
        (ComputerTool20241022, {"action": "left_click", "coordinate": [5, 5]}, "mouse_move"),
        (
            ComputerTool20250124,
            {"action": "type", "text": "x", "coordinate": [1, 1]},
            "coordinate is not accepted for type: it takes `text`.",
        ),
        (ComputerTool20250124, {"action": "key"}, "text is required for key"),
        (ComputerTool20250124, {"action": "mouse_move", "coordinate": [1025, 5]}, "1024x768"),
        (ComputerTool20250124, {"action": "mouse_move", "coordinate": [5, -1]}, "0..767"),
        (ComputerTool20250124, {"action": "mouse_move", "coordinate": [5]}, "two integers"),
        (ComputerTool20250124, {"action": "wait", "duration": 101}, "between 0 and 100"),
        (ComputerTool20251124, {"action": "zoom", "region": [10, 10, 5, 5]}, "x0 < x1"),
        (ComputerTool20250124, {"action": "screenshot", "text": "hi"}, "text is not accepted"),
    ],
)
async def test_bad_input_is_a_clear_tool_error(
    cls: type, params: dict, message: str, xga: XDisplay
) -> None:
    with pytest.raises(ToolError) as err:
        await tool(cls, xga)(**params)
    assert message in err.value.message


def test_typing_groups_chunk_like_the_reference() -> None:
    from computer_use_demo.tools.computer import typing_groups

    groups = typing_groups("x" * 120 + "héllo ✓")
    assert [(len(c), d) for c, d in groups] == [
        (50, 12),
        (50, 12),
        (21, 12),
        (1, 100),
        (4, 12),
        (1, 100),
    ]
    assert "".join(c for c, _ in groups) == "x" * 120 + "héllo ✓"
