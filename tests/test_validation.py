"""ToolCollection.run: every input is validated first and no failure escapes as an exception."""

from __future__ import annotations

import asyncio

import pytest

from computer_use_demo.tools import (
    TOOL_GROUPS,
    TOOL_GROUPS_BY_VERSION,
    FunctionTool,
    ToolCollection,
    ToolError,
    ToolFailure,
    ToolResult,
)
from computer_use_demo.tools.specs import MAX_FIELD_CHARS

# The single tools; the toolset's members are validated by the SDK (test at the end).
ALL_TOOL_CLASSES = sorted(
    {t for g in TOOL_GROUPS for t in g.tools if hasattr(t, "spec")}, key=lambda c: c.__name__
)
HUGE = "x" * (MAX_FIELD_CHARS + 1)

# (input, words the error must contain) per tool family; each must fail validation.
BAD_COMMON = [
    (None, ["JSON object"]),
    ([1, 2], ["JSON object"]),
    ("screenshot", ["JSON object"]),
]
BAD_BASH = [
    ({}, ["command", "restart"]),
    ({"command": 42}, ["`command`", "string"]),
    ({"restart": False}, ["command", "restart"]),
    ({"restart": "yes"}, ["`restart`", "boolean"]),
    ({"command": "echo a\x00b"}, ["`command`", "NUL"]),
    ({"command": HUGE}, ["`command`", "too long"]),
]
BAD_EDIT = [
    ({"path": "/tmp/x"}, ["command", "required"]),
    ({"command": "view"}, ["path", "required"]),
    ({"command": "fly", "path": "/tmp/x"}, ["`command`", "one of", "'fly'"]),
    ({"command": "create", "path": "/tmp/x"}, ["file_text", "required", "create"]),
    ({"command": "str_replace", "path": "/tmp/x"}, ["old_str", "required", "str_replace"]),
    ({"command": "insert", "path": "/tmp/x", "new_str": "a"}, ["insert_line", "required"]),
    (
        {"command": "insert", "path": "/tmp/x", "insert_line": "3", "new_str": "a"},
        ["`insert_line`", "integer"],
    ),
    ({"command": "view", "path": "/tmp/x", "view_range": [1]}, ["`view_range`", "2 items"]),
    (
        {"command": "view", "path": "/tmp/x", "view_range": ["a", "b"]},
        ["`view_range.0`", "integer"],
    ),
    ({"command": "view", "path": "/tmp/x\x00y"}, ["`path`", "NUL"]),
    ({"command": "view", "path": 7}, ["`path`", "string"]),
    ({"command": "create", "path": "/tmp/x", "file_text": HUGE}, ["`file_text`", "too long"]),
]
BAD_COMPUTER = [
    ({}, ["action", "required"]),
    ({"action": 3}, ["`action`", "string"]),
    ({"action": "fly"}, ["`action`", "one of"]),
    ({"action": "type"}, ["text", "required", "'type'"]),
    ({"action": "key"}, ["text", "required", "'key'"]),
    ({"action": "mouse_move"}, ["coordinate", "required"]),
    ({"action": "mouse_move", "coordinate": "10,20"}, ["`coordinate`", "array"]),
    ({"action": "mouse_move", "coordinate": [1, 2, 3]}, ["`coordinate`", "2 items"]),
    ({"action": "left_click", "coordinate": [1.5, "2"]}, ["`coordinate.", "integer"]),
    ({"action": "type", "text": "a\x00"}, ["`text`", "NUL"]),
    ({"action": "type", "text": "y" * 100_001}, ["`text`", "too long"]),
]
BAD_COMPUTER_2025 = [
    ({"action": "scroll", "coordinate": [1, 1]}, ["scroll_direction", "required"]),
    (
        {"action": "scroll", "scroll_direction": "sideways", "scroll_amount": 1},
        ["`scroll_direction`"],
    ),
    (
        {"action": "scroll", "scroll_direction": "up", "scroll_amount": -1},
        ["`scroll_amount`", "range"],
    ),
    ({"action": "wait"}, ["duration", "required"]),
    ({"action": "hold_key", "text": "shift"}, ["duration", "required"]),
    ({"action": "wait", "duration": "long"}, ["`duration`", "number"]),
]


