"""The agent loop: call the Messages API, run each tool_use, send the results back, repeat.

``agent_events`` is the loop itself, an async generator of typed events (events.py) that the
CLI, the UI and the trajectory store consume. ``sampling_loop`` keeps the reference's keyword
arguments and callbacks on top of it, for forks and tutorials written against the reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
from anthropic import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AsyncAnthropic,
    Middleware,
)
from anthropic.types.beta import BetaContentBlockParam, BetaMessage, BetaMessageParam

from ..desktop.lock import DESKTOP_BUSY, DesktopLock, DesktopUnavailable, hold_desktop
from ..tools import (
    TOOL_GROUPS_BY_VERSION,
    BaseAnthropicTool,
    ToolCollection,
    ToolFailure,
    ToolResult,
    ToolVersion,
)
from ..tools.approval import Approver, auto_approve
from ..tools.approval_policy import (
    RUN_EVERYTHING,
    ApprovalPolicy,
    Ask,
    PolicyApprover,
    screen_crop,
)
from ..tools.collection import HALT_TEXT, NOT_EXECUTED
from . import history as h
from . import model_lookup, retry, shutdown, stop_reasons, thinking
from . import pause as pauses
from .api_call import ApiCaller
from .budget import Budget
from .context import MIN_COMPACTION_TRIGGER, ContextPlan
from .events import (
    ApiExchange,
    AssistantBlock,
    Done,
    DoneReason,
    ErrorEvent,
    Event,
    RetryWait,
    StepStarted,
    ToolResultEvent,
    redact_headers,
)
from .models import ModelInfo, known_model, model_info
from .prompts import system_prompt, with_suffix
from .providers import (
    DEFAULT_MAX_RETRIES,
    APIProvider,
    Client,
    ProviderError,
    make_client,
)
from .request import RequestBody
from .thinking import ThinkingEffort, ThinkingMode
from .usage import UsageTally

__all__ = [
    "PROMPT_CACHING_BETA_FLAG",
    "SYSTEM_PROMPT",
    "TOKEN_EFFICIENT_TOOLS_BETA_FLAG",
    "APIProvider",
    "LoopConfig",
    "ThinkingEffort",
    "ThinkingMode",
    "agent_events",
    "build_tools",
    "sampling_loop",
]

log = logging.getLogger(__name__)

#: Prompt caching is generally available; no provider needs this flag any more (kept for forks).
PROMPT_CACHING_BETA_FLAG = "prompt-caching-2024-07-31"
TOKEN_EFFICIENT_TOOLS_BETA_FLAG = "token-efficient-tools-2025-02-19"

#: The reference's system prompt for this machine (display number from DISPLAY_NUM, today's
#: date at import). Each run builds a fresh one, so a long-lived app gets the right date.
SYSTEM_PROMPT = system_prompt()


@dataclass(frozen=True, kw_only=True)
class LoopConfig:
    """Everything a run needs besides the history. ``None`` means "the model's default"."""

    model: str
    provider: APIProvider = APIProvider.ANTHROPIC
    api_key: str | None = None
    base_url: str | None = None  # falls back to ANTHROPIC_BASE_URL
    tool_version: ToolVersion = None  # type: ignore[assignment]  # from the model table
    system_prompt_suffix: str = ""
    max_tokens: int | None = None
    #: adaptive (with thinking_effort), extended (with thinking_budget) or off; None: extended
    #: if a budget is given, else the model's default (thinking.py).
    thinking_mode: ThinkingMode | None = None
    thinking_effort: ThinkingEffort | None = None  # None: the model's default effort
    thinking_budget: int | None = None
    #: What the Models API said about the model (model_lookup.py); None: the model table.
    capabilities: ModelInfo | None = None
    only_n_most_recent_images: int | None = 3  # None: send every screenshot
    #: Screenshots are removed this many at a time (None: as many as are kept, the reference's
    #: choice), so the prompt cache stays warm between removals.
    image_truncation_chunk: int | None = None
    token_efficient_tools_beta: bool = False
    max_steps: int = 200
    extra_tools: tuple[BaseAnthropicTool, ...] = ()
    prompt_caching: bool | None = None  # None: on for the anthropic provider
    max_retries: int = DEFAULT_MAX_RETRIES
    request_timeout: float = 600.0
    #: Which actions run, which ask the person first, which are refused (approval_policy.py).
    approval: ApprovalPolicy = RUN_EVERYTHING
    #: Stream responses (text and thinking arrive as TextDelta/ThinkingDelta events). The
    #: Anthropic API and Vertex stream; Bedrock answers whole.
    stream: bool = True
    #: Dollar caps (budget.py): a run stops before a call that could pass one.
    max_run_cost_usd: float | None = None
    max_session_cost_usd: float | None = None
    #: One agent per desktop: a run takes its display's lock or fails (desktop/lock.py).
    lock_desktop: bool = True
    #: What the lock says holds the desktop (the app names the session).
    run_label: str = ""
    #: The API's context management (context.py). None: where the model supports it (and
    #: the provider is the Anthropic API). Clearing keeps the newest tool uses once the
    #: prompt passes the trigger; compaction summarizes the conversation past its trigger.
    context_editing: bool | None = None
    context_edit_trigger_tokens: int = 100_000
    context_edit_keep_tool_uses: int = 5
    compaction: bool | None = None
    compaction_trigger_tokens: int = 150_000

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "provider", APIProvider(self.provider))
        info = self.model_info
        if self.tool_version is None:
            set_(self, "tool_version", info.tool_version)
        if self.tool_version not in TOOL_GROUPS_BY_VERSION:
            known = ", ".join(TOOL_GROUPS_BY_VERSION)
            raise ValueError(f"unknown tool_version {self.tool_version!r}; use one of: {known}")
        if self.max_tokens is None:
            set_(self, "max_tokens", info.default_output_tokens)
        if self.max_tokens < 1:  # type: ignore[operator]
            raise ValueError("max_tokens must be at least 1")
        mode = thinking.resolve_mode(
            info, self.thinking_mode, budget=self.thinking_budget, effort=self.thinking_effort
        )
        set_(self, "thinking_mode", mode)
        self.check_thinking(info)
        if self.max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        if self.only_n_most_recent_images is not None and self.only_n_most_recent_images < 0:
            raise ValueError("only_n_most_recent_images must be 0 or more (None keeps all)")
        for cap in (self.max_run_cost_usd, self.max_session_cost_usd):
            if cap is not None and cap < 0:
                raise ValueError("a dollar budget must be 0 or more (None: no cap)")
        if self.context_edit_trigger_tokens < 1 or self.context_edit_keep_tool_uses < 0:
            raise ValueError("context editing needs a trigger of 1 token or more, keep 0 or more")
        if self.compaction_trigger_tokens < MIN_COMPACTION_TRIGGER:
            raise ValueError(
                f"compaction_trigger_tokens must be at least {MIN_COMPACTION_TRIGGER:,} tokens"
            )
        set_(self, "extra_tools", tuple(self.extra_tools))

    @property
    def model_info(self) -> ModelInfo:
        return self.capabilities or model_info(self.model)

    def check_thinking(self, info: ModelInfo) -> None:
        """Raise ValueError if ``info``'s model refuses this thinking set-up. A model nobody
        knows (no table row, no Models API answer) gets the checks that need no knowledge."""
        thinking.check(
            info,
            self.model,
            self.thinking_mode,  # type: ignore[arg-type]
            effort=self.thinking_effort,
            budget=self.thinking_budget,
            max_tokens=self.max_tokens,  # type: ignore[arg-type]
        )

    def thinking_fields(self, info: ModelInfo) -> dict[str, Any]:
        """The request's thinking / output_config fields."""
        return thinking.request_fields(
            info,
            self.thinking_mode,  # type: ignore[arg-type]
            effort=self.thinking_effort,
            budget=self.thinking_budget,
        )

    @property
    def caching(self) -> bool:
        if self.prompt_caching is None:
            return self.provider == APIProvider.ANTHROPIC
        return self.prompt_caching

    def context_for(self, info: ModelInfo) -> ContextPlan:
        """What this run asks of the API's context management (context.py), for a model
        with the capabilities ``info``."""
        anthropic_api = self.provider == APIProvider.ANTHROPIC
        clear, compact = self.context_editing, self.compaction
        return ContextPlan(
            clear_tool_uses=info.context_management and anthropic_api if clear is None else clear,
            clear_trigger_tokens=self.context_edit_trigger_tokens,
            clear_keep_tool_uses=self.context_edit_keep_tool_uses,
            compaction=info.compaction and anthropic_api if compact is None else compact,
            compaction_trigger_tokens=self.compaction_trigger_tokens,
        )

    @property
    def context(self) -> ContextPlan:
        return self.context_for(self.model_info)

    @property
    def image_chunk(self) -> int:
        if self.image_truncation_chunk is not None:
            return max(1, self.image_truncation_chunk)
        return max(1, self.only_n_most_recent_images or 1)

    def betas(self) -> list[str]:
        group = TOOL_GROUPS_BY_VERSION[self.tool_version]
        betas = [group.beta_flag] if group.beta_flag else []
        if self.token_efficient_tools_beta:
            betas.append(TOKEN_EFFICIENT_TOOLS_BETA_FLAG)
        return betas

    def system_text(self) -> str:
        group = TOOL_GROUPS_BY_VERSION[self.tool_version]
        editor = next((t.name for t in group.tools if "edit" in t.name), None)
        base = system_prompt(editor_name=editor) if editor else system_prompt()
        return with_suffix(base, self.system_prompt_suffix)


