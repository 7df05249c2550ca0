"""The reference's public Python API (anthropics/claude-quickstarts, computer-use-demo), name for
name and signature for signature, exercised through what it does: code written against the
reference (forks, tutorials) must import and run on ours.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import inspect
import io
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from PIL import Image

from tests.fake_api import FakeAnthropicAPI
from tests.fake_api.server import message, text, tool_use
from tests.support.images import png
from tests.support.loop import fake_api_fixture  # noqa: F401 (the fake_api fixture)
from tests.support.xvfb import XDisplay, xvfb

REPO = Path(__file__).resolve().parent.parent


def params(fn: object) -> list[tuple[str, str, object]]:
    """(name, kind, default) of each parameter: what a caller of the reference relies on."""
    return [(p.name, p.kind.name, p.default) for p in inspect.signature(fn).parameters.values()]


# ---- computer_use_demo.streamlit ------------------------------------------------------------


def test_streamlit_import_runs_nothing_and_touches_no_config(tmp_path: Path) -> None:
    """Importing the app module neither runs the page nor creates ~/.anthropic."""
    env = {k: v for k, v in os.environ.items() if k not in ("CONFIG_DIR", "ANTHROPIC_API_KEY")}
    env["HOME"] = str(tmp_path)
    code = (
        "import computer_use_demo.streamlit as m\nprint(m.CONFIG_DIR, m.API_KEY_FILE, sep='\\n')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    config_dir, key_file = out.stdout.splitlines()
    assert Path(config_dir) == tmp_path / ".anthropic"
    assert Path(key_file) == tmp_path / ".anthropic" / "api_key"
    assert not (tmp_path / ".anthropic").exists()
    # Any Streamlit call outside a script run logs this; an import that ran main() would.
    assert "ScriptRunContext" not in out.stderr, out.stderr


def test_streamlit_reference_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from computer_use_demo import streamlit as app
    from computer_use_demo.agent import models
    from computer_use_demo.loop import APIProvider

    assert [s.value for s in app.Sender] == ["user", "assistant", "tool"]
    assert app.Sender.BOT == "assistant"
    assert isinstance(app.API_KEY_FILE, Path)
    assert app.API_KEY_FILE == app.CONFIG_DIR / "api_key"
    assert "button[kind=header]" in app.STREAMLIT_STYLE
    assert app.INTERRUPT_TEXT and app.INTERRUPT_TOOL_ERROR

    # Default models and per-model defaults come from our model table, not a copy of it.
    assert set(app.PROVIDER_TO_DEFAULT_MODEL_NAME) == set(APIProvider)
    for provider, model in app.PROVIDER_TO_DEFAULT_MODEL_NAME.items():
        assert model == models.DEFAULT_MODELS[provider.value]
    assert set(app.MODEL_TO_MODEL_CONF) == set(models.MODELS)
    for model, conf in app.MODEL_TO_MODEL_CONF.items():
        info = models.model_info(model)
        assert isinstance(conf, app.ModelConfig)
        assert (conf.tool_version, conf.max_output_tokens) == (
            info.tool_version,
            info.max_output_tokens,
        )
        assert (conf.default_output_tokens, conf.has_thinking) == (
            info.default_output_tokens,
            info.has_thinking,
        )
    assert params(app.ModelConfig) == [
        ("tool_version", "KEYWORD_ONLY", inspect.Parameter.empty),
        ("max_output_tokens", "KEYWORD_ONLY", inspect.Parameter.empty),
        ("default_output_tokens", "KEYWORD_ONLY", inspect.Parameter.empty),
        ("has_thinking", "KEYWORD_ONLY", False),
    ]

    # validate_auth(provider, api_key): a sentence when it cannot work, None when it can.
    assert [p[0] for p in params(app.validate_auth)] == ["provider", "api_key"]
    assert "API key" in (app.validate_auth(APIProvider.ANTHROPIC, None) or "")
    assert app.validate_auth(APIProvider.ANTHROPIC, "sk-test") is None
    monkeypatch.delenv("CLOUD_ML_REGION", raising=False)
    assert "CLOUD_ML_REGION" in (app.validate_auth(APIProvider.VERTEX, None) or "")

    # load/save_to_storage(filename[, data]) work in CONFIG_DIR, 0600, errors not raised.
    monkeypatch.setattr(app, "CONFIG_DIR", tmp_path / "cfg")
    assert app.load_from_storage("system_prompt") is None
    app.save_to_storage("system_prompt", "  be brief \n")
    saved = tmp_path / "cfg" / "system_prompt"
    assert saved.read_text() == "  be brief \n"
    assert saved.stat().st_mode & 0o777 == 0o600
    assert app.load_from_storage("system_prompt") == "be brief"
    (tmp_path / "blocked").write_text("a file, not a directory")
    monkeypatch.setattr(app, "CONFIG_DIR", tmp_path / "blocked")
    app.save_to_storage("api_key", "sk-x")  # no exception: shown in the app instead
    assert app.load_from_storage("api_key") is None
    assert [p[0] for p in params(app.load_from_storage)] == ["filename"]
    assert [p[0] for p in params(app.save_to_storage)] == ["filename", "data"]
    assert params(app.setup_state) == []


def test_streamlit_interruption_blocks() -> None:
    from computer_use_demo import streamlit as app
    from computer_use_demo.agent.history import heal

    stopped = {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "clicking"},
            {"type": "tool_use", "id": "toolu_1", "name": "computer", "input": {}},
            {"type": "tool_use", "id": "toolu_2", "name": "bash", "input": {"command": "ls"}},
        ],
    }
    history = [{"role": "user", "content": "open firefox"}, stopped]
    blocks = app.maybe_add_interruption_blocks(history, interrupted=True)
    assert blocks == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": app.INTERRUPT_TOOL_ERROR,
            "is_error": True,
        },
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "content": app.INTERRUPT_TOOL_ERROR,
            "is_error": True,
        },
        {"type": "text", "text": app.INTERRUPT_TEXT},
    ]
    # Used as the reference does, the next user turn is one the API accepts as it is.
    turn = {"role": "user", "content": [*blocks, {"type": "text", "text": "stop that"}]}
    assert heal([*history, turn])[1:] == [stopped, turn]
    assert app.maybe_add_interruption_blocks(history, interrupted=False) == []
    # After a finished turn there is nothing to answer: only the note.
    done = [*history[:1], {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}]
    assert app.maybe_add_interruption_blocks(done, interrupted=True) == [
        {"type": "text", "text": app.INTERRUPT_TEXT}
    ]
    # Outside a script run no loop was interrupted (the reference's in_sampling_loop key).
    assert app.maybe_add_interruption_blocks() == []


# ---- computer_use_demo.tools.computer -------------------------------------------------------

DISPLAYS = range(90, 100)


@pytest.fixture(scope="module")
def full_hd() -> Iterator[XDisplay]:
    with xvfb(DISPLAYS, 1920, 1080) as display:
        yield display


def pointer(display: XDisplay) -> tuple[int, int]:
    out = subprocess.run(
        ["xdotool", "getmouselocation", "--shell"],
        env=display.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return int(values["X"]), int(values["Y"])


def test_computer_names_and_class_shapes() -> None:
    from computer_use_demo.tools import computer as c
    from computer_use_demo.tools.base import BaseAnthropicTool

    assert [s.value for s in c.ScalingSource] == ["computer", "api"]
    assert c.MAX_SCALING_TARGETS == {
        "XGA": {"width": 1024, "height": 768},
        "WXGA": {"width": 1280, "height": 800},
        "FWXGA": {"width": 1366, "height": 768},
    }
    assert c.Resolution(width=1, height=2) == {"width": 1, "height": 2}
    assert c.CLICK_BUTTONS["left_click"] == 1
    assert c.CLICK_BUTTONS["right_click"] == 3
    assert c.CLICK_BUTTONS["middle_click"] == 2
    assert str(c.CLICK_BUTTONS["double_click"]).startswith("--repeat 2 ")
    assert str(c.CLICK_BUTTONS["triple_click"]).startswith("--repeat 3 ")
    assert str(c.CLICK_BUTTONS["triple_click"]).endswith(" 1")
    assert Path(c.OUTPUT_DIR).is_absolute()
    assert set(get_args(c.ScrollDirection)) == {"up", "down", "left", "right"}

    def actions(literal: object) -> set[str]:
        return {a for part in get_args(literal) for a in (get_args(part) or (part,))}

    assert actions(c.Action_20241022) == set(c.ComputerTool20241022.spec.choices)
    assert actions(c.Action_20250124) == set(c.ComputerTool20250124.spec.choices)
    assert actions(c.Action_20251124) == set(c.ComputerTool20251124.spec.choices)
    assert "zoom" in actions(c.Action_20251124) - actions(c.Action_20250124)

    for cls in (c.ComputerTool20241022, c.ComputerTool20250124, c.ComputerTool20251124):
        assert issubclass(cls, c.BaseComputerTool) and issubclass(cls, BaseAnthropicTool)
    assert issubclass(c.ComputerTool20251124, c.ComputerTool20250124)
    assert not issubclass(c.ComputerTool20241022, c.ComputerTool20250124)
    assert [cls.api_type for cls in (c.ComputerTool20241022, c.ComputerTool20251124)] == [
        "computer_20241022",
        "computer_20251124",
    ]
    assert isinstance(inspect.getattr_static(c.BaseComputerTool, "options"), property)
    empty = inspect.Parameter.empty
    assert params(c.BaseComputerTool.shell) == [
        ("self", "POSITIONAL_OR_KEYWORD", empty),
        ("command", "POSITIONAL_OR_KEYWORD", empty),
        ("take_screenshot", "POSITIONAL_OR_KEYWORD", True),
    ]
    assert params(c.BaseComputerTool.screenshot) == [("self", "POSITIONAL_OR_KEYWORD", empty)]
    assert [p[0] for p in params(c.BaseComputerTool.scale_coordinates)] == [
        "self",
        "source",
        "x",
        "y",
    ]
    assert params(c.BaseComputerTool.validate_and_get_coordinates)[1:] == [
        ("coordinate", "POSITIONAL_OR_KEYWORD", None)
    ]
    for name in ("shell", "screenshot"):
        assert inspect.iscoroutinefunction(getattr(c.BaseComputerTool, name))


@pytest.mark.desktop
async def test_computer_public_methods_on_a_real_display(full_hd: XDisplay, tmp_path: Path) -> None:
    from computer_use_demo.tools.base import ToolError
    from computer_use_demo.tools.computer import ComputerTool20251124, ScalingSource

    tool = ComputerTool20251124(width=1920, height=1080, display_num=full_hd.number)
    # 1920x1080 is shown to the model as FWXGA: options are what the API request carries.
    assert tool.options == {
        "display_width_px": 1366,
        "display_height_px": 768,
        "display_number": full_hd.number,
        "enable_zoom": True,
    }
    assert tool.to_params() == {"type": "computer_20251124", "name": "computer", **tool.options}
    assert tool.scale_coordinates(ScalingSource.COMPUTER, 1920, 1080) == (1366, 768)
    x, y = tool.scale_coordinates(ScalingSource.API, 683, 384)
    assert abs(x - 960) <= 1 and abs(y - 540) <= 1
    assert tool.scale_coordinates(ScalingSource.COMPUTER, x, y) == (683, 384)
    # Our fix: API points are checked against the size the model sees (the reference
    # compared them with the real screen's, so 1500 passed and clicked off the picture).
    with pytest.raises(ToolError, match="out of bounds"):
        tool.scale_coordinates(ScalingSource.API, 1500, 10)
    assert tool.validate_and_get_coordinates([683, 384]) == (x, y)
    for bad in (None, [1], [1, 2, 3], ["1", 2], [True, 2], [-1, 5]):
        with pytest.raises(ToolError):
            tool.validate_and_get_coordinates(bad)  # type: ignore[arg-type]

    # xdotool is the reference's command prefix; shell() runs a command line with it.
    assert tool.xdotool == f"DISPLAY=:{full_hd.number} xdotool"
    moved = await tool.shell(f"{tool.xdotool} mousemove 100 200", take_screenshot=False)
    assert moved.base64_image is None
    assert pointer(full_hd) == (100, 200)
    shot = await tool.shell(f"{tool.xdotool} mousemove 300 400")
    assert pointer(full_hd) == (300, 400)
    assert png(shot).size == (1366, 768)
    # No shell: `;` and `$` are text, nothing else runs.
    marker = tmp_path / "ran"
    echoed = await tool.shell(f"echo a; touch {marker} $HOME", take_screenshot=False)
    assert echoed.output == f"a; touch {marker} $HOME\n"
    assert not marker.exists()
    assert png(await tool.screenshot()).size == (1366, 768)


@pytest.mark.desktop
async def test_computer_scaling_can_be_turned_off(full_hd: XDisplay) -> None:
    from computer_use_demo.tools.computer import ComputerTool20250124, ScalingSource

    class Unscaled(ComputerTool20250124):
        _scaling_enabled = False

    tool = Unscaled(width=1920, height=1080, display_num=full_hd.number)
    assert (tool.options["display_width_px"], tool.options["display_height_px"]) == (1920, 1080)
    assert tool.scale_coordinates(ScalingSource.API, 1900, 1000) == (1900, 1000)
    await tool(action="mouse_move", coordinate=[1900, 1000])
    assert pointer(full_hd) == (1900, 1000)
    assert png(await tool.screenshot()).size == (1920, 1080)


def halves(width: int, height: int) -> str:
    """A PNG whose left half is red and right half blue, base64-encoded."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.desktop
