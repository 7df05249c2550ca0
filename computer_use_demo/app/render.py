"""Events → what the chat app shows. The app only renders what the loop reported.

The pure parts (redaction, error text, usage line, progress text) take events and return
strings, so they are tested without a browser; the ``render_*`` functions draw with Streamlit.
"""

from __future__ import annotations

import base64
import json
import time
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import streamlit as st

from ..agent.events import (
    REDACTED,
    ApiExchange,
    ApprovalAnswered,
    ApprovalAsked,
    AssistantBlock,
    BudgetExceeded,
    Done,
    ErrorEvent,
    Event,
    Paused,
    Resumed,
    RetryWait,
    StepStarted,
    TextDelta,
    ToolResultEvent,
    ToolStarted,
    UserMessage,
    is_secret_name,
    redact_event,
    redact_headers,
    usd,
)
from ..agent.history import image_media_type
from ..agent.redaction import known_secrets, scrub, stream_safe
from ..sessions.summary import format_error

#: Names whose value is a secret, whatever its content (in bodies and URL parameters; the
#: loop redacts secret headers before an exchange becomes an event: ``events.redact_headers``).
SECRET_HEADERS = frozenset(
    {
        "x-api-key",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-amz-security-token",
        "x-goog-api-key",
    }
)
#: Words that make a body key or URL parameter name secret (x-aws-session-token, api_key,
#: ...). Not "key" alone: the computer tool's input has a `key` (the modifier to hold).
SECRET_WORDS = frozenset(
    {"token", "secret", "password", "signature", "credential", "credentials", "apikey"}
)
SECRET_PARAMS = frozenset({"key", "sig", "x-amz-signature", "x-amz-credential"})


def _secret_name(name: str) -> bool:
    lowered = name.lower().replace("_", "-")
    return lowered in SECRET_HEADERS or is_secret_name(name, SECRET_WORDS)