def build_tools(config: LoopConfig, *, approve: Approver = auto_approve) -> ToolCollection:
    """The tools of ``config``'s group, plus its extra (custom) tools; ``approve`` is asked
    before an action that needs approval runs (approval.py)."""
    group = TOOL_GROUPS_BY_VERSION[config.tool_version]
    return ToolCollection(*(cls() for cls in group.tools), *config.extra_tools, approve=approve)


# ---------------------------------------------------------------- HTTP exchange recording


class _Recorder(Middleware):
    """SDK middleware: one ApiExchange per HTTP attempt (retries included), as they happen.

    Also the outbox of whatever else a call reports while it runs (stream deltas): the loop
    yields ``drain()`` whenever ``arrived`` is set. A streamed response is recorded when its
    stream ended (``finish_stream``), with the final message as its body.
    """

    def __init__(self, max_retries: int = 0) -> None:
        #: Retries are ours (agent/retry.py): the SDK's client is made with max_retries=0.
        self.max_retries = max_retries
        self.pending: list[Event] = []
        self.arrived = asyncio.Event()
        self.body: Any = None  # the request being sent, as a dict (raw bodies have no json)
        self._streaming: tuple[Any, Any, float] | None = None

    async def handle_async(self, request: Any, call_next: Any) -> Any:
        """One request: each attempt recorded; a retryable failure waited out (announced as
        a RetryWait) and tried again, up to ``max_retries`` times."""
        retries = 0
        while True:
            shutdown.check()  # no attempt leaves once the process shuts down (nor a retry)
            if retries:  # sent as x-stainless-retry-count, as the SDK's own retries do
                request = copy.copy(request)
                request.retries_taken = retries
            started = time.perf_counter()
            try:
                response = await call_next(request)
            except Exception as e:
                error = f"{type(e).__name__}: {e}"
                sent = getattr(e, "request", None)
                self._add(self._exchange(request, sent, started, error=error))
                if not isinstance(e, APIConnectionError) or retries >= self.max_retries:
                    raise
                await self._wait(retries, None, {})
                retries += 1
                continue
            http = response.http_response
            if http.headers.get("content-type", "").startswith("text/event-stream"):
                self._streaming = (request, http, started)
                return response
            with contextlib.suppress(Exception):
                await http.aread()
            try:
                body: Any = http.json()
            except Exception:
                body = http.text
            self._add_response(request, http, started, body)
            status = http.status_code
            if (
                http.is_success
                or retries >= self.max_retries
                or not retry.should_retry(status, http.headers)
            ):
                return response
            await http.aclose()
            await self._wait(retries, status, http.headers)
            retries += 1

    async def _wait(self, retries: int, status: int | None, headers: Any) -> None:
        """Announce the wait before retry ``retries + 1``, then wait it out."""
        seconds = retry.delay(retries, headers)
        self._add(
            RetryWait(
                reason=retry.reason(status),
                status=status,
                seconds=round(seconds, 3),
                retry=retries + 1,
                retries=self.max_retries,
                at=time.time(),
            )
        )
        await asyncio.sleep(seconds)

    def _add_response(
        self, request: Any, http: Any, started: float, body: Any, error: str | None = None
    ) -> None:
        self._add(
            self._exchange(
                request,
                http.request,
                started,
                status=http.status_code,
                response_headers=redact_headers(http.headers),
                response_body=body,
                error=error,
            )
        )

    def _exchange(
        self, request: Any, http_request: Any, started: float, **outcome: Any
    ) -> ApiExchange:
        """The attempt as sent: the httpx request when there is one (the URL and headers that
        went on the wire), else the SDK's request."""
        sent = http_request if http_request is not None else request
        return ApiExchange(
            method=sent.method.upper(),
            url=str(sent.url) if http_request is not None else request.url,
            request_headers=redact_headers(sent.headers),
            request_body=self._body(request, http_request),
            elapsed_ms=(time.perf_counter() - started) * 1000,
            **outcome,
        )

    def _body(self, request: Any, http_request: Any) -> Any:
        """The JSON body as it went on the wire: Bedrock and Vertex rewrite the SDK's request
        (the model moves to the URL, anthropic_version and betas into the body)."""
        if request.json is None:  # our pre-serialized body (Anthropic): sent as built
            return self.body
        try:
            return json.loads(http_request.content)
        except Exception:  # no request, or a streamed body: the request as the SDK got it
            return request.json

    def finish_stream(self, message: BetaMessage | None, error: str | None) -> None:
        """Record the streamed response that just ended (its final message, or the error)."""
        if self._streaming is None:
            return  # refused before a stream began: recorded as a plain response
        request, http, started = self._streaming
        self._streaming = None
        body = message.to_dict(mode="json") if message is not None else None
        self._add_response(request, http, started, body, error)

    def _add(self, event: Event) -> None:
        self.pending.append(event)
        self.arrived.set()

    emit = _add

    def drain(self) -> list[Event]:
        out, self.pending = self.pending, []
        self.arrived.clear()
        return out