async def test_an_overridden_screenshot_is_what_every_action_returns(full_hd: XDisplay) -> None:
    from computer_use_demo.tools.base import ToolResult
    from computer_use_demo.tools.computer import ComputerTool20251124

    class RemoteScreen(ComputerTool20251124):
        _screenshot_delay = 0.0
        calls = 0

        async def screenshot(self) -> ToolResult:
            type(self).calls += 1
            return ToolResult(base64_image=halves(1366, 768))

    tool = RemoteScreen(width=1920, height=1080, display_num=full_hd.number)
    for action, extra in (
        ("screenshot", {}),
        ("mouse_move", {"coordinate": [683, 384]}),
        ("left_click", {}),
        ("key", {"text": "shift"}),
        ("wait", {"duration": 0}),
    ):
        result = await tool(action=action, **extra)
        image = png(result)
        assert image.size == (1366, 768), action
        assert image.getpixel((10, 10)) == (255, 0, 0) and image.getpixel((1300, 10)) == (0, 0, 255)
    assert RemoteScreen.calls == 5
    assert pointer(full_hd) == (960, 540)  # the actions themselves still ran
    # zoom cuts its region from the overriding screenshot (here: from the blue half)
    zoomed = png(await tool(action="zoom", region=[800, 100, 1000, 200]))
    assert zoomed.size == (200, 100)
    assert zoomed.getcolors() == [(200 * 100, (0, 0, 255))]
    assert RemoteScreen.calls == 6


