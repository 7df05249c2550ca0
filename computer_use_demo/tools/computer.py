"""The computer tool: mouse, keyboard and screenshots on the X display, every version."""

from __future__ import annotations

import os
from typing import Any

from anthropic.types.beta import BetaToolUnionParam

from .base import BaseAnthropicTool, ToolResult
from .specs import COMPUTER_20241022, COMPUTER_20250124, COMPUTER_20251124


class ComputerTool(BaseAnthropicTool):
    """Drives the X display ``:$DISPLAY_NUM`` with xdotool; screenshots are scaled for the API."""

    spec = COMPUTER_20250124

    def __init__(self) -> None:
        self.width = int(os.environ.get("WIDTH", "1024"))
        self.height = int(os.environ.get("HEIGHT", "768"))
        num = os.environ.get("DISPLAY_NUM")
        self.display_num = int(num) if num is not None else None

    async def __call__(self, *, action: str, **kwargs: Any) -> ToolResult:
        raise NotImplementedError  # implemented by the desktop work item

    def to_params(self) -> BetaToolUnionParam:
        params: dict[str, Any] = {
            "type": self.api_type,
            "name": self.name,
            "display_width_px": self.width,
            "display_height_px": self.height,
        }
        if self.display_num is not None:
            params["display_number"] = self.display_num
        params.update(self.spec.options)
        return params  # type: ignore[return-value]


class ComputerTool20241022(ComputerTool):
    spec = COMPUTER_20241022


class ComputerTool20250124(ComputerTool):
    spec = COMPUTER_20250124


class ComputerTool20251124(ComputerTool):
    spec = COMPUTER_20251124
