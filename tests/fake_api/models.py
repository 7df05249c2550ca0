"""The fake API's model catalogue: what ``GET /v1/models/{id}`` answers, and the model-specific
thinking rules the Messages endpoint enforces with it (adaptive only where the model has it,
effort levels the model has, thinking types it accepts).

Data, written from the API documentation independently of the code under test. It includes a
model our own table does not know (``claude-opus-6``), so the app's Models API lookup is
exercised for real. A model missing here is answered 404 by the Models API; the Messages
endpoint then applies only the rules that hold for every model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .validate import Invalid

EFFORTS = ("low", "medium", "high", "xhigh", "max")


@dataclass(frozen=True)
class FakeModel:
    id: str
    display_name: str
    max_tokens: int
    thinking: frozenset[str]  # accepted thinking.type values
    efforts: tuple[str, ...] = ()
    context_management: bool = True
    compaction: bool = False
    created_at: str = "2026-01-01T00:00:00Z"
    max_input_tokens: int = 1_000_000
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The model as the Models API sends it (BetaModelInfo)."""

        def supported(flag: bool) -> dict[str, bool]:
            return {"supported": flag}

        types = {t: supported(t in self.thinking) for t in ("adaptive", "between_tools", "disabled", "enabled")}  # fmt: skip
        no = supported(False)
        return {
            "type": "model",
            "id": self.id,
            "display_name": self.display_name,
            "created_at": self.created_at,
            "lifecycle": "active",
            "max_tokens": self.max_tokens,
            "max_input_tokens": self.max_input_tokens,
            "capabilities": {
                "batch": supported(True),
                "citations": supported(True),
                "code_execution": no,
                "image_input": supported(True),
                "pdf_input": supported(True),
                "structured_outputs": supported(True),
                "server_tools": {**no, "code_execution": no, "web_fetch": no, "web_search": no},
                "thinking": {
                    "supported": bool(self.thinking - {"disabled"}),
                    "types": types,
                },
                "effort": {
                    "supported": bool(self.efforts),
                    **{e: supported(e in self.efforts) for e in EFFORTS},
                },
                "context_management": {
                    "supported": self.context_management,
                    "clear_thinking_20251015": supported(self.context_management),
                    "clear_tool_uses_20250919": supported(self.context_management),
                    "compact_20260112": supported(self.compaction),
                },
                "compaction": {
                    "supported": self.compaction,
                    "summarize": supported(self.compaction),
                },
            },
            **self.extra,
        }


_OFF_OR_ADAPTIVE = frozenset({"disabled", "adaptive"})
_ALL = frozenset({"disabled", "adaptive", "enabled"})
_EXTENDED = frozenset({"disabled", "enabled"})

CATALOG: dict[str, FakeModel] = {
    m.id: m
    for m in (
        FakeModel("claude-opus-6", "Claude Opus 6", 96_000, _OFF_OR_ADAPTIVE,
                  ("low", "medium", "high", "max"), compaction=True),  # not in our table
        FakeModel("claude-opus-5-5", "Claude Opus 5.5", 128_000, frozenset({"adaptive"}),
                  EFFORTS, compaction=True),
        *(FakeModel(i, n, 128_000, frozenset({"adaptive"}), EFFORTS, compaction=True)
          for i, n in (("claude-fable-5-2", "Claude Fable 5.2"), ("claude-mythos-5-2", "Claude Mythos 5.2"),
                       ("claude-fable-5-1", "Claude Fable 5.1"), ("claude-mythos-5-1", "Claude Mythos 5.1"),
                       ("claude-fable-5", "Claude Fable 5"), ("claude-mythos-5", "Claude Mythos 5"))),
        FakeModel("claude-haiku-5-5", "Claude Haiku 5.5", 128_000, _OFF_OR_ADAPTIVE, EFFORTS,
                  compaction=True),
        FakeModel("claude-opus-5", "Claude Opus 5", 128_000, _OFF_OR_ADAPTIVE, EFFORTS,
                  compaction=True),
        FakeModel("claude-sonnet-5", "Claude Sonnet 5", 128_000, _OFF_OR_ADAPTIVE, EFFORTS,
                  compaction=True),
        FakeModel("claude-opus-4-7", "Claude Opus 4.7", 128_000, _OFF_OR_ADAPTIVE, EFFORTS,
                  compaction=True),
        FakeModel("claude-mythos-preview", "Claude Mythos Preview", 128_000,
                  frozenset({"adaptive", "enabled"}), ("low", "medium", "high", "max"),
                  compaction=True),
        FakeModel("claude-sonnet-5-5", "Claude Sonnet 5.5", 128_000,
                  frozenset({"adaptive", "between_tools"}), EFFORTS, compaction=True),
        FakeModel("claude-opus-4-8", "Claude Opus 4.8", 128_000, _OFF_OR_ADAPTIVE, EFFORTS,
                  compaction=True),
        FakeModel("claude-opus-4-6", "Claude Opus 4.6", 128_000, _ALL,
                  ("low", "medium", "high", "max"), compaction=True),
        FakeModel("claude-sonnet-4-6", "Claude Sonnet 4.6", 64_000, _ALL,
                  ("low", "medium", "high", "max"), compaction=True),
        FakeModel("claude-haiku-4-5-20251001", "Claude Haiku 4.5", 64_000, _EXTENDED),
        FakeModel("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", 64_000, _EXTENDED),
        FakeModel("claude-opus-4-5-20251101", "Claude Opus 4.5", 64_000, _EXTENDED,
                  ("low", "medium", "high")),
    )
}  # fmt: skip

_BEDROCK = re.compile(r"^(?:[a-z]+\.)?anthropic\.(?P<id>.+?)(?:-v\d+(?::\d+)?)?$")


def canonical(model: str) -> str:
    """Bedrock (``global.anthropic.…-v1:0``) and Vertex (``…@date``) ids as API ids."""
    if m := _BEDROCK.match(model):
        model = m["id"]
    base, at, date = model.partition("@")
    return f"{base}-{date}" if at else model


def find(model: str | None, catalog: dict[str, FakeModel]) -> FakeModel | None:
    if not model:
        return None
    return catalog.get(model) or catalog.get(canonical(model))


def check_thinking(body: Any, model: str | None, catalog: dict[str, FakeModel]) -> None:
    """The model-specific thinking rules (the general ones are in validate.py)."""
    if not isinstance(body, dict):
        return
    known = find(model, catalog)
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "adaptive" and (known is None or "adaptive" not in known.thinking):
        raise Invalid(
            '"thinking.type.adaptive" is not supported for this model. Use "thinking.type.'
            'enabled" with "budget_tokens", or omit thinking.'
        )
    if known is not None and kind is not None and kind not in known.thinking:
        hint = (
            ' Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
            if "adaptive" in known.thinking
            else ""
        )
        raise Invalid(f'"thinking.type.{kind}" is not supported for this model.{hint}')
    effort = (body.get("output_config") or {}).get("effort")
    if effort is not None and known is not None and effort not in known.efforts:
        levels = ", ".join(known.efforts) or "none"
        raise Invalid(
            f"output_config.effort: {effort!r} is not supported for this model "
            f"(supported: {levels})"
        )


def model_reply(model_id: str, catalog: dict[str, FakeModel]) -> tuple[int, dict[str, Any]]:
    """(status, body) of ``GET /v1/models/{model_id}``."""
    known = find(model_id, catalog)
    if known is None:
        error = {"type": "not_found_error", "message": f"model: {model_id}"}
        return 404, {"type": "error", "error": error}
    return 200, known.to_json()
