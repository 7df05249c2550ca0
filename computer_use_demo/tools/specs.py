"""Every Anthropic-defined tool version, as data: wire type, tool name, input schema, options.

The input schemas follow the API documentation (the 20241022 schemas verbatim in substance;
later versions add actions and fields). Two additions make validation useful to the model:
``allOf`` rules that say which fields an action or command needs, and limits on strings (no
NUL bytes, bounded length). ``errorMessage`` (a key jsonschema ignores) is what the model is
told when a rule with alternatives fails. Unknown extra fields are allowed: newer models may send them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import ToolSpec

#: Longest string a tool accepts in one field; bigger inputs are refused with a clear error.
MAX_FIELD_CHARS = 2_000_000
NO_NUL = "^[^\\x00]*$"


def _string(description: str, max_length: int = MAX_FIELD_CHARS) -> dict[str, Any]:
    return {
        "type": "string",
        "description": description,
        "pattern": NO_NUL,
        "maxLength": max_length,
    }


def _pair(description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "description": description,
        "items": {"type": "integer"},
        "minItems": 2,
        "maxItems": 2,
    }


def _requires(key: str, needs: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """``allOf`` rules: when ``key`` has a value, these fields are required.

    A field written ``"a|b"`` means: ``a`` or ``b`` (at least one of them).
    """
    rules = []
    for value, fields in needs.items():
        then: dict[str, Any] = {"required": [f for f in fields if "|" not in f]}
        for alternatives in (f.split("|") for f in fields if "|" in f):
            then["anyOf"] = [{"required": [a]} for a in alternatives]
            then["errorMessage"] = (
                " or ".join(f"`{a}`" for a in alternatives) + f" is required for {key} {value!r}"
            )
        if fields:
            rules.append(
                {"if": {"properties": {key: {"const": value}}, "required": [key]}, "then": then}
            )
    return rules


def _schema(
    key: str | None,
    choices: Sequence[str],
    properties: Mapping[str, Any],
    needs: Mapping[str, Sequence[str]],
    required: Sequence[str] = (),
) -> dict[str, Any]:
    props = dict(properties)
    if key is not None:
        props[key] = {
            "type": "string",
            "enum": list(choices),
            "description": f"One of: {', '.join(choices)}.",
        }
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": list(required)}
    rules = _requires(key, needs) if key else []
    if rules:
        schema["allOf"] = rules
    return schema


# --- bash -----------------------------------------------------------------------------------

_BASH_SCHEMA = {
    "type": "object",
    "properties": {
        "command": _string("The bash command to run. Required unless the tool is being restarted."),
        "restart": {"type": "boolean", "description": "Specifying true will restart this tool."},
    },
    "required": [],
    # A call must either restart or carry a command.
    "errorMessage": "give a `command` to run, or `restart: true` to restart the tool",
    "anyOf": [
        {"required": ["command"]},
        {"required": ["restart"], "properties": {"restart": {"const": True}}},
    ],
}

BASH_20241022 = ToolSpec(api_type="bash_20241022", name="bash", input_schema=_BASH_SCHEMA)
BASH_20250124 = ToolSpec(api_type="bash_20250124", name="bash", input_schema=_BASH_SCHEMA)


# --- text editor ----------------------------------------------------------------------------

_EDIT_PROPERTIES = {
    "path": _string("Absolute path to file or directory, e.g. `/repo/file.py` or `/repo`.", 4096),
    "file_text": _string("Required parameter of `create` command, with the content of the file."),
    "insert_line": {"type": "integer", "minimum": 0, "description": "Insert AFTER this line."},
    "new_str": _string("New string for `str_replace`; the text to insert for `insert`."),
    "insert_text": _string("The text to insert for `insert` (newer name of `new_str`)."),
    "old_str": _string("Required parameter of `str_replace`: the exact text to replace."),
    "view_range": {
        "type": "array",
        "items": {"type": "integer"},
        "minItems": 2,
        "maxItems": 2,
        "description": "[start_line, end_line] for `view` of a file; end_line -1 means to the end.",
    },
}
_EDIT_NEEDS: dict[str, list[str]] = {
    "view": [],
    "create": ["file_text"],
    "str_replace": ["old_str"],
    "insert": ["insert_line", "new_str|insert_text"],
    "undo_edit": [],
}


def _edit_schema(commands: Sequence[str]) -> dict[str, Any]:
    return _schema("command", commands, _EDIT_PROPERTIES, _EDIT_NEEDS, required=("command", "path"))


_EDIT_WITH_UNDO = _edit_schema(["view", "create", "str_replace", "insert", "undo_edit"])
_EDIT_NO_UNDO = _edit_schema(["view", "create", "str_replace", "insert"])

EDIT_20241022 = ToolSpec(
    api_type="text_editor_20241022", name="str_replace_editor", input_schema=_EDIT_WITH_UNDO
)
EDIT_20250124 = ToolSpec(
    api_type="text_editor_20250124", name="str_replace_editor", input_schema=_EDIT_WITH_UNDO
)
EDIT_20250429 = ToolSpec(
    api_type="text_editor_20250429", name="str_replace_based_edit_tool", input_schema=_EDIT_NO_UNDO
)
EDIT_20250728 = ToolSpec(
    api_type="text_editor_20250728",
    name="str_replace_based_edit_tool",
    input_schema=_EDIT_NO_UNDO,
    options={"max_characters": None},  # sent only when set
)


# --- computer -------------------------------------------------------------------------------

_ACTIONS_20241022 = [
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click",
    "middle_click", "double_click", "screenshot", "cursor_position",
]  # fmt: skip
_ACTIONS_20250124 = [
    *_ACTIONS_20241022,
    "left_mouse_down", "left_mouse_up", "scroll", "hold_key", "wait", "triple_click",
]  # fmt: skip
_ACTIONS_20251124 = [*_ACTIONS_20250124, "zoom"]

_COMPUTER_PROPERTIES = {
    "coordinate": _pair("(x, y): pixels from the left and top edges of the screen."),
    "text": _string("Text to type, key(s) to press, or a modifier key to hold.", 100_000),
}
_COMPUTER_PROPERTIES_2025 = {
    **_COMPUTER_PROPERTIES,
    "start_coordinate": _pair("(x, y) where `left_click_drag` starts."),
    "scroll_direction": {"type": "string", "enum": ["up", "down", "left", "right"]},
    "scroll_amount": {"type": "integer", "minimum": 0, "maximum": 100},
    "duration": {"type": "number", "minimum": 0, "maximum": 100},
    "key": _string("Modifier key(s) to hold during a click, e.g. `shift` or `ctrl+shift`.", 200),
}
_COMPUTER_PROPERTIES_2025_11 = {
    **_COMPUTER_PROPERTIES_2025,
    "region": {
        "type": "array",
        "items": {"type": "integer"},
        "minItems": 4,
        "maxItems": 4,
        "description": "[x0, y0, x1, y1]: the rectangle of the screen to `zoom` into.",
    },
}
_COMPUTER_NEEDS_20241022 = {
    "key": ["text"],
    "type": ["text"],
    "mouse_move": ["coordinate"],
    "left_click_drag": ["coordinate"],
}
_COMPUTER_NEEDS_2025 = {
    **_COMPUTER_NEEDS_20241022,
    "scroll": ["scroll_direction", "scroll_amount"],
    "hold_key": ["text", "duration"],
    "wait": ["duration"],
}
_COMPUTER_NEEDS_2025_11 = {**_COMPUTER_NEEDS_2025, "zoom": ["region"]}

COMPUTER_20241022 = ToolSpec(
    api_type="computer_20241022",
    name="computer",
    input_schema=_schema(
        "action", _ACTIONS_20241022, _COMPUTER_PROPERTIES, _COMPUTER_NEEDS_20241022, ("action",)
    ),
)
COMPUTER_20250124 = ToolSpec(
    api_type="computer_20250124",
    name="computer",
    input_schema=_schema(
        "action", _ACTIONS_20250124, _COMPUTER_PROPERTIES_2025, _COMPUTER_NEEDS_2025, ("action",)
    ),
)
COMPUTER_20251124 = ToolSpec(
    api_type="computer_20251124",
    name="computer",
    input_schema=_schema(
        "action",
        _ACTIONS_20251124,
        _COMPUTER_PROPERTIES_2025_11,
        _COMPUTER_NEEDS_2025_11,
        ("action",),
    ),
    options={"enable_zoom": True},
)

ALL_SPECS: tuple[ToolSpec, ...] = (
    BASH_20241022,
    BASH_20250124,
    EDIT_20241022,
    EDIT_20250124,
    EDIT_20250429,
    EDIT_20250728,
    COMPUTER_20241022,
    COMPUTER_20250124,
    COMPUTER_20251124,
)