def redact_url(url: str, secrets: Iterable[str] = ()) -> str:
    """A URL with secret query parameters (Google ?key=, presigned AWS) replaced."""
    parts = urlsplit(url)
    if parts.query:
        query = [
            (k, REDACTED if k.lower() in SECRET_PARAMS or _secret_name(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
        parts = parts._replace(query=urlencode(query, safe="[]"))
    return scrub(urlunsplit(parts), secrets)


def display_body(body: Any, secrets: Iterable[str] = ()) -> Any:
    """A request/response body fit to show: images summarised, secret values scrubbed.

    Screenshots in request histories would make the log megabytes long; their size is enough.
    """
    secrets = tuple(secrets)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("type") == "base64" and isinstance(value.get("data"), str):
                return {**value, "data": f"<{len(value['data'])} base64 characters>"}
            return {k: REDACTED if _secret_name(str(k)) else walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return scrub(value, secrets)
        return value

    return walk(body)


def dollars(text: str) -> str:
    """``text`` for Streamlit's markdown, where two dollar signs would start a formula."""
    return text.replace("$", "\\$")


def describe_action(name: str, tool_input: dict[str, Any]) -> str:
    """A short label for a tool call: ``computer: left_click (10, 20)``."""
    verb = tool_input.get("action") or tool_input.get("command")
    text = f"{name}: {verb}" if isinstance(verb, str) else name
    detail = tool_input.get("coordinate") or tool_input.get("text") or tool_input.get("path")
    if name == "bash" and isinstance(tool_input.get("command"), str):
        text, detail = "bash", tool_input["command"]
    if isinstance(detail, list):
        detail = "(" + ", ".join(str(x) for x in detail) + ")"
    if detail:
        detail = str(detail).replace("\n", " ")
        text += " " + (detail if len(detail) <= 60 else detail[:57] + "...")
    return text


def progress_text(events: Sequence[Event], now: float | None = None) -> str:
    """Where the running agent is: ``Step 3 · computer: screenshot``; while it waits to
    retry the API, which wait it is and how long is left (as of ``now``, else the clock)."""
    step = 0
    running: dict[str, str] = {}
    waiting: RetryWait | None = None
    for ev in events:
        if isinstance(ev, RetryWait):
            waiting = ev
        elif isinstance(ev, (ApiExchange, AssistantBlock, StepStarted, TextDelta)):
            waiting = None  # the retry went out (or the step moved on)
        if isinstance(ev, StepStarted):
            step = ev.step
            running.clear()
        elif isinstance(ev, ToolStarted):
            if ev.toolset_name:  # a member call: "computer: left_click (10, 20)"
                running[ev.tool_use_id] = describe_action(
                    ev.toolset_name, {**ev.input, "action": ev.name}
                )
            else:
                running[ev.tool_use_id] = describe_action(ev.name, ev.input)
        elif isinstance(ev, ToolResultEvent):
            running.pop(ev.tool_use_id, None)
    action = scrub(next(reversed(running.values()))) if running else None
    where = f"Step {step}" if step else "Starting"
    if events and isinstance(events[-1], Paused):
        return f"{where} · paused: the person has the desktop"
    if waiting is not None:
        return f"{where} · {waiting.text(time.time() if now is None else now)}"
    return f"{where} · {action or 'waiting for Claude'}"


def image_bytes(data: str) -> bytes | None:
    """Decoded screenshot, or None if the base64 is damaged (shown as a note instead)."""
    try:
        return base64.b64decode(data, validate=True)
    except (ValueError, TypeError):
        return None


# ---- Streamlit drawing ---------------------------------------------------------------------


def render_block(block: dict[str, Any]) -> None:
    """One assistant content block, inside its chat bubble."""
    kind = block.get("type")
    if kind == "text":
        st.markdown(block.get("text", ""))
    elif kind == "thinking":
        with st.expander("Thinking", icon=":material/psychology:"):
            st.markdown(block.get("thinking", ""))
    elif kind == "redacted_thinking":
        st.caption("Redacted thinking: encrypted by the API, kept in the history.")
    elif kind == "compaction":
        with st.expander("Context compacted by the API", icon=":material/compress:"):
            st.markdown(block.get("content") or "(no summary: the compaction failed)")
    elif kind in ("tool_use", "server_tool_use"):
        tool_input = json.dumps(block.get("input", {}), indent=2, ensure_ascii=False)
        name = block.get("name")
        if block.get("toolset_name"):
            name = f"{block['toolset_name']}.{name}"
        st.code(f"Tool Use: {name}\nInput: {tool_input}", language="json")
    else:
        st.caption(f"Unrecognised block type {kind!r}:")
        st.json(block)


def render_tool_result(event: ToolResultEvent, hide_images: bool) -> None:
    """A tool's output (code for CLI output), error (red) and screenshot (unless hidden)."""
    r = event.result
    show_image = bool(r.base64_image or event.image_file) and not hide_images
    if not (r.output or r.error or r.system or show_image):
        return  # e.g. a screenshot while screenshots are hidden
    with st.chat_message("tool", avatar=":material/build:"):
        if r.output:
            if type(r).__name__ == "CLIResult":
                st.code(r.output, language=None)
            else:
                st.markdown(r.output)
        if r.error:
            st.error(r.error)
        if show_image and event.image_file and not r.base64_image:
            # Left on disk (saved sessions): read when shown, passed on as they are (the
            # format given, like below: a path alone makes Streamlit decode each image).
            try:
                data = Path(event.image_file).read_bytes()
            except OSError:
                st.warning("This screenshot's file is missing from the session folder.")
            else:
                jpeg = event.image_file.endswith((".jpg", ".jpeg"))
                st.image(
                    data,
                    caption=f"{event.name} screenshot",
                    output_format="JPEG" if jpeg else "PNG",
                )
        elif show_image:
            data = image_bytes(r.base64_image or "")
            if data is None:
                st.warning("This screenshot could not be decoded.")
            else:
                # The format given, Streamlit passes the bytes through instead of decoding
                # and re-encoding every screenshot on every rerun (10 ms each).
                jpeg = image_media_type(r.base64_image or "") == "image/jpeg"
                st.image(
                    data,
                    caption=f"{event.name} screenshot",
                    output_format="JPEG" if jpeg else "PNG",
                )
        if r.system:
            st.caption(r.system)


def render_done(event: Done) -> None:
    """How a run ended, when it did not end on its own."""
    if event.reason == "stopped":
        st.caption(f"Stopped by the user after {event.steps} step(s).")
    elif event.reason == "interrupted":
        st.warning(event.detail or "This run was interrupted.", icon=":material/power_off:")
    elif event.reason == "max_steps":
        st.warning(f"Stopped after the maximum of {event.steps} steps.")
    elif event.detail:  # a refusal, a cut-off answer, a full context window...
        st.warning(event.detail, icon=":material/block:" if event.reason == "refusal" else None)


def render_resumed(event: Resumed, hide_images: bool) -> None:
    """The hand-back: what the model was told, and the screen it was shown."""
    with st.chat_message("user", avatar=":material/front_hand:"):
        st.caption(event.text)
        if event.screenshot and not hide_images:
            data = image_bytes(event.screenshot)
            if data is not None:
                st.image(data, caption="the desktop when it was handed back")


def render_live(blocks: Sequence[dict[str, Any]]) -> None:
    """Claude's answer as it streams in (text and thinking so far), known secrets redacted."""
    if not blocks:
        return
    secrets = known_secrets()
    with st.chat_message("assistant"):
        for block in blocks:
            if block["type"] == "thinking":
                st.caption("Thinking…")
                st.markdown(stream_safe(block.get("thinking", ""), secrets))
            else:
                st.markdown(stream_safe(block.get("text", ""), secrets))


#: id(event) -> (a weak reference to it, the secrets, its redacted form): a page rerun shows
#: the same (cached) event objects again and again, and redacting each anew meant copying
#: every event of a long session on every rerun.
_REDACTED: dict[int, tuple[weakref.ref[Any], tuple[str, ...], Event]] = {}


def _redacted(event: Event, secrets: tuple[str, ...]) -> Event:
    hit = _REDACTED.get(id(event))
    if hit is not None and hit[0]() is event and hit[1] == secrets:
        return hit[2]
    redacted = redact_event(event, secrets)
    if len(_REDACTED) > 100_000:  # forget the events nobody holds any more
        for key in [k for k, (ref, _, _) in _REDACTED.items() if ref() is None]:
            del _REDACTED[key]
    _REDACTED[id(event)] = (weakref.ref(event), secrets, redacted)
    return redacted


def render_chat(events: Iterable[Event], *, hide_images: bool) -> None:
    """The conversation: user messages, Claude's blocks, tool results, errors, in order, with
    every known secret value redacted (a key the model echoed, a token a command printed)."""
    secrets = tuple(known_secrets())
    for ev in (_redacted(e, secrets) for e in events):
        if isinstance(ev, UserMessage):
            with st.chat_message("user"):
                st.markdown(ev.text)
        elif isinstance(ev, AssistantBlock):
            with st.chat_message("assistant"):
                render_block(ev.block)
        elif isinstance(ev, ToolResultEvent):
            render_tool_result(ev, hide_images)
        elif isinstance(ev, ErrorEvent):
            st.error(format_error(ev), icon=":material/error:")
        elif isinstance(ev, ApprovalAsked):
            with st.chat_message("user", avatar=":material/gavel:"):
                st.markdown(f"Approval asked for `{ev.description}`")
                if ev.image and not hide_images and (data := image_bytes(ev.image)) is not None:
                    st.image(data, caption="the click's target (red ring)")
        elif isinstance(ev, ApprovalAnswered):
            verdict = "Approved" if ev.approved else "Denied: Claude was told it may not"
            st.caption(f"{verdict} (by the person).")
        elif isinstance(ev, Paused):
            skipped = f"; {ev.skipped} action(s) not run" if ev.skipped else ""
            st.info(f"Paused: the person took the desktop{skipped}.", icon=":material/pause:")
        elif isinstance(ev, Resumed):
            render_resumed(ev, hide_images)
        elif isinstance(ev, BudgetExceeded):
            st.warning(dollars(ev.message), icon=":material/savings:")
        elif isinstance(ev, Done):
            render_done(ev)


EXCHANGES_PER_PAGE = 20


def _headers_text(first_line: str, headers: dict[str, str], secrets: Sequence[str]) -> str:
    """Headers fit to show: the events' one redaction rule (again: saved sessions may predate
    a rule), and known secret values scrubbed from the other headers."""
    shown = (f"{k}: {scrub(str(v), secrets)}" for k, v in redact_headers(headers).items())
    return "\n".join([first_line, *shown])


def render_exchange(ex: ApiExchange, secrets: Sequence[str], index: int) -> None:
    """One request/response pair, secrets redacted."""
    url = redact_url(ex.url, secrets)
    status = ex.status if ex.status is not None else "no response"
    elapsed = f", {ex.elapsed_ms:.0f} ms" if ex.elapsed_ms is not None else ""
    with st.expander(f"#{index} {ex.method} `{url}` → {status}{elapsed}"):
        st.code(
            _headers_text(f"{ex.method} {url}", ex.request_headers, secrets),
            language=None,
        )
        st.json(display_body(ex.request_body, secrets), expanded=1)
        if ex.status is not None:
            st.code(
                _headers_text(f"HTTP {ex.status}", ex.response_headers, secrets),
                language=None,
            )
        if ex.response_body is not None:
            st.json(display_body(ex.response_body, secrets), expanded=1)
        if ex.error:
            st.error(scrub(ex.error, secrets))


def render_exchanges(events: Iterable[Event], secrets: Sequence[str]) -> None:
    """The HTTP exchange log, newest first, a page at a time (each request holds the history)."""
    exchanges = [ev for ev in events if isinstance(ev, ApiExchange)]
    if not exchanges:
        st.caption("No API requests yet.")
        return
    pages = (len(exchanges) + EXCHANGES_PER_PAGE - 1) // EXCHANGES_PER_PAGE
    page = 1
    if pages > 1:
        page = int(
            st.number_input(
                f"Page (of {pages}, newest first)", min_value=1, max_value=pages, key="http_page"
            )
        )
    newest_first = list(enumerate(exchanges, start=1))[::-1]
    start = (page - 1) * EXCHANGES_PER_PAGE
    for index, ex in newest_first[start : start + EXCHANGES_PER_PAGE]:
        render_exchange(ex, secrets, index)


def model_summary(info: Any) -> str:
    """The selected model in one line: where its data comes from, output limit, price."""
    if info.source == "fallback":
        return "Unknown model: no price, and its limits are guesses."
    price = info.price
    cost = (
        f"{dollars(usd(price.input))} / {dollars(usd(price.output))} per million tokens in / out"
        if price is not None
        else "no price published"
    )
    where = " (from the Models API)" if info.source == "models_api" else ""
    return f"Up to {info.max_output_tokens:,} output tokens · {cost}{where}."
