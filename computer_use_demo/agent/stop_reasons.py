"""What the loop does after each response, by its ``stop_reason``, as the API documents them.

- ``tool_use`` / ``end_turn`` / ``stop_sequence``: run the tool calls if there are any, else
  the turn is over;
- ``pause_turn`` (a long server-side turn paused) and ``compaction`` (the context was
  compacted): send the history back as it is, the model goes on with its turn;
- ``max_tokens``: a tool_use cut off at the end is not run (its input may be incomplete): it
  is answered with an error the model can act on and the run goes on; a cut-off answer ends
  the run, saying so;
- ``refusal``: the run ends with the API's explanation;
- ``model_context_window_exceeded``, and any stop reason this table does not know: the run
  ends with a message that says what happened. Nothing ends silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .events import DoneReason

Action = Literal["tools", "continue", "done"]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """The loop's next move. ``cut_off`` is the id of a tool_use not to run."""

    action: Action
    reason: DoneReason | None = None
    detail: str = ""
    cut_off: str | None = None


def cut_off_result_text(max_tokens: int) -> str:
    """The error the model gets for a tool call that max_tokens cut short."""
    return (
        f"This tool call was not run: your response reached the max_tokens limit "
        f"({max_tokens} tokens) while writing it, so its input may be incomplete. "
        "Make the call again, with less text before it."
    )


def refusal_detail(stop_details: Any) -> str:
    """The refusal message, with the API's category and explanation when it gives them."""
    text = "Claude declined to continue with this request (stop_reason: refusal)."
    category = getattr(stop_details, "category", None)
    explanation = getattr(stop_details, "explanation", None)
    if category:
        text += f" Category: {category}."
    if explanation:
        text += f" {explanation}"
    return text


def _ends(reason: DoneReason, detail: str) -> Outcome:
    return Outcome(action="done", reason=reason, detail=detail)


def of_response(response: Any, blocks: Sequence[dict[str, Any]], *, max_tokens: int) -> Outcome:
    """The outcome of an API response (a BetaMessage) whose blocks, as params, are ``blocks``."""
    return after_response(
        response.stop_reason,
        blocks,
        max_tokens=max_tokens,
        stop_details=getattr(response, "stop_details", None),
    )


def after_response(
    stop_reason: str | None,
    blocks: Sequence[dict[str, Any]],
    *,
    max_tokens: int,
    stop_details: Any = None,
) -> Outcome:
    """The outcome of one response (its blocks as params, in order)."""
    has_calls = any(b.get("type") == "tool_use" for b in blocks)
    match stop_reason:
        case "tool_use" | "end_turn" | "stop_sequence":
            return (
                Outcome(action="tools") if has_calls else Outcome(action="done", reason="end_turn")
            )
        case "pause_turn" | "compaction":
            return Outcome(action="tools") if has_calls else Outcome(action="continue")
        case "max_tokens":
            last = blocks[-1] if blocks else None
            if last is not None and last.get("type") == "tool_use":
                return Outcome(action="tools", cut_off=last.get("id"))
            if has_calls:
                return Outcome(action="tools")
            return _ends(
                "max_tokens",
                f"Claude's answer was cut off at the max_tokens limit ({max_tokens} tokens). "
                "Raise Max Output Tokens, or ask Claude to continue.",
            )
        case "refusal":
            return _ends("refusal", refusal_detail(stop_details))
        case "model_context_window_exceeded":
            return _ends(
                "context_window_exceeded",
                "The conversation filled the model's context window, so the response stopped "
                "(stop_reason: model_context_window_exceeded). Start a new session, or keep "
                "fewer screenshots (Only send N most recent images).",
            )
        case _:
            return _ends(
                "unknown_stop_reason",
                f"The API ended the response with stop_reason {stop_reason!r}, which this app "
                "does not know; the run stopped so that nothing runs unchecked.",
            )