@pytest.mark.desktop
async def test_an_overridden_shell_runs_every_xdotool_command(
    full_hd: XDisplay, tmp_path: Path
) -> None:
    from computer_use_demo.tools.base import ToolResult
    from computer_use_demo.tools.computer import ComputerTool20250124

    class Logged(ComputerTool20250124):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.commands: list[str] = []

        async def shell(self, command: str, take_screenshot: bool = True) -> ToolResult:
            self.commands.append(command)
            return await super().shell(command, take_screenshot)

    tool = Logged(width=1920, height=1080, display_num=full_hd.number)
    await tool(action="mouse_move", coordinate=[683, 384])
    assert pointer(full_hd) == (960, 540)
    assert tool.commands == [f"{tool.xdotool} mousemove --sync 960 540"]
    # Model text reaches the override quoted: one argument, nothing interpreted.
    tool.commands.clear()
    marker = tmp_path / "ran"
    nasty = f"a'b; touch {marker} $(id)"
    await tool(action="type", text=nasty)
    typed = ""
    for command in tool.commands:  # typed in chunks of 50 characters, one command each
        words = shlex.split(command)
        assert words[:3] == [f"DISPLAY=:{full_hd.number}", "xdotool", "type"]
        assert words[-2] == "--"
        typed += words[-1]
    assert typed == nasty
    assert not marker.exists()

    class Canned(ComputerTool20250124):
        """A desktop elsewhere: the override answers, nothing runs here."""

        async def shell(self, command: str, take_screenshot: bool = True) -> ToolResult:
            assert command.endswith("getmouselocation --shell")
            return ToolResult(output="X=1920\nY=540\nSCREEN=0\nWINDOW=1\n")

    canned = Canned(width=1920, height=1080, display_num=full_hd.number)
    assert (await canned(action="cursor_position")).output == "X=1365,Y=384"


