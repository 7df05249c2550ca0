"""Secrets: which names hold one, which values are one, and taking them out.

The one place for both rules, reused everywhere a secret could leak:

- by name: an HTTP header, a JSON key or URL parameter (``redact_headers``, ``is_secret_name``)
  and an environment variable (``is_secret_env``): the agent's shell and every process the
  tools start run with ``scrubbed_env``, so ``env`` in the agent's bash shows no provider key;
- by value: a known secret (the provider keys in our environment, the key typed in the
  sidebar) is replaced by ``[REDACTED]`` wherever it turns up in text that is shown or saved:
  the chat, the HTTP log, saved sessions, the HTML replay (``scrub``, ``redact_json``).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any

from ..desktop.processes import PATH_ENV_NAMES, is_secret_env
from ..desktop.processes import scrubbed_env as scrubbed_env

REDACTED = "[REDACTED]"
#: Shorter values are not replaced: they would blank out ordinary words.
MIN_SECRET_LENGTH = 8

#: A header is secret when one of the words of its name is one of these (x-api-key,
#: authorization, cookie, x-amz-security-token, x-goog-api-key, ...). Whole words, so that
#: anthropic-ratelimit-tokens-remaining stays readable.
SECRET_HEADER_WORDS = frozenset(
    {
        "key",
        "apikey",
        "auth",
        "authorization",
        "token",
        "secret",
        "password",
        "cookie",
        "credential",
        "credentials",
        "signature",
    }
)


def name_words(name: str) -> frozenset[str]:
    """The words of a header, key or parameter name, and each two neighbours run together:
    ``x-api-key`` gives x, api, key, xapi, apikey; ``sessionToken`` gives session, token, ..."""
    split = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
    words = re.findall(r"[a-z0-9]+", split)
    return frozenset(words) | {a + b for a, b in pairwise(words)}


def is_secret_name(name: str, secret_words: frozenset[str]) -> bool:
    """Whether a word of ``name`` is one of ``secret_words`` (not merely contains one:
    ``max_tokens`` is no token)."""
    return not secret_words.isdisjoint(name_words(name))


def is_secret_header(name: str) -> bool:
    return is_secret_name(name, SECRET_HEADER_WORDS)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as a dict with lower-case names, every credential replaced by ``[REDACTED]``.

    The one list of secret header names: the loop applies it before an ApiExchange exists, and
    whatever shows headers again (the UI's HTTP log) uses the same rule.
    """
    return {
        name.lower(): REDACTED if is_secret_header(name) else value
        for name, value in headers.items()
    }


_known: set[str] = set()
_known_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Count ``value`` (a key typed in the sidebar, say) as a secret from now on."""
    value = (value or "").strip()
    if len(value) >= MIN_SECRET_LENGTH:
        with _known_lock:
            _known.add(value)


def known_secrets(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Every secret value we know of: our environment's secret variables and the remembered
    ones, longest first (so a secret that contains another is replaced whole)."""
    env = os.environ if env is None else env
    values = {
        v.strip()
        for k, v in env.items()
        if is_secret_env(k) and k.upper() not in PATH_ENV_NAMES and v
    }
    with _known_lock:
        values |= _known
    return tuple(sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every occurrence of a known secret value replaced by ``[REDACTED]``."""
    for secret in known_secrets() if secrets is None else secrets:
        if secret and len(secret) >= MIN_SECRET_LENGTH and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def stream_safe(text: str, secrets: Iterable[str] | None = None) -> str:
    """What of a text still streaming in may be shown: ``scrub(text)`` less a trailing piece
    that could be the start of a secret (held back until the next piece tells; a secret split
    across pieces is never shown in part)."""
    found = [s for s in (known_secrets() if secrets is None else secrets) if s]
    text = scrub(text, found)
    held = 0
    for secret in found:
        for k in range(min(len(secret) - 1, len(text)), held, -1):
            if text.endswith(secret[:k]):
                held = k
                break
    return text[: len(text) - held]


def redact_json(value: Any, secrets: Iterable[str] | None = None) -> Any:
    """A JSON-like value with every secret value in its strings replaced.

    Returns ``value`` itself when nothing changed, so callers can tell cheaply. Inline base64
    image data is left alone (it holds no text, and scanning megabytes per render costs).
    """
    found = tuple(
        s for s in (known_secrets() if secrets is None else secrets) if len(s) >= MIN_SECRET_LENGTH
    )
    if not found:
        return value

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return scrub(v, found)
        if isinstance(v, dict):
            if v.get("type") == "base64" and isinstance(v.get("data"), str):
                return v
            out = {k: walk(x) for k, x in v.items()}
            return v if all(out[k] is v[k] for k in v) else out
        if isinstance(v, list | tuple):
            items = [walk(x) for x in v]
            return v if all(a is b for a, b in zip(items, v, strict=True)) else type(v)(items)
        return v

    return walk(value)