def _error_event(e: Exception) -> ErrorEvent:
    """What the user sees when the API call failed for good (after the SDK's retries)."""
    if isinstance(e, APIStatusError):
        body = e.body if isinstance(e.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else body
        message = (error or {}).get("message") or e.message
        retry_after = None
        with contextlib.suppress(TypeError, ValueError):
            retry_after = float(e.response.headers.get("retry-after"))
        return ErrorEvent(
            message=str(message),
            status=e.status_code,
            retry_after=retry_after,
            error_type=(error or {}).get("type"),
        )
    if isinstance(e, APIResponseValidationError):
        return ErrorEvent(
            message=f"the API sent a response that could not be read: {e.message}",
            status=e.status_code,
            error_type="invalid_response",
        )
    if isinstance(e, APIConnectionError):
        cause = f" ({e.__cause__})" if e.__cause__ else ""
        return ErrorEvent(message=f"{e.message}{cause}", error_type="connection_error")
    return ErrorEvent(message=f"{type(e).__name__}: {e}", error_type="client_error")


# ---------------------------------------------------------------- the loop


class _Run:
    """The state of one run that every exit path needs (so a stop can heal it)."""

    def __init__(self, history: list[dict[str, Any]]) -> None:
        self.history = history
        self.steps = 0
        self.partial_results: list[dict[str, Any]] | None = None
        self.inflight: set[asyncio.Future[Any]] = set()

    def commit_partial(self) -> None:
        """Put the tool results gathered so far into the history (a stop mid-tools)."""
        if self.partial_results is not None:
            if self.partial_results:
                self.history.append({"role": "user", "content": self.partial_results})
            self.partial_results = None

    def done(self, reason: DoneReason, detail: str = "") -> Done:
        """The run's end; a tool_use left unanswered gets ``detail`` (or "stopped")."""
        self.commit_partial()
        not_run = f"Not run: {detail}" if detail else h.STOPPED_BY_USER
        if reason == "interrupted":
            not_run = detail
        self.history = h.heal(self.history, reason=not_run)
        return Done(reason=reason, steps=self.steps, messages=self.history, detail=detail)

    def add_response(self, blocks: list[dict[str, Any]]) -> None:
        """Claude's blocks into the history; after a paused turn they continue its message."""
        if not blocks:
            return
        last = self.history[-1] if self.history else None
        if last is not None and last["role"] == "assistant":
            self.history[-1] = {**last, "content": [*last["content"], *blocks]}
        else:
            self.history.append({"role": "assistant", "content": blocks})

    async def cancel_inflight(self) -> None:
        tasks = [t for t in self.inflight if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        self.inflight.clear()

    def track(self, aw: Any) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(aw)
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)
        return task


class _Resources:
    """What a run holds and gives back in its ``finally``: tools, API client, desktop lock.

    A given ``tools`` or ``client`` belongs to the caller (``owns_*`` is False). ``open``
    fills the fields one by one, so whatever it built before a failure is still released.
    """

    def __init__(self, tools: ToolCollection | None, client: Client | None) -> None:
        self.tools = tools
        self.client = client
        self.owns_tools = tools is None
        self.owns_client = client is None
        self.desktop: DesktopLock | None = None
        self.info: ModelInfo = None  # type: ignore[assignment]  # set by open

    async def open(
        self, config: LoopConfig, recorder: _Recorder, *, ask: Ask | None
    ) -> ErrorEvent | None:
        """Build what the run needs (tools with its approval policy, a client that records
        its exchanges, the model's capabilities, the desktop); the error to report, if any."""
        try:
            if self.tools is None:
                self.tools = build_tools(config)
            if config.approval != RUN_EVERYTHING or ask is not None:
                self.tools.approve = PolicyApprover(
                    config.approval, ask=ask, crop=screen_crop(self.tools)
                )
            # The recorder retries (it shows each wait, and stops retrying on shutdown).
            if self.client is None:
                self.client = make_client(
                    config.provider,
                    api_key=config.api_key,
                    base_url=config.base_url,
                    max_retries=0,
                    middleware=[recorder],
                )
            else:
                self.client = self.client.with_options(
                    max_retries=0, middleware=[*self.client.middleware, recorder]
                )
            self.info = await run_model_info(config, self.client)  # checks the thinking set-up
        except (ProviderError, ValueError) as e:
            return ErrorEvent(message=str(e), error_type="configuration_error")
        try:  # one agent per desktop (desktop/lock.py); released in finally, or by the kernel
            if config.lock_desktop:
                self.desktop = hold_desktop(self.tools.tools, owner=config.run_label)
        except DesktopUnavailable as e:
            return ErrorEvent(message=str(e), error_type=DESKTOP_BUSY)
        return None


async def run_model_info(config: LoopConfig, client: Client) -> ModelInfo:
    """The model's capabilities for a run: as configured, else the table's row, else (a model
    the table does not know, on the Anthropic API) the Models API's, else the fallback.
    Raises ValueError if the model refuses the run's thinking set-up."""
    if config.capabilities is not None:
        return config.capabilities
    known = known_model(config.model)
    if known is None and isinstance(client, AsyncAnthropic):
        known = await model_lookup.lookup(client, config.model)
    info = known or model_info(config.model)
    config.check_thinking(info)
    return info


def answer_cut_off(
    call: dict[str, Any], config: LoopConfig, results: list[dict[str, Any]]
) -> ToolResultEvent:
    """A tool_use that max_tokens cut short is not run: the model gets an error saying so (or,
    after a failed member of its toolset in this turn, the batch's halt text)."""
    toolset_name = call.get("toolset_name")
    halted = toolset_name is not None and any(
        r.get("is_error") and r.get("toolset_name") == toolset_name for r in results
    )
    error = (
        HALT_TEXT.get(toolset_name, NOT_EXECUTED)  # type: ignore[arg-type]
        if halted
        else stop_reasons.cut_off_result_text(config.max_tokens)  # type: ignore[arg-type]
    )
    result = ToolFailure(error=error)
    results.append(dict(h.tool_result_block(result, call["id"], toolset_name=toolset_name)))
    return ToolResultEvent(
        tool_use_id=call["id"], name=call["name"], result=result, toolset_name=toolset_name
    )


def static_body(config: LoopConfig, tools: ToolCollection, info: ModelInfo) -> dict[str, Any]:
    """Everything in a request but the messages: fixed for the run."""
    return {
        "model": config.model,
        "max_tokens": config.max_tokens,
        "system": h.system_blocks(config.system_text(), cache=config.caching),
        "tools": tools.to_params(),
        **config.thinking_fields(info),
    }


async def agent_events(
    config: LoopConfig,
    messages: list[BetaMessageParam],
    *,
    tools: ToolCollection | None = None,
    stop: asyncio.Event | None = None,
    client: Client | None = None,
    session_spent_usd: float = 0.0,
    pause: pauses.PauseGate | None = None,
    ask: Ask | None = None,
) -> AsyncIterator[Event]:
    """Run the agent loop on a copy of ``messages`` and report what happens, as events.

    The run ends with exactly one ``Done`` whose ``messages`` is the full, valid history: at
    end_turn, at ``config.max_steps``, on an API failure (after an ``ErrorEvent``), or on a
    stop request (``stop`` set, or the consuming task cancelled: the running tool is cancelled
    and every unanswered tool_use gets "stopped by the user"). A cancelled consumer still
    receives that ``Done``; its next ``__anext__`` re-raises the cancellation.

    The caller records the user's new message (a ``UserMessage`` event) itself, if it keeps
    a record. When ``tools`` is None the run builds its tools from ``config`` and stops them at the
    end; a given collection belongs to the caller and is left running. Likewise ``client``
    (an SDK client with a custom transport: tests, benchmarks, proxies) is used as given and
    not closed; by default the run builds one client from ``config`` and closes it.
    ``session_spent_usd`` is what earlier runs of the session cost (for the session cap).
    ``pause`` is the person's hold on the desktop (pause.py): while it is taken the run waits
    at the next step boundary, and goes on with a note and a fresh screenshot.
    ``ask`` puts an action to the person when ``config.approval`` says ``ask`` for its class
    (tools/approval_policy.py; without it such actions are denied).
    """
    run = _Run(h.heal(messages))
    stop = stop if stop is not None else asyncio.Event()
    res = _Resources(tools, client)
    recorder = _Recorder(max_retries=config.max_retries)
    stop_waiter = asyncio.ensure_future(stop.wait())  # not tracked: cancelled last, in finally
    try:
        if not run.history:
            yield ErrorEvent(message="there is no message to answer", error_type="client_error")
            yield run.done("error")
            return
        if run.history[-1]["role"] == "assistant":
            yield run.done("end_turn")  # nothing to answer: the last word is Claude's
            return
        failed = await res.open(config, recorder, ask=ask)
        if failed is not None:
            yield failed
            yield run.done("error")
            return
        tools, client, info = res.tools, res.client, res.info

        context = config.context_for(info)  # the API's context management (context.py)
        static = {**static_body(config, tools, info), **context.request_fields()}
        caller = ApiCaller(
            client,
            recorder,
            betas=config.betas() + context.betas(),
            stream=config.stream,
            timeout=config.request_timeout,
        )
        if caller.streamed:
            static["stream"] = True
        body = RequestBody(
            static,
            keep_images=config.only_n_most_recent_images,
            image_chunk=config.image_chunk,
            caching=config.caching,
        )
        budget = Budget(
            price=info.price,
            max_tokens=config.max_tokens,  # type: ignore[arg-type]
            run_cap_usd=config.max_run_cost_usd,
            session_cap_usd=config.max_session_cost_usd,
            session_spent_usd=session_spent_usd,
        )
        tally = UsageTally(budget)

        while True:
            if pause is not None and pause.paused:
                async for event in pauses.hold(pause, run, tools, stop):
                    yield event
            if shutdown.begun():  # checked first: a tool the shutdown killed is no news
                yield run.done("interrupted", shutdown.APP_STOPPED)
                return
            if stop.is_set():
                yield run.done("stopped")
                return
            if run.steps >= config.max_steps:
                yield run.done("max_steps")
                return
            request, raw = body.build(run.history)
            if over := budget.check(request, len(raw)):
                yield over
                yield run.done("budget")
                return
            run.steps += 1
            yield StepStarted(step=run.steps)

            api = run.track(caller(request, raw))
            while not api.done():
                arrived = run.track(recorder.arrived.wait())
                await asyncio.wait((api, stop_waiter, arrived), return_when=asyncio.FIRST_COMPLETED)
                arrived.cancel()
                for exchange in recorder.drain():
                    yield exchange
                if stop.is_set() and not api.done():
                    await run.cancel_inflight()
                    for exchange in recorder.drain():
                        yield exchange
                    if shutdown.begun():
                        yield run.done("interrupted", shutdown.APP_STOPPED)
                    else:
                        yield run.done("stopped")
                    return
            for exchange in recorder.drain():
                yield exchange
            try:
                response = api.result()
            except shutdown.ShuttingDown:
                yield run.done("interrupted", shutdown.APP_STOPPED)
                return
            except Exception as e:
                log.info("API call failed: %s", e)
                yield _error_event(e)
                yield run.done("error")
                return

            yield tally.add(response)
            blocks = tools.admit(h.response_to_params(response.content))
            run.add_response(blocks)
            for block in blocks:
                yield AssistantBlock(block=block)
            outcome = stop_reasons.of_response(response, blocks, max_tokens=config.max_tokens)  # type: ignore[arg-type]
            if outcome.action == "done":
                yield run.done(outcome.reason or "end_turn", outcome.detail)
                return
            if outcome.action == "continue":  # a paused turn: send the history back as is
                continue
            calls = [b for b in blocks if b["type"] == "tool_use"]
            if pause is not None and pause.paused:  # taken while Claude answered: not run
                async for event in pauses.hold(pause, run, tools, stop, pending=calls):
                    yield event
                continue

            run.partial_results = []
            calls = [b for b in calls if b["id"] != outcome.cut_off]
            cut: set[str] = set()  # results that came after the shutdown began
            async for event in tools.run_turn(calls, results=run.partial_results, stop=stop):
                if isinstance(event, ToolResultEvent) and shutdown.begun():
                    cut.add(event.tool_use_id)
                yield event
            if shutdown.begun():  # a shell the shutdown killed is no news for the model
                run.partial_results = [
                    r for r in run.partial_results if r.get("tool_use_id") not in cut
                ]
                yield run.done("interrupted", shutdown.APP_STOPPED)
                return
            if outcome.cut_off is not None and not stop.is_set():
                yield answer_cut_off(blocks[-1], config, run.partial_results)
            run.commit_partial()
    except asyncio.CancelledError:
        await run.cancel_inflight()
        yield run.done("stopped")
        raise
    finally:
        await run.cancel_inflight()
        stop_waiter.cancel()
        if res.owns_tools and res.tools is not None:
            await res.tools.stop()
        if res.desktop is not None:
            res.desktop.release()
        if res.owns_client and res.client is not None:
            with contextlib.suppress(Exception):
                await res.client.close()


# ---------------------------------------------------------------- the reference's interface


def _httpx_pair(exchange: ApiExchange) -> tuple[httpx.Request, httpx.Response | None]:
    """The exchange as httpx objects, as the reference's api_response_callback receives them."""
    request = httpx.Request(
        exchange.method,
        exchange.url,
        headers=exchange.request_headers,
        content=json.dumps(exchange.request_body).encode(),
    )
    if exchange.status is None:
        return request, None
    body = exchange.response_body
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    response = httpx.Response(
        exchange.status, headers=exchange.response_headers, content=content, request=request
    )
    return request, response


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: anthropic.BadRequestError,
    401: anthropic.AuthenticationError,
    403: anthropic.PermissionDeniedError,
    404: anthropic.NotFoundError,
    409: anthropic.ConflictError,
    413: anthropic.RequestTooLargeError,
    422: anthropic.UnprocessableEntityError,
    429: anthropic.RateLimitError,
    529: anthropic.OverloadedError,
}