def _bad_inputs(tool_cls: type) -> list[tuple[object, list[str]]]:
    family = tool_cls.api_type.rsplit("_", 1)[0]
    cases = list(BAD_COMMON)
    cases += {"bash": BAD_BASH, "text_editor": BAD_EDIT, "computer": BAD_COMPUTER}[family]
    if family == "computer" and tool_cls.api_type != "computer_20241022":
        cases += BAD_COMPUTER_2025
    choices = tool_cls.spec.choices
    if family == "text_editor" and "undo_edit" not in choices:
        cases.append(({"command": "undo_edit", "path": "/tmp/x"}, ["`command`", "one of"]))
    if family == "computer" and "triple_click" not in choices:
        cases.append(({"action": "triple_click"}, ["`action`", "one of"]))
    if family == "computer" and "zoom" in choices:
        cases.append(({"action": "zoom"}, ["region", "required", "'zoom'"]))
        cases.append(({"action": "zoom", "region": [0, 0, 10]}, ["`region`", "4 items"]))
    if family == "computer" and "zoom" not in choices:
        cases.append(({"action": "zoom", "region": [0, 0, 10, 10]}, ["`action`", "one of"]))
    return cases


CASES = [(cls, inp, words) for cls in ALL_TOOL_CLASSES for inp, words in _bad_inputs(cls)]


@pytest.mark.parametrize(
    ("tool_cls", "tool_input", "words"),
    CASES,
    ids=[f"{c.api_type}-{i}" for i, (c, _, _) in enumerate(CASES)],
)
async def test_bad_input_is_an_error_result(
    tool_cls: type, tool_input: object, words: list[str]
) -> None:
    tool = tool_cls()
    result = await ToolCollection(tool).run(name=tool.name, tool_input=tool_input)
    assert isinstance(result, ToolFailure)
    assert result.error.startswith(f"Invalid input for tool `{tool.name}`")
    for word in words:
        assert word in result.error, f"{word!r} not in {result.error!r}"
    assert result.output is None and result.base64_image is None


async def test_unknown_tool_is_an_error_result() -> None:
    tools = ToolCollection(
        *(cls() for cls in TOOL_GROUPS_BY_VERSION["computer_use_20251124"].tools)
    )
    result = await tools.run(name="teleport", tool_input={})
    assert isinstance(result, ToolFailure)
    assert "teleport" in result.error
    assert "bash, computer, str_replace_based_edit_tool" in result.error


def test_duplicate_tool_names_are_refused() -> None:
    group = TOOL_GROUPS[0]
    with pytest.raises(ValueError, match="unique"):
        ToolCollection(group.tools[2](), group.tools[2]())


# --- custom tools: the API doc's get_weather, and every failure path ---------------------

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location"],
}


async def get_weather(location: str, unit: str = "celsius") -> str:
    if location == "Atlantis":
        raise ToolError("Atlantis has no weather station; ask for a real city.")
    if location == "Nowhere":
        raise RuntimeError("sensor offline")
    if location == "Slowtown":
        await asyncio.sleep(5)
    return f"18 degrees {unit} in {location}"


def weather_collection(timeout: float = 600.0) -> ToolCollection:
    tool = FunctionTool(
        name="get_weather",
        description="Get the current weather in a given location",
        input_schema=WEATHER_SCHEMA,
        function=get_weather,
    )
    return ToolCollection(tool, timeout=timeout)


async def test_custom_tool_runs_with_valid_input_and_ignores_extra_fields() -> None:
    result = await weather_collection().run(
        name="get_weather",
        tool_input={"location": "Paris", "unit": "fahrenheit", "confidence": 0.9},
    )
    assert result == ToolResult(output="18 degrees fahrenheit in Paris")


