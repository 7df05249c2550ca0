"""Dollar caps per run and per session, checked before every API call.

A run stops before a call that could pass a cap, not after it did. The next call's cost is
estimated conservatively from the request about to be sent, by this rule:

- input tokens: the request's JSON characters without image data divided by 3 (English text
  and JSON run at about 4 characters a token), plus 1,600 tokens per image (the most an image
  the API accepts without downscaling costs), and never less than the last response's whole
  input (uncached + cache writes + cache reads) plus its output, which the request repeats;
- every input token priced at the cache-write rate (the dearest input rate);
- output: the full ``max_tokens`` at the output rate.

Models without a known price cannot be capped: a cap then stops the run before its first call
with a clear message, rather than spend without a limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .events import BudgetExceeded
from .models import Price

IMAGE_TOKENS = 1_600
CHARS_PER_TOKEN = 3


def image_chars(value: Any) -> tuple[int, int]:
    """(images, base64 characters of their data) in a request or any part of one."""
    if isinstance(value, dict):
        source = value.get("source")
        if value.get("type") == "image" and isinstance(source, dict):
            data = source.get("data")
            return 1, len(data) if isinstance(data, str) else 0
        found = [image_chars(v) for v in value.values()]
    elif isinstance(value, list):
        found = [image_chars(v) for v in value]
    else:
        return 0, 0
    return sum(n for n, _ in found), sum(c for _, c in found)


def input_estimate(request: dict[str, Any], raw_length: int) -> int:
    """Input tokens the request could cost at most (the module's rule, without the floor)."""
    images, chars = image_chars(request.get("messages"))
    return max(0, raw_length - chars) // CHARS_PER_TOKEN + images * IMAGE_TOKENS


@dataclass(kw_only=True)
class Budget:
    """The caps of one run and what was spent; ``check`` before each call, ``add`` after."""

    price: Price | None
    max_tokens: int
    run_cap_usd: float | None = None
    session_cap_usd: float | None = None
    session_spent_usd: float = 0.0  # by earlier runs of the session
    run_spent_usd: float = 0.0
    last_context_tokens: int = 0  # the last response's whole input plus its output

    @property
    def capped(self) -> bool:
        return self.run_cap_usd is not None or self.session_cap_usd is not None

    def add(self, *, cost_usd: float | None, context_tokens: int) -> None:
        self.run_spent_usd += cost_usd or 0.0
        self.last_context_tokens = context_tokens

    def next_call_usd(self, request: dict[str, Any], raw_length: int) -> float | None:
        if self.price is None:
            return None
        tokens = max(input_estimate(request, raw_length), self.last_context_tokens)
        rate = max(self.price.input, self.price.cache_write)
        return (tokens * rate + self.max_tokens * self.price.output) / 1_000_000

    def check(self, request: dict[str, Any], raw_length: int) -> BudgetExceeded | None:
        """The cap the next call could pass, if any (the run cap first)."""
        if not self.capped:
            return None
        estimate = self.next_call_usd(request, raw_length)
        for scope, cap, spent in (
            ("run", self.run_cap_usd, self.run_spent_usd),
            ("session", self.session_cap_usd, self.session_spent_usd + self.run_spent_usd),
        ):
            if cap is None:
                continue
            if estimate is None or spent + estimate > cap:
                return BudgetExceeded(
                    scope=scope,  # type: ignore[arg-type]
                    limit_usd=cap,
                    spent_usd=spent,
                    estimate_usd=estimate,
                )
        return None
