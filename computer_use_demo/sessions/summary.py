"""A session's events as short text: an error as a sentence a user can act on, the usage totals
and line. The chat, the CLI and the HTML replay say the same words."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from ..agent.events import ErrorEvent, Event, Usage, usd


def format_error(event: ErrorEvent) -> str:
    """An error as a sentence a user can act on (markdown), never a traceback."""
    if event.status == 429 or event.error_type == "rate_limit_error":
        text = "**Rate limited** by the API."
        if event.retry_after is not None:
            seconds = max(0, round(event.retry_after))
            text += f" Retry after {seconds} s ({timedelta(seconds=seconds)})."
        return f"{text}\n\n{event.message}"
    head = "**API error**" if event.status else "**Error**"
    details = [str(x) for x in (event.status, event.error_type) if x]
    if details:
        head += f" ({', '.join(details)})"
    if event.status == 529 or event.error_type == "overloaded_error":
        head += ": the API is overloaded, try again in a moment"
    elif event.status in (401, 403):
        head += ": check the API key or credentials in the sidebar"
    return f"{head}\n\n{event.message}"


@dataclass(frozen=True)
class UsageTotals:
    """Token counts and cost summed over every response of a session."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True
    responses: int = 0
    #: The API's context management (context.py): tool uses cleared, compactions.
    cleared_tool_uses: int = 0
    cleared_input_tokens: int = 0
    compactions: int = 0


def usage_totals(events: Iterable[Event]) -> UsageTotals:
    """Sum the per-response counts (a session holds several runs, each with its own totals)."""
    tin = tout = cread = cwrite = n = cleared = cleared_tokens = compactions = 0
    cost = 0.0
    known = True
    for ev in events:
        if isinstance(ev, Usage):
            n += 1
            tin += ev.input_tokens
            tout += ev.output_tokens
            cread += ev.cache_read_input_tokens
            cwrite += ev.cache_creation_input_tokens
            cleared += ev.cleared_tool_uses
            cleared_tokens += ev.cleared_input_tokens
            compactions += ev.compactions
            if ev.cost_usd is None:
                known = False
            else:
                cost += ev.cost_usd
    return UsageTotals(
        tin, tout, cread, cwrite, cost, known, n, cleared, cleared_tokens, compactions
    )


def context_text(totals: UsageTotals) -> str:
    """What the API's context management did, for the usage line ("" while nothing)."""
    parts = []
    if totals.cleared_tool_uses:
        parts.append(
            f"{totals.cleared_tool_uses:,} old tool results cleared "
            f"({totals.cleared_input_tokens:,} tokens)"
        )
    if totals.compactions:
        times = "once" if totals.compactions == 1 else f"{totals.compactions} times"
        parts.append(f"conversation compacted {times}")
    return "context: " + ", ".join(parts) if parts else ""


def usage_line(
    totals: UsageTotals, *, run_cap: float | None = None, session_cap: float | None = None
) -> str:
    """One line: tokens in/out, cache reads/writes, estimated cost, and the dollar caps."""
    cost = f"≈ ${totals.cost_usd:.4f}" if totals.cost_known else "no price for this model"
    caps = "".join(
        f" · {name} cap {usd(cap)}"
        for name, cap in (("run", run_cap), ("session", session_cap))
        if cap is not None
    )
    context = context_text(totals)
    return (
        f"Tokens: {totals.input_tokens:,} in · {totals.output_tokens:,} out · "
        f"cache {totals.cache_read:,} read / {totals.cache_write:,} written · {cost}{caps}"
        + (f" · {context}" if context else "")
    )
