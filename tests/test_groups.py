"""Every tool of every version must send exactly what the SDK's param type for it describes."""

from __future__ import annotations

import typing

import pytest
from anthropic.types import beta

from computer_use_demo.tools import (
    TOOL_GROUPS,
    TOOL_GROUPS_BY_VERSION,
    BashTool20241022,
    BashTool20250124,
    ComputerTool20241022,
    ComputerTool20250124,
    ComputerTool20251124,
    EditTool20241022,
    EditTool20250124,
    EditTool20250429,
    EditTool20250728,
)
from computer_use_demo.tools.computer_toolset import ComputerToolset20260801

# api_type -> (the SDK's TypedDict for it, the tool name the API expects)
SDK_PARAMS = {
    "bash_20241022": beta.BetaToolBash20241022Param,
    "bash_20250124": beta.BetaToolBash20250124Param,
    "text_editor_20241022": beta.BetaToolTextEditor20241022Param,
    "text_editor_20250124": beta.BetaToolTextEditor20250124Param,
    "text_editor_20250429": beta.BetaToolTextEditor20250429Param,
    "text_editor_20250728": beta.BetaToolTextEditor20250728Param,
    "computer_20241022": beta.BetaToolComputerUse20241022Param,
    "computer_20250124": beta.BetaToolComputerUse20250124Param,
    "computer_20251124": beta.BetaToolComputerUse20251124Param,
    "computer_toolset_20260801": beta.BetaComputerToolset20260801Param,
}

EXPECTED = [
    # group, computer, editor, bash, beta flag (DESIGN.md's table)
    (
        "computer_use_20241022",
        "computer_20241022",
        "text_editor_20241022",
        "bash_20241022",
        "computer-use-2024-10-22",
    ),
    (
        "computer_use_20250124",
        "computer_20250124",
        "text_editor_20250124",
        "bash_20250124",
        "computer-use-2025-01-24",
    ),
    (
        "computer_use_20250429",
        "computer_20250124",
        "text_editor_20250429",
        "bash_20250124",
        "computer-use-2025-01-24",
    ),
    (
        "computer_use_20251124",
        "computer_20251124",
        "text_editor_20250728",
        "bash_20250124",
        "computer-use-2025-11-24",
    ),
    (
        "computer_toolset_20260801",
        "computer_toolset_20260801",
        "text_editor_20250728",
        "bash_20250124",
        None,  # generally available
    ),
]

ALL_TOOL_CLASSES = {t for g in TOOL_GROUPS for t in g.tools}


def _literal(annotation: object) -> object:
    """The single value of a (Required[...]) Literal annotation."""
    while typing.get_origin(annotation) in (typing.Required, typing.NotRequired):
        (annotation,) = typing.get_args(annotation)
    assert typing.get_origin(annotation) is typing.Literal, annotation
    (value,) = typing.get_args(annotation)
    return value


def _check_against_sdk(params: dict) -> None:
    sdk = SDK_PARAMS[params["type"]]
    hints = typing.get_type_hints(sdk, include_extras=True)
    assert set(params) <= set(hints), f"fields the SDK does not know: {set(params) - set(hints)}"
    assert sdk.__required_keys__ <= set(params), f"missing: {sdk.__required_keys__ - set(params)}"
    assert params["type"] == _literal(hints["type"])
    if "name" in hints:  # a toolset entry has none
        assert params["name"] == _literal(hints["name"])
    for key, value in params.items():
        if key in ("type", "name"):
            continue
        base = hints[key]
        while typing.get_origin(base) in (typing.Required, typing.NotRequired):
            (base,) = typing.get_args(base)
        allowed = typing.get_args(base) or (base,)
        assert any(_is_instance(value, a) for a in allowed), f"{key}={value!r} is not {base}"


def _is_instance(value: object, annotation: object) -> bool:
    """isinstance that also reads a TypedDict: a dict whose keys are among its fields, each
    value of its field's type."""
    if annotation is type(None):
        return value is None
    if hasattr(annotation, "__required_keys__"):
        if not isinstance(value, dict):
            return False
        hints = typing.get_type_hints(annotation, include_extras=True)
        return set(value) <= set(hints) and all(
            any(_is_instance(v, a) for a in _alternatives(hints[k])) for k, v in value.items()
        )
    if typing.get_origin(annotation) is typing.Literal:
        return value in typing.get_args(annotation)
    return isinstance(annotation, type) and isinstance(value, annotation)