# The reference's seams without a display: a fork that drives a desktop elsewhere overrides
# `shell` and `screenshot` and gets the reference's command lines and results.


class Elsewhere:
    """Records what reaches the seams; answers like a remote desktop would."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, bool]] = []
        self.screenshots = 0

    async def shell(self, command: str, take_screenshot: bool = True) -> Any:
        from computer_use_demo.tools.base import ToolResult

        self.commands.append((command, take_screenshot))
        return ToolResult(output=f"ran {len(self.commands)};")

    async def screenshot(self) -> Any:
        from computer_use_demo.tools.base import ToolResult

        self.screenshots += 1
        return ToolResult(base64_image="remote-shot")


def elsewhere(cls: type, **kwargs: Any) -> tuple[Any, Elsewhere]:
    """A tool on display :1 (none runs there) whose seams are replaced on the instance."""
    seams = Elsewhere()
    tool = cls(display_num=1, **kwargs)
    tool.shell, tool.screenshot = seams.shell, seams.screenshot
    tool._screenshot_delay = 0
    return tool, seams


async def test_an_action_is_one_reference_command_line_and_its_result_is_the_shells() -> None:
    from computer_use_demo.tools.computer import ComputerTool20241022, ComputerTool20250124

    for cls in (ComputerTool20241022, ComputerTool20250124):
        tool, seams = elsewhere(cls)
        result = await tool(action="mouse_move", coordinate=[100, 200])
        assert seams.commands == [(f"{tool.xdotool} mousemove --sync 100 200", True)]
        assert result.output == "ran 1;" and seams.screenshots == 0  # shell took the picture

        seams.commands.clear()
        text = "Hello, World! " + "x" * 60
        result = await tool(action="type", text=text)
        assert seams.commands == [
            (f"{tool.xdotool} type --delay 12 -- {shlex.quote(text[:50])}", False),
            (f"{tool.xdotool} type --delay 12 -- {shlex.quote(text[50:])}", False),
        ]
        assert (result.output, result.base64_image) == ("ran 1;ran 2;", "remote-shot")
        assert seams.screenshots == 1


async def test_a_drag_is_the_references_one_command_with_its_modifier() -> None:
    from computer_use_demo.tools.computer import ComputerTool20241022, ComputerTool20250124

    tool, seams = elsewhere(ComputerTool20250124)
    x = tool.xdotool
    base = "mousemove --sync 0 0 {down}mousedown 1 mousemove --sync 100 100 mouseup 1{up}"
    for modifier, down, up in (
        ({"text": "ctrl"}, "keydown ctrl ", " keyup ctrl"),
        ({"key": "shift"}, "keydown shift ", " keyup shift"),
        ({}, "", ""),
        ({"text": ""}, "", ""),
    ):
        seams.commands.clear()
        await tool(
            action="left_click_drag", start_coordinate=[0, 0], coordinate=[100, 100], **modifier
        )
        assert seams.commands == [(f"{x} {base.format(down=down, up=up)}", True)], modifier
    old, seams = elsewhere(ComputerTool20241022)
    await old(action="left_click_drag", coordinate=[100, 100])  # from where the pointer is
    assert seams.commands == [
        (f"{old.xdotool} mousedown 1 mousemove --sync 100 100 mouseup 1", True)
    ]


@pytest.mark.parametrize(
    ("version", "call", "words"),
    [
        ("20250124", {"action": "invalid_action"}, "Invalid action: invalid_action. The actions"),
        ("20241022", {"action": "mouse_move"}, "coordinate is required for mouse_move"),
        ("20250124", {"action": "type"}, "text is required for type"),
        (
            "20241022",
            {"action": "left_click_drag", "coordinate": [1, 1], "text": "ctrl"},
            "text is not accepted for left_click_drag: it takes `coordinate`",
        ),
        (
            "20250124",
            {"action": "left_click_drag", "coordinate": [1, 1]},
            "start_coordinate is required for left_click_drag",
        ),
        (
            "20250124",
            {"action": "mouse_move", "coordinate": [1500, 900]},
            "Coordinates 1500, 900 are out of bounds: the screen is 1366x768",
        ),
    ],
)
async def test_refusals_say_the_references_words_first(
    version: str, call: dict[str, Any], words: str
) -> None:
    from computer_use_demo.tools import computer
    from computer_use_demo.tools.base import ToolError

    tool, seams = elsewhere(getattr(computer, f"ComputerTool{version}"), width=1920, height=1080)
    with pytest.raises(ToolError) as refused:
        await tool(**call)
    assert refused.value.message.startswith(words), refused.value.message
    assert seams.commands == []


def test_scaling_follows_the_size_as_assigned_without_a_display() -> None:
    from computer_use_demo.tools.computer import ComputerTool20241022, ScalingSource

    tool = ComputerTool20241022(width=1024, height=768, display_num=1)
    assert (tool.options["display_width_px"], tool.options["display_height_px"]) == (1024, 768)
    tool.width, tool.height = 1920, 1080
    assert (tool.options["display_width_px"], tool.options["display_height_px"]) == (1366, 768)
    assert tool.scale_coordinates(ScalingSource.API, 1366, 768) == (1920, 1080)  # the far edge
    assert tool.scale_coordinates(ScalingSource.COMPUTER, 1920, 1080) == (1366, 768)
    tool.height = 1200  # 16:10: WXGA
    assert tool.scale_coordinates(ScalingSource.API, 1280, 800) == (1920, 1200)
    tool._scaling_enabled = False
    assert tool.options["display_width_px"] == 1920
    assert tool.scale_coordinates(ScalingSource.API, 1366, 768) == (1366, 768)
    # Not the reference's: a big screen of no target's ratio is still shown shrunk (the API
    # would shrink a 4096-wide picture itself, and the model's points would miss).
    tool._scaling_enabled, tool.width, tool.height = True, 4096, 2160
    assert (tool.options["display_width_px"], tool.options["display_height_px"]) == (1280, 675)


def test_the_default_shell_drops_sync_and_paces_a_drag() -> None:
    from computer_use_demo.tools.computer import pace_drag

    line = "mousemove --sync 0 0 keydown ctrl mousedown 1 mousemove --sync 100 40 mouseup 1"
    assert pace_drag([*line.split(), "keyup", "ctrl"]) == [
        *"mousemove 0 0 keydown ctrl mousedown 1 sleep 0.05 mousemove 50 20 sleep 0.05".split(),
        *"mousemove 100 40 sleep 0.05 mouseup 1 keyup ctrl".split(),
    ]
    click = "mousemove --sync 5 5 mousedown 1 mouseup 1 sleep 0.08 mousedown 1 mouseup 1"
    assert pace_drag(click.split()) == click.replace(" --sync", "").split()
    typed = ["type", "--delay", "12", "--", "mousedown 1 mousemove --sync 3 4"]
    assert pace_drag(typed) == typed


def xterm_over_the_screen(display: XDisplay) -> subprocess.Popen[bytes]:
    """An xterm covering most of ``display``, once its window is there."""
    env = {**display.env, "LANG": "C.UTF-8"}
    argv = ["xterm", "-geometry", "200x80+0+0", "-e", "sleep", "60"]
    xterm = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(100):
        search = ["xdotool", "search", "--onlyvisible", "--class", "xterm"]
        if subprocess.run(search, env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    return xterm


@pytest.mark.desktop
async def test_a_click_where_the_pointer_already_is_does_not_hang(full_hd: XDisplay) -> None:
    """xdotool's `mousemove --sync` to where the pointer is, over a window, never returns."""
    from computer_use_demo.tools.computer import ComputerTool20250124

    xterm = xterm_over_the_screen(full_hd)
    try:
        tool = ComputerTool20250124(width=1920, height=1080, display_num=full_hd.number)
        for _ in range(3):
            await asyncio.wait_for(tool(action="left_click", coordinate=[300, 200]), 10)
            await asyncio.wait_for(tool(action="mouse_move", coordinate=[300, 200]), 10)
    finally:
        os.killpg(xterm.pid, 9)
        xterm.wait()


