"""The computer tool: mouse, keyboard and screenshots on the X display, every version.

xdotool always gets an argv list. Text to type is one argv element after ``--``. Key names
are whitespace-separated argv elements, and none may be an xdotool command name: xdotool
chains commands, so ``key`` with text like ``a exec rm -rf ~`` would otherwise run a program.

After an action the screen is left to settle (see ``screen.Screen.settled``) and the settled
screenshot is returned, scaled to the size advertised in ``to_params``.

The reference's public API is here too (``BaseComputerTool`` and its version subclasses,
``options``, ``xdotool``, ``shell``, ``screenshot``, ``scale_coordinates``,
``validate_and_get_coordinates``, ``ScalingSource``, ``MAX_SCALING_TARGETS``...), over this one
implementation. Every action goes through ``screenshot`` and ``shell`` when a subclass overrides
them (forks drive a remote or containerised desktop that way): xdotool commands then reach the
override as a command line, each argument quoted with ``shlex``. Without an override, xdotool
gets argv lists and no command line is ever built.
"""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, ClassVar, Literal, TypedDict, get_args

from anthropic.types.beta import BetaToolUnionParam
from PIL import Image

from ..desktop.backend import Desktop
from ..desktop.client import RemoteDesktop
from ..desktop.errors import DesktopError
from ..desktop.local import LocalDesktop
from ..desktop.screen import SCALING_TARGETS, Scaling, Screen, ScreenError, encode_png, fit_within
from ..desktop.select import chosen_desktop
from .base import BaseAnthropicTool, CLIResult, ToolError, ToolResult, ToolSpec
from .run import maybe_truncate
from .specs import COMPUTER_20241022, COMPUTER_20250124, COMPUTER_20251124

TYPING_DELAY_MS = 12
TYPING_GROUP_SIZE = 50
#: Characters missing from the keymap (non-ASCII) are typed slower: xdotool binds each to a
#: spare keycode just for the keystroke, and the app must read the new keymap before xdotool
#: restores it, or the character is lost. 12 ms drops some on a busy machine.
UNMAPPED_TYPING_DELAY_MS = 100
#: Pause between the clicks of a double/triple click: well inside every toolkit's
#: double-click time (xterm 250 ms, GTK/Qt 400 ms).
MULTI_CLICK_GAP = "0.08"
XDOTOOL_TIMEOUT = 30.0
#: Most presses one `key` call may repeat (the toolset's `repeat`).
MAX_KEY_REPEAT = 100
#: Actions that return the screen as it is, without waiting for it to settle.
UNSETTLED_ACTIONS = frozenset({"screenshot", "cursor_position", "zoom", "wait"})
SCROLL_BUTTONS = {"up": "4", "down": "5", "left": "6", "right": "7"}
CLICKS: dict[str, tuple[str, int]] = {
    "left_click": ("1", 1),
    "right_click": ("3", 1),
    "middle_click": ("2", 1),
    "double_click": ("1", 2),
    "triple_click": ("1", 3),
}
#: xdotool's command words (``xdotool help``); a key name equal to one would start a chain.
XDOTOOL_COMMANDS = frozenset(
    """getactivewindow getwindowfocus getwindowname getwindowpid getwindowgeometry
    getdisplaygeometry search selectwindow help version behave behave_screen_edge click
    getmouselocation key keydown keyup mousedown mousemove mousemove_relative mouseup
    set_window type windowactivate windowfocus windowkill windowclose windowmap
    windowminimize windowmove windowraise windowreparent windowsize windowunmap
    set_num_desktops get_num_desktops set_desktop get_desktop set_desktop_for_window
    get_desktop_for_window get_desktop_viewport set_desktop_viewport exec sleep""".split()
)

