"""The computer toolset ``computer_toolset_20260801`` on our desktop.

The SDK's driver class ``BetaAsyncAbstractComputerToolset20260801`` owns the wire format: the
nameless ``tools[]`` entry, parsing each member's input, the ``confirm`` gate, rendering the
result and the ``tool_result`` with ``toolset_name``. Each member here is a thin call into the
action code the single-tool versions use (``ComputerTool``: xdotool argv lists, key-name
checks, coordinate scaling), so the two share one implementation.

Differences from the single tool, as the toolset defines them:
- a pure action answers with the SDK's acknowledgment (``Clicked.``), not a screenshot; a
  ``screenshot`` after actions waits for the screen to settle first;
- the API does not scale the toolset's images: screenshots are the screen's own size when it
  fits the model's image limits (``screen.HIGH_RES_IMAGES``), else shrunk to fit, and
  coordinates are mapped back exactly; ``zoom`` cuts the full-resolution screen;
- ``key`` takes ``repeat``; the click modifier is in ``text``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from anthropic.tools import ToolError as SDKToolError
from anthropic.tools.computer import (
    BetaAsyncAbstractComputerToolset20260801,
    BetaComputerConfirmContext,
    BetaComputerCursorPositionResult,
    BetaScreenshotResult,
    BetaToolConfigs,
    BetaToolsetCallContext,
)
from anthropic.types.beta import (
    BetaComputerDoubleClickInput,
    BetaComputerHoldKeyInput,
    BetaComputerKeyInput,
    BetaComputerLeftClickDragInput,
    BetaComputerLeftClickInput,
    BetaComputerMiddleClickInput,
    BetaComputerMouseMoveInput,
    BetaComputerRightClickInput,
    BetaComputerScrollInput,
    BetaComputerToolset20260801Param,
    BetaComputerToolsetConfigsParam,
    BetaComputerTripleClickInput,
    BetaComputerTypeInput,
    BetaComputerWaitInput,
    BetaComputerZoomInput,
)

from ..desktop.backend import Desktop
from ..desktop.errors import DesktopError
from ..desktop.screen import HIGH_RES_IMAGES, ImageLimits, Screen
from .approval import Approver, auto_approve
from .base import ToolError, ToolResult
from .computer import ComputerTool20251124

TOOLSET_TYPE = "computer_toolset_20260801"


class _Desktop(ComputerTool20251124):
    """The single tool's action code, answering without a screenshot (the toolset's way)."""

    screenshot_after_action = False


class ComputerToolset20260801(BetaAsyncAbstractComputerToolset20260801):
    """Every member of the computer toolset, on the X display ``:$DISPLAY_NUM``.

    ``approve`` is the approval seam every member call passes through (the SDK's ``confirm``
    hook); the ToolCollection this toolset joins sets it to its own approver.
    """

    name: ClassVar[str] = "computer"  # the family, as tool_use.toolset_name says it
    api_type: ClassVar[str] = TOOLSET_TYPE

    def __init__(
        self,
        *,
        width: int | None = None,
        height: int | None = None,
        display_num: int | None = None,
        screen: Screen | None = None,
        desktop: Desktop | None = None,
        limits: ImageLimits = HIGH_RES_IMAGES,
        approve: Approver = auto_approve,
        configs: BetaComputerToolsetConfigsParam | None = None,
        tool_configs: BetaToolConfigs | None = None,
    ) -> None:
        super().__init__(configs=configs, confirm=self._confirm, tool_configs=tool_configs)
        #: The single tool's action code (``desktop`` is where it acts: in-process when None
        #: and COMPUTER_USE_DESKTOP is unset, else the desktop server).
        self.desktop = _Desktop(
            width=width, height=height, display_num=display_num, screen=screen, desktop=desktop
        )
        if screen is None:
            d = self.desktop
            d.screen = Screen(
                d.display or "", d.width, d.height, limits=limits, desktop=d.screen.desktop
            )
        self.approve = approve

    @property
    def screen(self) -> Screen:
        return self.desktop.screen

    def to_params(self) -> BetaComputerToolset20260801Param:
        """The ``tools[]`` entry: type, and configs / cache_control only when set."""
        return self.to_dict()

    async def stop(self) -> None:
        """Nothing to release: every xdotool call is its own process, ended with its call."""

    async def _confirm(self, context: BetaComputerConfirmContext) -> bool:
        given = context.input.model_dump(exclude_none=True)
        return (await self.approve(self.name, context.member, given)).approved

    async def _act(self, action: Callable[[], Awaitable[ToolResult]]) -> str | None:
        """Run one action of the shared code after noting the screen (for the next
        screenshot to settle against); its refusals become the SDK's ToolError, which the
        model reads, and its xdotool warnings the member's line of text."""
        self.desktop._acting = True  # its first command notes the screen, in the same request
        try:
            result = await action()
        except ToolError as exc:
            raise SDKToolError(exc.message) from exc
        except DesktopError as exc:
            raise SDKToolError(exc.message) from exc
        finally:
            self.desktop._acting = False
        return result.error or result.output or None

    async def _do(self, action: str, **fields: Any) -> str | None:
        given = {k: v for k, v in fields.items() if v is not None}
        return await self._act(lambda: getattr(self.desktop, f"_{action}")(**given))

    # --- members ------------------------------------------------------------------------

    async def key(self, context: BetaToolsetCallContext, input: BetaComputerKeyInput) -> str | None:
        return await self._do("key", text=input.text, repeat=input.repeat)

    async def hold_key(
        self, context: BetaToolsetCallContext, input: BetaComputerHoldKeyInput
    ) -> str | None:
        return await self._do("hold_key", text=input.text, duration=input.duration)

    async def type(
        self, context: BetaToolsetCallContext, input: BetaComputerTypeInput
    ) -> str | None:
        return await self._do("type", text=input.text)

    async def cursor_position(
        self, context: BetaToolsetCallContext, input: Any
    ) -> BetaComputerCursorPositionResult:
        try:
            x, y = await self.desktop.pointer()
        except ToolError as exc:
            raise SDKToolError(exc.message) from exc
        return BetaComputerCursorPositionResult(x=x, y=y)

    async def mouse_move(
        self, context: BetaToolsetCallContext, input: BetaComputerMouseMoveInput
    ) -> str | None:
        return await self._do("mouse_move", coordinate=input.coordinate)

    async def left_mouse_down(self, context: BetaToolsetCallContext, input: Any) -> str | None:
        return await self._do("left_mouse_down")

    async def left_mouse_up(self, context: BetaToolsetCallContext, input: Any) -> str | None:
        return await self._do("left_mouse_up")

    async def left_click(
        self, context: BetaToolsetCallContext, input: BetaComputerLeftClickInput
    ) -> str | None:
        return await self._do("left_click", coordinate=input.coordinate, text=input.text)

    async def right_click(
        self, context: BetaToolsetCallContext, input: BetaComputerRightClickInput
    ) -> str | None:
        return await self._do("right_click", coordinate=input.coordinate, text=input.text)

    async def middle_click(
        self, context: BetaToolsetCallContext, input: BetaComputerMiddleClickInput
    ) -> str | None:
        return await self._do("middle_click", coordinate=input.coordinate, text=input.text)

    async def double_click(
        self, context: BetaToolsetCallContext, input: BetaComputerDoubleClickInput
    ) -> str | None:
        return await self._do("double_click", coordinate=input.coordinate, text=input.text)

    async def triple_click(
        self, context: BetaToolsetCallContext, input: BetaComputerTripleClickInput
    ) -> str | None:
        return await self._do("triple_click", coordinate=input.coordinate, text=input.text)

    async def left_click_drag(
        self, context: BetaToolsetCallContext, input: BetaComputerLeftClickDragInput
    ) -> str | None:
        return await self._do(
            "left_click_drag",
            coordinate=input.coordinate,
            start_coordinate=input.start_coordinate,
            text=input.text,
        )

    async def scroll(
        self, context: BetaToolsetCallContext, input: BetaComputerScrollInput
    ) -> str | None:
        return await self._do(
            "scroll",
            scroll_direction=input.scroll_direction,
            scroll_amount=input.scroll_amount,
            coordinate=input.coordinate,
            text=input.text,
        )

    async def wait(
        self, context: BetaToolsetCallContext, input: BetaComputerWaitInput
    ) -> str | None:
        try:
            seconds = self.desktop._duration(input.duration)
        except ToolError as exc:
            raise SDKToolError(exc.message) from exc
        await asyncio.sleep(seconds)
        return None

    async def screenshot(self, context: BetaToolsetCallContext, input: Any) -> BetaScreenshotResult:
        """The screen at the toolset's size; after actions, once it has settled."""
        try:
            data = await self.screen.screenshot(settle=self.screen.action_pending)
        except DesktopError as exc:
            raise SDKToolError(exc.message) from exc
        return BetaScreenshotResult(data=data, media_type="image/png")

    async def zoom(
        self, context: BetaToolsetCallContext, input: BetaComputerZoomInput
    ) -> BetaScreenshotResult:
        """A region of the screenshot, cut from the full-resolution screen (settled first
        after actions, as a screenshot is)."""
        try:
            data = await self.screen.zoom(list(input.region), settle=self.screen.action_pending)
        except DesktopError as exc:
            raise SDKToolError(exc.message) from exc
        return BetaScreenshotResult(data=data, media_type="image/png")