def _exception_for(
    error: ErrorEvent, request: httpx.Request, response: httpx.Response | None, body: Any
) -> Exception:
    if response is not None and error.status and error.status >= 400:
        cls = _STATUS_ERRORS.get(error.status) or (
            anthropic.InternalServerError if error.status >= 500 else APIStatusError
        )
        return cls(error.message, response=response, body=body)  # type: ignore[arg-type]
    return APIConnectionError(message=error.message, request=request)  # type: ignore[arg-type]


async def sampling_loop(
    *,
    model: str,
    provider: APIProvider,
    system_prompt_suffix: str,
    messages: list[BetaMessageParam],
    output_callback: Callable[[BetaContentBlockParam], None],
    tool_output_callback: Callable[[ToolResult, str], None],
    api_response_callback: Callable[
        [httpx.Request, httpx.Response | object | None, Exception | None], None
    ],
    api_key: str,
    only_n_most_recent_images: int | None = None,
    max_tokens: int = 4096,
    tool_version: ToolVersion,
    thinking_budget: int | None = None,
    token_efficient_tools_beta: bool = False,
    thinking_mode: ThinkingMode | None = None,
    thinking_effort: ThinkingEffort | None = None,
) -> list[BetaMessageParam]:
    """The reference's entry point: run until Claude stops using tools, calling back as it goes.

    ``messages`` is updated in place to the full history and returned (the reference's
    contract). ``api_response_callback`` gets (request, response, None) for each HTTP attempt
    and (request, response or None, the exception) for a final failure. Raises
    DesktopUnavailable, before anything is sent, while another agent uses the desktop.

    ``thinking_mode`` is adaptive (with ``thinking_effort``), extended (with
    ``thinking_budget``) or off; by default extended when a budget is given, else the model's
    default. A budget given with another mode is ignored.
    """
    if thinking_mode is not None and thinking_mode != "extended":
        thinking_budget = None
    config = LoopConfig(
        model=model,
        provider=APIProvider(provider),
        api_key=api_key or None,
        tool_version=tool_version,
        system_prompt_suffix=system_prompt_suffix,
        max_tokens=max_tokens,
        thinking_mode=thinking_mode,
        thinking_effort=thinking_effort,
        thinking_budget=thinking_budget,
        only_n_most_recent_images=only_n_most_recent_images or None,
        token_efficient_tools_beta=token_efficient_tools_beta,
    )
    original = list(messages)
    held: ApiExchange | None = None  # the last attempt: its error is known only afterwards

    def flush(error: ErrorEvent | None = None) -> None:
        nonlocal held
        if held is None:
            if error is not None:
                request = httpx.Request("POST", "https://api.anthropic.com/v1/messages")
                api_response_callback(request, None, _exception_for(error, request, None, None))
            return
        request, response = _httpx_pair(held)
        exc = _exception_for(error, request, response, held.response_body) if error else None
        api_response_callback(request, response, exc)
        held = None

    async for event in agent_events(config, messages):
        if isinstance(event, ApiExchange):
            flush()
            held = event
            continue
        if isinstance(event, ErrorEvent) and event.error_type == DESKTOP_BUSY:
            raise DesktopUnavailable(event.message)  # nothing was sent: no API error to report
        flush(event if isinstance(event, ErrorEvent) else None)
        if isinstance(event, AssistantBlock):
            output_callback(event.block)  # type: ignore[arg-type]
        elif isinstance(event, ToolResultEvent):
            tool_output_callback(event.result, event.tool_use_id)
        elif isinstance(event, Done):
            messages[:] = _callers_own(original, event.messages)  # type: ignore[arg-type]
    return messages


def _callers_own(original: list[Any], history: list[Any]) -> list[Any]:
    """``history`` with the caller's own message objects where the run left them as they were:
    a string ``content`` stays a string (healing turns every content into blocks)."""
    out: list[Any] = []
    start = 0
    for message in history:
        for i in range(start, len(original)):
            mine = original[i]
            if (
                isinstance(mine, dict)
                and {**mine, "content": h._blocks(mine.get("content"))} == message
            ):
                out.append(mine)
                start = i + 1
                break
        else:
            out.append(message)
    return out