# ---- computer_use_demo.tools.edit -----------------------------------------------------------


def test_edit_names_and_signatures() -> None:
    from computer_use_demo.tools import edit as e

    assert set(get_args(e.Command_20241022)) == {
        "view",
        "create",
        "str_replace",
        "insert",
        "undo_edit",
    }
    assert set(get_args(e.Command_20250429)) == set(get_args(e.Command_20241022)) - {"undo_edit"}
    assert set(e.EditTool20241022().commands) == set(get_args(e.Command_20241022))
    assert set(e.EditTool20250728().commands) == set(get_args(e.Command_20250429))
    empty = inspect.Parameter.empty
    expected = {
        "validate_path": [("command", empty), ("path", empty)],
        "view": [("path", empty), ("view_range", None)],
        "str_replace": [("path", empty), ("old_str", empty), ("new_str", empty)],
        "insert": [("path", empty), ("insert_line", empty), ("new_str", empty)],
        "undo_edit": [("path", empty)],
        "read_file": [("path", empty)],
        "write_file": [("path", empty), ("file", empty)],
    }
    for name, args in expected.items():
        method = getattr(e.EditTool20250124, name)
        assert [(p, d) for p, _, d in params(method)[1:]] == args, name
    assert inspect.iscoroutinefunction(e.EditTool20250124.view)
    # undo_edit where the version has it, as in the reference
    assert hasattr(e.EditTool20241022, "undo_edit") and hasattr(e.EditTool20250124, "undo_edit")
    assert not hasattr(e.EditTool20250429, "undo_edit")
    assert not hasattr(e.EditTool20250728, "undo_edit")
    assert issubclass(e.EditTool20241022, e.EditTool20250124)
    assert e.EditTool20241022.api_type == "text_editor_20241022"


