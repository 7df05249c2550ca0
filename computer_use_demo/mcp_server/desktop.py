"""The desktop's actions for an MCP client that brings its own model.

Each action is a call of the agent's own tools (tools/collection.py: the computer tool with
its scaling and validation, the persistent bash, the file editor) through the same approval
policy as the loop (the chat's saved settings: approve bash / typing / clicks), so the person's
choices hold for an MCP client too. While the person holds the desktop (take control) or an
agent works on it (one agent per desktop), an action is refused with a message saying so;
while one runs, it holds the desktop's lock like a run does.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from typing import Any

from mcp.types import CallToolResult, ImageContent, TextContent

from ..agent.pause import PauseGate, control_file
from ..app.settings import load_settings
from ..desktop.lock import DesktopLock, DesktopUnavailable, display_of
from ..tools import ToolCollection, ToolResult
from ..tools.approval_policy import Ask, PolicyApprover, action_class, action_of, screen_crop
from ..tools.groups import TOOL_GROUPS_BY_VERSION

#: The tool version the MCP tools use: the newest single computer tool (it can zoom).
TOOL_VERSION = "computer_use_20251124"
MCP_CLIENT = "MCP client"

COORDINATES = (
    "Coordinates are pixels of the screenshot this server returns (origin at the top left, "
    "x to the right, y down), not of the physical screen: take a screenshot first."
)


def screen_size(data: str) -> tuple[int, int] | None:
    """(width, height) of a base64 PNG, from its header (no decoding of the whole image)."""
    try:
        head = base64.b64decode(data[:32])
    except ValueError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def to_mcp(result: ToolResult) -> CallToolResult:
    """A tool's result as MCP content: its text, its image, or its error."""
    if result.error:
        return CallToolResult(content=[TextContent(text=result.error)], is_error=True)
    content: list[TextContent | ImageContent] = []
    if result.output:
        content.append(TextContent(text=result.output))
    if result.base64_image:
        size = screen_size(result.base64_image)
        if size is not None and not result.output:
            content.append(
                TextContent(
                    text=f"The screen, {size[0]}x{size[1]} pixels (the coordinates' space)."
                )
            )
        media = "image/jpeg" if result.base64_image.startswith("/9j/") else "image/png"
        content.append(ImageContent(data=result.base64_image, mime_type=media))
    if not content:
        content.append(TextContent(text="done"))
    return CallToolResult(content=content)


def refused(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=text)], is_error=True)


class DesktopTools:
    """One tool set for the MCP clients of this process (one bash session, kept between
    calls), its calls one at a time (one mouse, one keyboard)."""

    def __init__(self, tool_version: str = TOOL_VERSION) -> None:
        self.tool_version = tool_version
        self._tools: ToolCollection | None = None
        self._one_at_a_time = asyncio.Lock()

    @property
    def tools(self) -> ToolCollection:
        if self._tools is None:
            group = TOOL_GROUPS_BY_VERSION[self.tool_version]  # type: ignore[index]
            self._tools = ToolCollection(*(cls() for cls in group.tools))
        return self._tools

    def name_of(self, kind: str) -> str:
        """The name of the group's tool of ``kind`` (computer, bash, edit)."""
        return next(name for name in self.tools.tool_map if kind in name)

    async def call(
        self, kind: str, tool_input: Mapping[str, Any], ask: Ask | None = None
    ) -> CallToolResult:
        """Run one action of the tool of ``kind`` as the loop would: take-over, the desktop's
        lock, the approval policy, then the tool."""
        if PauseGate(control_file()).paused:
            return refused(
                "Not run: the person has taken control of the desktop. Try again after they "
                "hand it back."
            )
        tools = self.tools
        name = self.name_of(kind)
        async with self._one_at_a_time:
            try:
                lock = DesktopLock(display_of(tools.tools)).acquire(MCP_CLIENT)
            except DesktopUnavailable as e:
                return refused(f"Not run: {e}")
            try:
                action = action_of(name, tool_input)
                if action_class(name, action, tool_input) is not None:  # one that may ask
                    approver = PolicyApprover(
                        load_settings().approval_policy(), ask=ask, crop=screen_crop(tools)
                    )
                    approval = await approver(name, action, tool_input)
                    if not approval.approved:
                        return refused(approval.reason or "Not run: the action was denied.")
                return to_mcp(await tools.run(name=name, tool_input=dict(tool_input)))
            finally:
                lock.release()

    async def stop(self) -> None:
        if self._tools is not None:
            await self._tools.stop()
