"""One streamed Messages API call: deltas go out as events while it runs, the final message
comes back as the call's result.

The loop sends its pre-serialized body (request.py) with ``"stream": true`` through
``client.post``; the SDK's own accumulator (``BetaAsyncMessageStream``) turns the server-sent
events into the same ``BetaMessage`` a plain call returns, so everything after the call is
unchanged. Cancelling the call (a stop) closes the stream at once; nothing of the partial
message enters the history.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from anthropic import NOT_GIVEN, AsyncStream
from anthropic.lib.streaming import BetaAsyncMessageStream
from anthropic.types.beta import BetaMessage, BetaRawMessageStreamEvent

from .events import Event, TextDelta, ThinkingDelta

#: What the stream's events become: text and thinking pieces (tool input JSON is not shown
#: piecemeal; the tool_use block is reported whole when it is complete).
Emit = Callable[[Event], None]


def delta_event(event: Any) -> Event | None:
    """The typed event of one raw stream event, if it is a piece of text or thinking."""
    if getattr(event, "type", None) != "content_block_delta":
        return None
    delta = event.delta
    if delta.type == "text_delta" and delta.text:
        return TextDelta(index=event.index, text=delta.text)
    if delta.type == "thinking_delta" and delta.thinking:
        return ThinkingDelta(index=event.index, thinking=delta.thinking)
    return None


def post_raw(
    client: Any, raw: bytes, *, headers: dict[str, str], timeout: float
) -> Awaitable[AsyncStream[BetaRawMessageStreamEvent]]:
    """POST ``raw`` (a Messages request with ``"stream": true``) as it is: its event stream."""
    return client.post(
        "/v1/messages?beta=true",
        cast_to=BetaMessage,
        content=raw,
        options={"headers": headers, "timeout": timeout},
        stream=True,
        stream_cls=AsyncStream[BetaRawMessageStreamEvent],
    )


async def read_stream(
    opening: Awaitable[AsyncStream[BetaRawMessageStreamEvent]],
    *,
    emit: Emit,
    on_message: Callable[[BetaMessage | None, str | None], None],
) -> BetaMessage:
    """Open a stream (``post_raw``, or the SDK's ``create(stream=True)`` for Vertex) and read
    it, emitting the deltas; the final message.

    ``on_message`` gets the final message (or None and the error) once the stream ended, for
    the HTTP record; it is called exactly once, whatever happens.
    """
    reported = False

    def report(message: BetaMessage | None, error: str | None) -> None:
        nonlocal reported
        if not reported:
            reported = True
            on_message(message, error)

    try:
        raw_stream = await opening
        async with BetaAsyncMessageStream(raw_stream, NOT_GIVEN) as stream:
            async for event in stream:
                delta = delta_event(event)
                if delta is not None:
                    emit(delta)
            message = await stream.get_final_message()
    except BaseException as e:
        report(None, "stream ended early: " + (f"{type(e).__name__}: {e}".rstrip(": ")))
        raise
    report(message, None)
    return message


class LiveText:
    """The text and thinking of the answer streaming in, from its delta events, for display.

    The UI and the CLI show this while a step streams; the finished blocks (AssistantBlock)
    replace it, so it is cleared at every block, step and end.
    """

    def __init__(self) -> None:
        self._blocks: dict[int, dict[str, str]] = {}

    def add(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            block = self._blocks.setdefault(event.index, {"type": "text", "text": ""})
            block["text"] = block.get("text", "") + event.text
        elif isinstance(event, ThinkingDelta):
            block = self._blocks.setdefault(event.index, {"type": "thinking", "thinking": ""})
            block["thinking"] = block.get("thinking", "") + event.thinking

    def clear(self) -> None:
        self._blocks.clear()

    def blocks(self) -> list[dict[str, str]]:
        """The blocks so far, in answer order (copies)."""
        return [dict(self._blocks[i]) for i in sorted(self._blocks)]
