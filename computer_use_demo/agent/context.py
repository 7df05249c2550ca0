"""Context management for long runs, done by the API where the model supports it.

Two server-side edits (the SDK's ``BetaContextManagementConfigParam``), sent as the request's
``context_management.edits``:

- ``clear_tool_uses_20250919`` (beta ``context-management-2025-06-27``): once the prompt
  passes ``trigger`` input tokens, the oldest tool results (screenshots above all) are
  cleared, the newest ``keep`` tool uses stay. The history we keep is not changed: the API
  edits what the model sees, so the prompt cache and the saved session stay as they were.
- ``compact_20260112`` (beta ``compact-2026-01-12``): once the prompt passes ``trigger``
  tokens the API summarizes the conversation into a ``compaction`` block at the start of its
  answer; that block stays in the history and is sent back as it came (history.py keeps it),
  and the API reads the conversation from it on.

Whether a model supports them is ``ModelInfo.context_management`` / ``.compaction`` (the
model table, the Models API); ``None`` settings mean "where supported". Our own screenshot
truncation (``only_n_most_recent_images``) stays in every case: the API edits what the model
reads, but the request still carries what we send, and a long run's screenshots would pass
the request size limit (32 MB) long before a token trigger.
What the API did is in each response (``context_management.applied_edits``, compaction
blocks): ``applied`` reads it for the usage line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

CONTEXT_MANAGEMENT_BETA = "context-management-2025-06-27"
COMPACTION_BETA = "compact-2026-01-12"
CLEAR_TOOL_USES = "clear_tool_uses_20250919"
COMPACT = "compact_20260112"
#: The smallest compaction trigger the API takes.
MIN_COMPACTION_TRIGGER = 50_000


@dataclass(frozen=True, kw_only=True)
class ContextPlan:
    """What one run asks of the API (decided once from the config and the model)."""

    clear_tool_uses: bool = False
    clear_trigger_tokens: int = 100_000
    clear_keep_tool_uses: int = 5
    compaction: bool = False
    compaction_trigger_tokens: int = 150_000

    @property
    def active(self) -> bool:
        return self.clear_tool_uses or self.compaction

    def edits(self) -> list[dict[str, Any]]:
        edits: list[dict[str, Any]] = []
        if self.clear_tool_uses:
            edits.append(
                {
                    "type": CLEAR_TOOL_USES,
                    "trigger": {"type": "input_tokens", "value": self.clear_trigger_tokens},
                    "keep": {"type": "tool_uses", "value": self.clear_keep_tool_uses},
                }
            )
        if self.compaction:
            edits.append(
                {
                    "type": COMPACT,
                    "trigger": {"type": "input_tokens", "value": self.compaction_trigger_tokens},
                }
            )
        return edits

    def request_fields(self) -> dict[str, Any]:
        """The request's ``context_management`` field ({} when nothing is asked)."""
        edits = self.edits()
        return {"context_management": {"edits": edits}} if edits else {}

    def betas(self) -> list[str]:
        betas = [CONTEXT_MANAGEMENT_BETA] if self.active else []
        if self.compaction:
            betas.append(COMPACTION_BETA)
        return betas


@dataclass(frozen=True, kw_only=True)
class Applied:
    """What the API did to the context for one response."""

    cleared_tool_uses: int = 0
    cleared_input_tokens: int = 0
    compactions: int = 0


def applied(response: Any) -> Applied:
    """The context edits a response reports, and its compaction blocks."""
    cleared = tokens = 0
    management = getattr(response, "context_management", None)
    for edit in getattr(management, "applied_edits", None) or []:
        cleared += getattr(edit, "cleared_tool_uses", 0) or 0
        tokens += getattr(edit, "cleared_input_tokens", 0) or 0
    compactions = sum(1 for b in _blocks(response) if getattr(b, "type", None) == "compaction")
    return Applied(cleared_tool_uses=cleared, cleared_input_tokens=tokens, compactions=compactions)


def _blocks(response: Any) -> Iterable[Any]:
    return getattr(response, "content", None) or []
