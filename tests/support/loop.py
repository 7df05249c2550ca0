"""Fixtures for the loop's tests: the fake Messages API, configs pointing at it, small tools."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from computer_use_demo.agent.events import Done, Event
from computer_use_demo.agent.loop import LoopConfig, agent_events
from computer_use_demo.tools import FunctionTool, ToolCollection, ToolResult
from tests.fake_api import FakeAnthropicAPI
from tests.support.images import png_b64

MODEL = "claude-sonnet-4-5-20250929"
#: Displays reserved for the loop helper's tests.
DISPLAYS = range(70, 80)

GET_WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "location": {
            "type": "string",
            "description": "The city and state, e.g. San Francisco, CA",
        },
        "unit": {
            "type": "string",
            "enum": ["celsius", "fahrenheit"],
            "description": "The unit of temperature, either 'celsius' or 'fahrenheit'",
        },
    },
    "required": ["location"],
}


@pytest.fixture(name="fake_api")
def fake_api_fixture() -> Iterator[FakeAnthropicAPI]:
    """A running fake Messages API on a free port; push replies with ``fake_api.push``."""
    with FakeAnthropicAPI() as api:
        yield api


def config(api: FakeAnthropicAPI, **overrides: Any) -> LoopConfig:
    """A config that talks to ``api`` with quick retries."""
    values: dict[str, Any] = {
        "model": MODEL,
        "api_key": "sk-ant-test-secret",
        "base_url": api.url,
        "max_retries": 2,
        "request_timeout": 20.0,
        # The loop's own behaviour (screenshot truncation, betas) unless a test asks for the
        # API's context management (tests/test_context_management.py).
        "context_editing": False,
        "compaction": False,
    }
    values.update(overrides)
    return LoopConfig(**values)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": text}]}]


async def collect(
    cfg: LoopConfig,
    messages: list[dict[str, Any]],
    **kwargs: Any,
) -> list[Event]:
    """Every event of one run, checking it ends with exactly one Done."""
    events = [e async for e in agent_events(cfg, messages, **kwargs)]  # type: ignore[arg-type]
    dones = [e for e in events if isinstance(e, Done)]
    assert len(dones) == 1 and events[-1] is dones[0], events[-3:]
    return events


def done(events: list[Event]) -> Done:
    last = events[-1]
    assert isinstance(last, Done)
    return last


def of(events: list[Event], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


def weather_tool(calls: list[dict[str, Any]] | None = None) -> FunctionTool:
    """The API documentation's get_weather, answering from a small table."""
    temperatures = {"San Francisco, CA": 18, "Phoenix, AZ": 38}

    async def get_weather(location: str, unit: str = "celsius") -> str:
        if calls is not None:
            calls.append({"location": location, "unit": unit})
        celsius = temperatures.get(location)
        if celsius is None:
            from computer_use_demo.tools import ToolError

            raise ToolError(f"no weather data for {location}")
        value = celsius if unit == "celsius" else round(celsius * 9 / 5 + 32)
        return f"{value} degrees {unit} in {location}"

    return FunctionTool(
        name="get_weather",
        description="Get the current weather in a given location",
        input_schema=GET_WEATHER_SCHEMA,
        function=get_weather,
    )


def screenshot_tool(name: str = "snap") -> FunctionTool:
    """A custom tool that returns a distinct PNG each call (a stand-in for screenshots)."""
    counter = iter(range(1, 1_000_000))

    async def snap() -> ToolResult:
        n = next(counter)
        return ToolResult(output=f"shot {n}", base64_image=png_b64(8 + n % 50, 8, (n % 256, 0, 0)))

    return FunctionTool(
        name=name,
        description="Take a picture",
        input_schema={"type": "object", "properties": {}},
        function=snap,
    )


def sleeper_tool(started: asyncio.Event, seconds: float = 30.0) -> FunctionTool:
    """A custom tool that signals when it starts and then waits (to be stopped mid-call)."""

    async def sleep() -> str:
        started.set()
        await asyncio.sleep(seconds)
        return "woke up"

    return FunctionTool(
        name="sleep",
        description="Wait",
        input_schema={"type": "object", "properties": {}},
        function=sleep,
    )


def collection(*tools: Any) -> ToolCollection:
    return ToolCollection(*tools)