def _alternatives(annotation: object) -> tuple[object, ...]:
    while typing.get_origin(annotation) in (typing.Required, typing.NotRequired):
        (annotation,) = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return (annotation,)
    return typing.get_args(annotation) or (annotation,)


@pytest.mark.parametrize("tool_cls", sorted(ALL_TOOL_CLASSES, key=lambda c: c.__name__))
def test_to_params_matches_sdk_type(tool_cls: type) -> None:
    params = tool_cls().to_params()
    _check_against_sdk(params)
    assert params["type"] == tool_cls.api_type
    if tool_cls is ComputerToolset20260801:
        assert params == {"type": "computer_toolset_20260801"}
    else:
        assert params["type"] == tool_cls.spec.api_type
        assert params["name"] == tool_cls.name


@pytest.mark.parametrize(("version", "computer", "editor", "bash", "beta"), EXPECTED)
def test_groups_match_design_table(version, computer, editor, bash, beta) -> None:
    group = TOOL_GROUPS_BY_VERSION[version]
    assert [t.api_type for t in group.tools] == [computer, editor, bash]
    assert group.beta_flag == beta
    names = [t.name for t in group.tools]
    assert len(set(names)) == len(names)


def test_every_sdk_version_is_covered() -> None:
    assert {t.api_type for t in ALL_TOOL_CLASSES} == set(SDK_PARAMS)
    assert len(TOOL_GROUPS_BY_VERSION) == len(EXPECTED)


@pytest.mark.parametrize(
    ("cls", "api_type"),
    [
        (BashTool20241022, "bash_20241022"),
        (BashTool20250124, "bash_20250124"),
        (EditTool20241022, "text_editor_20241022"),
        (EditTool20250124, "text_editor_20250124"),
        (EditTool20250429, "text_editor_20250429"),
        (EditTool20250728, "text_editor_20250728"),
        (ComputerTool20241022, "computer_20241022"),
        (ComputerTool20250124, "computer_20250124"),
        (ComputerTool20251124, "computer_20251124"),
    ],
)
def test_class_names_say_their_api_type(cls: type, api_type: str) -> None:
    """The reference ships classes whose api_type is another version's; ours cannot."""
    assert cls.api_type == api_type
    assert cls().to_params()["type"] == api_type


def test_editor_names_and_undo_by_version() -> None:
    assert EditTool20241022.name == EditTool20250124.name == "str_replace_editor"
    assert EditTool20250429.name == EditTool20250728.name == "str_replace_based_edit_tool"
    assert "undo_edit" in EditTool20250124.spec.choices
    assert "undo_edit" not in EditTool20250429.spec.choices
    assert "undo_edit" not in EditTool20250728.spec.choices


def test_max_characters_only_for_20250728() -> None:
    params = EditTool20250728(max_characters=5000).to_params()
    assert params["max_characters"] == 5000
    _check_against_sdk(params)
    # Older versions have no such option: it is dropped, never sent.
    assert "max_characters" not in EditTool20250429(max_characters=5000).to_params()


def test_zoom_only_for_20251124() -> None:
    assert ComputerTool20251124().to_params().get("enable_zoom") is True
    assert "enable_zoom" not in ComputerTool20250124().to_params()
    assert "zoom" in ComputerTool20251124.spec.choices
    assert "zoom" not in ComputerTool20250124.spec.choices
    assert "triple_click" not in ComputerTool20241022.spec.choices


def test_toolset_entry_fields() -> None:
    """Only type, configs and cache_control: never a name, a display size or enable_zoom."""
    toolset = ComputerToolset20260801(
        width=1920,
        height=1080,
        display_num=5,
        configs={"zoom": {"enabled": False}},
        tool_configs={"cache_control": {"type": "ephemeral"}},
    )
    params = toolset.to_params()
    assert params == {
        "type": "computer_toolset_20260801",
        "configs": {"zoom": {"enabled": False}},
        "cache_control": {"type": "ephemeral"},
    }
    _check_against_sdk(params)
    hints = typing.get_type_hints(beta.BetaComputerToolsetConfigsParam)
    assert set(params["configs"]) <= set(hints)
