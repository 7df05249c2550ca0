"""What we know about each model: default tool group, output token limits, thinking modes,
context-management capabilities and prices. Data only: one row per model, its ids beside it.

Sources: the installed SDK's ``ModelParam`` (which ids exist) and ``DEPRECATED_MODELS``, and
Anthropic's model and pricing pages (platform.claude.com). A price the pages do not give is
``None`` (the app then shows "no price", never a guess). The Models API (model_lookup.py)
overrides the capability columns for the model a run uses, when it answers.

Provider spellings (Bedrock ``anthropic.…-v1:0`` or ``…`` with optional ``us.``/``eu.``/
``global.`` prefixes, Vertex ``…@YYYYMMDD``) resolve to the same row. An unknown model gets
``DEFAULT_MODEL_INFO`` (a conservative tool group, no thinking, no price); a run's settings
override it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..tools.groups import ToolVersion

#: The thinking modes a run can ask for (thinking.py turns them into request fields).
ThinkingMode = Literal["adaptive", "extended", "off"]
ThinkingEffort = Literal["low", "medium", "high", "xhigh", "max"]
#: How a model that thinks by default is told not to (``thinking.type``).
OffType = Literal["disabled", "between_tools"]


@dataclass(frozen=True, kw_only=True)
class Price:
    """US dollars per million tokens. ``long`` is the price of a whole request whose prompt
    (input, cache writes and reads) is over ``long_above`` tokens, where the model has one."""

    input: float
    output: float
    cache_write: float  # 5-minute cache writes
    cache_read: float  # cache hits
    long_above: int | None = None
    long: Price | None = None

    @classmethod
    def of(
        cls,
        input: float,
        output: float,
        *,
        cache_write: float | None = None,
        cache_read: float | None = None,
        **more: object,
    ) -> Price:
        """A price with the usual cache rates (writes 1.25 x input, hits 0.1 x) unless given."""
        return cls(
            input=input,
            output=output,
            cache_write=input * 1.25 if cache_write is None else cache_write,
            cache_read=input * 0.1 if cache_read is None else cache_read,
            **more,  # type: ignore[arg-type]
        )

    def cost(
        self,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
        cache_read_input_tokens: int = 0,
    ) -> float:
        prompt = input_tokens + cache_creation_input_tokens + cache_read_input_tokens
        rate = self
        if self.long is not None and self.long_above is not None and prompt > self.long_above:
            rate = self.long
        return (
            input_tokens * rate.input
            + output_tokens * rate.output
            + cache_creation_input_tokens * rate.cache_write
            + cache_read_input_tokens * rate.cache_read
        ) / 1_000_000


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """One model's defaults and capabilities. ``thinking_modes`` lists what the model accepts,
    the mode it uses when a request says nothing first."""

    tool_version: ToolVersion
    max_output_tokens: int
    default_output_tokens: int
    price: Price | None = None
    thinking_modes: tuple[ThinkingMode, ...] = ("off",)
    effort_levels: tuple[ThinkingEffort, ...] = ()
    default_effort: ThinkingEffort | None = None
    #: How "off" is sent to a model that thinks by default.
    off_type: OffType = "disabled"
    context_management: bool = False
    compaction: bool = False
    #: Where this came from: the table, the Models API, or the unknown-model fallback.
    source: str = "table"

    @property
    def has_thinking(self) -> bool:
        return any(mode != "off" for mode in self.thinking_modes)

    @property
    def default_thinking(self) -> ThinkingMode:
        return self.thinking_modes[0]


#: The tool version of the newest models, released after the computer toolset (Opus and
#: Sonnet 5.5 refuse computer_20251124 on the Claude API; older models keep it).
TOOLSET_VERSION: ToolVersion = "computer_toolset_20260801"

_EFFORTS_46: tuple[ThinkingEffort, ...] = ("low", "medium", "high", "max")
_EFFORTS: tuple[ThinkingEffort, ...] = ("low", "medium", "high", "xhigh", "max")


def _row(
    tool_version: ToolVersion,
    max_output: int,
    price: Price | None,
    modes: tuple[ThinkingMode, ...] = ("off", "extended"),
    *,
    efforts: tuple[ThinkingEffort, ...] = (),
    default_effort: ThinkingEffort | None = None,
    off_type: OffType = "disabled",
    default_output: int = 16_384,
    context_management: bool = True,
    compaction: bool = False,
) -> ModelInfo:
    """A row; the defaults are those of the Claude 4 models with extended thinking."""
    return ModelInfo(
        tool_version=tool_version,
        max_output_tokens=max_output,
        default_output_tokens=min(default_output, max_output),
        price=price,
        thinking_modes=modes,
        effort_levels=efforts,
        default_effort=default_effort,
        off_type=off_type,
        context_management=context_management,
        compaction=compaction,
    )


def _adaptive(
    tool_version: ToolVersion,
    price: Price | None,
    modes: tuple[ThinkingMode, ...],
    default_effort: ThinkingEffort,
    *,
    efforts: tuple[ThinkingEffort, ...] = _EFFORTS,
    max_output: int = 128_000,
    off_type: OffType = "disabled",
) -> ModelInfo:
    """A model with adaptive thinking (Claude 4.6 and later): effort levels, compaction."""
    return _row(
        tool_version,
        max_output,
        price,
        modes,
        efforts=efforts,
        default_effort=default_effort,
        off_type=off_type,
        compaction=True,
    )


_V4 = "computer_use_20250429"
_V5 = "computer_use_20251124"
_OPUS = Price.of(5, 25)  # Opus 4.5 - 5: $5 / $25, cache writes $6.25, hits $0.50
_SONNET_5 = Price.of(2, 10, cache_write=2.50, cache_read=0.20)
_FABLE_5 = Price.of(10, 50, cache_read=1.0)
_FABLE_51 = Price.of(10, 50, cache_read=0.25)
#: $0.10 / $0.50 up to 100K prompt tokens, 5x above.
_HAIKU_55 = Price.of(
    0.10,
    0.50,
    cache_write=0.125,
    cache_read=0.01,
    long_above=100_000,
    long=Price.of(0.50, 2.50, cache_write=0.625, cache_read=0.05),
)
_ON, _ON_OR_OFF, _OFF_FIRST = ("adaptive",), ("adaptive", "off"), ("off", "adaptive")

#: (ids, row). The first id of each row is the Anthropic API spelling. "Thinking on" models
#: (adaptive first) think when a request says nothing; Fable, Mythos and Opus 5.5 always do.
#: Fable / Mythos 5.2 and Mythos Preview: no price on Anthropic's pages that we could check.
_ROWS: tuple[tuple[tuple[str, ...], ModelInfo], ...] = (
    (("claude-opus-5-5",), _adaptive(TOOLSET_VERSION, Price.of(4, 20, cache_write=5, cache_read=0.20), _ON, "medium")),
    (("claude-sonnet-5-5",), _adaptive(TOOLSET_VERSION, _SONNET_5, _ON_OR_OFF, "high", off_type="between_tools")),
    (("claude-haiku-5-5",), _adaptive(TOOLSET_VERSION, _HAIKU_55, _ON_OR_OFF, "medium")),
    (("claude-fable-5-2",), _adaptive(TOOLSET_VERSION, None, _ON, "high")),
    (("claude-mythos-5-2",), _adaptive(TOOLSET_VERSION, None, _ON, "high")),
    (("claude-fable-5-1",), _adaptive(_V5, _FABLE_51, _ON, "high")),
    (("claude-mythos-5-1",), _adaptive(_V5, _FABLE_51, _ON, "high")),
    (("claude-fable-5",), _adaptive(_V5, _FABLE_5, _ON, "high")),
    (("claude-mythos-5",), _adaptive(_V5, _FABLE_5, _ON, "high")),
    (("claude-opus-5",), _adaptive(_V5, _OPUS, _ON_OR_OFF, "high")),
    (("claude-sonnet-5",), _adaptive(_V5, _SONNET_5, _ON_OR_OFF, "high")),
    (("claude-opus-4-8",), _adaptive(_V5, _OPUS, _OFF_FIRST, "high")),
    (("claude-opus-4-7",), _adaptive(_V5, _OPUS, _OFF_FIRST, "high")),
    (("claude-mythos-preview",), _adaptive(_V5, None, ("adaptive", "extended"), "high", efforts=_EFFORTS_46)),
    (("claude-opus-4-6",), _adaptive(_V5, _OPUS, (*_OFF_FIRST, "extended"), "high", efforts=_EFFORTS_46)),
    (("claude-sonnet-4-6",), _adaptive(_V5, Price.of(3, 15), (*_OFF_FIRST, "extended"), "high", efforts=_EFFORTS_46, max_output=64_000)),
    # Claude 4.5 and older: extended thinking (3.7 and later), no adaptive.
    (("claude-opus-4-5-20251101", "claude-opus-4-5"), _row(_V5, 64_000, _OPUS)),
    (("claude-haiku-4-5-20251001", "claude-haiku-4-5"), _row(_V4, 64_000, Price.of(1, 5))),
    (("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"), _row(_V4, 64_000, Price.of(3, 15))),
    (("claude-sonnet-4-20250514", "claude-sonnet-4-0", "claude-sonnet-4@20250514"), _row(_V4, 64_000, Price.of(3, 15))),
    (("claude-opus-4-1-20250805", "claude-opus-4-1"), _row(_V4, 32_000, Price.of(15, 75))),
    (("claude-opus-4-20250514", "claude-opus-4-0", "claude-opus-4@20250514"), _row(_V4, 32_000, Price.of(15, 75))),
    (("claude-3-7-sonnet-20250219", "claude-3-7-sonnet-latest"), _row("computer_use_20250124", 64_000, Price.of(3, 15), context_management=False)),
    (("claude-3-5-sonnet-20241022", "claude-3-5-sonnet-latest", "claude-3-5-sonnet-v2@20241022"), _row("computer_use_20241022", 8_192, Price.of(3, 15), ("off",), default_output=4_096, context_management=False)),
    (("claude-3-5-haiku-20241022", "claude-3-5-haiku-latest"), _row("computer_use_20241022", 8_192, Price.of(0.8, 4), ("off",), default_output=4_096, context_management=False)),
)  # fmt: skip

#: Model id (Anthropic API spelling, aliases and irregular Vertex ids) -> what we know.
MODELS: dict[str, ModelInfo] = {model: info for ids, info in _ROWS for model in ids}

#: For a model we know nothing about: the broadly supported tool group, modest limits.
DEFAULT_MODEL_INFO = ModelInfo(
    tool_version="computer_use_20250124",
    max_output_tokens=8_192,
    default_output_tokens=4_096,
    source="fallback",
)

#: The model each provider starts with (the reference's default, on each platform).
DEFAULT_MODELS: dict[str, str] = {
    "anthropic": "claude-opus-4-8",
    "bedrock": "global.anthropic.claude-opus-4-8",
    "vertex": "claude-opus-4-8",
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


def known_model(model: str) -> ModelInfo | None:
    """The table's row for ``model`` in any provider's spelling, or None."""
    return MODELS.get(model) or MODELS.get(canonical_model(model))


def model_info(model: str) -> ModelInfo:
    """What we know about ``model``, or ``DEFAULT_MODEL_INFO``."""
    return known_model(model) or DEFAULT_MODEL_INFO
