"""A fake Anthropic Messages API for tests (a real HTTP server; see server.py)."""

from .server import (
    FakeAnthropicAPI,
    Recorded,
    Reply,
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
    "FakeAnthropicAPI",
    "Invalid",
    "Recorded",
    "Reply",
    "error",
    "malformed",
    "message",
    "redacted_thinking",
    "text",
    "thinking",
    "tool_use",
    "validate_request",
]