@pytest.mark.parametrize(
    ("tool_input", "words"),
    [
        ({}, ["'location' is required"]),
        ({"location": 5}, ["`location`", "string"]),
        (
            {"location": "Paris", "unit": "kelvin"},
            ["`unit`", "'celsius', 'fahrenheit'", "'kelvin'"],
        ),
    ],
)
async def test_custom_tool_input_is_validated(tool_input: dict, words: list[str]) -> None:
    result = await weather_collection().run(name="get_weather", tool_input=tool_input)
    assert isinstance(result, ToolFailure)
    for word in words:
        assert word in result.error


async def test_tool_error_becomes_its_message() -> None:
    result = await weather_collection().run(name="get_weather", tool_input={"location": "Atlantis"})
    assert result == ToolFailure(error="Atlantis has no weather station; ask for a real city.")


async def test_unexpected_exception_becomes_an_error_result() -> None:
    result = await weather_collection().run(name="get_weather", tool_input={"location": "Nowhere"})
    assert isinstance(result, ToolFailure)
    assert "RuntimeError: sensor offline" in result.error


async def test_timeout_becomes_an_error_result() -> None:
    result = await weather_collection(timeout=0.2).run(
        name="get_weather", tool_input={"location": "Slowtown"}
    )
    assert isinstance(result, ToolFailure)
    assert "did not finish within 0.2 s" in result.error


async def test_cancellation_is_not_swallowed() -> None:
    """A stop request cancels the running tool; run() must let the cancellation through."""
    task = asyncio.create_task(
        weather_collection().run(name="get_weather", tool_input={"location": "Slowtown"})
    )
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_tool_result_combines_and_replaces() -> None:
    a = ToolResult(output="a", system="s1")
    b = ToolResult(output="b", error="e", base64_image="img")
    combined = a + b
    assert combined == ToolResult(output="ab", error="e", base64_image="img", system="s1")
    assert combined.replace(output="z").output == "z"
    assert not ToolResult() and ToolResult(error="x")
    with pytest.raises(ValueError):
        _ = b + ToolResult(base64_image="other")


async def test_insert_needs_new_str_or_insert_text() -> None:
    from computer_use_demo.tools import EditTool20250728

    tool = EditTool20250728()
    result = await ToolCollection(tool).run(
        name=tool.name, tool_input={"command": "insert", "path": "/tmp/x", "insert_line": 0}
    )
    assert result.error == (
        "Invalid input for tool `str_replace_based_edit_tool`: "
        "`new_str` or `insert_text` is required for command 'insert'."
    )


@pytest.mark.parametrize(
    ("name", "tool_input", "words"),
    [
        ("left_click", {"coordinate": "10,20"}, ["left_click", "coordinate"]),
        ("left_click", {"coordinate": [1, 2, 3]}, ["coordinate", "[x, y]"]),
        ("type", {}, ["type", "text"]),
        ("key", {"text": "a", "repeat": "many"}, ["key", "repeat"]),
        ("scroll", {"scroll_direction": "sideways", "scroll_amount": 1}, ["scroll_direction"]),
        ("zoom", {"region": [0, 0, 10]}, ["region", "[x0, y0, x1, y1]"]),
        ("teleport", {}, ["unknown computer toolset member", "teleport"]),
    ],
)
async def test_bad_toolset_member_input_is_an_error_result(
    name: str, tool_input: dict, words: list[str]
) -> None:
    """Refused before anything runs (the display does not even exist), with toolset_name."""
    tools = ToolCollection(
        *(cls() for cls in TOOL_GROUPS_BY_VERSION["computer_toolset_20260801"].tools)
    )
    call = {"type": "tool_use", "id": "toolu_1", "name": name, "input": tool_input}
    results: list[dict] = []
    events = [
        e
        async for e in tools.run_turn(
            [{**call, "toolset_name": "computer"}], results=results, stop=asyncio.Event()
        )
    ]
    (block,) = results
    assert block["is_error"] and block["toolset_name"] == "computer"
    text = (
        " ".join(c["text"] for c in block["content"])
        if isinstance(block["content"], list)
        else block["content"]
    )
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"
    assert events[-1].result.error == text
