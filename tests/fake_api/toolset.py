"""The fake API's rules for toolsets (``computer_toolset_20260801``), from the API's docs.

A toolset is one nameless ``tools[]`` entry (``type``, optional ``configs`` and
``cache_control``; no name, no display size, no ``enable_zoom``) that declares a family of
member tools; it is generally available, so it needs no beta flag. Each member call is a
``tool_use`` named after the member with ``toolset_name`` set, and its ``tool_result`` must
echo that ``toolset_name``. The calls of one turn run as a batch: after a member fails, the
later members of that toolset are not run and are answered with the halt text. Models that
need the toolset refuse the single computer tools.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .validate import Invalid

#: toolset type -> the family its member calls name in ``toolset_name``.
TOOLSET_TYPES: dict[str, str] = {"computer_toolset_20260801": "computer"}
TOOLSET_FIELDS = frozenset({"type", "configs", "cache_control"})
MEMBER_CONFIG_FIELDS = frozenset({"enabled", "defer_loading"})
MEMBERS: dict[str, frozenset[str]] = {
    "computer": frozenset(
        """key hold_key type cursor_position mouse_move left_mouse_down left_mouse_up
        left_click left_click_drag right_click middle_click double_click triple_click scroll
        wait screenshot zoom""".split()
    )
}
#: What a member not run after an earlier failure in its batch is answered with.
HALT_TEXT: dict[str, str] = {
    "computer": "Not executed: an earlier computer action in this turn failed."
}
#: The toolset's screenshots are not scaled down by the API: one over the model's image limits
#: is refused. The limits of the toolset's models: longest side, and visual tokens of 28x28 px.
IMAGE_LONG_EDGE = 2576
IMAGE_MAX_TOKENS = 4784
IMAGE_PATCH = 28
#: Models that take only the toolset: they refuse every single computer tool (computer_2...).
#: Data, so that the model table's owner extends it as models arrive: the models the docs say
#: no longer accept computer_20251124 on the Claude API (models released before the toolset
#: keep the single tool).
TOOLSET_ONLY_MODELS: set[str] = {
    "claude-opus-5-5",
    "claude-sonnet-5-5",
}


def base_model(model: str) -> str:
    """A model id without its provider's spelling: Bedrock's ``[us.]anthropic.…-v1:0``,
    Vertex's ``…@date`` and a ``-YYYYMMDD`` snapshot date."""
    model = re.sub(r"^(?:[a-z]{2,6}\.)?anthropic\.", "", model)
    model = model.split("@", 1)[0]
    model = re.sub(r"-v\d+(?::\d+)?$", "", model)
    return re.sub(r"-\d{8}$", "", model)


@dataclass
class Declared:
    """What a request's tools declare: each toolset's enabled members, and the plain tools."""

    toolsets: dict[str, frozenset[str]] = field(default_factory=dict)
    plain: set[str] = field(default_factory=set)


def validate_entry(i: int, tool: Mapping[str, Any]) -> None:
    """One toolset entry of ``tools``."""
    kind = tool["type"]
    for extra in sorted(set(tool) - TOOLSET_FIELDS):
        raise Invalid(f"tools.{i}.{kind}.{extra}: Extra inputs are not permitted")
    configs = tool.get("configs")
    if configs is None:
        return
    if not isinstance(configs, dict):
        raise Invalid(f"tools.{i}.{kind}.configs: Input should be a valid dictionary")
    members = MEMBERS[TOOLSET_TYPES[kind]]
    for member, config in configs.items():
        at = f"tools.{i}.{kind}.configs.{member}"
        if member not in members:
            raise Invalid(f"{at}: Extra inputs are not permitted")
        if config is None:
            continue
        if not isinstance(config, dict):
            raise Invalid(f"{at}: Input should be a valid dictionary")
        for extra in sorted(set(config) - MEMBER_CONFIG_FIELDS):
            raise Invalid(f"{at}.{extra}: Extra inputs are not permitted")
        for flag in MEMBER_CONFIG_FIELDS & set(config):
            if config[flag] is not None and not isinstance(config[flag], bool):
                raise Invalid(f"{at}.{flag}: Input should be a valid boolean")


def declared(tools: Any) -> Declared:
    """The toolsets (with their enabled members) and plain tool names of valid ``tools``."""
    found = Declared()
    for i, tool in enumerate(tools or []):
        kind = tool.get("type", "custom")
        family = TOOLSET_TYPES.get(kind)
        if family is None:
            found.plain.add(tool["name"])
            continue
        if family in found.toolsets:
            raise Invalid(f"tools.{i}: the {family} toolset may be declared only once")
        configs = tool.get("configs") or {}
        found.toolsets[family] = frozenset(
            m for m in MEMBERS[family] if (configs.get(m) or {}).get("enabled") is not False
        )
    return found


