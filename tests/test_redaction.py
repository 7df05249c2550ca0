"""Secrets are recognised by whole words of a name: credentials hidden, token COUNTS shown."""

from __future__ import annotations

import pytest

from computer_use_demo.events import REDACTED, redact_headers
from computer_use_demo.ui_render import display_body, redact_url


@pytest.mark.parametrize(
    "name",
    [
        "x-api-key",
        "Authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "X-Amz-Security-Token",
        "x-goog-api-key",
        "x-password",
    ],
)
def test_secret_headers_are_hidden(name: str) -> None:
    assert redact_headers({name: "s3cr3t-value"}) == {name.lower(): REDACTED}


@pytest.mark.parametrize(
    "name",
    [
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-input-tokens-limit",
        "content-type",
        "anthropic-beta",
        "request-id",
    ],
)
def test_ordinary_headers_stay_readable(name: str) -> None:
    assert redact_headers({name: "1000"}) == {name: "1000"}


def test_body_keeps_token_counts_and_hides_credentials() -> None:
    body = {
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "usage": {"input_tokens": 12, "output_tokens": 34, "cache_read_input_tokens": 5},
        "messages": [
            {"role": "user", "content": [{"type": "tool_use", "input": {"key": "shift"}}]}
        ],
        "api_key": "sk-ant-xyz",
        "access_token": "ya29.abc",
        "sessionToken": "FwoG...",
        "aws_secret_access_key": "wJalr...",
    }
    shown = display_body(body)
    assert shown["max_tokens"] == 4096
    assert shown["thinking"]["budget_tokens"] == 2048
    assert shown["usage"] == body["usage"]
    assert shown["messages"][0]["content"][0]["input"] == {"key": "shift"}
    for secret in ("api_key", "access_token", "sessionToken", "aws_secret_access_key"):
        assert shown[secret] == REDACTED, secret


def test_url_parameters() -> None:
    url = redact_url("https://x.example/v1?key=AIzaSecret&X-Amz-Security-Token=abc&max_tokens=5")
    assert "AIzaSecret" not in url and "abc" not in url
    assert "max_tokens=5" in url