async def test_edit_public_methods_on_real_files(tmp_path: Path) -> None:
    from computer_use_demo.tools.base import CLIResult, ToolError
    from computer_use_demo.tools.edit import EditTool20250124

    tool = EditTool20250124()
    f = tmp_path / "notes.txt"
    f.write_bytes(b"one\r\ntwo\r\n\tthree\r\n")
    with pytest.raises(ToolError, match="not an absolute path"):
        tool.validate_path("view", Path("notes.txt"))
    with pytest.raises(ToolError, match="does not exist"):
        tool.validate_path("view", tmp_path / "missing")
    with pytest.raises(ToolError, match="already exists"):
        tool.validate_path("create", f)
    with pytest.raises(ToolError, match="directory"):
        tool.validate_path("str_replace", tmp_path)
    tool.validate_path("view", tmp_path)
    tool.validate_path("create", tmp_path / "new.txt")

    assert tool.read_file(f) == "one\r\ntwo\r\n\tthree\r\n"  # exactly, line endings too
    viewed = await tool.view(f, [2, 3])
    assert isinstance(viewed, CLIResult)
    assert viewed.output == (
        f"Here's the result of running `cat -n` on {f}:\n     2\ttwo\n     3\t\tthree\n"
    )
    assert "notes.txt" in ((await tool.view(tmp_path)).output or "")

    inode = f.stat().st_ino
    f.chmod(0o640)
    edited = tool.str_replace(f, "two", "2")
    assert isinstance(edited, CLIResult) and "has been edited" in (edited.output or "")
    assert f.read_bytes() == b"one\r\n2\r\n\tthree\r\n"  # CRLF and the tab kept
    assert f.stat().st_ino != inode and f.stat().st_mode & 0o777 == 0o640  # renamed over
    tool.insert(f, 1, "1.5")
    assert f.read_bytes() == b"one\r\n1.5\r\n2\r\n\tthree\r\n"
    tool.str_replace(f, "1.5\n", None)  # None deletes, as in the reference
    assert f.read_bytes() == b"one\r\n2\r\n\tthree\r\n"
    assert "undone" in (tool.undo_edit(f).output or "")
    assert f.read_bytes() == b"one\r\n1.5\r\n2\r\n\tthree\r\n"
    tool.undo_edit(f)
    tool.undo_edit(f)
    assert f.read_bytes() == b"one\r\ntwo\r\n\tthree\r\n"
    with pytest.raises(ToolError, match="No edit history"):
        tool.undo_edit(f)

    tool.write_file(f, "replaced\n")
    assert f.read_text() == "replaced\n"
    deep = tmp_path / "a" / "b" / "c.txt"
    tool.write_file(deep, "new\n")
    assert deep.read_text() == "new\n"
    with pytest.raises(ToolError, match="not a UTF-8 text file"):
        (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
        tool.read_file(tmp_path / "bin")


async def test_overridden_read_and_write_file_see_every_command(tmp_path: Path) -> None:
    from computer_use_demo.tools.base import ToolError
    from computer_use_demo.tools.edit import EditTool20241022, EditTool20250728

    class Memory(EditTool20241022):
        def __init__(self) -> None:
            super().__init__()
            self.files: dict[str, str] = {}
            self.calls: list[tuple[str, str]] = []

        def validate_path(self, command: str, path: Path | str) -> None:
            if command != "create" and str(path) not in self.files:
                raise ToolError(f"The path {path} does not exist.")

        def read_file(self, path: Path | str) -> str:
            self.calls.append(("read", str(path)))
            return self.files[str(path)]

        def write_file(self, path: Path | str, file: str) -> None:
            self.calls.append(("write", str(path)))
            self.files[str(path)] = file

    tool = Memory()
    path = str(tmp_path / "remote" / "a.py")
    await tool(command="create", path=path, file_text="x = 1\ny = 2\n")
    await tool(command="str_replace", path=path, old_str="x = 1", new_str="x = 10")
    await tool(command="insert", path=path, insert_line=0, new_str="import os")
    viewed = await tool(command="view", path=path)
    assert viewed.output and "     1\timport os\n     2\tx = 10\n     3\ty = 2\n" in viewed.output
    assert tool.files[path] == "import os\nx = 10\ny = 2\n"
    await tool(command="undo_edit", path=path)
    assert tool.files[path] == "x = 10\ny = 2\n"
    assert tool.calls == [
        ("write", path),
        ("read", path),
        ("write", path),
        ("read", path),
        ("write", path),
        ("read", path),
        ("write", path),
    ]
    assert not (tmp_path / "remote").exists()  # nothing went to the local disk

    class Rot13(EditTool20250728):
        """Sandboxed storage that encodes what it stores: the model only sees plain text."""

        def read_file(self, path: Path | str) -> str:
            return codecs.decode(super().read_file(path), "rot13")

        def write_file(self, path: Path | str, file: str) -> None:
            super().write_file(path, codecs.encode(file, "rot13"))

    rot = Rot13()
    secret = tmp_path / "secret.txt"
    await rot(command="create", path=str(secret), file_text="hello world\n")
    assert secret.read_text() == "uryyb jbeyq\n"
    await rot(command="str_replace", path=str(secret), old_str="world", new_str="there")
    assert secret.read_text() == "uryyb gurer\n"
    assert "hello there" in ((await rot(command="view", path=str(secret))).output or "")


# ---- computer_use_demo.tools.bash and groups ------------------------------------------------


async def test_bash_takes_the_command_positionally() -> None:
    from computer_use_demo.tools.bash import BashTool20241022, BashTool20250124

    empty = inspect.Parameter.empty
    assert params(BashTool20250124.__call__) == [
        ("self", "POSITIONAL_OR_KEYWORD", empty),
        ("command", "POSITIONAL_OR_KEYWORD", None),
        ("restart", "POSITIONAL_OR_KEYWORD", False),
        ("kwargs", "VAR_KEYWORD", empty),
    ]
    assert issubclass(BashTool20241022, BashTool20250124)
    assert BashTool20241022.api_type == "bash_20241022"
    assert BashTool20241022().to_params() == {"type": "bash_20241022", "name": "bash"}
    tool = BashTool20241022()
    try:
        assert (await tool("echo $((6 * 7))")).output == "42"
        assert (await tool("cd /tmp; X=5")).output == ""
        assert (await tool(command="echo $X $PWD")).output == "5 /tmp"  # one session
        assert (await tool(None, True)).system == "tool has been restarted."
        assert (await tool("echo ${X:-unset}")).output == "unset"
    finally:
        await tool.stop()


def test_tool_groups_are_lists() -> None:
    from computer_use_demo.tools.groups import TOOL_GROUPS, TOOL_GROUPS_BY_VERSION, ToolGroup

    assert isinstance(TOOL_GROUPS, list) and TOOL_GROUPS
    for group in TOOL_GROUPS:
        assert isinstance(group.tools, list) and group.tools
        assert TOOL_GROUPS_BY_VERSION[group.version] is group
    # A fork's group, built the reference's way.
    mine = ToolGroup(version="computer_use_20250124", tools=[*TOOL_GROUPS[1].tools][:2])
    assert [t.name for t in mine.tools] == ["computer", "str_replace_editor"]


# ---- computer_use_demo.loop -----------------------------------------------------------------


async def run_reference_loop(
    fake_api: FakeAnthropicAPI, messages: list[Any], **extra: Any
) -> list[Any]:
    from computer_use_demo.loop import APIProvider, sampling_loop

    arguments: dict[str, Any] = {
        "model": "claude-sonnet-4-5-20250929",
        "tool_version": "computer_use_20250124",
        "max_tokens": 4096,
        **extra,
    }
    return await sampling_loop(
        provider=APIProvider.ANTHROPIC,
        system_prompt_suffix="",
        messages=messages,
        output_callback=lambda block: None,
        tool_output_callback=lambda result, tool_use_id: None,
        api_response_callback=lambda request, response, error: None,
        api_key="sk-ant-test-secret",
        **arguments,
    )


async def test_sampling_loop_keeps_string_content(
    fake_api: FakeAnthropicAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.url)
    fake_api.push(
        message(text("Running it."), tool_use("bash", {"command": "echo hi"})),
        message(text("Done.")),
    )
    first = {"role": "user", "content": "run echo"}
    answer = {"role": "assistant", "content": "Sure."}
    ask = {"role": "user", "content": "now run it"}
    messages: list[Any] = [first, answer, ask]
    returned = await run_reference_loop(fake_api, messages)
    assert returned is messages and len(returned) == 6
    assert returned[0] is first and returned[0]["content"] == "run echo"
    assert returned[1] is answer and returned[2] is ask
    assert returned[3]["role"] == "assistant" and isinstance(returned[3]["content"], list)
    sent = fake_api.requests[0].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"] and all(
        r.valid for r in fake_api.requests
    )

    # Messages the loop had to change come back changed: two user turns in a row are merged.
    fake_api.push(message(text("Both seen.")))
    merged = await run_reference_loop(
        fake_api, [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}]
    )
    assert merged[0]["content"] == [
        {"type": "text", "text": "one"},
        {"type": "text", "text": "two"},
    ]
    assert merged[1]["content"] == [{"type": "text", "text": "Both seen."}]


