"""One run's Messages API call, built once per run: streamed or whole, raw or through the SDK.

The Anthropic API gets the body serialized by RequestBody (request.py): unchanged messages are
encoded once per run, where the SDK would copy and re-encode the whole history every step.
Bedrock and Vertex rewrite the body in their clients, so they get the dict. Bedrock streams in
AWS's event-stream framing: it answers whole here.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from anthropic import AsyncAnthropic, AsyncAnthropicBedrock
from anthropic.types.beta import BetaMessage

from .events import Event
from .providers import Client
from .streaming import post_raw, read_stream


class CallRecorder(Protocol):
    """Where a call reports: the body it sends, stream deltas, the streamed response's end."""

    body: Any

    def emit(self, event: Event) -> None: ...

    def finish_stream(self, message: BetaMessage | None, error: str | None) -> None: ...


class ApiCaller:
    """``caller(request, raw)``: the awaitable response of one Messages API call."""

    def __init__(
        self,
        client: Client,
        recorder: CallRecorder,
        *,
        betas: list[str],
        stream: bool,
        timeout: float,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.betas = betas
        self.timeout = timeout
        self.send_raw = isinstance(client, AsyncAnthropic)
        #: Whether the request asks for a stream (``"stream": true`` in its body).
        self.streamed = stream and not isinstance(client, AsyncAnthropicBedrock)
        self.headers = {"content-type": "application/json"}
        if betas:
            self.headers["anthropic-beta"] = ",".join(betas)

    def __call__(self, request: dict[str, Any], raw: bytes) -> Awaitable[BetaMessage]:
        self.recorder.body = request
        client: Any = self.client
        if self.streamed:
            opening = (
                post_raw(client, raw, headers=self.headers, timeout=self.timeout)
                if self.send_raw
                else client.beta.messages.create(**request, betas=self.betas, timeout=self.timeout)
            )
            return read_stream(
                opening, emit=self.recorder.emit, on_message=self.recorder.finish_stream
            )
        if self.send_raw:
            return client.post(
                "/v1/messages?beta=true",
                cast_to=BetaMessage,
                content=raw,
                options={"headers": self.headers, "timeout": self.timeout},
            )
        return client.beta.messages.create(**request, betas=self.betas, timeout=self.timeout)
