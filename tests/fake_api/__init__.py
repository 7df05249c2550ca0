"""A fake Anthropic Messages API for tests (a real HTTP server; see server.py)."""

from .providers import DEFAULT_AWS, DEFAULT_VERTEX_TOKEN, AwsCredentials
from .server import (
    FakeAnthropicAPI,
    Recorded,
    Reply,
    bedrock_error,
    error,
    malformed,
    message,
    redacted_thinking,
    text,
    thinking,
    tool_use,
)
from .validate import Invalid, validate_request

__all__ = [
    "DEFAULT_AWS",
    "DEFAULT_VERTEX_TOKEN",
    "AwsCredentials",
    "FakeAnthropicAPI",
    "Invalid",
    "Recorded",
    "Reply",
    "bedrock_error",
    "error",
    "malformed",
    "message",
    "redacted_thinking",
    "text",
    "thinking",
    "tool_use",
    "validate_request",
]
