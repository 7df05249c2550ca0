"""The agent loop end to end: the real loop and the real SDK against the fake Messages API,
which validates every request like the real API. Real bash and editor tools; custom
FunctionTools stand in where a test needs a tool it controls."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from computer_use_demo.agent import history as h
from computer_use_demo.agent.events import (
    ApiExchange,
    AssistantBlock,
    ErrorEvent,
    RetryWait,
    StepStarted,
    ToolResultEvent,
    ToolStarted,
    Usage,
    to_json,
)
from computer_use_demo.agent.loop import (
    SYSTEM_PROMPT,
    TOKEN_EFFICIENT_TOOLS_BETA_FLAG,
    APIProvider,
    LoopConfig,
    agent_events,
    sampling_loop,
)
from computer_use_demo.app.render import progress_text
from computer_use_demo.tools import (
    BashTool20250124,
    EditTool20250429,
    FunctionTool,
    ToolCollection,
    ToolResult,
)
from tests.fake_api import (
    FakeAnthropicAPI,
    error,
    malformed,
    message,
    redacted_thinking,
    text,
    thinking,
    tool_use,
)
from tests.fake_api.validate import count_cache_control
from tests.support.bash import alive, kill_leftovers, wait_gone
from tests.support.loop import (
    GET_WEATHER_SCHEMA,
    collect,
    config,
    done,
    fake_api_fixture,  # noqa: F401 - fixture
    of,
    screenshot_tool,
    sleeper_tool,
    user,
    weather_tool,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def last_user_results(record: Any) -> list[dict[str, Any]]:
    """The tool_result blocks of the last message of a recorded request."""
    return [b for b in record.body["messages"][-1]["content"] if b["type"] == "tool_result"]


def result_text(block: dict[str, Any]) -> str:
    content = block["content"]
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content)


async def test_a_multi_step_run_with_bash_and_the_editor(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    note = tmp_path / "note.txt"
    fake_api.push(
        message(
            text("Writing a note."),
            tool_use("bash", {"command": f"echo hello-from-bash > {note} && cat {note}"}),
        ),
        message(tool_use("str_replace_based_edit_tool", {"command": "view", "path": str(note)})),
        message(
            tool_use(
                "str_replace_based_edit_tool",
                {"command": "str_replace", "path": str(note), "old_str": "hello", "new_str": "bye"},
            )
        ),
        message(text("All done.")),
    )
    tools = ToolCollection(EditTool20250429(), BashTool20250124())
    try:
        events = await collect(
            config(fake_api, tool_version="computer_use_20250429"), user("note"), tools=tools
        )
    finally:
        await tools.stop()
    final = done(events)
    assert (final.reason, final.steps) == ("end_turn", 4)
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    requests = fake_api.valid_requests
    assert len(requests) == 4
    assert "hello-from-bash" in result_text(last_user_results(requests[1])[0])
    assert "1\thello-from-bash" in result_text(last_user_results(requests[2])[0])
    assert not last_user_results(requests[3])[0]["is_error"]
    assert note.read_text() == "bye-from-bash\n"
    assert [t["type"] for t in requests[0].body["tools"]] == [
        "text_editor_20250429",
        "bash_20250124",
    ]
    assert requests[0].headers["anthropic-beta"] == "computer-use-2025-01-24"
    assert [e.name for e in of(events, ToolStarted)] == [
        "bash",
        "str_replace_based_edit_tool",
        "str_replace_based_edit_tool",
    ]
    assert final.messages[-1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "All done."}],
    }
    assert len(final.messages) == 8


async def test_parallel_tool_uses_are_answered_in_one_user_message(
    fake_api: FakeAnthropicAPI,
) -> None:
    fake_api.push(
        message(
            tool_use("get_weather", {"location": "San Francisco, CA"}, id="toolu_a"),
            tool_use(
                "get_weather", {"location": "Phoenix, AZ", "unit": "fahrenheit"}, id="toolu_b"
            ),
            tool_use("snap", {}, id="toolu_c"),
        ),
        message(text("Phoenix is warmer.")),
    )
    calls: list[dict[str, Any]] = []
    events = await collect(
        config(fake_api),
        user("weather?"),
        tools=ToolCollection(weather_tool(calls), screenshot_tool()),
    )
    assert done(events).reason == "end_turn"
    results = last_user_results(fake_api.valid_requests[1])
    assert [r["tool_use_id"] for r in results] == ["toolu_a", "toolu_b", "toolu_c"]
    assert result_text(results[0]) == "18 degrees celsius in San Francisco, CA"
    assert result_text(results[1]) == "100 degrees fahrenheit in Phoenix, AZ"
    assert results[2]["content"][1]["type"] == "image"
    assert calls == [
        {"location": "San Francisco, CA", "unit": "celsius"},
        {"location": "Phoenix, AZ", "unit": "fahrenheit"},
    ]
    order = [
        (type(e).__name__, getattr(e, "tool_use_id", None))
        for e in events
        if isinstance(e, ToolStarted | ToolResultEvent)
    ]
    assert order == [
        ("ToolStarted", "toolu_a"),
        ("ToolResultEvent", "toolu_a"),
        ("ToolStarted", "toolu_b"),
        ("ToolResultEvent", "toolu_b"),
        ("ToolStarted", "toolu_c"),
        ("ToolResultEvent", "toolu_c"),
    ]


async def test_tool_error_unknown_tool_and_invalid_input_become_error_results(
    fake_api: FakeAnthropicAPI,
) -> None:
    fake_api.push(
        message(
            tool_use("get_weather", {"location": "Atlantis"}, id="toolu_err"),
            tool_use("teleport", {"to": "Mars"}, id="toolu_unknown"),
            tool_use("get_weather", {"unit": "kelvin"}, id="toolu_bad"),
        ),
        message(text("Sorry.")),
    )
    events = await collect(config(fake_api), user("go"), tools=ToolCollection(weather_tool()))
    assert done(events).reason == "end_turn"
    assert not fake_api.invalid_requests
    results = {r["tool_use_id"]: r for r in last_user_results(fake_api.valid_requests[1])}
    assert all(r["is_error"] for r in results.values())
    assert results["toolu_err"]["content"] == "no weather data for Atlantis"
    assert "Tool `teleport` is unknown" in results["toolu_unknown"]["content"]
    assert "get_weather" in results["toolu_unknown"]["content"]
    bad = results["toolu_bad"]["content"]
    assert "`location` is required" in bad or "'location' is required" in bad, bad
    assert "kelvin" in bad


async def test_the_api_docs_get_weather_tool_next_to_the_computer_tools(
    fake_api: FakeAnthropicAPI,
) -> None:
    fake_api.push(
        message(text("Checking."), tool_use("get_weather", {"location": "San Francisco, CA"})),
        message(text("It is 18 degrees in San Francisco.")),
    )
    cfg = config(fake_api, tool_version="computer_use_20241022", extra_tools=(weather_tool(),))
    events = await collect(
        cfg, user("Find flights from San Francisco to a place with warmer weather.")
    )
    assert done(events).reason == "end_turn"
    first = fake_api.valid_requests[0]
    assert first.body["tools"][-1] == {
        "name": "get_weather",
        "description": "Get the current weather in a given location",
        "input_schema": GET_WEATHER_SCHEMA,
    }
    assert [t.get("type") for t in first.body["tools"][:3]] == [
        "computer_20241022",
        "text_editor_20241022",
        "bash_20241022",
    ]
    assert first.headers["anthropic-beta"] == "computer-use-2024-10-22"
    assert (
        result_text(last_user_results(fake_api.valid_requests[1])[0])
        == "18 degrees celsius in San Francisco, CA"
    )


async def test_429_is_retried_after_retry_after(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(error(429, "rate limited", retry_after=0.3), message(text("finally")))
    events = await collect(config(fake_api), user("hi"))
    assert done(events).reason == "end_turn"
    assert not of(events, ErrorEvent)
    exchanges = of(events, ApiExchange)
    assert [x.status for x in exchanges] == [429, 200]
    assert exchanges[0].response_body["error"]["type"] == "rate_limit_error"
    first, second = fake_api.requests
    assert second.at - first.at >= 0.3, "retry-after must be honoured"
    assert second.headers["x-stainless-retry-count"] == "1"


async def test_each_wait_is_announced_with_its_reason_and_counts_down(
    fake_api: FakeAnthropicAPI,
) -> None:
    fake_api.push(
        error(429, "rate limited", retry_after=1.5),
        error(529, "Overloaded"),
        message(text("finally")),
    )
    events = await collect(config(fake_api, max_retries=3), user("hi"))
    assert done(events).reason == "end_turn"
    waits = of(events, RetryWait)
    assert [(w.reason, w.status, w.retry, w.retries) for w in waits] == [
        ("rate limited", 429, 1, 3),
        ("overloaded", 529, 2, 3),
    ]
    assert waits[0].seconds == 1.5  # the server's retry-after
    assert 0.5 <= waits[1].seconds <= 1.0  # the backoff of a second retry (jitter: -25 %)
    kinds = [type(e).__name__ for e in events if isinstance(e, (ApiExchange, RetryWait))]
    assert kinds == ["ApiExchange", "RetryWait", "ApiExchange", "RetryWait", "ApiExchange"]
    # The progress line names the wait and counts down to the retry.
    start = waits[0].at
    shown = [progress_text(events[: events.index(waits[0]) + 1], now=start + t) for t in (0, 1)]
    assert shown == [
        "Step 1 · rate limited (429): retry 1 of 3 in 2 s",
        "Step 1 · rate limited (429): retry 1 of 3 in 1 s",
    ]
    assert progress_text(events[: events.index(waits[0]) + 1], now=start + 1.6).endswith("now")
    assert "waiting for Claude" in progress_text(events[:-1])  # the retry answered


async def test_a_400_is_not_retried(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(error(400, "bad request"), message(text("never")))
    events = await collect(config(fake_api, max_retries=3), user("hi"))
    assert done(events).reason == "error" and not of(events, RetryWait)
    assert len(fake_api.requests) == 1


async def test_500_until_failure_keeps_the_history(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(
        message(tool_use("get_weather", {"location": "Phoenix, AZ"}, id="toolu_1")),
        *[error(500, "the model is on fire", retry_after=0.01) for _ in range(3)],
    )
    start = user("weather in Phoenix")
    events = await collect(
        config(fake_api, max_retries=2), start, tools=ToolCollection(weather_tool())
    )
    final = done(events)
    assert final.reason == "error"
    (err,) = of(events, ErrorEvent)
    assert (err.status, err.message, err.error_type) == (500, "the model is on fire", "api_error")
    assert [x.status for x in of(events, ApiExchange)] == [200, 500, 500, 500]
    assert len(final.messages) == 3
    assert final.messages[1]["content"][0]["id"] == "toolu_1"
    assert result_text(final.messages[2]["content"][0]) == "38 degrees celsius in Phoenix, AZ"
    # the kept history is valid: a new run goes on from it
    fake_api.push(message(text("38 degrees.")))
    again = await collect(config(fake_api), final.messages, tools=ToolCollection(weather_tool()))
    assert done(again).reason == "end_turn" and fake_api.requests[-1].valid


async def test_a_malformed_response_is_an_error_not_a_crash(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(malformed())
    events = await collect(config(fake_api, max_retries=0), user("hi"))
    assert done(events).reason == "error"
    (err,) = of(events, ErrorEvent)
    assert err.message
    assert done(events).messages == user("hi")


async def test_stop_mid_tool_heals_the_history(fake_api: FakeAnthropicAPI) -> None:
    started = asyncio.Event()
    fake_api.push(
        message(
            tool_use("get_weather", {"location": "Phoenix, AZ"}, id="toolu_done"),
            tool_use("sleep", {}, id="toolu_running"),
            tool_use("get_weather", {"location": "San Francisco, CA"}, id="toolu_never"),
        )
    )
    stop = asyncio.Event()
    tools = ToolCollection(weather_tool(), sleeper_tool(started))

    async def stopper() -> None:
        await started.wait()
        stop.set()

    stopping = asyncio.create_task(stopper())
    t0 = time.monotonic()
    events = await collect(config(fake_api), user("go"), tools=tools, stop=stop)
    await stopping
    assert time.monotonic() - t0 < 5, "the running tool must be cancelled, not awaited"
    final = done(events)
    assert final.reason == "stopped" and final.steps == 1
    results = {b["tool_use_id"]: b for b in final.messages[-1]["content"]}
    assert result_text(results["toolu_done"]) == "38 degrees celsius in Phoenix, AZ"
    assert (
        results["toolu_running"]["content"] == h.STOPPED_BY_USER
        and results["toolu_running"]["is_error"]
    )
    assert results["toolu_never"]["content"] == h.STOPPED_BY_USER
    assert [e.tool_use_id for e in of(events, ToolResultEvent)] == ["toolu_done", "toolu_running"]
    # the user types a new message: the next request is valid
    fake_api.push(message(text("OK, stopped.")))
    follow_up = [*final.messages, *user("never mind")]
    events = await collect(config(fake_api), follow_up, tools=tools)
    assert done(events).reason == "end_turn"
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    sent = fake_api.requests[-1].body["messages"][-1]["content"]
    assert [b["type"] for b in sent] == ["tool_result", "tool_result", "tool_result", "text"]


async def test_stop_during_a_slow_api_call(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(text("too late"), delay=10))
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    t0 = time.monotonic()
    events = await collect(config(fake_api), user("hi"), stop=stop)
    assert time.monotonic() - t0 < 3
    final = done(events)
    assert final.reason == "stopped" and final.messages == user("hi")


async def test_cancelling_the_consumer_kills_bash_and_still_reports_done(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    fake_api.push(message(tool_use("bash", {"command": f"sleep 60 & echo $! > {pidfile}; wait"})))
    tools = ToolCollection(BashTool20250124())
    got: list[Any] = []

    async def consume() -> None:
        async for event in agent_events(config(fake_api), user("sleep"), tools=tools):
            got.append(event)

    task = asyncio.create_task(consume())
    pid = 0
    try:
        for _ in range(200):
            if pidfile.exists() and pidfile.read_text().strip():
                pid = int(pidfile.read_text())
                break
            await asyncio.sleep(0.05)
        assert pid and alive(pid)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        final = got[-1]
        assert final.kind == "done" and final.reason == "stopped"
        assert final.messages[-1]["content"][0]["content"] == h.STOPPED_BY_USER
        assert not wait_gone(pid), "the command's process group must die with the stop"
    finally:
        await tools.stop()
        kill_leftovers(pid) if pid else None


async def test_screenshots_stay_within_n_plus_chunk_with_caching_over_50_steps(
    fake_api: FakeAnthropicAPI,
) -> None:
    for _ in range(50):
        fake_api.push(message(text("again"), tool_use("snap", {})))
    fake_api.push(message(text("enough")))
    cfg = config(fake_api, only_n_most_recent_images=3, image_truncation_chunk=2, max_steps=60)
    events = await collect(cfg, user("take pictures"), tools=ToolCollection(screenshot_tool()))
    assert done(events).reason == "end_turn" and done(events).steps == 51
    assert not fake_api.invalid_requests
    counts = []
    for record in fake_api.valid_requests:
        images = sum(h.image_count(m) for m in record.body["messages"])
        counts.append(images)
        assert images <= 3 + 2, images
        assert count_cache_control(record.body) <= 4
    assert counts[:4] == [0, 1, 2, 3] and max(counts) == 4 and min(counts[4:]) == 3
    usages = of(events, Usage)
    warm = [u for u in usages[1:] if u.cache_read_input_tokens > 0]
    assert len(warm) == len(usages) - 1, "every step after the first reads the prompt cache"
    assert usages[-1].total_cache_read_input_tokens == sum(
        u.cache_read_input_tokens for u in usages
    )
    assert usages[-1].total_cost_usd == pytest.approx(sum(u.cost_usd for u in usages))
    assert h.count_images(done(events).messages) == 50, "the history itself keeps every screenshot"


async def test_thinking_blocks_are_sent_back_with_their_signature(
    fake_api: FakeAnthropicAPI,
) -> None:
    fake_api.push(
        message(
            thinking("I should check the weather."),
            tool_use("get_weather", {"location": "Phoenix, AZ"}),
        ),
        message(redacted_thinking(), thinking("Now answer."), text("38 degrees.")),
    )
    cfg = config(fake_api, thinking_budget=2048, max_tokens=4096)
    events = await collect(cfg, user("weather"), tools=ToolCollection(weather_tool()))
    final = done(events)
    assert final.reason == "end_turn"
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    second = fake_api.valid_requests[1].body
    assert second["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    sent_thinking = second["messages"][1]["content"][0]
    assert sent_thinking["type"] == "thinking" and sent_thinking["signature"]
    assert sent_thinking == fake_api.valid_requests[0].response["content"][0]
    kinds = [b["type"] for b in final.messages[-1]["content"]]
    assert kinds == ["redacted_thinking", "thinking", "text"]
    assert [e.block["type"] for e in of(events, AssistantBlock)][:2] == ["thinking", "tool_use"]


async def test_max_steps_ends_the_run_with_a_history_to_continue(
    fake_api: FakeAnthropicAPI,
) -> None:
    for _ in range(3):
        fake_api.push(message(tool_use("snap", {})))
    tools = ToolCollection(screenshot_tool())
    events = await collect(config(fake_api, max_steps=2), user("go"), tools=tools)
    final = done(events)
    assert (final.reason, final.steps) == ("max_steps", 2)
    assert [e.step for e in of(events, StepStarted)] == [1, 2]
    fake_api.push(message(text("done")))
    events = await collect(config(fake_api), final.messages, tools=tools)
    assert done(events).reason == "end_turn" and not fake_api.invalid_requests


async def test_secrets_never_reach_an_event_and_betas_are_sent(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(text("hi")))
    cfg = config(fake_api, token_efficient_tools_beta=True, system_prompt_suffix="Be brief.")
    events = await collect(cfg, user("hi"))
    dumped = json.dumps([to_json(e) for e in events])
    assert "sk-ant-test-secret" not in dumped
    exchange = of(events, ApiExchange)[0]
    assert exchange.request_headers["authorization"] == "[REDACTED]"
    request = fake_api.requests[0]
    assert "sk-ant-test-secret" in request.headers["authorization"], "the key is sent to the API"
    assert (
        request.headers["anthropic-beta"]
        == f"computer-use-2025-01-24,{TOKEN_EFFICIENT_TOOLS_BETA_FLAG}"
    )
    system = request.body["system"]
    assert system[0]["text"].endswith(" Be brief.") and system[0]["cache_control"] == {
        "type": "ephemeral"
    }
    assert exchange.request_body["messages"] == request.body["messages"]


async def test_the_callers_messages_are_not_mutated(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(tool_use("snap", {})), message(text("ok")))
    messages = user("go")
    before = copy.deepcopy(messages)
    events = await collect(config(fake_api), messages, tools=ToolCollection(screenshot_tool()))
    assert messages == before and len(done(events).messages) == 4


async def test_missing_api_key_is_reported_not_raised(
    fake_api: FakeAnthropicAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    events = await collect(config(fake_api, api_key=None), user("hi"))
    (err,) = of(events, ErrorEvent)
    assert "ANTHROPIC_API_KEY" in err.message and done(events).reason == "error"
    assert not fake_api.requests


async def test_tools_built_by_the_run_are_stopped_given_ones_are_not(
    fake_api: FakeAnthropicAPI,
) -> None:
    stopped: list[str] = []

    class Tracked(FunctionTool):
        async def stop(self) -> None:
            stopped.append(self.name)

    async def ping() -> str:
        return "pong"

    tool = Tracked(name="ping", description="ping", input_schema={"type": "object"}, function=ping)
    fake_api.push(message(text("a")), message(text("b")))
    await collect(config(fake_api), user("hi"), tools=ToolCollection(tool))
    assert stopped == []
    await collect(config(fake_api, extra_tools=(tool,)), user("hi"))
    assert stopped == ["ping"]


def test_config_defaults_come_from_the_model_table() -> None:
    opus = LoopConfig(model="claude-opus-4-5-20251101")
    assert opus.tool_version == "computer_use_20251124" and opus.max_tokens == 16_384
    old = LoopConfig(model="anthropic.claude-3-5-sonnet-20241022-v2:0", provider="bedrock")
    assert old.tool_version == "computer_use_20241022" and old.provider is APIProvider.BEDROCK
    assert not old.caching, "prompt caching is automatic only for the anthropic provider"
    unknown = LoopConfig(
        model="claude-someday-9", tool_version="computer_use_20250124", max_tokens=999
    )
    assert unknown.max_tokens == 999 and unknown.model_info.price is None
    with pytest.raises(ValueError, match="thinking_budget"):
        LoopConfig(model="claude-sonnet-4-5", max_tokens=2000, thinking_budget=4000)
    assert "DISPLAY=:" in SYSTEM_PROMPT and "<SYSTEM_CAPABILITY>" in SYSTEM_PROMPT


async def test_sampling_loop_keeps_the_reference_contract(
    fake_api: FakeAnthropicAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.url)
    fake_api.push(
        message(text("Running it."), tool_use("bash", {"command": "echo from-bash"})),
        message(text("It printed from-bash.")),
    )
    blocks: list[Any] = []
    tool_outputs: list[tuple[ToolResult, str]] = []
    exchanges: list[tuple[Any, Any, Any]] = []
    messages: list[Any] = [{"role": "user", "content": "run echo"}]
    returned = await sampling_loop(
        model="claude-sonnet-4-5-20250929",
        provider=APIProvider.ANTHROPIC,
        system_prompt_suffix="",
        messages=messages,
        output_callback=blocks.append,
        tool_output_callback=lambda result, id: tool_outputs.append((result, id)),
        api_response_callback=lambda req, resp, err: exchanges.append((req, resp, err)),
        api_key="sk-ant-test-secret",
        only_n_most_recent_images=3,
        max_tokens=1024,
        tool_version="computer_use_20250124",
    )
    assert returned is messages and len(messages) == 4
    assert [b["type"] for b in blocks] == ["text", "tool_use", "text"]
    ((result, tool_use_id),) = tool_outputs
    assert result.output.strip() == "from-bash" and tool_use_id == blocks[1]["id"]
    assert len(exchanges) == 2
    request, response, err = exchanges[0]
    assert (
        isinstance(request, httpx.Request) and isinstance(response, httpx.Response) and err is None
    )
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "Running it."
    # a final failure reaches the callback as the SDK's typed error
    fake_api.push(error(400, "bad thing"))
    exchanges.clear()
    messages.append({"role": "user", "content": "again"})
    await sampling_loop(
        model="claude-sonnet-4-5-20250929",
        provider=APIProvider.ANTHROPIC,
        system_prompt_suffix="",
        messages=messages,
        output_callback=blocks.append,
        tool_output_callback=lambda result, id: None,
        api_response_callback=lambda req, resp, err: exchanges.append((req, resp, err)),
        api_key="sk-ant-test-secret",
        tool_version="computer_use_20250124",
    )
    ((_, response, err),) = exchanges
    assert isinstance(err, anthropic.BadRequestError) and err.status_code == 400
    assert response.status_code == 400 and len(messages) == 5


@pytest.mark.desktop
async def test_the_computer_tool_on_a_real_display(fake_api: FakeAnthropicAPI) -> None:
    from computer_use_demo.tools import ComputerTool20250124
    from tests.support.loop import DISPLAYS
    from tests.support.xvfb import xvfb

    fake_api.push(
        message(
            tool_use(
                "computer", {"action": "mouse_move", "coordinate": [100, 200]}, id="toolu_move"
            ),
            tool_use("computer", {"action": "screenshot"}, id="toolu_shot"),
            tool_use("computer", {"action": "cursor_position"}, id="toolu_where"),
        ),
        message(text("I see the screen.")),
    )
    with xvfb(DISPLAYS) as display:
        tools = ToolCollection(
            ComputerTool20250124(
                display_num=display.number, width=display.width, height=display.height
            ),
            EditTool20250429(),
            BashTool20250124(),
        )
        try:
            cfg = config(fake_api, tool_version="computer_use_20250429")
            events = await collect(cfg, user("look"), tools=tools)
        finally:
            await tools.stop()
    assert done(events).reason == "end_turn"
    assert not fake_api.invalid_requests, fake_api.invalid_requests[0].error
    first = fake_api.valid_requests[0].body
    computer = first["tools"][0]
    assert computer["type"] == "computer_20250124" and computer["display_number"] == display.number
    results = {r["tool_use_id"]: r for r in last_user_results(fake_api.valid_requests[1])}
    assert not any(r["is_error"] for r in results.values()), results
    shot = [b for b in results["toolu_shot"]["content"] if b["type"] == "image"]
    assert shot and shot[0]["source"]["media_type"] == "image/png"
    assert "100" in result_text(results["toolu_where"]) and "200" in result_text(
        results["toolu_where"]
    )
