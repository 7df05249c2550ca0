"""What running one tool call reports: it started, and its result. The loop's other events
(agent/events.py) build on these two; they live here so that the tools layer can report them
without importing the layer above it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .base import ToolResult


@dataclass(frozen=True, kw_only=True)
class ToolStarted:
    """A tool_use is about to run (the UI's "current action")."""

    kind: ClassVar[str] = "tool_started"
    tool_use_id: str
    name: str
    input: dict[str, Any]
    toolset_name: str | None = None  # set for a member of a toolset (name is the member)


@dataclass(frozen=True, kw_only=True)
class ToolResultEvent:
    """The result of one tool_use."""

    kind: ClassVar[str] = "tool_result"
    tool_use_id: str
    name: str
    result: ToolResult
    toolset_name: str | None = None  # set for a member of a toolset; its tool_result echoes it
    #: The screenshot's file when it was left on disk (Trajectory.events(images=False)):
    #: ``result.base64_image`` is None then, and the UI shows the file.
    image_file: str | None = None
