"""The fake Messages API itself: it must refuse what the real API refuses (else the loop tests
prove nothing) and answer in shapes the real SDK parses."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import pytest

from tests.fake_api import FakeAnthropicAPI, error, malformed, message, text, thinking, tool_use
from tests.fake_api.server import Reply
from tests.support.images import png_b64
from tests.support.loop import fake_api_fixture  # noqa: F401 - fixture

HEADERS = {
    "x-api-key": "k",
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "computer-use-2025-01-24",
}
COMPUTER = {
    "type": "computer_20250124",
    "name": "computer",
    "display_width_px": 1024,
    "display_height_px": 768,
}
BASH = {"type": "bash_20250124", "name": "bash"}


def valid_body() -> dict[str, Any]:
    """A request the real API accepts: a finished tool call with a screenshot, then text."""
    return {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
        "tools": [COMPUTER, BASH],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "look"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "ok"},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "computer",
                        "input": {"action": "screenshot"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": png_b64(),
                                },
                            }
                        ],
                    },
                    {"type": "text", "text": "and now?", "cache_control": {"type": "ephemeral"}},
                ],
            },
        ],
    }


def post(api: FakeAnthropicAPI, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{api.url}/v1/messages", json=body, headers=headers or HEADERS, timeout=10)


def _image(body: dict[str, Any]) -> dict[str, Any]:
    return body["messages"][2]["content"][0]["content"][0]["source"]


INVALID: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "first message not user": (
        lambda b: b["messages"].pop(0),
        'first message must use the "user" role',
    ),
    "roles not alternating": (
        lambda b: b["messages"].insert(1, {"role": "user", "content": "again"}),
        "roles must alternate",
    ),
    "tool_use without result": (
        lambda b: b["messages"][2]["content"].pop(0),
        "`tool_use` ids were found without `tool_result` blocks",
    ),
    "tool_use last, unanswered": (lambda b: b["messages"].pop(), "without `tool_result` blocks"),
    "tool_result for an unknown id": (
        lambda b: b["messages"][2]["content"][0].update(tool_use_id="toolu_nope"),
        "unexpected `tool_use_id`",
    ),
    "tool_result after text": (
        lambda b: b["messages"][2]["content"].reverse(),
        "must come first",
    ),
    "image media type": (lambda b: _image(b).update(media_type="image/bmp"), "media_type"),
    "image data not base64": (
        lambda b: _image(b).update(data="%%%not-base64%%%"),
        "invalid base64",
    ),
    "image data not a png": (
        lambda b: _image(b).update(data="aGVsbG8gd29ybGQ="),
        "does not match the provided media type",
    ),
    "png labelled jpeg": (lambda b: _image(b).update(media_type="image/jpeg"), "does not match"),
    "image from a url": (
        lambda b: _image(b).update(type="url", url="https://example.com/x.png"),
        "base64 image source",
    ),
    "empty text block": (
        lambda b: b["messages"][0]["content"][0].update(text=""),
        "must be non-empty",
    ),
    "computer tool without beta": (lambda b: None, "needs the anthropic-beta header"),
    "tool with another version's beta": (
        lambda b: b["tools"].__setitem__(0, {**COMPUTER, "type": "computer_20241022"}),
        "needs the anthropic-beta header computer-use-2024-10-22",
    ),
    "unknown tool type": (
        lambda b: b["tools"].append({"type": "teleport_20990101", "name": "teleport"}),
        "does not match any of the expected tags",
    ),
    "duplicate tool names": (
        lambda b: b["tools"].append({"name": "bash", "input_schema": {"type": "object"}}),
        "Tool names must be unique",
    ),
    "wrong name for a tool type": (
        lambda b: b["tools"].__setitem__(1, {**BASH, "name": "shell"}),
        "Input should be 'bash'",
    ),
    "anthropic tool with a schema": (
        lambda b: b["tools"][1].update(input_schema={"type": "object"}),
        "Extra inputs are not permitted",
    ),
    "five cache breakpoints": (
        lambda b: (
            [m["content"][0].update(cache_control={"type": "ephemeral"}) for m in b["messages"]]
            and b["messages"][2]["content"][0]["content"][0].update(
                cache_control={"type": "ephemeral"}
            )
        ),
        "A maximum of 4 blocks with cache_control",
    ),
    "thinking without signature": (
        lambda b: b["messages"][1]["content"].insert(0, {"type": "thinking", "thinking": "x"}),
        "signature: Field required",
    ),
    "thinking with a forged signature": (
        lambda b: b["messages"][1]["content"].insert(
            0, {"type": "thinking", "thinking": "x", "signature": "Zm9yZ2Vk"}
        ),
        "Invalid `signature`",
    ),
    "thinking on, last tool turn without thinking": (
        lambda b: b.update(max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 1024}),
        "must start with a thinking block",
    ),
    "thinking budget above max_tokens": (
        lambda b: b.update(thinking={"type": "enabled", "budget_tokens": 2048}),
        "must be greater than `thinking.budget_tokens`",
    ),
    "no max_tokens": (lambda b: b.pop("max_tokens"), "max_tokens"),
    "no messages": (lambda b: b.update(messages=[]), "at least one message"),
}


def test_the_baseline_request_is_accepted(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(text("fine")))
    response = post(fake_api, valid_body())
    assert response.status_code == 200, response.text
    assert response.json()["content"] == [{"type": "text", "text": "fine"}]


@pytest.mark.parametrize("kind", list(INVALID))
def test_each_invalid_request_kind_is_refused(fake_api: FakeAnthropicAPI, kind: str) -> None:
    change, expected = INVALID[kind]
    fake_api.push(message(text("should not be used")))
    body = copy.deepcopy(valid_body())
    change(body)
    headers = dict(HEADERS)
    if kind == "computer tool without beta":
        del headers["anthropic-beta"]
    response = post(fake_api, body, headers)
    assert response.status_code == 400, (kind, response.text)
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error"
    assert expected in payload["error"]["message"], payload
    assert fake_api.remaining == 1, "a refused request consumes no scripted reply"
    assert fake_api.requests[-1].error is not None


def test_missing_key_is_401_authentication_error(fake_api: FakeAnthropicAPI) -> None:
    response = post(fake_api, valid_body(), {k: v for k, v in HEADERS.items() if k != "x-api-key"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_the_sdk_parses_every_reply_kind(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(
        message(
            thinking("let me think"), text("hi"), tool_use("bash", {"command": "ls"}, id="toolu_x")
        ),
        error(429, "slow down", retry_after=0.01),
        message(text("after the 429")),
        malformed(),
        Reply(drop=True),
        Reply(drop=True),
    )
    client = anthropic.Anthropic(api_key="k", base_url=fake_api.url, max_retries=1)
    req = {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    first = client.beta.messages.create(**req)
    assert [b.type for b in first.content] == ["thinking", "text", "tool_use"]
    assert first.content[0].signature and first.stop_reason == "tool_use"
    assert first.usage.input_tokens > 0 and first.usage.cache_read_input_tokens == 0
    second = client.beta.messages.create(**req)  # 429, honoured retry-after, then 200
    assert second.content[0].text == "after the 429"
    assert [r.status for r in fake_api.requests[-2:]] == [429, 200]
    with pytest.raises((anthropic.APIResponseValidationError, ValueError, anthropic.APIError)):
        client.with_options(max_retries=0).beta.messages.create(**req)
    with pytest.raises(anthropic.APIConnectionError):
        client.beta.messages.create(**req)  # dropped twice: a retry, then the error
    client.close()


def test_slow_replies_are_slow(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(text("late"), delay=0.5))
    started = time.monotonic()
    response = post(fake_api, valid_body())
    assert response.status_code == 200 and time.monotonic() - started >= 0.5


def test_cache_simulation_reads_what_an_earlier_request_wrote(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(text("one")), message(text("two")))
    first = post(fake_api, valid_body()).json()["usage"]
    second = post(fake_api, valid_body()).json()["usage"]
    assert first["cache_creation_input_tokens"] > 0 and first["cache_read_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0