#: Every input field of the computer tool (the newest version's schema has them all).
KNOWN_FIELDS = frozenset(COMPUTER_20251124.input_schema["properties"]) - {"action"}
#: Fields an action takes besides the ones its schema requires (specs.py), from
#: computer_20250124 on; computer_20241022 actions take their required fields (and see below).
_OPTIONAL_FIELDS_2025: dict[str, frozenset[str]] = {
    # The modifier of a click is `key`; the reference reads it from `text`: accept both.
    **{click: frozenset({"coordinate", "key", "text"}) for click in CLICKS},
    "left_click_drag": frozenset({"start_coordinate", "key", "text"}),
    "scroll": frozenset({"coordinate", "text", "key"}),
}
#: computer_20241022's drag starts where the pointer is; code written for the reference may
#: still name a start (the model cannot: the version's schema has no such field).
_OPTIONAL_FIELDS_2024: dict[str, frozenset[str]] = {
    "left_click_drag": frozenset({"start_coordinate"})
}
#: Fields required from computer_20250124 on besides the schema's: a drag names its start
#: (as the reference requires; computer_20241022 drags from where the pointer is).
_REQUIRED_2025: dict[str, tuple[str, ...]] = {"left_click_drag": ("start_coordinate",)}
#: Pauses of a drag while the button is held (see ``pace_drag``).
DRAG_PAUSE = "0.05"


# ---- the reference's names -------------------------------------------------------------------

Action_20241022 = Literal[
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click",
    "middle_click", "double_click", "screenshot", "cursor_position",
]  # fmt: skip
Action_20250124 = (
    Action_20241022
    | Literal["left_mouse_down", "left_mouse_up", "scroll", "hold_key", "wait", "triple_click"]
)
Action_20251124 = Action_20250124 | Literal["zoom"]
ScrollDirection = Literal["up", "down", "left", "right"]
assert set(get_args(Action_20241022)) == COMPUTER_20241022.choices
assert {a for part in get_args(Action_20250124) for a in get_args(part) or (part,)} == (
    COMPUTER_20250124.choices
)
assert set(get_args(ScrollDirection)) == set(SCROLL_BUTTONS)

#: Where the reference saved its screenshot files; ours stay in memory (forks may use it).
OUTPUT_DIR = "/tmp/outputs"


class ScalingSource(StrEnum):
    """Which space a coordinate is in: the real screen's, or the scaled one the API sees."""

    COMPUTER = "computer"
    API = "api"


class Resolution(TypedDict):
    width: int
    height: int


class ComputerToolOptions(TypedDict, total=False):
    display_height_px: int
    display_width_px: int
    display_number: int | None
    enable_zoom: bool


#: The sizes a bigger screen is scaled down to (screen.SCALING_TARGETS, by aspect ratio).
MAX_SCALING_TARGETS: dict[str, Resolution] = {
    name: Resolution(width=w, height=h) for name, (w, h) in SCALING_TARGETS.items()
}
#: xdotool ``click`` arguments of each click action (ours presses and releases the button
#: itself, MULTI_CLICK_GAP apart; this is the same click as one xdotool command).
CLICK_BUTTONS: dict[str, int | str] = {
    action: int(button)
    if count == 1
    else f"--repeat {count} --delay {round(float(MULTI_CLICK_GAP) * 1000)} {button}"
    for action, (button, count) in CLICKS.items()
}


def _accepted_fields(spec: ToolSpec) -> dict[str, frozenset[str]]:
    """The input fields each action of ``spec`` takes: required ones, plus optional ones."""
    optional = _OPTIONAL_FIELDS_2024 if spec is COMPUTER_20241022 else _OPTIONAL_FIELDS_2025
    return {
        action: frozenset(_required_fields(spec, action)) | optional.get(action, frozenset())
        for action in spec.choices
    }


def _required_fields(spec: ToolSpec, action: str) -> tuple[str, ...]:
    """The input fields ``action`` of ``spec`` cannot do without."""
    extra = () if spec is COMPUTER_20241022 else _REQUIRED_2025.get(action, ())
    return (*spec.required_for(action), *extra)


