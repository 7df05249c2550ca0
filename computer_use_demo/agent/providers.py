"""One small factory for the API client of a run: Anthropic, Bedrock, Vertex, or any
Anthropic-compatible endpoint through ``base_url`` / ``ANTHROPIC_BASE_URL``.

Retries (429, 408, 409, 5xx, 529 and connection errors) are the SDK's: exponential backoff
that honours ``retry-after`` / ``retry-after-ms``.

Vertex takes an OAuth access token from ``ANTHROPIC_VERTEX_ACCESS_TOKEN`` when set (a token
from ``gcloud auth print-access-token``, a proxy, tests); otherwise the SDK asks google-auth.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from anthropic import AsyncAnthropic, AsyncAnthropicBedrock, AsyncAnthropicVertex

# The SDK's HTTP client imports httpcore2 lazily, on a client's first use, through an import
# alias finder; a chat's first runs start in threads, and one such run failed with "No module
# named 'httpcore2'" in a CI run. Imported once here, in the importing thread.
with contextlib.suppress(ImportError):
    import httpcore2  # noqa: F401

DEFAULT_MAX_RETRIES = 4
VERTEX_ACCESS_TOKEN_ENV = "ANTHROPIC_VERTEX_ACCESS_TOKEN"

Client = AsyncAnthropic | AsyncAnthropicBedrock | AsyncAnthropicVertex


class APIProvider(StrEnum):
    ANTHROPIC = "anthropic"
    BEDROCK = "bedrock"
    VERTEX = "vertex"


class ProviderError(Exception):
    """The client cannot be built (missing key, region, …); the message says what to set."""


def make_client(
    provider: APIProvider | str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    middleware: Sequence[Any] = (),
) -> Client:
    """The async client for ``provider``; raises ProviderError with a fix when it cannot."""
    try:
        provider = APIProvider(provider)
    except ValueError:
        known = ", ".join(p.value for p in APIProvider)
        raise ProviderError(f"unknown provider {provider!r}; use one of: {known}") from None
    common: dict[str, Any] = {"max_retries": max_retries, "middleware": list(middleware)}
    try:
        match provider:
            case APIProvider.ANTHROPIC:
                key = api_key or os.environ.get("ANTHROPIC_API_KEY")
                if not key and not os.environ.get("ANTHROPIC_AUTH_TOKEN"):
                    raise ProviderError(
                        "no Anthropic API key: set ANTHROPIC_API_KEY or enter a key"
                    )
                url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
                return AsyncAnthropic(api_key=key, base_url=url, **common)
            case APIProvider.BEDROCK:
                return AsyncAnthropicBedrock(base_url=base_url, **common)
            case APIProvider.VERTEX:
                token = os.environ.get(VERTEX_ACCESS_TOKEN_ENV) or None
                return AsyncAnthropicVertex(base_url=base_url, access_token=token, **common)
    except ProviderError:
        raise
    except Exception as e:  # the SDKs raise ValueError / AnthropicError for missing settings
        hint = {
            APIProvider.BEDROCK: "set AWS credentials and AWS_REGION",
            APIProvider.VERTEX: "set CLOUD_ML_REGION and ANTHROPIC_VERTEX_PROJECT_ID, "
            "and Google credentials",
        }.get(provider, "")
        raise ProviderError(f"cannot set up the {provider.value} client: {e} {hint}".strip()) from e
    raise AssertionError(provider)  # pragma: no cover - every provider is matched above
