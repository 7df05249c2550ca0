"""Dollar caps: a run stops before the call that could pass its run or session cap, with a
message that says so; the estimate follows budget.py's rule."""

from __future__ import annotations

import asyncio

import pytest

from computer_use_demo.agent.budget import IMAGE_TOKENS, Budget, input_estimate
from computer_use_demo.agent.events import BudgetExceeded, Usage
from computer_use_demo.agent.loop import LoopConfig
from computer_use_demo.agent.models import Price
from tests.fake_api import FakeAnthropicAPI, message, text, tool_use
from tests.support.images import png_b64
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

SONNET = Price.of(3, 15)


def weather_script(api: FakeAnthropicAPI, steps: int) -> None:
    for _ in range(steps):
        api.push(message(tool_use("get_weather", {"location": "Phoenix, AZ"})))
    api.push(message(text("done")))


def run(api: FakeAnthropicAPI, **overrides: object) -> list:
    cfg = config(api, max_tokens=1000, extra_tools=(weather_tool(),), **overrides)
    return asyncio.run(collect(cfg, user("weather?"), tools=collection(weather_tool())))


def test_the_estimate_counts_images_at_their_token_price_not_their_bytes() -> None:
    shot = png_b64(400, 300)
    request = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": shot},
                    }
                ],
            }
        ]
    }
    raw = len(str(request))
    assert input_estimate(request, raw) == (raw - len(shot)) // 3 + IMAGE_TOKENS
    budget = Budget(price=SONNET, max_tokens=1000, run_cap_usd=1.0)
    small = budget.next_call_usd(request, raw)
    assert small == pytest.approx(((raw - len(shot)) // 3 + IMAGE_TOKENS) * 3.75e-6 + 1000 * 15e-6)
    budget.add(cost_usd=0.1, context_tokens=100_000)  # the last call was bigger: the floor
    assert budget.next_call_usd(request, raw) == pytest.approx(100_000 * 3.75e-6 + 0.015)


def test_a_run_cap_stops_before_the_call_that_could_pass_it(fake_api: FakeAnthropicAPI) -> None:
    weather_script(fake_api, 10)
    # Each call costs under $0.003 but could cost about $0.02 (1000 output tokens = $0.015,
    # plus the input), so a few calls fit under $0.025, not all eleven.
    events = run(fake_api, max_run_cost_usd=0.025)
    final = done(events)
    (over,) = of(events, BudgetExceeded)
    assert final.reason == "budget" and over.scope == "run"
    spent = of(events, Usage)[-1].total_cost_usd
    assert over.spent_usd == pytest.approx(spent) and spent <= 0.025
    assert over.spent_usd + over.estimate_usd > 0.025
    assert 1 <= len(fake_api.requests) == final.steps < 10  # stopped early, before a call
    assert "run budget of $0.025 would be passed" in over.message
    assert final.messages[-1]["role"] == "user"  # a valid history to go on from
    assert not fake_api.invalid_requests


def test_a_session_cap_counts_earlier_runs(fake_api: FakeAnthropicAPI) -> None:
    weather_script(fake_api, 3)
    cfg = config(fake_api, max_tokens=1000, extra_tools=(weather_tool(),), max_session_cost_usd=1.0)
    events = asyncio.run(
        collect(cfg, user("weather?"), tools=collection(weather_tool()), session_spent_usd=0.99)
    )
    (over,) = of(events, BudgetExceeded)
    assert over.scope == "session" and over.spent_usd == pytest.approx(0.99)
    assert done(events).reason == "budget" and done(events).steps == 0
    assert fake_api.requests == []  # no call at all


def test_a_cap_on_a_model_without_a_price_stops_at_once(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(text("hi")))
    cfg = config(fake_api, model="claude-unknown-model", max_run_cost_usd=5.0)
    events = asyncio.run(collect(cfg, user("hi")))
    (over,) = of(events, BudgetExceeded)
    assert over.estimate_usd is None and "no known price" in over.message
    # No Messages API call; only the Models API was asked about the model (it knows no price).
    assert [(r.method, r.path) for r in fake_api.requests] == [
        ("GET", "/v1/models/claude-unknown-model")
    ]


def test_no_cap_runs_to_the_end(fake_api: FakeAnthropicAPI) -> None:
    weather_script(fake_api, 3)
    events = run(fake_api)
    assert done(events).reason == "end_turn" and not of(events, BudgetExceeded)


def test_a_negative_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="budget"):
        LoopConfig(model="claude-sonnet-4-5", max_run_cost_usd=-1)
