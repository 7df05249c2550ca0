"""The HTML replay: one self-contained file with the whole session, in order."""

from __future__ import annotations

from html.parser import HTMLParser

from computer_use_demo.agent.events import (
    ApiExchange,
    AssistantBlock,
    Done,
    ErrorEvent,
    StepStarted,
    ToolResultEvent,
    ToolStarted,
    Usage,
    UserMessage,
)
from computer_use_demo.sessions.replay import render_html
from computer_use_demo.tools.base import CLIResult, ToolResult
from tests.support.images import png_b64


class Collector(HTMLParser):
    """Text and the attributes of every tag, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, str]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "img":
            self.items.append(("img", dict(attrs)["src"] or ""))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.items.append(("text", data.strip()))


def session_events() -> list:
    red, blue = png_b64(40, 30, "red"), png_b64(40, 30, "blue")
    return [
        UserMessage(text="Open <b>Firefox</b> & check"),
        StepStarted(step=1),
        AssistantBlock(block={"type": "thinking", "thinking": "I should look first"}),
        AssistantBlock(block={"type": "redacted_thinking", "data": "c2VjcmV0"}),
        AssistantBlock(block={"type": "text", "text": "Taking a screenshot."}),
        AssistantBlock(
            block={
                "type": "tool_use",
                "id": "toolu_1",
                "name": "computer",
                "input": {"action": "screenshot"},
            }
        ),
        ToolStarted(tool_use_id="toolu_1", name="computer", input={"action": "screenshot"}),
        ToolResultEvent(
            tool_use_id="toolu_1", name="computer", result=ToolResult(base64_image=red)
        ),
        ApiExchange(
            method="POST",
            url="https://api.anthropic.com/v1/messages",
            request_headers={"x-api-key": "sk-ant-secret-123456"},
            request_body={"model": "m"},
        ),
        Usage(input_tokens=1000, output_tokens=50, cost_usd=0.0042),
        StepStarted(step=2),
        AssistantBlock(
            block={
                "type": "tool_use",
                "id": "toolu_2",
                "name": "bash",
                "input": {"command": "ls /nope"},
            }
        ),
        ToolResultEvent(
            tool_use_id="toolu_2",
            name="bash",
            result=CLIResult(output="partial", error="ls: cannot access '/nope'"),
        ),
        ToolResultEvent(
            tool_use_id="toolu_3", name="computer", result=ToolResult(base64_image=blue)
        ),
        ErrorEvent(message="slow down", status=429, retry_after=30),
        Done(reason="error", steps=2),
    ]


def test_replay_holds_every_step_in_order_with_inline_screenshots() -> None:
    events = session_events()
    html = render_html(events, title="My session")
    parser = Collector()
    parser.feed(html)
    texts = [v for k, v in parser.items if k == "text"]
    images = [v for k, v in parser.items if k == "img"]

    # The screenshots are inline data URIs, byte for byte, in the order they were taken.
    red = events[7].result.base64_image
    blue = events[13].result.base64_image
    assert images == [f"data:image/png;base64,{red}", f"data:image/png;base64,{blue}"]

    def pos(fragment: str) -> int:
        return next(i for i, t in enumerate(texts) if fragment in t)

    order = [
        "Open <b>Firefox</b> & check",  # escaped markup comes back as the literal text
        "Step 1",
        "I should look first",
        "Redacted thinking",
        "Taking a screenshot.",
        '"action": "screenshot"',
        "Step 2",
        '"command": "ls /nope"',
        "partial",
        "ls: cannot access '/nope'",
        "Retry after 30 s",
        "Run ended: error after 2 step(s)",
    ]
    positions = [pos(f) for f in order]
    assert positions == sorted(positions), list(zip(order, positions, strict=True))
    assert "My session" in texts
    assert any("1,000 in" in t and "$0.0042" in t for t in texts)  # usage summary


def test_replay_is_self_contained_and_safe() -> None:
    events = [
        UserMessage(text="<script>alert(1)</script>"),
        AssistantBlock(block={"type": "text", "text": '<img src="http://evil.example/x.png">'}),
        *session_events(),
    ]
    html = render_html(events)
    parser = Collector()
    parser.feed(html)
    tag_names = {t for t, _ in parser.tags}
    assert "script" not in tag_names and "link" not in tag_names
    for tag, attrs in parser.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("data:"), (tag, attrs)
    # The API exchange log (with its headers) is not part of the replay.
    assert "sk-ant-secret" not in html


def test_replay_of_unknown_block_and_empty_session() -> None:
    html = render_html([AssistantBlock(block={"type": "mystery", "x": 1})])
    assert "mystery" in html
    empty = render_html([])
    assert empty.startswith("<!DOCTYPE html>") and "</html>" in empty
