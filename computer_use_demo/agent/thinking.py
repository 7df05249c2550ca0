"""Thinking modes: what a run asks for, checked against what the model supports, as request fields.

Three modes, as the reference has them now:

- ``adaptive``: ``thinking: {"type": "adaptive", "display": "summarized"}``, the model decides
  how much to think, with ``output_config: {"effort": ...}`` (low, medium, high, xhigh, max; the
  model's levels only); summarized, so that the chat can show the thinking;
- ``extended``: ``thinking: {"type": "enabled", "budget_tokens": N}``, 1024 <= N < max_tokens;
- ``off``: no thinking. On a model that thinks by default this is sent explicitly (``disabled``,
  or ``between_tools`` where the model only accepts that); elsewhere nothing is sent.
"""

from __future__ import annotations

from typing import Any, get_args

# The words a model's capabilities are described in live with the model table.
from .models import ModelInfo
from .models import OffType as OffType
from .models import ThinkingEffort as ThinkingEffort
from .models import ThinkingMode as ThinkingMode

THINKING_MODES: tuple[ThinkingMode, ...] = get_args(ThinkingMode)
THINKING_EFFORTS: tuple[ThinkingEffort, ...] = get_args(ThinkingEffort)
MIN_BUDGET = 1024


def resolve_mode(
    info: ModelInfo, mode: str | None, *, budget: int | None = None, effort: str | None = None
) -> ThinkingMode:
    """The mode a run uses: the one asked for, else ``extended`` when a budget was given (the
    reference's ``thinking_budget``), ``adaptive`` when an effort was, else the model's default."""
    if mode is None:
        if budget:
            return "extended"
        return "adaptive" if effort else info.default_thinking
    if mode not in THINKING_MODES:
        raise ValueError(f"unknown thinking mode {mode!r}; use one of: {', '.join(THINKING_MODES)}")
    return mode  # type: ignore[return-value]


def check(
    info: ModelInfo,
    model: str,
    mode: ThinkingMode,
    *,
    effort: str | None,
    budget: int | None,
    max_tokens: int,
) -> None:
    """Raise ValueError, saying what to change, when the API would refuse this combination.
    For a model nobody knows (``info.source == "fallback"``) only what needs no knowledge of
    the model is checked: the API has the last word."""
    known = info.source != "fallback"
    if known and mode not in info.thinking_modes:
        offered = ", ".join(info.thinking_modes)
        raise ValueError(f"{model} does not support thinking mode {mode!r}; it supports: {offered}")
    if effort is not None:
        if effort not in THINKING_EFFORTS:
            raise ValueError(
                f"unknown thinking effort {effort!r}; use one of: {', '.join(THINKING_EFFORTS)}"
            )
        if mode != "adaptive":
            raise ValueError("thinking_effort goes with thinking_mode 'adaptive' only")
        if known and effort not in info.effort_levels:
            offered = ", ".join(info.effort_levels) or "none"
            raise ValueError(f"{model} does not support effort {effort!r}; its levels: {offered}")
    if mode == "extended":
        if budget is None:
            raise ValueError("thinking_mode 'extended' needs thinking_budget (tokens)")
        if budget < MIN_BUDGET:
            raise ValueError(f"thinking_budget must be at least {MIN_BUDGET} tokens")
        if budget >= max_tokens:
            raise ValueError(
                f"thinking_budget ({budget}) must be less than max_tokens ({max_tokens})"
            )
    elif budget is not None:
        raise ValueError(f"thinking_budget goes with thinking_mode 'extended', not {mode!r}")


def request_fields(
    info: ModelInfo, mode: ThinkingMode, *, effort: str | None, budget: int | None
) -> dict[str, Any]:
    """The ``thinking`` / ``output_config`` fields of the request body (none for default-off)."""
    if mode == "adaptive":
        # Summarized thinking comes back as text to show (some models omit it by default).
        fields: dict[str, Any] = {"thinking": {"type": "adaptive", "display": "summarized"}}
        if effort is not None:
            fields["output_config"] = {"effort": effort}
        return fields
    if mode == "extended":
        return {"thinking": {"type": "enabled", "budget_tokens": budget}}
    if info.default_thinking == "off":
        return {}
    return {"thinking": {"type": info.off_type}}
