"""What a model the table does not know can do, asked of the Models API
(``GET /v1/models/{id}``, ``client.beta.models.retrieve``).

Only models missing from the table are looked up: the table answers at once for the others.
One short call per model and endpoint, cached for the process (a failure for a minute), so a
run or a sidebar change asks once and never waits long; when the call fails the table's
fallback stands (``models.model_info``).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import anthropic
from anthropic.types.beta import BetaModelInfo

from . import models
from .models import ModelInfo
from .thinking import THINKING_EFFORTS, ThinkingMode

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT = 3.0  # seconds: a sidebar change must not hang on a slow endpoint
RETRY_FAILED_AFTER = 60.0
#: (base_url, model, hash of the key) -> (the answer or None, when it was asked)
_Key = tuple[str, str, int]
_cache: dict[_Key, tuple[ModelInfo | None, float]] = {}


def _key(base_url: object, model: str, api_key: str | None) -> _Key:
    """Per endpoint and key: a failure with a wrong key is not kept once the key is fixed."""
    return (str(base_url).rstrip("/"), model, hash(api_key))


def _supported(capability: Any) -> bool:
    return bool(getattr(capability, "supported", False))


def info_from_api(model: BetaModelInfo, base: ModelInfo | None = None) -> ModelInfo:
    """The Models API's answer as a ModelInfo. The API says nothing of tool versions or
    prices: those come from ``base`` (the table's row), else the newest tool version (a model
    the API knows and the table does not is newer than the table) and no price."""
    caps = model.capabilities
    if caps is None:
        raise ValueError(f"the Models API gave no capabilities for {model.id}")
    types = caps.thinking.types if _supported(caps.thinking) else None
    modes: list[ThinkingMode] = []
    if types is not None and _supported(types.adaptive):
        modes.append("adaptive")
    if types is not None and _supported(types.enabled):
        modes.append("extended")
    off_type = "disabled"
    if types is None or _supported(types.disabled):
        modes.append("off")
    elif _supported(types.between_tools):
        modes.append("off")
        off_type = "between_tools"
    if not modes:
        raise ValueError(f"the Models API lists no usable thinking setting for {model.id}")
    # The default first: the table's if it has the row; else adaptive where the model has it
    # (models newer than the table think by default, and "off" is then sent explicitly).
    if base is not None and base.default_thinking in modes:
        default: ThinkingMode = base.default_thinking
    else:
        default = "adaptive" if "adaptive" in modes else "off" if "off" in modes else modes[0]
    modes.insert(0, modes.pop(modes.index(default)))
    effort = caps.effort
    efforts = tuple(
        e for e in THINKING_EFFORTS if _supported(effort) and _supported(getattr(effort, e, None))
    )
    max_output = model.max_tokens or (base.max_output_tokens if base else 8_192)
    default_output = base.default_output_tokens if base else 16_384
    return ModelInfo(
        tool_version=base.tool_version if base else models.TOOLSET_VERSION,
        max_output_tokens=max_output,
        default_output_tokens=min(default_output, max_output),
        price=base.price if base else None,
        thinking_modes=tuple(modes),
        effort_levels=efforts if "adaptive" in modes else (),
        default_effort=(base.default_effort if base else None) if "adaptive" in modes else None,
        off_type=off_type,  # type: ignore[arg-type]
        context_management=_supported(caps.context_management),
        compaction=caps.compaction is not None and _supported(caps.compaction),
        source="models_api",
    )


def _cached(key: _Key) -> tuple[bool, ModelInfo | None]:
    hit = _cache.get(key)
    if hit is None:
        return False, None
    info, at = hit
    if info is None and time.monotonic() - at > RETRY_FAILED_AFTER:
        return False, None
    return True, info


def _store(key: _Key, answer: BetaModelInfo | Exception) -> ModelInfo | None:
    info: ModelInfo | None = None
    if isinstance(answer, Exception):
        log.info("Models API lookup of %s failed: %s", key[1], answer)
    else:
        try:
            info = info_from_api(answer, models.known_model(key[1]))
        except (ValueError, AttributeError) as e:
            log.info("Models API answer for %s unusable: %s", key[1], e)
    _cache[key] = (info, time.monotonic())
    return info


async def lookup(
    client: anthropic.AsyncAnthropic, model: str, *, timeout: float = LOOKUP_TIMEOUT
) -> ModelInfo | None:
    """The Models API's ModelInfo for ``model`` (None when unavailable), cached."""
    key = _key(client.base_url, model, client.api_key)
    found, info = _cached(key)
    if found:
        return info
    try:
        answer: BetaModelInfo | Exception = await client.with_options(
            max_retries=0
        ).beta.models.retrieve(model, timeout=timeout)
    except Exception as e:  # any failure: the table's fallback stands
        answer = e
    return _store(key, answer)


def lookup_sync(
    model: str, *, api_key: str, base_url: str | None = None, timeout: float = LOOKUP_TIMEOUT
) -> ModelInfo | None:
    """``lookup`` for the (synchronous) UI: its own short-lived client, only when the answer
    is not cached (the sidebar asks on every rerun)."""
    url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
    key = _key(url, model, api_key)
    found, info = _cached(key)
    if found:
        return info
    with anthropic.Anthropic(
        api_key=api_key, base_url=url, max_retries=0, timeout=timeout
    ) as client:
        try:
            answer: BetaModelInfo | Exception = client.beta.models.retrieve(model)
        except Exception as e:
            answer = e
        return _store(key, answer)


def resolve_sync(
    model: str, *, provider: str, api_key: str, base_url: str | None = None
) -> ModelInfo:
    """What the UI shows for ``model``: the table's row, else the Models API's answer
    (Anthropic API with a key only), else the unknown-model fallback."""
    known = models.known_model(model)
    if known is not None or provider != "anthropic" or not api_key.strip() or not model.strip():
        return known or models.DEFAULT_MODEL_INFO
    return lookup_sync(model, api_key=api_key, base_url=base_url) or models.DEFAULT_MODEL_INFO


def clear_cache() -> None:
    _cache.clear()
