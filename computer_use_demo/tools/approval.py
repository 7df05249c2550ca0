"""The approval seam: one async callable asked before a tool action runs.

``Approver(tool_name, action, tool_input) -> Approval``. The computer toolset's ``confirm``
hook (which the SDK requires while ``type``, ``key`` or ``hold_key`` is enabled) calls the
approver of the ToolCollection it belongs to; the default, ``auto_approve``, approves
everything. A policy that asks the person in the UI or CLI, or denies, is another Approver
plugged into the same place (``ToolCollection(..., approve=...)``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Approval:
    """The answer to one approval request; ``reason`` says why, for the record and the UI."""

    approved: bool
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.approved


APPROVED = Approval(approved=True, reason="approved automatically")

#: (tool name, action or member name, the parsed input) -> Approval
Approver = Callable[[str, str, Mapping[str, Any]], Awaitable[Approval]]


async def auto_approve(tool_name: str, action: str, tool_input: Mapping[str, Any]) -> Approval:
    """The default policy: every action runs."""
    return APPROVED
