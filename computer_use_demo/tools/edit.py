"""The file editor tool: one implementation, every version (str_replace_editor and
str_replace_based_edit_tool) differing only by its spec."""

from __future__ import annotations

from typing import Any

from anthropic.types.beta import BetaToolUnionParam

from .base import BaseAnthropicTool, ToolResult
from .specs import EDIT_20241022, EDIT_20250124, EDIT_20250429, EDIT_20250728


class EditTool(BaseAnthropicTool):
    """View, create and edit files."""

    spec = EDIT_20250728

    def __init__(self, *, max_characters: int | None = None) -> None:
        self.max_characters = max_characters if "max_characters" in self.spec.options else None

    async def __call__(self, *, command: str, path: str, **kwargs: Any) -> ToolResult:
        raise NotImplementedError  # implemented by the editor work item

    def to_params(self) -> BetaToolUnionParam:
        params: dict[str, Any] = {"type": self.api_type, "name": self.name}
        if self.max_characters is not None:
            params["max_characters"] = self.max_characters
        return params  # type: ignore[return-value]


class EditTool20241022(EditTool):
    spec = EDIT_20241022


class EditTool20250124(EditTool):
    spec = EDIT_20250124


class EditTool20250429(EditTool):
    spec = EDIT_20250429


class EditTool20250728(EditTool):
    spec = EDIT_20250728
