"""What the agent loop reports, as typed events. The CLI, the UI and the session store only
consume these; none of them looks inside the loop.

Every event is a frozen dataclass with a ``kind`` tag and converts to and from plain JSON
(``to_json`` / ``event_from_json``) so that a run can be saved as one event per line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from ..tools.base import CLIResult, ToolFailure, ToolResult
from ..tools.events import ToolResultEvent as ToolResultEvent
from ..tools.events import ToolStarted as ToolStarted

# The name rules live with the value rules in redaction.py; re-exported for the loop and the UI.
from .redaction import REDACTED as REDACTED
from .redaction import is_secret_header as is_secret_header
from .redaction import is_secret_name as is_secret_name
from .redaction import name_words as name_words
from .redaction import redact_headers as redact_headers
from .redaction import redact_json

#: How a run ended. Besides end_turn, max_steps, stopped, error and budget, the stop reasons
#: that end a run (stop_reasons.py): a refusal, an answer cut off at max_tokens, a full
#: context window, and a stop reason the app does not know. ``interrupted``: the app died
#: mid-run (a crash, a kill); written when the session is next opened (sessions/trajectory.py).
DoneReason = Literal[
    "end_turn",
    "max_steps",
    "stopped",
    "interrupted",
    "error",
    "budget",
    "refusal",
    "max_tokens",
    "context_window_exceeded",
    "unknown_stop_reason",
]


@dataclass(frozen=True, kw_only=True)
class UserMessage:
    """A message the user sent (text), as it entered the history."""

    kind: ClassVar[str] = "user"
    text: str


@dataclass(frozen=True, kw_only=True)
class StepStarted:
    """The loop is about to call the API for step ``step`` (1-based)."""

    kind: ClassVar[str] = "step"
    step: int


@dataclass(frozen=True, kw_only=True)
class AssistantBlock:
    """One content block of Claude's answer: text, thinking, redacted_thinking or tool_use."""

    kind: ClassVar[str] = "assistant"
    block: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class ApiExchange:
    """One HTTP request to the model API and its response (or the error instead of one).

    Headers are already redacted (``redact_headers``): secrets never reach an event.
    """

    kind: ClassVar[str] = "api_exchange"
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: Any
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: Any = None
    error: str | None = None
    elapsed_ms: float | None = None


@dataclass(frozen=True, kw_only=True)
class Usage:
    """Token counts of one response, and the run's running totals with a cost estimate."""

    kind: ClassVar[str] = "usage"
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    total_input_tokens: int = 0
    total_output_tokens: int = 0
    total_cache_creation_input_tokens: int = 0
    total_cache_read_input_tokens: int = 0
    cost_usd: float | None = None  # None when the model has no known price
    total_cost_usd: float | None = None
    #: What the API's context management did for this response (context.py): tool uses it
    #: cleared (and their input tokens), and compactions of the conversation.
    cleared_tool_uses: int = 0
    cleared_input_tokens: int = 0
    compactions: int = 0


@dataclass(frozen=True, kw_only=True)
class TextDelta:
    """A piece of Claude's text as it streams in (block ``index`` of the step's answer).

    Transient: shown live, never saved; the finished block follows as an AssistantBlock.
    """

    kind: ClassVar[str] = "text_delta"
    index: int
    text: str


@dataclass(frozen=True, kw_only=True)
class ThinkingDelta:
    """A piece of Claude's thinking as it streams in (transient, like TextDelta)."""

    kind: ClassVar[str] = "thinking_delta"
    index: int
    thinking: str


def usd(amount: float) -> str:
    """Dollars as people write them: $0.50, $2.00, and $0.025 where cents are not enough."""
    return f"${amount:,.2f}" if round(amount, 2) == amount else f"${amount:,.4f}".rstrip("0")


@dataclass(frozen=True, kw_only=True)
class BudgetExceeded:
    """The next API call could pass a dollar cap, so the run stops before making it.

    ``estimate_usd`` is the next call's conservative cost (budget.py says how it is made);
    None when the model has no known price (so no cap can be kept).
    """

    kind: ClassVar[str] = "budget"
    scope: Literal["run", "session"]
    limit_usd: float
    spent_usd: float
    estimate_usd: float | None

    @property
    def message(self) -> str:
        if self.estimate_usd is None:
            return (
                f"Stopped: a {self.scope} budget of {usd(self.limit_usd)} is set, but this "
                "model has no known price, so the cost of a call cannot be bounded."
            )
        return (
            f"Stopped: the {self.scope} budget of {usd(self.limit_usd)} would be passed "
            f"(spent ${self.spent_usd:.4f}, the next call could cost up to "
            f"${self.estimate_usd:.4f})."
        )


@dataclass(frozen=True, kw_only=True)
class Paused:
    """The person took the desktop: the run waits at a step boundary (no API call meanwhile).

    ``skipped`` tool calls of the last answer were answered "not run" instead of running.
    """

    kind: ClassVar[str] = "paused"
    step: int
    skipped: int = 0