def validate_model(model: str | None, tools: Any) -> None:
    """A model that needs the toolset refuses the single computer tools."""
    if not model or base_model(model) not in TOOLSET_ONLY_MODELS:
        return
    for i, tool in enumerate(tools or []):
        kind = tool.get("type", "custom")
        if kind.startswith("computer_") and kind not in TOOLSET_TYPES:
            raise Invalid(
                f"tools.{i}: '{kind}' is not supported on {model}; use the computer toolset "
                f"({', '.join(TOOLSET_TYPES)})"
            )


def validate_member_uses(blocks: list[dict[str, Any]], where: str, tools: Declared) -> None:
    """Each member call of an assistant message names a declared toolset and one of its
    enabled members; a call named after a member without ``toolset_name`` is refused."""
    for j, block in enumerate(blocks):
        if block.get("type") != "tool_use":
            continue
        at = f"{where}.content.{j}"
        family = block.get("toolset_name")
        name = block.get("name")
        if family is None:
            members = set().union(*tools.toolsets.values()) if tools.toolsets else set()
            if name in members and name not in tools.plain:
                raise Invalid(
                    f"{at}: tool_use '{name}' is a toolset member call: `toolset_name` is "
                    "required (it was dropped from the assistant turn)"
                )
            continue
        if family not in tools.toolsets:
            raise Invalid(f"{at}.toolset_name: '{family}' names no toolset declared in `tools`")
        if name not in MEMBERS[family]:
            raise Invalid(f"{at}.name: '{name}' is not a member of the {family} toolset")
        if name not in tools.toolsets[family]:
            raise Invalid(f"{at}.name: '{name}' is disabled in this request's configs")


def _text(result: Mapping[str, Any]) -> str:
    content = result.get("content")
    if isinstance(content, str):
        return content
    return "".join(
        c.get("text", "") for c in content or [] if isinstance(c, dict) and c.get("type") == "text"
    )


def validate_turn_results(
    uses: list[dict[str, Any]], blocks: list[dict[str, Any]], where: str
) -> None:
    """The tool_results answering ``uses``: a member's echoes its ``toolset_name``, a plain
    tool's has none, and after a member failed the rest of its batch carry the halt text."""
    results = {
        b.get("tool_use_id"): (j, b) for j, b in enumerate(blocks) if b.get("type") == "tool_result"
    }
    failed: set[str] = set()
    for use in uses:
        j, result = results[use["id"]]  # every use is answered: checked before
        at = f"{where}.content.{j}"
        family = use.get("toolset_name")
        echoed = result.get("toolset_name")
        if family is None:
            if echoed is not None:
                raise Invalid(
                    f"{at}.toolset_name: tool_use {use['id']} is not a toolset member call"
                )
            continue
        if echoed != family:
            raise Invalid(
                f"{at}.toolset_name: a tool_result answering a {family} toolset member must "
                f"echo toolset_name '{family}', got {echoed!r}"
            )
        _check_images(result, at)
        if family in failed:
            if not result.get("is_error") or _text(result) != HALT_TEXT[family]:
                raise Invalid(
                    f"{at}: an earlier {family} action in this turn failed, so "
                    f"'{use['name']}' must not run: answer it with is_error and "
                    f"{HALT_TEXT[family]!r}"
                )
        elif result.get("is_error"):
            failed.add(family)


def _check_images(result: Mapping[str, Any], at: str) -> None:
    """A member's images must fit the model's limits as sent (PNG sizes from their header)."""
    content = result.get("content")
    for k, item in enumerate(content if isinstance(content, list) else []):
        source = item.get("source") if isinstance(item, dict) else None
        if item.get("type") != "image" or not isinstance(source, dict):
            continue
        try:
            raw = base64.b64decode(source.get("data", "")[:64])
        except (binascii.Error, ValueError):
            continue  # the image checks report it
        if not raw.startswith(b"\x89PNG\r\n\x1a\n") or len(raw) < 24:
            continue
        width, height = struct.unpack(">II", raw[16:24])
        tokens = -(-width // IMAGE_PATCH) * -(-height // IMAGE_PATCH)
        if max(width, height) > IMAGE_LONG_EDGE or tokens > IMAGE_MAX_TOKENS:
            raise Invalid(
                f"{at}.content.{k}: image_dimensions_too_large: {width}x{height} exceeds the "
                f"model's image limits ({IMAGE_LONG_EDGE} px on the longest side, "
                f"{IMAGE_MAX_TOKENS} visual tokens); toolset images are not scaled down"
            )


def member_use(name: str, input: Any, id: str, toolset: str = "computer") -> dict[str, Any]:
    """A scripted member call, as the API sends it."""
    return {"type": "tool_use", "id": id, "name": name, "input": input, "toolset_name": toolset}
