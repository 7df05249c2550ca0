"""The model table against the installed SDK: every current model has a row, the defaults are
current models, provider spellings resolve, prices are computed as published."""

from __future__ import annotations

import importlib
import typing

import pytest

from computer_use_demo.agent import models
from computer_use_demo.agent.thinking import THINKING_EFFORTS, THINKING_MODES
from computer_use_demo.tools import TOOL_GROUPS_BY_VERSION


def sdk_models() -> set[str]:
    """The model ids the installed SDK lists in ``ModelParam`` (read now, not copied)."""
    from anthropic.types.model_param import ModelParam

    literal = next(a for a in typing.get_args(ModelParam) if typing.get_origin(a) is typing.Literal)
    return set(typing.get_args(literal))


def sdk_deprecated() -> dict[str, str]:
    return importlib.import_module("anthropic._data.deprecated_models").DEPRECATED_MODELS


@pytest.mark.parametrize("provider", sorted(models.DEFAULT_MODELS))
def test_each_default_model_is_current_in_the_installed_sdk(provider: str) -> None:
    model = models.DEFAULT_MODELS[provider]
    api_id = models.canonical_model(model)
    assert api_id in sdk_models(), f"{provider}'s default {model} left the SDK's ModelParam"
    assert api_id not in sdk_deprecated(), f"{provider}'s default {model} is deprecated"
    assert models.known_model(model) is not None, f"{model} has no row in the table"


def test_every_model_of_the_sdk_has_a_row() -> None:
    missing = sorted(m for m in sdk_models() if models.known_model(m) is None)
    assert not missing, f"no row in models.py for: {missing}"


@pytest.mark.parametrize("model", sorted(models.MODELS))
def test_rows_are_consistent(model: str) -> None:
    info = models.MODELS[model]
    assert info.tool_version in TOOL_GROUPS_BY_VERSION
    assert 1 <= info.default_output_tokens <= info.max_output_tokens
    assert info.thinking_modes and set(info.thinking_modes) <= set(THINKING_MODES)
    assert len(set(info.thinking_modes)) == len(info.thinking_modes)
    assert set(info.effort_levels) <= set(THINKING_EFFORTS)
    # Effort goes with adaptive thinking; the default effort is one of the model's levels.
    assert bool(info.effort_levels) == ("adaptive" in info.thinking_modes)
    assert (info.default_effort is None) == (not info.effort_levels)
    assert info.default_effort is None or info.default_effort in info.effort_levels
    if info.price is not None:
        assert info.price.input > 0 and info.price.output > info.price.input
    assert info.source == "table"


def test_newest_models_think_adaptively_and_older_ones_with_a_budget() -> None:
    opus48 = models.model_info("claude-opus-4-8")
    assert opus48.default_thinking == "off" and "adaptive" in opus48.thinking_modes
    assert "xhigh" in opus48.effort_levels and "extended" not in opus48.thinking_modes
    opus55 = models.model_info("claude-opus-5-5")
    assert opus55.thinking_modes == ("adaptive",)  # it cannot be turned off
    sonnet55 = models.model_info("claude-sonnet-5-5")
    assert sonnet55.off_type == "between_tools" and sonnet55.default_thinking == "adaptive"
    assert models.model_info("claude-opus-4-6").thinking_modes == ("off", "adaptive", "extended")
    assert models.model_info("claude-sonnet-4-5-20250929").thinking_modes == ("off", "extended")
    assert models.model_info("claude-3-5-sonnet-20241022").thinking_modes == ("off",)
    # Issue 11 reads these two.
    assert opus48.context_management and opus48.compaction
    assert not models.model_info("claude-3-5-haiku-20241022").context_management


@pytest.mark.parametrize(
    ("spelling", "api_id"),
    [
        ("global.anthropic.claude-opus-4-8", "claude-opus-4-8"),
        ("us.anthropic.claude-sonnet-5-5", "claude-sonnet-5-5"),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929"),
        ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5-20251001"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5-20250929"),
        ("claude-opus-4-8", "claude-opus-4-8"),
    ],
)
def test_provider_spellings_resolve_to_the_same_row(spelling: str, api_id: str) -> None:
    assert models.canonical_model(spelling) == api_id
    assert models.model_info(spelling) is models.MODELS[api_id]


def test_irregular_vertex_ids_have_rows() -> None:
    for vertex_id, api_id in (
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet-20241022"),
        ("claude-opus-4@20250514", "claude-opus-4-20250514"),
        ("claude-sonnet-4@20250514", "claude-sonnet-4-20250514"),
    ):
        assert models.model_info(vertex_id) is models.MODELS[api_id]


def test_unknown_model_gets_the_fallback_with_no_price_and_no_thinking() -> None:
    info = models.model_info("claude-from-the-future-9")
    assert info is models.DEFAULT_MODEL_INFO
    assert info.price is None and info.thinking_modes == ("off",) and info.source == "fallback"


def test_unpublished_prices_are_none_not_guessed() -> None:
    for model in ("claude-fable-5-2", "claude-mythos-5-2", "claude-mythos-preview"):
        assert models.model_info(model).price is None


def test_prices_and_cache_rates_as_published() -> None:
    million = 1_000_000
    opus = models.model_info("claude-opus-4-8").price
    assert opus is not None
    assert opus.cost(input_tokens=million, output_tokens=million) == pytest.approx(30.0)
    assert opus.cost(cache_creation_input_tokens=million) == pytest.approx(6.25)
    assert opus.cost(cache_read_input_tokens=million) == pytest.approx(0.50)
    opus55 = models.model_info("claude-opus-5-5").price
    assert opus55 is not None
    assert opus55.cost(cache_read_input_tokens=million) == pytest.approx(0.20)  # not 0.1 x
    fable51 = models.model_info("claude-fable-5-1").price
    assert fable51 is not None and fable51.cache_read == pytest.approx(0.25)


def test_haiku_55_prompts_over_100k_tokens_cost_the_higher_rate() -> None:
    price = models.model_info("claude-haiku-5-5").price
    assert price is not None
    short = price.cost(input_tokens=100_000, output_tokens=1000)
    assert short == pytest.approx((100_000 * 0.10 + 1000 * 0.50) / 1e6)
    # One token more of prompt (a cache read counts) and the whole request is billed higher.
    long = price.cost(input_tokens=100_000, cache_read_input_tokens=1, output_tokens=1000)
    assert long == pytest.approx((100_000 * 0.50 + 0.05 + 1000 * 2.50) / 1e6)