def chunks(s: str, chunk_size: int) -> list[str]:
    """``s`` cut into pieces of at most ``chunk_size`` characters."""
    return [s[i : i + chunk_size] for i in range(0, len(s), chunk_size)]


def typing_groups(text: str) -> list[tuple[str, int]]:
    """(chunk, delay in ms) pairs to type ``text``: ASCII runs in 50-character chunks at the
    reference's speed, other characters slower (see UNMAPPED_TYPING_DELAY_MS)."""
    runs = re.findall(r"[\x00-\x7f]+|[^\x00-\x7f]+", text)
    return [
        (chunk, TYPING_DELAY_MS if run.isascii() else UNMAPPED_TYPING_DELAY_MS)
        for run in runs
        for chunk in chunks(run, TYPING_GROUP_SIZE)
    ]


def pace_drag(args: Sequence[str]) -> list[str]:
    """xdotool ``args`` as the default ``shell`` runs them: ``mousemove --sync`` loses its
    ``--sync`` (xdotool 3.20160805 waits forever when the pointer is already there, over a
    window; one process's requests reach the X server in order anyway), and a drag's motion is
    paced: while button 1 is held, each move is preceded by a pause and a move to the midpoint
    from the last known position, and followed by a pause. Toolkits start a drag on a first
    motion and track the next; a press, one jump and a release in the same millisecond is often
    no drag at all. Everything from a ``type`` on is text and left alone."""
    out: list[str] = []
    held, pos, i = False, None, 0
    while i < len(args):
        word = args[i]
        if word == "type":
            return [*out, *args[i:]]
        if word in ("mousedown", "mouseup") and i + 1 < len(args):
            if args[i + 1] == "1":
                held = word == "mousedown"
            out += args[i : i + 2]
            i += 2
            continue
        if word == "mousemove":
            sync = args[i + 1 : i + 2] == ["--sync"]
            point = args[i + 1 + sync : i + 3 + sync]
            if len(point) == 2 and all(v.isdigit() for v in point):
                target = (int(point[0]), int(point[1]))
                if held:
                    out += ["sleep", DRAG_PAUSE]
                    if pos is not None:
                        middle = [str((a + b) // 2) for a, b in zip(pos, target, strict=True)]
                        out += ["mousemove", *middle, "sleep", DRAG_PAUSE]
                    out += ["mousemove", *point, "sleep", DRAG_PAUSE]
                else:
                    out += ["mousemove", *point]
                pos = target
                i += 3 + sync
                continue
        out.append(word)
        i += 1
    return out


def key_args(text: str) -> list[str]:
    """xdotool key arguments for ``text`` (e.g. ``ctrl+s`` or ``Down Down Return``)."""
    keys = text.split()
    if not keys:
        raise ToolError("no key given: send a key or combination such as `Return` or `ctrl+s`")
    for key in keys:
        if key.lower() in XDOTOOL_COMMANDS or (key.startswith("-") and len(key) > 1):
            raise ToolError(
                f"{key!r} is not a key name. Use xdotool key names such as `Return`, "
                "`ctrl+a`, `alt+Tab`, `Down`, `KP_0`."
            )
    return keys


class ComputerTool(BaseAnthropicTool):
    """Drives the X display ``:$DISPLAY_NUM`` with xdotool; screenshots are scaled for the API.

    ``width``/``height``/``display_num`` default to $WIDTH/$HEIGHT/$DISPLAY_NUM; without a
    display number the tool uses $DISPLAY. This is also the reference's ``BaseComputerTool``.

    Every action is an xdotool command line given to ``shell`` (one call for most actions, as
    the reference's), and its picture comes from ``screenshot``: the two seams a fork
    overrides, and the only path. The defaults make the line an argv list (no shell) and
    settle the screenshot (``screen.Screen.settled``).
    """

    spec = COMPUTER_20250124
    #: Whether an action answers with the settled screen (every single-tool version) or only
    #: with xdotool's warnings (the toolset, whose model asks for a screenshot when it wants one).
    screenshot_after_action: ClassVar[bool] = True
    #: The reference's switch: False sends screenshots and takes coordinates at full size.
    _scaling_enabled = True
    #: With ``screenshot`` overridden, the pause before the screenshot that ends an action
    #: (our own screenshots wait until the screen stops changing instead).
    _screenshot_delay = 2.0

    def __init__(
        self,
        *,
        width: int | None = None,
        height: int | None = None,
        display_num: int | None = None,
        screen: Screen | None = None,
        desktop: Desktop | None = None,
    ) -> None:
        if screen is not None:
            width = width if width is not None else screen.scaling.screen_width
            height = height if height is not None else screen.scaling.screen_height
            desktop = screen.desktop
        elif desktop is None:
            desktop = chosen_desktop()  # the desktop server, when COMPUTER_USE_DESKTOP names one
        if isinstance(desktop, RemoteDesktop) and None in (width, height):
            width, height = _server_size(desktop, width, height)
        #: The screen's size: set from $WIDTH/$HEIGHT, and may be assigned (as the reference's
        #: tests do); ``scaling`` and ``options`` follow it.
        self.width = width if width is not None else int(os.environ.get("WIDTH") or 1024)
        self.height = height if height is not None else int(os.environ.get("HEIGHT") or 768)
        if display_num is None and os.environ.get("DISPLAY_NUM"):
            display_num = int(os.environ["DISPLAY_NUM"])
        self.display_num = display_num
        self.display = f":{display_num}" if display_num is not None else os.environ.get("DISPLAY")
        self.screen = screen or Screen(self.display or "", self.width, self.height, desktop=desktop)
        self._scaling_key: tuple[Any, ...] | None = None
        self._fields = _accepted_fields(self.spec)
        #: Whether an action is running (its first command notes the screen, to settle on).
        self._acting = False
        #: The reference's command prefix for xdotool, as a command line.
        self.xdotool = f"DISPLAY={shlex.quote(self.display)} xdotool" if self.display else "xdotool"

    @property
    def scaling(self) -> Scaling:
        """The screen's size and the size the API sees, from ``width``, ``height`` and
        ``_scaling_enabled`` as they are now (the screen captures at that size too)."""
        key = (self.width, self.height, bool(self._scaling_enabled), self.screen)
        if key != self._scaling_key:
            w, h, limits = self.width, self.height, self.screen.limits
            try:
                if not self._scaling_enabled:
                    scaling = Scaling(w, h, w, h)
                else:
                    scaling = Scaling.within(w, h, limits) if limits else Scaling.for_screen(w, h)
            except ScreenError as exc:
                raise ToolError(str(exc)) from exc
            self.screen.scaling = scaling
            self._scaling_key = key
        return self.screen.scaling

    @property
    def fields(self) -> Mapping[str, frozenset[str]]:
        """The input fields each action of this version takes."""
        return self._fields

    @property
    def options(self) -> ComputerToolOptions:
        """The tool's fields in the API request: the size the model sees, the display."""
        options = ComputerToolOptions(
            display_width_px=self.scaling.api_width,
            display_height_px=self.scaling.api_height,
            display_number=self.display_num,
        )
        options.update({k: v for k, v in self.spec.options.items() if v is not None})  # type: ignore[typeddict-item]
        return options

    def to_params(self) -> BetaToolUnionParam:
        # A null display_number is left out: the API's field is an integer.
        options = {k: v for k, v in self.options.items() if v is not None}
        return {"type": self.api_type, "name": self.name, **options}  # type: ignore[return-value]

    # --- the reference's public methods -------------------------------------------------

    def scale_coordinates(self, source: ScalingSource, x: int, y: int) -> tuple[int, int]:
        """Map a point between the API's space and the screen's. API points are checked
        against the picture the model sees (ToolError when off it); its far edge maps to the
        screen's, and the screen's size to the API's, as the reference's ``options`` rely on."""
        s = self.scaling
        if ScalingSource(source) is ScalingSource.API:
            if not (0 <= x <= s.api_width and 0 <= y <= s.api_height):
                raise ToolError(f"Coordinates {x}, {y} are out of bounds: {s.bounds}.")
            sx, sy = s.to_screen(min(x, s.api_width - 1), min(y, s.api_height - 1))
            return (
                s.screen_width if x == s.api_width else sx,
                s.screen_height if y == s.api_height else sy,
            )
        ax, ay = s.to_api(x, y)
        return (
            s.api_width if x == s.screen_width else ax,
            s.api_height if y == s.screen_height else ay,
        )

    def validate_and_get_coordinates(
        self, coordinate: tuple[int, int] | None = None
    ) -> tuple[int, int]:
        """The screen pixel of an API ``coordinate`` [x, y]; ToolError if it is not one."""
        return self._screen_point(coordinate, "coordinate")

    async def screenshot(self) -> ToolResult:
        """The screen now, as the API sees it (scaled), as a base64 PNG; after an action,
        once the screen has settled."""
        self.scaling  # noqa: B018 - the capture size follows width/height
        image = await self.screen.screenshot(settle=self.screen.action_pending)
        return ToolResult(base64_image=image)

    async def shell(self, command: str, take_screenshot: bool = True) -> ToolResult:
        """Run a command line; with ``take_screenshot``, the screenshot that ends an action.

        Every action's xdotool commands come here, as in the reference. The line is split with
        ``shlex`` and run without a shell (leading ``NAME=value`` words set the environment,
        like ``self.xdotool``'s ``DISPLAY=``): pipes, ``;`` and ``$`` are not interpreted.
        xdotool drags are paced (``pace_drag``). The result is a CLIResult with the exit code.
        """
        words = shlex.split(command)
        desktop = self.screen.desktop
        env = {"DISPLAY": self.display or ""}
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        if not isinstance(desktop, LocalDesktop):
            env.pop("DISPLAY")  # the desktop server draws on its own display
        if not words:
            raise ToolError(f"no command to run in {command!r}")
        if words[0] == "xdotool":
            words = ["xdotool", *pace_drag(words[1:])]
        # The first command of an action has the desktop note the screen (in the same
        # request), for the screenshot that ends the action to settle against.
        note = (
            (self._acting or take_screenshot)
            and not self.screen.action_pending
            and not self._overrides("screenshot")
        )
        if note:
            self.screen.expect_action()
        try:
            done = await desktop.run(words, env=env, timeout=XDOTOOL_TIMEOUT, note_screen=note)
        except FileNotFoundError as exc:
            raise ToolError(f"cannot run {words[0]}: {exc.strerror}") from exc
        except DesktopError as exc:
            raise ToolError(exc.message) from exc
        code, out, err = done.returncode, maybe_truncate(done.stdout), maybe_truncate(done.stderr)
        result = CLIResult(output=out or None, error=err or None, exit_code=code)
        if code != 0 or not take_screenshot:
            return result
        return await self._finish([result])

    def _overrides(self, method: str) -> bool:
        """Whether one of the reference's public methods was replaced, by a subclass or on
        the instance (as the reference's tests patch them)."""
        bound = getattr(self, method)
        return getattr(bound, "__func__", None) is not getattr(ComputerTool, method)

    # --- dispatch -----------------------------------------------------------------------

    async def __call__(self, *, action: str, **kwargs: Any) -> ToolResult:
        if action not in self.spec.choices:
            raise ToolError(
                f"Invalid action: {action}. The actions of {self.api_type} are: "
                + ", ".join(sorted(self.spec.choices))
            )
        if (
            not self.display
            and isinstance(self.screen.desktop, LocalDesktop)
            and not self._overrides("shell")
        ):
            raise ToolError("No X display to use: set DISPLAY_NUM (or DISPLAY)")
        given = {k: v for k, v in kwargs.items() if v is not None and k in KNOWN_FIELDS}
        accepted = self.fields[action]
        for name in sorted(given.keys() - accepted):
            hint = ""
            if name == "coordinate" and action in CLICKS:
                hint = " Move the mouse there first with `mouse_move`."
            takes = ", ".join(f"`{f}`" for f in sorted(accepted)) or "no other fields"
            raise ToolError(f"{name} is not accepted for {action}: it takes {takes}.{hint}")
        for name in _required_fields(self.spec, action):
            if name not in given:
                raise ToolError(f"{name} is required for {action}")
        self._acting = action not in UNSETTLED_ACTIONS
        try:
            return await getattr(self, f"_{action}")(**given)
        except DesktopError as exc:  # the screen, or a desktop server that does not answer
            raise ToolError(exc.message) from exc
        finally:
            self._acting = False

    # --- helpers ------------------------------------------------------------------------

    def _command(self, *args: str) -> str:
        """The command line of xdotool ``args`` on our display (each argument quoted)."""
        return f"{self.xdotool} {shlex.join(args)}"

    def _checked(self, result: ToolResult, what: str) -> ToolResult:
        """``result``, or ToolError if its command failed (a default ``shell`` reports the
        exit code; an overriding one reports none, and its stderr counts as warnings)."""
        code = getattr(result, "exit_code", None)
        if code:
            raise ToolError(f"xdotool {what} failed: {(result.error or '').strip() or code}")
        return result

    async def _xdotool(self, *args: str) -> ToolResult:
        """Run xdotool ``args`` as one step of an action (no screenshot)."""
        return self._checked(await self.shell(self._command(*args), take_screenshot=False), args[0])

    async def _act(self, *args: str) -> ToolResult:
        """Run xdotool ``args`` as a whole action: one ``shell`` call, screenshot included."""
        if not self.screenshot_after_action:
            return await self._finish([await self._xdotool(*args)])
        return self._checked(await self.shell(self._command(*args)), args[0])

    def _screen_point(self, coordinate: Any, name: str) -> tuple[int, int]:
        if (
            not isinstance(coordinate, Sequence)
            or len(coordinate) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in coordinate)
        ):
            raise ToolError(f"{name} must be a list of two integers [x, y], got {coordinate!r}")
        return self.scale_coordinates(ScalingSource.API, coordinate[0], coordinate[1])

    def _point(self, coordinate: Any, name: str = "coordinate") -> list[str]:
        x, y = self._screen_point(coordinate, name)
        return [str(x), str(y)]

    async def _finish(self, steps: Sequence[ToolResult]) -> ToolResult:
        """The result of an action made of ``steps``: their output and warnings, and the
        screenshot once the screen settled (an overriding ``screenshot`` is called after
        ``_screenshot_delay``, as in the reference)."""
        output = "".join(s.output or "" for s in steps) or None
        warnings = "\n".join(e for s in steps if (e := (s.error or "").strip()))
        if not self.screenshot_after_action:
            return ToolResult(output=output, error=warnings or None)
        if self._overrides("screenshot"):
            await asyncio.sleep(self._screenshot_delay)
        shot = await self.screenshot()
        error = "\n".join(e for e in (warnings, shot.error) if e) or None
        return shot.replace(output=output, error=error)

    def _modifier(self, key: str | None, text: str | None) -> list[str]:
        if key and text and key != text:
            raise ToolError("give the modifier key in `key` only (not also in `text`)")
        chosen = key or text
        return key_args(chosen) if chosen else []

    async def _with_modifier(self, modifier: list[str], *args: str) -> list[ToolResult]:
        """Run xdotool ``args`` with ``modifier`` keys held; the keys are always released."""
        if not modifier:
            return [await self._xdotool(*args)]
        steps = [await self._xdotool("keydown", *modifier)]
        try:
            steps.append(await self._xdotool(*args))
        finally:
            steps.append(await self._xdotool("keyup", *modifier))
        return steps

    # --- actions ------------------------------------------------------------------------

    async def _key(self, text: str, repeat: int | None = None) -> ToolResult:
        if repeat is not None and not 1 <= repeat <= MAX_KEY_REPEAT:
            raise ToolError(f"`repeat` must be between 1 and {MAX_KEY_REPEAT}, got {repeat}")
        times = ["--repeat", str(repeat)] if repeat and repeat > 1 else []
        return await self._act("key", *times, "--", *key_args(text))

    async def _type(self, text: str) -> ToolResult:
        steps = []
        for chunk, delay in typing_groups(text):
            steps.append(await self._xdotool("type", "--delay", str(delay), "--", chunk))
        return await self._finish(steps)

    async def _mouse_move(self, coordinate: Any) -> ToolResult:
        return await self._act("mousemove", "--sync", *self._point(coordinate))

    async def _click(
        self, action: str, coordinate: Any = None, key: str | None = None, text: str | None = None
    ) -> ToolResult:
        button, count = CLICKS[action]
        modifier = self._modifier(key, text)
        move = ["mousemove", "--sync", *self._point(coordinate)] if coordinate is not None else []
        clicks: list[str] = []
        for i in range(count):
            if i:
                clicks += ["sleep", MULTI_CLICK_GAP]
            clicks += ["mousedown", button, "mouseup", button]
        if not modifier:
            return await self._act(*move, *clicks)
        steps = [await self._xdotool(*move)] if move else []  # keys held only for the click
        return await self._finish(steps + await self._with_modifier(modifier, *clicks))

    async def _left_click(self, **kwargs: Any) -> ToolResult:
        return await self._click("left_click", **kwargs)

    async def _right_click(self, **kwargs: Any) -> ToolResult:
        return await self._click("right_click", **kwargs)

    async def _middle_click(self, **kwargs: Any) -> ToolResult:
        return await self._click("middle_click", **kwargs)

    async def _double_click(self, **kwargs: Any) -> ToolResult:
        return await self._click("double_click", **kwargs)

    async def _triple_click(self, **kwargs: Any) -> ToolResult:
        return await self._click("triple_click", **kwargs)

    async def _left_click_drag(
        self,
        coordinate: Any,
        start_coordinate: Any = None,
        key: str | None = None,
        text: str | None = None,
    ) -> ToolResult:
        """Press at ``start_coordinate`` (or where the pointer is), move, release: the
        reference's one xdotool command, with ``modifier`` keys held around it."""
        end = self._point(coordinate)
        start = self._point(start_coordinate, "start_coordinate") if start_coordinate else None
        modifier = self._modifier(key, text)
        args = ["mousemove", "--sync", *start] if start else []
        args += ["keydown", *modifier] if modifier else []
        args += ["mousedown", "1", "mousemove", "--sync", *end, "mouseup", "1"]
        args += ["keyup", *modifier] if modifier else []
        return await self._act(*args)

    async def _left_mouse_down(self) -> ToolResult:
        return await self._act("mousedown", "1")

    async def _left_mouse_up(self) -> ToolResult:
        return await self._act("mouseup", "1")

    async def _scroll(
        self,
        scroll_direction: str,
        scroll_amount: Any,
        coordinate: Any = None,
        text: str | None = None,
        key: str | None = None,
    ) -> ToolResult:
        if scroll_direction not in SCROLL_BUTTONS:
            raise ToolError(
                f"`scroll_direction` must be one of {', '.join(SCROLL_BUTTONS)}; "
                f"got {scroll_direction!r}"
            )
        if not isinstance(scroll_amount, int) or isinstance(scroll_amount, bool):
            raise ToolError(f"`scroll_amount` must be an integer, got {scroll_amount!r}")
        if not 0 <= scroll_amount <= 100:
            raise ToolError(f"`scroll_amount` must be in 0..100, got {scroll_amount}")
        modifier = self._modifier(key, text)
        steps = []
        if coordinate is not None:
            steps.append(await self._xdotool("mousemove", "--sync", *self._point(coordinate)))
        button = SCROLL_BUTTONS[scroll_direction]
        wheel: list[str] = []
        for _ in range(scroll_amount):
            wheel += ["mousedown", button, "mouseup", button]
        if wheel:
            steps += await self._with_modifier(modifier, *wheel)
        return await self._finish(steps)

    def _duration(self, duration: Any) -> float:
        if not isinstance(duration, int | float) or isinstance(duration, bool):
            raise ToolError(f"`duration` must be a number of seconds, got {duration!r}")
        if not 0 <= duration <= 100:
            raise ToolError(f"`duration` must be between 0 and 100 seconds, got {duration}")
        return float(duration)

    async def _hold_key(self, text: str, duration: Any) -> ToolResult:
        seconds = self._duration(duration)
        keys = key_args(text)
        steps = [await self._xdotool("keydown", *keys)]
        try:
            await asyncio.sleep(seconds)
        finally:
            steps.append(await self._xdotool("keyup", *keys))
        return await self._finish(steps)

    async def _wait(self, duration: Any) -> ToolResult:
        await asyncio.sleep(self._duration(duration))
        return await self.screenshot()

    async def _screenshot(self) -> ToolResult:
        return await self.screenshot()

    async def pointer(self) -> tuple[int, int]:
        """Where the pointer is, in API coordinates."""
        result = await self._xdotool("getmouselocation", "--shell")
        out = result.output or ""
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        if "X" not in values or "Y" not in values:
            raise ToolError(f"cannot read the pointer position: {(result.error or out).strip()}")
        return self.scaling.to_api(int(values["X"]), int(values["Y"]))

    async def _cursor_position(self) -> ToolResult:
        x, y = await self.pointer()
        return ToolResult(output=f"X={x},Y={y}")

    async def _zoom(self, region: Any) -> ToolResult:
        if (
            not isinstance(region, Sequence)
            or len(region) != 4
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in region)
        ):
            raise ToolError(f"`region` must be four integers [x0, y0, x1, y1], got {region!r}")
        if self._overrides("screenshot"):
            return await self._zoom_into_screenshot(list(region))
        self.scaling  # noqa: B018 - the capture size follows width/height
        return ToolResult(base64_image=await self.screen.zoom(list(region)))

    async def _zoom_into_screenshot(self, region: list[int]) -> ToolResult:
        """Zoom with an overriding ``screenshot``: the region cut from its (API-size) image."""
        shot = await self.screenshot()
        if not shot.base64_image:
            raise ToolError(f"no screenshot to zoom into: {shot.error or 'none was returned'}")
        api = Scaling(self.scaling.api_width, self.scaling.api_height, *self._api_size)
        box = api.region_to_screen(region)

        def work() -> str:
            with Image.open(io.BytesIO(base64.b64decode(shot.base64_image or ""))) as image:
                crop = fit_within(image.convert("RGB").crop(box), *self._api_size)
            return base64.b64encode(encode_png(crop)).decode("ascii")

        return ToolResult(base64_image=await asyncio.to_thread(work))

    @property
    def _api_size(self) -> tuple[int, int]:
        return self.scaling.api_width, self.scaling.api_height


def _server_size(
    desktop: RemoteDesktop, width: int | None, height: int | None
) -> tuple[int | None, int | None]:
    """The missing one of width/height from $WIDTH/$HEIGHT, else from the desktop server
    (None when it does not answer now: the default applies, and the first action says why)."""
    width = width if width is not None else _env_int("WIDTH")
    height = height if height is not None else _env_int("HEIGHT")
    if None in (width, height):
        try:
            info = desktop.info_now()
        except DesktopError:
            return width, height
        width = width if width is not None else info.width
        height = height if height is not None else info.height
    return width, height


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


#: The reference's name for the class every version derives from.
BaseComputerTool = ComputerTool


class ComputerTool20241022(ComputerTool):
    spec = COMPUTER_20241022


class ComputerTool20250124(ComputerTool):
    spec = COMPUTER_20250124


class ComputerTool20251124(ComputerTool20250124):
    spec = COMPUTER_20251124
