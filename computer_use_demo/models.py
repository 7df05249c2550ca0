"""What we know about each model: default tool group, output token limits, thinking support and
prices. Data only; edit the tables to add a model or change a price.

Provider spellings (Bedrock ``anthropic.…-v1:0`` with optional ``us.``/``eu.``/``global.``
prefixes, Vertex ``…@YYYYMMDD``) resolve to the same entry. An unknown model gets
``DEFAULT_MODEL_INFO`` (a conservative tool group, no price); callers can override any field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

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

    def with_overrides(self, **changes: Any) -> ModelInfo:
        """This entry with the user's overrides (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


_OPUS_45 = ModelInfo(
    tool_version="computer_use_20251124",
    max_output_tokens=64_000,
    default_output_tokens=16_384,
    has_thinking=True,
    price=Price.of(5, 25),
)
_SONNET_45 = ModelInfo(
    tool_version="computer_use_20250429",
    max_output_tokens=64_000,
    default_output_tokens=16_384,
    has_thinking=True,
    price=Price.of(3, 15),
)
_HAIKU_45 = ModelInfo(
    tool_version="computer_use_20250429",
    max_output_tokens=64_000,
    default_output_tokens=16_384,
    has_thinking=True,
    price=Price.of(1, 5),
)
_SONNET_4 = _SONNET_45
_OPUS_4 = ModelInfo(
    tool_version="computer_use_20250429",
    max_output_tokens=32_000,
    default_output_tokens=16_384,
    has_thinking=True,
    price=Price.of(15, 75),
)
_SONNET_37 = ModelInfo(
    tool_version="computer_use_20250124",
    max_output_tokens=64_000,
    default_output_tokens=16_384,
    has_thinking=True,
    price=Price.of(3, 15),
)
_SONNET_35 = ModelInfo(
    tool_version="computer_use_20241022",
    max_output_tokens=8_192,
    default_output_tokens=4_096,
    price=Price.of(3, 15),
)
_HAIKU_35 = ModelInfo(
    tool_version="computer_use_20241022",
    max_output_tokens=8_192,
    default_output_tokens=4_096,
    price=Price.of(0.8, 4),
)

#: Model id (Anthropic API spelling, aliases included) -> what we know about it.
MODELS: dict[str, ModelInfo] = {
    "claude-opus-4-5-20251101": _OPUS_45,
    "claude-opus-4-5": _OPUS_45,
    "claude-sonnet-4-5-20250929": _SONNET_45,
    "claude-sonnet-4-5": _SONNET_45,
    "claude-haiku-4-5-20251001": _HAIKU_45,
    "claude-haiku-4-5": _HAIKU_45,
    "claude-sonnet-4-20250514": _SONNET_4,
    "claude-sonnet-4-0": _SONNET_4,
    "claude-opus-4-1-20250805": _OPUS_4,
    "claude-opus-4-1": _OPUS_4,
    "claude-opus-4-20250514": _OPUS_4,
    "claude-opus-4-0": _OPUS_4,
    "claude-3-7-sonnet-20250219": _SONNET_37,
    "claude-3-7-sonnet-latest": _SONNET_37,
    "claude-3-5-sonnet-20241022": _SONNET_35,
    "claude-3-5-sonnet-latest": _SONNET_35,
    "claude-3-5-haiku-20241022": _HAIKU_35,
    "claude-3-5-haiku-latest": _HAIKU_35,
    # Vertex spellings that the generic rule below cannot derive.
    "claude-3-5-sonnet-v2@20241022": _SONNET_35,
    "claude-opus-4@20250514": _OPUS_4,
    "claude-sonnet-4@20250514": _SONNET_4,
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


def is_known(model: str) -> bool:
    return model_info(model) is not DEFAULT_MODEL_INFO
