"""A fake Anthropic Messages API: a real HTTP server on 127.0.0.1 that checks every request
like the real API (validate.py) and answers from a script of replies.

It serves the Messages API as Anthropic (``POST /v1/messages``), Amazon Bedrock and Google
Vertex AI (their URLs, bodies and sign-in: providers.py) do, and the Models API's
``GET /v1/models/{id}`` from a catalogue (models.py; it consumes no script item). Each valid request consumes the
next script item: a ``Reply`` or a function of the request body returning one. An invalid
request is answered 400 (401/403 for credentials) with that provider's error JSON and
consumes nothing. Every request is recorded, valid or not, with its provider.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import socket
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .models import CATALOG, FakeModel, check_thinking, model_reply
from .providers import (
    ANTHROPIC,
    BEDROCK,
    DEFAULT_AWS,
    DEFAULT_VERTEX_TOKEN,
    VERTEX,
    AwsCredentials,
    route,
    validate_bedrock_request,
    validate_vertex_request,
)
from .validate import Invalid, count_cache_control, sign, validate_request

DEFAULT_SECRET = b"fake-api-thinking-secret"
SIGN_ME = "__sign__"  # placeholder signature, replaced by the server's real one


@dataclass
class Reply:
    """One scripted answer. ``body`` None with status 200 means "a message of ``content``"."""

    status: int = 200
    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    body: Any = None  # a dict is sent as JSON, a str/bytes verbatim (malformed bodies)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (slow responses)
    drop: bool = False  # close the connection without answering
    usage: dict[str, int] | None = None  # override the computed usage
    #: Streamed requests: seconds between two SSE events (a slow stream, to watch it live).
    chunk_delay: float = 0.0
    stop_details: dict[str, Any] | None = None  # e.g. a refusal's category and explanation


ScriptItem = Reply | Callable[[dict[str, Any]], Reply]

_ids = itertools.count(1)


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(name: str, input: Any, id: str | None = None) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": id or f"toolu_fake_{next(_ids):05d}",
        "name": name,
        "input": input,
    }


def thinking(value: str) -> dict[str, Any]:
    """A thinking block; the server signs it (the signature is checked when it comes back)."""
    return {"type": "thinking", "thinking": value, "signature": SIGN_ME}


def redacted_thinking(data: str = "RW5jcnlwdGVkIHRoaW5raW5n") -> dict[str, Any]:
    return {"type": "redacted_thinking", "data": data}


def message(
    *blocks: dict[str, Any],
    stop_reason: str | None = None,
    delay: float = 0.0,
    chunk_delay: float = 0.0,
    stop_details: dict[str, Any] | None = None,
) -> Reply:
    """A 200 reply; stop_reason defaults to tool_use when a block is a tool_use. Any stop
    reason can be scripted (pause_turn, refusal, max_tokens, ..., or one the API may add)."""
    if stop_reason is None:
        stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    return Reply(
        content=list(blocks),
        stop_reason=stop_reason,
        delay=delay,
        chunk_delay=chunk_delay,
        stop_details=stop_details,
    )


def error(
    status: int,
    msg: str,
    *,
    type: str | None = None,
    retry_after: float | None = None,
    delay: float = 0.0,
) -> Reply:
    """An error reply with the API's JSON shape (and ``retry-after`` if given)."""
    kind = type or {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        529: "overloaded_error",
    }.get(status, "api_error")
    headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
    return Reply(
        status=status,
        body={"type": "error", "error": {"type": kind, "message": msg}},
        headers=headers,
        delay=delay,
    )


def bedrock_error(status: int, msg: str, *, type: str | None = None) -> Reply:
    """An error as Bedrock sends it: ``{"message": ...}`` and an ``x-amzn-ErrorType`` header."""
    kind = type or {
        400: "ValidationException",
        403: "AccessDeniedException",
        404: "ResourceNotFoundException",
        408: "ModelTimeoutException",
        424: "ModelErrorException",
        429: "ThrottlingException",
        503: "ServiceUnavailableException",
    }.get(status, "InternalServerException")
    return Reply(
        status=status,
        body={"message": msg},
        headers={
            "x-amzn-errortype": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        },
    )


