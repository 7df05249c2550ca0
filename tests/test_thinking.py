"""Thinking modes (adaptive + effort, extended, off) from LoopConfig and sampling_loop to the
wire, against the fake API that checks them per model; and the Models API lookup of a model the
table does not know."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import pytest

from computer_use_demo.agent import model_lookup, models
from computer_use_demo.agent.events import AssistantBlock, ErrorEvent
from computer_use_demo.agent.loop import LoopConfig, ThinkingEffort, ThinkingMode, sampling_loop
from computer_use_demo.tools import ToolCollection
from tests.fake_api import FakeAnthropicAPI, message, redacted_thinking, text, thinking, tool_use
from tests.support.loop import (  # noqa: F401 - fixture
    collect,
    config,
    done,
    fake_api_fixture,
    of,
    user,
    weather_tool,
)


@pytest.fixture(autouse=True)
def _fresh_lookups() -> None:
    model_lookup.clear_cache()


def body_of(api: FakeAnthropicAPI, index: int = 0) -> dict[str, Any]:
    return api.valid_requests[index].body


# ---------------------------------------------------------------- config checks


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"model": "claude-sonnet-4-5-20250929", "thinking_mode": "adaptive"},
         "does not support thinking mode 'adaptive'; it supports: off, extended"),
        ({"model": "claude-opus-5-5", "thinking_mode": "off"}, "it supports: adaptive"),
        ({"model": "claude-opus-4-6", "thinking_mode": "adaptive", "thinking_effort": "xhigh"},
         "does not support effort 'xhigh'; its levels: low, medium, high, max"),
        ({"model": "claude-opus-4-8", "thinking_mode": "off", "thinking_effort": "low"},
         "thinking_effort goes with thinking_mode 'adaptive'"),
        ({"model": "claude-opus-4-8", "thinking_effort": "extreme"}, "unknown thinking effort"),
        ({"model": "claude-opus-4-8", "thinking_mode": "deep"}, "unknown thinking mode 'deep'"),
        ({"model": "claude-opus-4-6", "thinking_mode": "extended"}, "needs thinking_budget"),
        ({"model": "claude-opus-4-6", "thinking_mode": "adaptive", "thinking_budget": 2048},
         "thinking_budget goes with thinking_mode 'extended'"),
        ({"model": "claude-sonnet-4-5", "thinking_budget": 1000}, "at least 1024"),
        ({"model": "claude-sonnet-4-5", "max_tokens": 2000, "thinking_budget": 4000},
         r"thinking_budget \(4000\) must be less than max_tokens \(2000\)"),
    ],
)  # fmt: skip
def test_impossible_combinations_are_refused_with_what_to_change(
    kwargs: dict[str, Any], error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        LoopConfig(**kwargs)


def test_the_mode_follows_from_what_was_given() -> None:
    assert LoopConfig(model="claude-opus-4-8").thinking_mode == "off"  # the model's default
    assert LoopConfig(model="claude-opus-5-5").thinking_mode == "adaptive"
    assert LoopConfig(model="claude-opus-4-6", thinking_budget=2048).thinking_mode == "extended"
    assert LoopConfig(model="claude-opus-4-8", thinking_effort="max").thinking_mode == "adaptive"
    # A model nobody knows: only what needs no knowledge of it is checked.
    unknown = LoopConfig(model="claude-someday-9", thinking_mode="adaptive", thinking_effort="low")
    assert unknown.thinking_mode == "adaptive"


# ---------------------------------------------------------------- on the wire


@pytest.mark.parametrize(
    ("model", "mode", "effort", "budget", "expected"),
    [
        ("claude-opus-4-8", "adaptive", "xhigh", None,
         {"thinking": {"type": "adaptive", "display": "summarized"}, "output_config": {"effort": "xhigh"}}),
        ("claude-opus-4-8", "adaptive", None, None, {"thinking": {"type": "adaptive", "display": "summarized"}}),
        ("claude-opus-4-8", "off", None, None, {}),  # off by default: nothing sent
        ("claude-sonnet-5-5", "off", None, None, {"thinking": {"type": "between_tools"}}),
        ("claude-opus-5-5", "adaptive", "low", None,
         {"thinking": {"type": "adaptive", "display": "summarized"}, "output_config": {"effort": "low"}}),
        ("claude-sonnet-4-6", "extended", None, 2048,
         {"thinking": {"type": "enabled", "budget_tokens": 2048}}),
    ],
)  # fmt: skip
async def test_each_mode_is_sent_as_the_api_expects_and_accepted(
    fake_api: FakeAnthropicAPI,
    model: str,
    mode: ThinkingMode,
    effort: ThinkingEffort | None,
    budget: int | None,
    expected: dict[str, Any],
) -> None:
    fake_api.push(message(text("ok")))
    cfg = config(
        fake_api,
        model=model,
        thinking_mode=mode,
        thinking_effort=effort,
        thinking_budget=budget,
        max_tokens=4096,
    )
    events = await collect(cfg, user("hi"), tools=ToolCollection())
    assert done(events).reason == "end_turn", of(events, ErrorEvent)
    sent = body_of(fake_api)
    assert {k: sent[k] for k in ("thinking", "output_config") if k in sent} == expected


async def test_the_fake_refuses_adaptive_where_the_model_lacks_it(
    fake_api: FakeAnthropicAPI,
) -> None:
    # Capabilities that lie (adaptive on Sonnet 4.5): the API's 400 is reported, not raised.
    lying = models.MODELS["claude-opus-4-8"]
    cfg = config(fake_api, thinking_mode="adaptive", capabilities=lying)
    events = await collect(cfg, user("hi"), tools=ToolCollection())
    assert done(events).reason == "error"
    [err] = of(events, ErrorEvent)
    assert err.status == 400 and "thinking.type.adaptive" in err.message
    # ...and an effort level the model does not have.
    cfg = config(
        fake_api, model="claude-opus-4-6", thinking_mode="adaptive", thinking_effort="xhigh",
        capabilities=lying,
    )  # fmt: skip
    events = await collect(cfg, user("hi"), tools=ToolCollection())
    assert "output_config.effort" in of(events, ErrorEvent)[0].message


async def test_adaptive_thinking_blocks_keep_their_signatures_through_a_tool_loop(
    fake_api: FakeAnthropicAPI,
) -> None:
    fake_api.push(
        message(thinking("Check the weather first."), tool_use("get_weather", {"location": "Phoenix, AZ"})),
        message(redacted_thinking(), text("38 degrees.")),
    )  # fmt: skip
    cfg = config(
        fake_api, model="claude-opus-4-8", thinking_mode="adaptive", thinking_effort="high"
    )
    events = await collect(cfg, user("weather"), tools=ToolCollection(weather_tool()))
    assert done(events).reason == "end_turn"
    assert not fake_api.invalid_requests
    sent = body_of(fake_api, 1)["messages"][1]["content"][0]
    assert sent == fake_api.valid_requests[0].response["content"][0]  # signature and all
    shown = [e.block for e in of(events, AssistantBlock) if e.block["type"] == "thinking"]
    assert shown[0]["thinking"] == "Check the weather first."
    assert [b["type"] for b in done(events).messages[-1]["content"]] == [
        "redacted_thinking",
        "text",
    ]


async def test_a_tampered_thinking_block_is_refused_by_the_fake(
    fake_api: FakeAnthropicAPI,
) -> None:
    history = [
        *user("weather"),
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "edited", "signature": "bm90LWl0"},
            {"type": "text", "text": "Hmm."},
        ]},
        *user("and now?"),
    ]  # fmt: skip
    fake_api.push(message(text("never sent")))
    cfg = config(fake_api, model="claude-opus-4-8", thinking_mode="adaptive")
    events = await collect(cfg, history, tools=ToolCollection())
    assert "signature" in of(events, ErrorEvent)[0].message


async def test_sampling_loop_takes_thinking_mode_and_effort_and_the_old_budget(
    fake_api: FakeAnthropicAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.url)
    fake_api.push(message(text("adaptive")), message(text("extended")))
    common: dict[str, Any] = {
        "provider": "anthropic",
        "system_prompt_suffix": "",
        "output_callback": lambda block: None,
        "tool_output_callback": lambda result, tool_id: None,
        "api_response_callback": lambda request, response, error: None,
        "api_key": "sk-ant-test",
        "tool_version": "computer_use_20251124",
    }
    await sampling_loop(
        model="claude-opus-4-8",
        messages=user("hi"),
        thinking_mode="adaptive",
        thinking_effort="medium",
        **common,
    )
    await sampling_loop(
        model="claude-sonnet-4-6", messages=user("hi"), thinking_budget=2048, **common
    )
    first, second = body_of(fake_api, 0), body_of(fake_api, 1)
    assert first["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert first["output_config"] == {"effort": "medium"}
    assert second["thinking"] == {"type": "enabled", "budget_tokens": 2048}


# ---------------------------------------------------------------- the Models API lookup


async def test_a_model_the_table_lacks_is_looked_up_once_and_its_capabilities_used(
    fake_api: FakeAnthropicAPI,
) -> None:
    assert models.known_model("claude-opus-6") is None  # the fake knows it, we do not
    fake_api.push(message(text("one")), message(text("two")))
    cfg = config(fake_api, model="claude-opus-6", thinking_mode="adaptive", thinking_effort="max")
    for _ in range(2):
        events = await collect(cfg, user("hi"), tools=ToolCollection())
        assert done(events).reason == "end_turn", of(events, ErrorEvent)
    lookups = [r for r in fake_api.requests if r.method == "GET"]
    assert [r.path for r in lookups] == ["/v1/models/claude-opus-6"], "asked once, cached"
    assert lookups[0].headers.get("authorization") == "Bearer sk-ant-test-secret"
    info = model_lookup.lookup_sync("claude-opus-6", api_key="k", base_url=fake_api.url)
    assert info is not None and info.source == "models_api"
    assert info.thinking_modes == ("adaptive", "off") and info.off_type == "disabled"
    assert info.effort_levels == ("low", "medium", "high", "max")
    assert info.max_output_tokens == 96_000 and info.context_management and info.compaction
    assert info.tool_version == models.TOOLSET_VERSION and info.price is None


async def test_what_the_lookup_says_is_checked_before_anything_is_sent(
    fake_api: FakeAnthropicAPI,
) -> None:
    cfg = config(fake_api, model="claude-opus-6", thinking_mode="adaptive", thinking_effort="xhigh")
    events = await collect(cfg, user("hi"), tools=ToolCollection())
    [err] = of(events, ErrorEvent)
    assert err.error_type == "configuration_error" and "xhigh" in err.message
    assert not [r for r in fake_api.requests if r.method == "POST"]


async def test_a_failed_lookup_falls_back_to_the_table(
    fake_api: FakeAnthropicAPI,
) -> None:
    fake_api.push(message(text("fine")))
    cfg = config(fake_api, model="claude-nobody-knows-1")
    events = await collect(cfg, user("hi"), tools=ToolCollection())
    assert done(events).reason == "end_turn"
    [lookup] = [r for r in fake_api.requests if r.method == "GET"]
    assert lookup.status == 404
    assert "thinking" not in body_of(fake_api)
    assert (
        model_lookup.resolve_sync(
            "claude-nobody-knows-1", provider="anthropic", api_key="k", base_url=fake_api.url
        )
        is models.DEFAULT_MODEL_INFO
    )


def test_a_silent_endpoint_does_not_hold_the_lookup_for_long() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    started = time.monotonic()
    info = model_lookup.lookup_sync("claude-opus-6", api_key="k", base_url=url, timeout=0.5)
    took = time.monotonic() - started
    assert info is None and took < 5, took
    for conn in accepted:
        conn.close()
    listener.close()


def test_known_models_are_never_looked_up() -> None:
    # No endpoint at all: a lookup would fail; the table answers first.
    info = model_lookup.resolve_sync(
        "claude-opus-4-8", provider="anthropic", api_key="k", base_url="http://127.0.0.1:9"
    )
    assert info is models.MODELS["claude-opus-4-8"]
    assert asyncio.iscoroutinefunction(model_lookup.lookup)


def test_every_choice_the_table_offers_is_accepted_by_the_fakes_catalogue() -> None:
    from tests.fake_api.models import CATALOG, check_thinking

    checked = 0
    for model in sorted(set(models.MODELS) & set(CATALOG)):
        info = models.MODELS[model]
        for mode in info.thinking_modes:
            efforts = info.effort_levels if mode == "adaptive" else ()
            for effort in (None, *efforts):
                cfg = LoopConfig(
                    model=model,
                    thinking_mode=mode,
                    thinking_effort=effort,
                    thinking_budget=2048 if mode == "extended" else None,
                    max_tokens=4096,
                )
                check_thinking(cfg.thinking_fields(info), model, CATALOG)
                checked += 1
    assert checked > 50
