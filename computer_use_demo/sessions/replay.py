"""A session as one self-contained HTML file: text, tool calls and screenshots, in order.

The file needs nothing else (no scripts, no network): screenshots are inline data URIs, so it
can be mailed, attached to a bug report or opened years later.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from datetime import UTC, datetime

from ..agent.events import (
    ApprovalAnswered,
    ApprovalAsked,
    AssistantBlock,
    BudgetExceeded,
    Done,
    ErrorEvent,
    Event,
    Paused,
    Resumed,
    StepStarted,
    ToolResultEvent,
    UserMessage,
    redact_event,
)
from ..agent.history import image_media_type
from ..agent.redaction import known_secrets, scrub
from .summary import format_error, usage_line, usage_totals

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em;
       color: #1f2328; background: #fff; }
h1 { font-size: 1.5em; } h2.step { font-size: 1em; color: #666; margin: 1.6em 0 .4em;
       border-top: 1px solid #ddd; padding-top: .6em; }
.msg { border-radius: 8px; padding: .6em .9em; margin: .5em 0; }
.user { background: #e8f0fe; } .assistant { background: #f6f8fa; }
.tool { background: #fff; border: 1px solid #ddd; }
.who { font-size: .75em; font-weight: 600; text-transform: uppercase; color: #666; }
.text { white-space: pre-wrap; }
pre { background: #f0f0f0; padding: .6em; overflow-x: auto; white-space: pre-wrap; }
.error { color: #b00020; background: #fdecea; border-radius: 6px; padding: .5em .8em;
         white-space: pre-wrap; }
.note { color: #666; font-style: italic; }
img.shot { max-width: 100%; border: 1px solid #ccc; display: block; margin-top: .4em; }
details summary { cursor: pointer; color: #555; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _block_html(block: dict) -> str:
    kind = block.get("type")
    if kind == "text":
        return f'<div class="text">{_e(block.get("text", ""))}</div>'
    if kind == "thinking":
        return (
            f'<details><summary>Thinking</summary><div class="text">'
            f"{_e(block.get('thinking', ''))}</div></details>"
        )
    if kind == "redacted_thinking":
        return '<div class="note">Redacted thinking (encrypted by the API).</div>'
    if kind in ("tool_use", "server_tool_use"):
        tool_input = json.dumps(block.get("input", {}), indent=2, ensure_ascii=False)
        return (
            f'<div class="tool-use">Tool use: <code>{_e(block.get("name"))}</code></div>'
            f"<pre>{_e(tool_input)}</pre>"
        )
    return f"<pre>{_e(json.dumps(block, indent=2, ensure_ascii=False))}</pre>"


def _msg(css: str, who: str, body: str) -> str:
    return f'<div class="msg {css}"><div class="who">{_e(who)}</div>{body}</div>'


def _event_html(ev: Event) -> str:
    if isinstance(ev, UserMessage):
        return _msg("user", "User", f'<div class="text">{_e(ev.text)}</div>')
    if isinstance(ev, StepStarted):
        return f'<h2 class="step">Step {ev.step}</h2>'
    if isinstance(ev, AssistantBlock):
        return _msg("assistant", "Claude", _block_html(ev.block))
    if isinstance(ev, ToolResultEvent):
        r = ev.result
        parts = []
        if r.output:
            parts.append(f"<pre>{_e(r.output)}</pre>")
        if r.error:
            parts.append(f'<div class="error">{_e(r.error)}</div>')
        if r.base64_image:
            src = f"data:{image_media_type(r.base64_image)};base64,{r.base64_image}"
            parts.append(f'<img class="shot" alt="{_e(ev.name)} screenshot" src="{_e(src)}">')
        if r.system:
            parts.append(f'<div class="note">{_e(r.system)}</div>')
        return _msg("tool", f"Tool result: {ev.name}", "".join(parts) or "<em>(empty)</em>")
    if isinstance(ev, ErrorEvent):
        return f'<div class="error">{_e(format_error(ev).replace("**", ""))}</div>'
    if isinstance(ev, ApprovalAsked):
        return f'<div class="note">Approval asked: {_e(ev.description)}</div>'
    if isinstance(ev, ApprovalAnswered):
        return f'<div class="note">{"Approved" if ev.approved else "Denied"} by the person.</div>'
    if isinstance(ev, Paused):
        return '<div class="note">Paused: the person took the desktop.</div>'
    if isinstance(ev, Resumed):
        return f'<div class="note">{_e(ev.text)}</div>'
    if isinstance(ev, BudgetExceeded):
        return f'<div class="error">{_e(ev.message)}</div>'
    if isinstance(ev, Done):
        detail = f" {_e(ev.detail)}" if ev.detail else ""
        return (
            f'<div class="note">Run ended: {_e(ev.reason)} after {ev.steps} step(s).{detail}</div>'
        )
    return ""  # API exchanges and usage counts are not part of the story


def render_html(events: Iterable[Event], *, title: str = "Computer Use Demo session") -> str:
    """The whole replay as one HTML document, every known secret value redacted (the title
    too: it is the first message)."""
    secrets = known_secrets()
    events = [redact_event(ev, secrets) for ev in events]
    body = "\n".join(filter(None, (_event_html(ev) for ev in events)))
    totals = usage_totals(events)
    usage = f'<p class="note">{_e(usage_line(totals))}</p>' if totals.responses else ""
    title = scrub(title, secrets)
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{_e(title)}</h1><p class="note">Exported {made}.</p>{usage}\n{body}\n'
        "</body></html>\n"
    )
