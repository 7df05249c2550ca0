"""What we know about each model: default tool group, output token limits, thinking support and
prices. Data only; edit the tables to add a model or change a price.

Provider spellings (Bedrock ``anthropic.…-v1:0`` with optional ``us.``/``eu.``/``global.``
prefixes, Vertex ``…@YYYYMMDD``) resolve to the same entry. An unknown model gets
``DEFAULT_MODEL_INFO`` (a conservative tool group, no price); a run's settings override it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .tools.groups import ToolVersion


@dataclass(frozen=True, kw_only=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float
    cache_write: float  # 5-minute cache writes: 1.25 x input
    cache_read: float  # cache hits: 0.1 x input

    @classmethod
    def of(cls, input: float, output: float) -> Price:
        return cls(input=input, output=output, cache_write=input * 1.25, cache_read=input * 0.1)

    def cost(
        self,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
        cache_read_input_tokens: int = 0,
    ) -> float:
        return (
            input_tokens * self.input
            + output_tokens * self.output
            + cache_creation_input_tokens * self.cache_write
            + cache_read_input_tokens * self.cache_read
        ) / 1_000_000


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    tool_version: ToolVersion
    max_output_tokens: int
    default_output_tokens: int
    has_thinking: bool = False
    price: Price | None = None


def _thinking_model(tool_version: ToolVersion, price: Price, max_output: int = 64_000) -> ModelInfo:
    """Claude 3.7 and later: extended thinking, 16k output tokens by default."""
    return ModelInfo(
        tool_version=tool_version,
        max_output_tokens=max_output,
        default_output_tokens=16_384,
        has_thinking=True,
        price=price,
    )


def _claude_35(price: Price) -> ModelInfo:
    return ModelInfo(
        tool_version="computer_use_20241022",
        max_output_tokens=8_192,
        default_output_tokens=4_096,
        price=price,
    )


_OPUS_45 = _thinking_model("computer_use_20251124", Price.of(5, 25))
_SONNET_45 = _SONNET_4 = _thinking_model("computer_use_20250429", Price.of(3, 15))
_HAIKU_45 = _thinking_model("computer_use_20250429", Price.of(1, 5))
_OPUS_4 = _thinking_model("computer_use_20250429", Price.of(15, 75), max_output=32_000)
_SONNET_37 = _thinking_model("computer_use_20250124", Price.of(3, 15))
_SONNET_35 = _claude_35(Price.of(3, 15))
_HAIKU_35 = _claude_35(Price.of(0.8, 4))

#: Model id (Anthropic API spelling, aliases included) -> what we know about it.
MODELS: dict[str, ModelInfo] = {
    model: info
    for info, models in (
        (_OPUS_45, ("claude-opus-4-5-20251101", "claude-opus-4-5")),
        (_SONNET_45, ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5")),
        (_HAIKU_45, ("claude-haiku-4-5-20251001", "claude-haiku-4-5")),
        (_SONNET_4, ("claude-sonnet-4-20250514", "claude-sonnet-4-0")),
        (_OPUS_4, ("claude-opus-4-1-20250805", "claude-opus-4-1")),
        (_OPUS_4, ("claude-opus-4-20250514", "claude-opus-4-0")),
        (_SONNET_37, ("claude-3-7-sonnet-20250219", "claude-3-7-sonnet-latest")),
        (_SONNET_35, ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet-latest")),
        (_HAIKU_35, ("claude-3-5-haiku-20241022", "claude-3-5-haiku-latest")),
        # Vertex spellings that the generic rule below cannot derive.
        (_SONNET_35, ("claude-3-5-sonnet-v2@20241022",)),
        (_OPUS_4, ("claude-opus-4@20250514",)),
        (_SONNET_4, ("claude-sonnet-4@20250514",)),
    )
    for model in models
}

#: For a model we know nothing about: the broadly supported tool group, modest limits.
DEFAULT_MODEL_INFO = ModelInfo(
    tool_version="computer_use_20250124",
    max_output_tokens=8_192,
    default_output_tokens=4_096,
)

#: The model each provider starts with.
DEFAULT_MODELS: dict[str, str] = {
    "anthropic": "claude-sonnet-4-5-20250929",
    "bedrock": "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "vertex": "claude-sonnet-4-5@20250929",
}

_BEDROCK = re.compile(
    r"^(?:(?:us|eu|apac|au|jp|global)\.)?anthropic\.(?P<id>.+?)(?:-v\d+(?::\d+)?)?$"
)


def canonical_model(model: str) -> str:
    """The Anthropic API spelling of a Bedrock or Vertex model id (unchanged otherwise)."""
    model = model.strip()
    if model in MODELS:
        return model
    if m := _BEDROCK.match(model):
        model = m.group("id")
    if "@" in model:  # vertex: claude-sonnet-4-5@20250929
        base, _, date = model.partition("@")
        model = f"{base}-{date}"
    return model


def model_info(model: str) -> ModelInfo:
    """What we know about ``model``, or ``DEFAULT_MODEL_INFO``."""
    return MODELS.get(model) or MODELS.get(canonical_model(model)) or DEFAULT_MODEL_INFO