def test_sampling_loop_signature_matches_the_reference() -> None:
    from computer_use_demo import loop

    assert set(get_args(loop.ThinkingMode)) == {"adaptive", "extended", "off"}
    assert {"low", "medium", "high", "max"} <= set(get_args(loop.ThinkingEffort))
    signature = inspect.signature(loop.sampling_loop)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in signature.parameters.values())
    reference = {
        "model": inspect.Parameter.empty,
        "provider": inspect.Parameter.empty,
        "system_prompt_suffix": inspect.Parameter.empty,
        "messages": inspect.Parameter.empty,
        "output_callback": inspect.Parameter.empty,
        "tool_output_callback": inspect.Parameter.empty,
        "api_response_callback": inspect.Parameter.empty,
        "api_key": inspect.Parameter.empty,
        "only_n_most_recent_images": None,
        "max_tokens": 4096,
        "tool_version": inspect.Parameter.empty,
        "thinking_budget": None,
        "token_efficient_tools_beta": False,
        "thinking_mode": None,
        "thinking_effort": None,
    }
    assert {n: p.default for n, p in signature.parameters.items()} == reference


async def test_sampling_loop_sends_the_thinking_asked_for(
    fake_api: FakeAnthropicAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.url)
    fake_api.push(message(text("Thought about it.")), message(text("Thought within budget.")))
    adaptive = await run_reference_loop(
        fake_api,
        [{"role": "user", "content": "think"}],
        model="claude-opus-4-8",
        tool_version="computer_use_20251124",
        max_tokens=4096,
        thinking_mode="adaptive",
        thinking_effort="low",
    )
    assert adaptive[-1]["content"] == [{"type": "text", "text": "Thought about it."}]
    body = fake_api.requests[-1].body
    assert fake_api.requests[-1].valid, fake_api.requests[-1].error
    assert body["thinking"]["type"] == "adaptive"
    assert body["output_config"] == {"effort": "low"}

    await run_reference_loop(
        fake_api,
        [{"role": "user", "content": "think a little"}],
        thinking_mode="extended",
        thinking_budget=2048,
    )
    body = fake_api.requests[-1].body
    assert fake_api.requests[-1].valid, fake_api.requests[-1].error
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "output_config" not in body