def malformed(raw: str = '{"id": "msg_broken", "type": "mess', status: int = 200) -> Reply:
    return Reply(status=status, body=raw, headers={"content-type": "application/json"})


@dataclass
class Recorded:
    """One request as the server saw it, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    error: str | None = None  # the validation message when refused
    provider: str | None = None  # anthropic, bedrock or vertex (None: an unknown path)
    model: str | None = None  # from the body (anthropic) or the URL (bedrock, vertex)
    project: str | None = None  # vertex's URL
    region: str | None = None  # vertex's URL
    response: Any = None
    at: float = 0.0
    streamed: bool = False  # answered as server-sent events (the request had stream: true)

    @property
    def valid(self) -> bool:
        return self.error is None


class FakeAnthropicAPI:
    """The server. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        script: Iterable[ScriptItem] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        default: ScriptItem | None = None,
        secret: bytes = DEFAULT_SECRET,
        aws: AwsCredentials = DEFAULT_AWS,
        vertex_token: str | None = DEFAULT_VERTEX_TOKEN,
        models: dict[str, FakeModel] | None = None,
    ) -> None:
        self.script: deque[ScriptItem] = deque(script)
        self.models = dict(CATALOG if models is None else models)
        self.default = default
        self.secret = secret
        self.aws = aws
        self.vertex_token = vertex_token  # None: any bearer token
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._cache: set[str] = set()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAnthropicAPI:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeAnthropicAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------- script

    def push(self, *items: ScriptItem) -> None:
        with self._lock:
            self.script.extend(items)

    @property
    def remaining(self) -> int:
        return len(self.script)

    @property
    def valid_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.valid]

    @property
    def invalid_requests(self) -> list[Recorded]:
        return [r for r in self.requests if not r.valid]

    # -------------------------------------------------------------- answering

    def answer(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[Recorded, Reply]:
        """Validate, record and pick the reply for one request (the HTTP-free part)."""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = Recorded(method=method, path=path, headers=headers, body=body, at=time.time())
        with self._lock:
            self.requests.append(record)
        if method == "GET" and (model_id := _model_path(path)) is not None:
            if not (headers.get("x-api-key") or headers.get("authorization")):
                record.error = "x-api-key header is required"
                return record, error(401, record.error)
            status, answer = model_reply(model_id, self.models)
            record.provider, record.model = ANTHROPIC, model_id
            if status != 200:
                record.error = "unknown model"
            return record, Reply(status=status, body=answer)
        where = route(path)
        if method != "POST" or where is None:
            reply = error(404, f"{method} {path} not found", type="not_found_error")
            record.error = "not found"
            return record, reply
        record.provider = where.provider
        record.model = where.model or (body.get("model") if isinstance(body, dict) else None)
        record.project, record.region = where.project, where.region
        try:
            if where.stream and where.provider == BEDROCK:  # AWS's event-stream framing
                raise Invalid("the fake API does not stream Bedrock", 404, "not_found_error")
            if where.provider == BEDROCK:
                validate_bedrock_request(
                    method, path, headers, raw, body, secret=self.secret, aws=self.aws
                )
            elif where.provider == VERTEX:
                validate_vertex_request(
                    headers,
                    body,
                    secret=self.secret,
                    token=self.vertex_token,
                    model=where.model,
                    streaming=where.stream,
                )
            else:
                validate_request(headers, body, secret=self.secret)
            record.streamed = _wants_stream(body)
            check_thinking(body, record.model, self.models)
        except Invalid as e:
            record.error = e.message
            return record, _refusal(where.provider, e)
        with self._lock:
            item = self.script.popleft() if self.script else self.default
        if item is None:
            reply = error(400, "fake API: the script is exhausted", type="invalid_request_error")
        else:
            reply = item(body) if callable(item) else item
        if reply.status == 200 and reply.body is None:
            message_body = self._message_body(body, reply, model=record.model)
            reply = Reply(**{**reply.__dict__, "body": message_body})
        return record, reply

    def _message_body(
        self, request: dict[str, Any], reply: Reply, *, model: str | None
    ) -> dict[str, Any]:
        content = []
        for block in reply.content:
            block = dict(block)
            if block.get("type") == "thinking" and block.get("signature") == SIGN_ME:
                block["signature"] = sign(self.secret, block["thinking"])
            content.append(block)
        management = _context_management(request, self.secret)
        if management is not None:
            applied, compaction = management
            content = [compaction, *content] if compaction else content
        usage = reply.usage or self._usage(request, content)
        body = {
            "id": f"msg_fake_{next(_ids):06d}",
            "type": "message",
            "role": "assistant",
            "model": model or "claude-fake",
            "content": content,
            "stop_reason": reply.stop_reason,
            "stop_sequence": None,
            "stop_details": reply.stop_details,
            "usage": usage,
        }
        if management is not None:
            body["context_management"] = {"applied_edits": applied}
        return body

    def _usage(self, request: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, int]:
        """Token counts (4 characters a token) with a simulated prompt cache: a prefix ending
        at a cache_control breakpoint is written once and read by later requests."""
        hasher = hashlib.sha256()
        chars = 0
        breakpoints: list[tuple[str, int]] = []

        def feed(segment: Any) -> None:
            nonlocal chars
            marked = count_cache_control(segment) > 0
            data = json.dumps(_strip(segment), sort_keys=True, separators=(",", ":"))
            hasher.update(data.encode())
            chars += len(data)
            if marked:
                breakpoints.append((hasher.copy().hexdigest(), chars))

        for tool in request.get("tools") or []:
            feed(tool)
        system = request.get("system")
        for block in [system] if isinstance(system, str) else system or []:
            feed(block)
        for msg in request.get("messages") or []:
            hasher.update(msg["role"].encode())
            blocks = msg["content"] if isinstance(msg["content"], list) else [msg["content"]]
            for block in blocks:
                feed(block)
        with self._lock:
            read = max((n for h, n in breakpoints if h in self._cache), default=0)
            written = max((n for _, n in breakpoints), default=0)
            self._cache.update(h for h, _ in breakpoints)
        creation = max(0, written - read)
        total = max(1, chars // 4)
        read_t, creation_t = read // 4, creation // 4
        return {
            "input_tokens": max(0, total - read_t - creation_t),
            "output_tokens": max(1, len(json.dumps(content)) // 4),
            "cache_creation_input_tokens": creation_t,
            "cache_read_input_tokens": read_t,
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                record, reply = api.answer(self.command, self.path, headers, raw)
                if reply.delay and api._closing.wait(reply.delay):
                    return
                if reply.drop:
                    record.status = -1
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                body = reply.body
                if isinstance(body, (dict, list)):
                    payload = json.dumps(body).encode()
                elif isinstance(body, str):
                    payload = body.encode()
                else:
                    payload = body or b""
                record.status = reply.status
                record.response = body
                if record.streamed and reply.status == 200 and isinstance(body, dict):
                    self._stream(body, reply)
                    return
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("request-id", f"req_fake_{len(api.requests):06d}")
                    for name, value in reply.headers.items():
                        if name.lower() != "content-type":
                            self.send_header(name, value)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _stream(self, message: dict[str, Any], reply: Reply) -> None:
                """The message as the API streams it: SSE events in chunked encoding."""
                try:
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream; charset=utf-8")
                    self.send_header("cache-control", "no-cache")
                    self.send_header("request-id", f"req_fake_{len(api.requests):06d}")
                    for name, value in reply.headers.items():
                        if name.lower() != "content-type":
                            self.send_header(name, value)
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    for n, (name, data) in enumerate(sse_events(message)):
                        if n and reply.chunk_delay and api._closing.wait(reply.chunk_delay):
                            return
                        frame = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                        self.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        return Handler


def _wants_stream(body: dict[str, Any]) -> bool:
    """Whether the request asks for a stream (the API refuses a ``stream`` that is no bool)."""
    value = body.get("stream", False)
    if not isinstance(value, bool):
        raise Invalid("stream: Input should be a valid boolean")
    return value


#: Text and thinking stream in pieces of about this many characters (a few tokens).
DELTA_CHARS = 12


def _pieces(value: str, size: int = DELTA_CHARS) -> list[str]:
    return [value[i : i + size] for i in range(0, len(value), size)] or []


def sse_events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A whole message as the Messages API streams it: message_start (usage so far, empty
    content), per block content_block_start / _delta (text_delta, thinking_delta then
    signature_delta, input_json_delta) / _stop, a ping, message_delta (stop_reason and the
    output usage), message_stop."""
    usage = dict(message["usage"])
    start_usage = {**usage, "output_tokens": 1}
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    **message,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "stop_details": None,
                    "usage": start_usage,
                },
            },
        ),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(message["content"]):
        kind = block.get("type")
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in _pieces(block["text"])]
        elif kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in _pieces(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind in ("tool_use", "server_tool_use"):
            start = {**block, "input": {}}
            raw = json.dumps(block["input"])
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in _pieces(raw)]
        else:  # redacted_thinking and the like arrive whole
            start = block
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
        )
        for delta in deltas:
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": message["stop_reason"],
                    "stop_sequence": None,
                    "stop_details": message.get("stop_details"),
                },
                "usage": {"output_tokens": usage["output_tokens"]},
                "context_management": message.get("context_management"),
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _model_path(path: str) -> str | None:
    """The model id of a ``/v1/models/{id}`` path (query ignored), else None."""
    path = path.split("?")[0]
    prefix = "/v1/models/"
    if path.startswith(prefix) and len(path) > len(prefix) and "/" not in path[len(prefix) :]:
        return urllib.parse.unquote(path[len(prefix) :])
    return None


def _tokens(value: Any) -> int:
    return len(json.dumps(value)) // 4


def _context_management(
    request: dict[str, Any], secret: bytes
) -> tuple[list[dict[str, Any]], dict[str, Any] | None] | None:
    """What the API's context management does for this (validated) request, if it asks for
    any: the applied clear_tool_uses edit, and a signed compaction block once the prompt
    since the last compaction passes its trigger (4 characters a token, as _usage counts)."""
    edits = (request.get("context_management") or {}).get("edits")
    if not edits:
        return None
    messages = request.get("messages") or []
    since = 0  # the API reads the conversation from the last compaction block on
    for i, m in enumerate(messages):
        content = m.get("content")
        if isinstance(content, list) and any(b.get("type") == "compaction" for b in content):
            since = i
    prompt = _tokens(request.get("tools") or []) + _tokens(request.get("system") or "")
    prompt += _tokens(messages[since:])
    results = [
        b
        for m in messages[since:]
        if isinstance(m.get("content"), list)
        for b in m["content"]
        if b.get("type") == "tool_result"
    ]
    applied: list[dict[str, Any]] = []
    compaction = None
    for edit in edits:
        trigger = edit.get("trigger") or {"type": "input_tokens", "value": 100_000}
        if edit["type"] == "clear_tool_uses_20250919":
            keep = (edit.get("keep") or {"value": 3})["value"]
            size = prompt if trigger["type"] == "input_tokens" else len(results)
            if size >= trigger["value"] and len(results) > keep:
                cleared = results[: len(results) - keep]
                applied.append(
                    {
                        "type": "clear_tool_uses_20250919",
                        "cleared_tool_uses": len(cleared),
                        "cleared_input_tokens": sum(_tokens(b) for b in cleared),
                    }
                )
        elif edit["type"] == "compact_20260112":
            if prompt >= (edit.get("trigger") or {"value": 150_000})["value"]:
                summary = f"Summary of {len(messages) - since} earlier messages."
                compaction = {
                    "type": "compaction",
                    "content": summary,
                    "signature": sign(secret, summary),
                }
    return applied, compaction


def _refusal(provider: str, e: Invalid) -> Reply:
    """The refusal in the provider's error shape."""
    if provider == BEDROCK:
        kind = None if e.error_type.endswith("_error") else e.error_type
        return bedrock_error(e.status, e.message, type=kind)
    if provider == VERTEX and e.status == 401:  # Google's front door, not Anthropic's API
        body = {"error": {"code": 401, "message": e.message, "status": e.error_type}}
        return Reply(status=401, body=body)
    assert provider in (ANTHROPIC, VERTEX), provider
    return error(e.status, e.message, type=e.error_type)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
