"""The fake Messages API's toolset rules: it must refuse what the real API refuses about
``computer_toolset_20260801`` (else the toolset's loop tests prove nothing)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.fake_api import FakeAnthropicAPI, message, text
from tests.fake_api.toolset import HALT_TEXT, TOOLSET_ONLY_MODELS, base_model, member_use
from tests.support.images import png_b64
from tests.support.loop import fake_api_fixture  # noqa: F401 - fixture

HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}  # no beta: GA
TOOLSET = {"type": "computer_toolset_20260801"}
EDITOR = {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}
BASH = {"type": "bash_20250124", "name": "bash"}
HALT = HALT_TEXT["computer"]


def result(id: str, content: Any, *, is_error: bool = False) -> dict[str, Any]:
    block = {
        "type": "tool_result",
        "tool_use_id": id,
        "content": content,
        "toolset_name": "computer",
    }
    if is_error:
        block["is_error"] = True
    return block


def valid_body() -> dict[str, Any]:
    """A batch of three member calls whose second failed: ok, error, halt."""
    shot = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": png_b64()},
    }
    return {
        "model": "claude-opus-5-5",
        "max_tokens": 1024,
        "tools": [TOOLSET, EDITOR, BASH],
        "messages": [
            {"role": "user", "content": "click twice, then look"},
            {
                "role": "assistant",
                "content": [
                    member_use("screenshot", {}, "toolu_1"),
                    member_use("left_click", {"coordinate": [5000, 1]}, "toolu_2"),
                    member_use("key", {"text": "Return"}, "toolu_3"),
                    {
                        "type": "tool_use",
                        "id": "toolu_4",
                        "name": "bash",
                        "input": {"command": "ls"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    result("toolu_1", [shot]),
                    result("toolu_2", "Coordinate (5000, 1) is out of bounds", is_error=True),
                    result("toolu_3", HALT, is_error=True),
                    {"type": "tool_result", "tool_use_id": "toolu_4", "content": "a b"},
                ],
            },
        ],
    }


def post(api: FakeAnthropicAPI, body: Any, beta: str | None = None) -> httpx.Response:
    headers = {**HEADERS, "anthropic-beta": beta} if beta else HEADERS
    return httpx.post(f"{api.url}/v1/messages", json=body, headers=headers, timeout=10)


def _uses(b: dict[str, Any]) -> list[dict[str, Any]]:
    return b["messages"][1]["content"]


def _results(b: dict[str, Any]) -> list[dict[str, Any]]:
    return b["messages"][2]["content"]


INVALID: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "toolset entry with a name": (
        lambda b: b["tools"][0].update(name="computer"),
        "computer_toolset_20260801.name: Extra inputs are not permitted",
    ),
    "toolset entry with a display size": (
        lambda b: b["tools"][0].update(display_width_px=1920, display_height_px=1080),
        "display_height_px: Extra inputs are not permitted",
    ),
    "toolset entry with enable_zoom": (
        lambda b: b["tools"][0].update(enable_zoom=True),
        "enable_zoom: Extra inputs are not permitted",
    ),
    "configs for no member": (
        lambda b: b["tools"][0].update(configs={"teleport": {"enabled": True}}),
        "configs.teleport: Extra inputs are not permitted",
    ),
    "configs with an unknown field": (
        lambda b: b["tools"][0].update(configs={"zoom": {"enabled": True, "scale": 2}}),
        "configs.zoom.scale: Extra inputs are not permitted",
    ),
    "two computer toolsets": (
        lambda b: b["tools"].append(dict(TOOLSET)),
        "may be declared only once",
    ),
    "model needing the toolset with computer_20251124": (
        lambda b: b["tools"].__setitem__(
            0,
            {
                "type": "computer_20251124",
                "name": "computer",
                "display_width_px": 1280,
                "display_height_px": 800,
            },
        ),
        "is not supported on claude-opus-5-5",
    ),
    "member call without toolset_name": (
        lambda b: _uses(b)[0].pop("toolset_name"),
        "`toolset_name` is required",
    ),
    "member call of an undeclared toolset": (
        lambda b: _uses(b)[0].update(toolset_name="browser"),
        "'browser' names no toolset declared",
    ),
    "unknown member": (lambda b: _uses(b)[0].update(name="teleport"), "not a member"),
    "disabled member": (
        lambda b: b["tools"][0].update(configs={"screenshot": {"enabled": False}}),
        "'screenshot' is disabled",
    ),
    "member result without toolset_name": (
        lambda b: _results(b)[0].pop("toolset_name"),
        "must echo toolset_name 'computer', got None",
    ),
    "member result with another toolset_name": (
        lambda b: _results(b)[1].update(toolset_name="browser"),
        "must echo toolset_name 'computer', got 'browser'",
    ),
    "plain result with a toolset_name": (
        lambda b: _results(b)[3].update(toolset_name="computer"),
        "is not a toolset member call",
    ),
    "a member ran after a failure": (
        lambda b: _results(b).__setitem__(2, result("toolu_3", "Pressed Return.")),
        "an earlier computer action in this turn failed",
    ),
    "halted member without the halt text": (
        lambda b: _results(b)[2].update(content="skipped"),
        HALT,
    ),
}


def test_the_toolset_baseline_is_accepted_without_a_beta(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(text("fine")))
    response = post(fake_api, valid_body())
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("kind", list(INVALID))
def test_each_invalid_toolset_request_is_refused(fake_api: FakeAnthropicAPI, kind: str) -> None:
    change, expected = INVALID[kind]
    fake_api.push(message(text("should not be used")))
    body = copy.deepcopy(valid_body())
    change(body)
    # With the single tool's beta, so that only the rule under test can refuse it.
    response = post(fake_api, body, beta="computer-use-2025-11-24")
    assert response.status_code == 400, (kind, response.text)
    assert expected in response.json()["error"]["message"], response.json()
    assert fake_api.remaining == 1


def test_configs_and_cache_control_are_accepted(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(text("fine")))
    body = valid_body()
    body["tools"][0] = {
        **TOOLSET,
        "configs": {"zoom": {"enabled": False}, "wait": None},
        "cache_control": {"type": "ephemeral"},
    }
    assert post(fake_api, body).status_code == 200


def test_older_models_may_use_the_single_tool(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(text("fine")))
    body = valid_body()
    body["model"] = "claude-sonnet-4-5-20250929"
    body["tools"][0] = {
        "type": "computer_20251124",
        "name": "computer",
        "display_width_px": 1280,
        "display_height_px": 800,
    }
    body["messages"] = body["messages"][:1]
    response = post(fake_api, body, beta="computer-use-2025-11-24")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("spelling", "model"),
    [
        ("us.anthropic.claude-opus-5-5-v1:0", "claude-opus-5-5"),
        ("claude-sonnet-5-5@20260928", "claude-sonnet-5-5"),
        ("claude-opus-5-5-20260922", "claude-opus-5-5"),
    ],
)
def test_provider_spellings_of_toolset_models(spelling: str, model: str) -> None:
    assert base_model(spelling) == model and model in TOOLSET_ONLY_MODELS


def test_what_needs_no_beta_is_what_the_sdk_lists_as_generally_available() -> None:
    import typing

    from anthropic.types import ToolUnionParam

    from tests.fake_api.toolset import TOOLSET_TYPES
    from tests.fake_api.validate import GENERALLY_AVAILABLE, TOOL_TYPE_BETAS

    ga = set()
    for param in typing.get_args(ToolUnionParam):
        hint = typing.get_type_hints(param, include_extras=True).get("type")
        while typing.get_origin(hint) in (typing.Required, typing.NotRequired, typing.Optional):
            (hint,) = typing.get_args(hint)
        ga |= {v for v in typing.get_args(hint) if isinstance(v, str)}
    ours = set(TOOL_TYPE_BETAS) | set(TOOLSET_TYPES)
    assert GENERALLY_AVAILABLE | set(TOOLSET_TYPES) == ga & ours


@pytest.mark.parametrize(
    ("size", "accepted"),
    [((1920, 1080), True), ((2576, 1449), True), ((2600, 1000), False), ((2400, 1800), False)],
)
def test_toolset_images_must_fit_the_model_limits(
    fake_api: FakeAnthropicAPI, size: tuple[int, int], accepted: bool
) -> None:
    """The API does not scale the toolset's images down: too big is refused."""
    fake_api.push(message(text("fine")))
    body = valid_body()
    _results(body)[0]["content"][0]["source"]["data"] = png_b64(*size)
    response = post(fake_api, body)
    assert (response.status_code == 200) is accepted, response.text
    if not accepted:
        assert "image_dimensions_too_large" in response.json()["error"]["message"]
