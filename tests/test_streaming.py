"""Streamed responses: the fake streams as the real API does (checked with the SDK's own
stream reader), the loop reports text and thinking as they arrive, a stop ends a stream at
once with a valid history, and streamed exchanges are recorded with their final message."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import anthropic
import httpx

from computer_use_demo.agent.events import (
    ApiExchange,
    AssistantBlock,
    Done,
    TextDelta,
    ThinkingDelta,
    event_from_json,
    to_json,
)
from computer_use_demo.agent.loop import agent_events
from tests.fake_api import FakeAnthropicAPI, message, redacted_thinking, text, thinking, tool_use
from tests.support.loop import (
    collect,
    collection,
    config,
    done,
    fake_api_fixture,  # noqa: F401 - fixture
    of,
    user,
    weather_tool,
)

REQUEST = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 4096,
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "messages": [{"role": "user", "content": "hi"}],
}
LONG = "The quick brown fox jumps over the lazy dog, and then it rests for a while."


def sse(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in response.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_the_fake_streams_the_apis_event_sequence(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(
        message(
            thinking("step by step"),
            redacted_thinking(),
            text(LONG),
            tool_use("bash", {"command": "echo hi"}, id="toolu_s"),
        )
    )
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    body = {**REQUEST, "stream": True}
    r = httpx.post(f"{fake_api.url}/v1/messages", json=body, headers=headers, timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse(r)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == [
        "message_delta",
        "message_stop",
    ]
    assert all(name == data["type"] for name, data in events)
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["input_tokens"] > 0
    kinds = [(d["index"], d["delta"]["type"]) for n, d in events if n == "content_block_delta"]
    assert {k for _, k in kinds} == {
        "thinking_delta",
        "signature_delta",
        "text_delta",
        "input_json_delta",
    }
    assert (0, "signature_delta") in kinds and not any(i == 1 for i, _ in kinds)
    assert sum(1 for i, k in kinds if i == 2) > 3  # the text comes in pieces
    final = events[-2][1]
    assert final["delta"]["stop_reason"] == "tool_use" and final["usage"]["output_tokens"] > 0
    # A bad stream flag is refused like the API does.
    bad = httpx.post(
        f"{fake_api.url}/v1/messages", json={**body, "stream": "yes"}, headers=headers, timeout=10
    )
    assert bad.status_code == 400 and "stream" in bad.json()["error"]["message"]


def test_the_sdks_stream_reader_rebuilds_the_message(fake_api: FakeAnthropicAPI) -> None:
    blocks = (
        thinking("hmm, let me see"),
        text(LONG),
        tool_use("bash", {"command": "ls -la /tmp", "restart": False}, id="toolu_t"),
    )
    fake_api.push(message(*blocks), message(*blocks))
    client = anthropic.Anthropic(api_key="k", base_url=fake_api.url, max_retries=0)
    with client.beta.messages.stream(**REQUEST) as stream:
        pieces = list(stream.text_stream)
        streamed = stream.get_final_message()
    plain = client.beta.messages.create(**REQUEST)
    client.close()
    assert "".join(pieces) == LONG and len(pieces) > 1
    assert [b.type for b in streamed.content] == ["thinking", "text", "tool_use"]
    assert streamed.content[2].input == {"command": "ls -la /tmp", "restart": False}
    assert streamed.content[0].signature == plain.content[0].signature  # signed alike
    assert streamed.stop_reason == "tool_use" and streamed.usage == plain.usage
    assert all(r.streamed for r in fake_api.requests[:1]) and not fake_api.requests[1].streamed


def test_text_and_thinking_arrive_before_the_reply_ends(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(thinking("first I think"), text(LONG), chunk_delay=0.15))

    async def run() -> list[tuple[float, Any]]:
        cfg = config(fake_api, thinking_budget=1024, max_tokens=4096)
        return [(time.monotonic(), e) async for e in agent_events(cfg, user("tell me"))]

    timed = asyncio.run(run())
    events = [e for _, e in timed]
    texts = [e.text for e in of(events, TextDelta)]
    assert "".join(texts) == LONG and len(texts) > 3
    assert "".join(e.thinking for e in of(events, ThinkingDelta)) == "first I think"
    first_delta = next(t for t, e in timed if isinstance(e, TextDelta))
    block_at = next(
        t for t, e in timed if isinstance(e, AssistantBlock) and e.block["type"] == "text"
    )
    assert block_at - first_delta > 0.5, "the text was not shown while it streamed"
    assert done(events).messages[-1]["content"][-1] == {"type": "text", "text": LONG}
    # The HTTP record holds the whole message, as for a plain response.
    (exchange,) = of(events, ApiExchange)
    assert exchange.request_body["stream"] is True
    assert exchange.response_body["content"][-1] == {"type": "text", "text": LONG}
    # Deltas are events like any other (JSON round trip), though nobody saves them.
    assert event_from_json(to_json(events[2])) == events[2]


def test_a_stop_during_a_stream_ends_it_at_once(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(
        message(text("I am starting."), tool_use("get_weather", {"location": "Phoenix, AZ"})),
        message(text(LONG * 4), chunk_delay=0.5),  # about 13 s to stream in full
        message(text("Picked up again.")),
    )

    async def run() -> tuple[list[Any], float]:
        stop = asyncio.Event()
        cfg = config(fake_api, extra_tools=(weather_tool(),))
        events: list[Any] = []
        stopped_at = 0.0
        async for event in agent_events(
            cfg, user("go"), stop=stop, tools=collection(weather_tool())
        ):
            events.append(event)
            if (
                isinstance(event, TextDelta)
                and len(of(events, TextDelta)) == 4
                and not stop.is_set()
            ):
                stop.set()
                stopped_at = time.monotonic()
        return events, time.monotonic() - stopped_at

    events, took = asyncio.run(run())
    final = done(events)
    assert final.reason == "stopped" and took < 2.0
    assert not any(
        LONG in b.get("text", "")
        for m in final.messages
        for b in m["content"]
        if isinstance(b, dict)
    )
    assert final.messages[-1]["role"] == "user"  # the tool result; the partial text is gone
    # The history is valid: the API accepts it as the next request.
    more = [
        *final.messages[:-1],
        {
            "role": "user",
            "content": [*final.messages[-1]["content"], {"type": "text", "text": "go on"}],
        },
    ]
    again = asyncio.run(collect(config(fake_api), more))
    assert done(again).reason == "end_turn"
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error


def test_streaming_off_sends_plain_requests(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(text(LONG)))
    events = asyncio.run(collect(config(fake_api, stream=False), user("hi")))
    assert not of(events, TextDelta) and done(events).reason == "end_turn"
    assert "stream" not in fake_api.requests[0].body and not fake_api.requests[0].streamed
    assert isinstance(done(events), Done)


def test_vertex_streams_on_stream_raw_predict_only(fake_api: FakeAnthropicAPI) -> None:
    from tests.fake_api import DEFAULT_VERTEX_TOKEN
    from tests.support.providers import VERTEX

    fake_api.push(message(text(LONG)))
    headers = {"authorization": f"Bearer {DEFAULT_VERTEX_TOKEN}"}
    body = {
        "anthropic_version": "vertex-2023-10-16",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    plain, streaming = f"{fake_api.url}{VERTEX.path}", f"{fake_api.url}{VERTEX.loop_path}"
    refused = [
        httpx.post(plain, json={**body, "stream": True}, headers=headers, timeout=10),
        httpx.post(streaming, json=body, headers=headers, timeout=10),
    ]
    assert [r.status_code for r in refused] == [400, 400] and fake_api.remaining == 1
    r = httpx.post(streaming, json={**body, "stream": True}, headers=headers, timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    pieces = [d["delta"]["text"] for n, d in sse(r) if n == "content_block_delta"]
    assert "".join(pieces) == LONG
