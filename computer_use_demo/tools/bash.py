"""The bash tool: one persistent bash process per tool instance (bash_20241022, bash_20250124)."""

from __future__ import annotations

from typing import Any

from anthropic.types.beta import BetaToolBash20241022Param, BetaToolBash20250124Param

from .base import BaseAnthropicTool, ToolResult
from .specs import BASH_20241022, BASH_20250124


class BashTool(BaseAnthropicTool):
    """Runs commands in a persistent bash session."""

    spec = BASH_20250124

    def __init__(self, *, timeout: float = 120.0) -> None:
        self.timeout = timeout

    async def __call__(
        self, *, command: str | None = None, restart: bool = False, **_: Any
    ) -> ToolResult:
        raise NotImplementedError  # implemented by the bash work item

    def to_params(self) -> BetaToolBash20241022Param | BetaToolBash20250124Param:
        return {"type": self.api_type, "name": self.name}  # type: ignore[return-value]


class BashTool20241022(BashTool):
    spec = BASH_20241022


class BashTool20250124(BashTool):
    spec = BASH_20250124