@dataclass(frozen=True, kw_only=True)
class Resumed:
    """The person handed the desktop back; ``text`` and ``screenshot`` (base64, if one could
    be taken) joined the last user turn, so the model does not act on a stale picture."""

    kind: ClassVar[str] = "resumed"
    text: str
    screenshot: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApprovalAsked:
    """An action waits for the person's Approve / Deny (the approval policy said ``ask``).

    ``image`` is, for a click, the screen around the target (base64 PNG, target marked).
    """

    kind: ClassVar[str] = "approval_asked"
    id: str
    tool_name: str
    action: str
    action_class: str
    description: str
    input: dict[str, Any] = field(default_factory=dict)
    image: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApprovalAnswered:
    """The person's answer to ``ApprovalAsked`` ``id`` (a denial reaches the model as an
    is_error tool_result saying so)."""

    kind: ClassVar[str] = "approval_answered"
    id: str
    approved: bool


@dataclass(frozen=True, kw_only=True)
class ErrorEvent:
    """The run could not go on (after retries): the API's status and message, if any."""

    kind: ClassVar[str] = "error"
    message: str
    status: int | None = None
    retry_after: float | None = None
    error_type: str | None = None


@dataclass(frozen=True, kw_only=True)
class RetryWait:
    """A Messages API attempt failed in a way that is retried (agent/retry.py): the loop
    waits ``seconds`` from ``at`` (wall clock, ``time.time()``) before retry ``retry`` of
    at most ``retries``. ``reason`` says which wait it is ("rate limited", "overloaded")."""

    kind: ClassVar[str] = "retry_wait"
    reason: str
    seconds: float
    retry: int
    retries: int
    at: float
    status: int | None = None

    def left(self, now: float) -> float:
        """Seconds still to wait at ``now`` (0 once the retry is due)."""
        return max(0.0, self.at + self.seconds - now)

    def text(self, now: float) -> str:
        """``rate limited (429): retry 1 of 4 in 12 s``, counting down to "retrying now"."""
        what = f"{self.reason} ({self.status})" if self.status else self.reason
        left = self.left(now)
        when = f"in {math.ceil(left)} s" if left > 0 else "now"
        return f"{what}: retry {self.retry} of {self.retries} {when}"


@dataclass(frozen=True, kw_only=True)
class Done:
    """The run ended; ``messages`` is the full, valid history to continue from. ``detail``
    says what happened when the reason alone does not (a refusal, a cut-off answer...)."""

    kind: ClassVar[str] = "done"
    reason: DoneReason
    steps: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    detail: str = ""


Event = (
    UserMessage
    | StepStarted
    | AssistantBlock
    | ToolStarted
    | ToolResultEvent
    | ApiExchange
    | Usage
    | ErrorEvent
    | RetryWait
    | Done
    | TextDelta
    | ThinkingDelta
    | BudgetExceeded
    | Paused
    | Resumed
    | ApprovalAsked
    | ApprovalAnswered
)

EVENT_TYPES: dict[str, type] = {
    cls.kind: cls
    for cls in (
        UserMessage,
        StepStarted,
        AssistantBlock,
        ToolStarted,
        ToolResultEvent,
        ApiExchange,
        Usage,
        ErrorEvent,
        RetryWait,
        Done,
        TextDelta,
        ThinkingDelta,
        BudgetExceeded,
        Paused,
        Resumed,
        ApprovalAsked,
        ApprovalAnswered,
    )
}

#: Events that are shown as they happen but never saved (a session keeps the final blocks).
TRANSIENT: tuple[type, ...] = (TextDelta, ThinkingDelta)


def to_json(event: Event) -> dict[str, Any]:
    """A JSON-able dict with a ``kind`` key (screenshots stay inline base64 here)."""
    data = asdict(event)
    if isinstance(event, ToolResultEvent):
        data["result"] = asdict(event.result)
        data["result"]["class"] = type(event.result).__name__
    return {"kind": event.kind, **data}


def event_from_json(data: dict[str, Any]) -> Event:
    """The event ``to_json`` made; raises ValueError for an unknown kind."""
    data = dict(data)
    kind = data.pop("kind", None)
    cls = EVENT_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    if cls is ToolResultEvent:
        result = dict(data["result"])
        result_cls = {"CLIResult": CLIResult, "ToolFailure": ToolFailure}.get(
            result.pop("class", ""), ToolResult
        )
        data["result"] = result_cls(**result)
    return cls(**data)


def redact_event(event: Event, secrets: Iterable[str] | None = None) -> Event:
    """``event`` with every known secret value in its text replaced (``redaction.redact_json``);
    the very same event when none occurs. Applied where events are saved and shown."""
    data = to_json(event)
    redacted = redact_json(data, secrets)
    return event if redacted is data else event_from_json(redacted)
