"""When a failed Messages API attempt is tried again, and after how long.

The same rules as the anthropic SDK's own retries (``_base_client``): 408, 409, 429 and 5xx
(529 "overloaded" included) and failed connections are retried, unless the server says
``x-should-retry: false``; the wait is the server's ``retry-after-ms`` / ``retry-after``
(seconds or an HTTP date) when given, else an exponential backoff from 0.5 s up to 8 s with
up to 25 % jitter. The loop does them itself (the SDK's client gets ``max_retries=0``) for
two reasons the SDK cannot serve: the person sees which wait it is and how long is left (a
``RetryWait`` event before each wait), and no retry leaves once the app shuts down.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

INITIAL_DELAY = 0.5
MAX_DELAY = 8.0

#: What a retried status is called on the progress line.
REASONS = {
    408: "request timeout",
    409: "conflict",
    429: "rate limited",
    529: "overloaded",
}


def reason(status: int | None) -> str:
    """What a retryable failure is, in a few words (``status`` None: no response)."""
    if status is None:
        return "connection failed"
    return REASONS.get(status) or f"server error {status}"


def should_retry(status: int | None, headers: Mapping[str, str]) -> bool:
    """Whether an attempt that ended with ``status`` (None: no response) is tried again."""
    said = headers.get("x-should-retry")
    if said in ("true", "false"):
        return said == "true"
    return status is None or status in (408, 409, 429) or status >= 500


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The wait the server asks for, in seconds (None: it asks for none)."""
    try:
        return float(headers["retry-after-ms"]) / 1000
    except (KeyError, TypeError, ValueError):
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    date = email.utils.parsedate_tz(value)
    if date is None:
        return None
    return float(email.utils.mktime_tz(date) - time.time())


def delay(retries_taken: int, headers: Mapping[str, str]) -> float:
    """Seconds to wait before retry number ``retries_taken + 1``."""
    asked = retry_after(headers)
    if asked is not None and asked > 0:
        return min(asked, 4_294_967.0)
    backoff = min(INITIAL_DELAY * 2.0 ** min(retries_taken, 1000), MAX_DELAY)
    return backoff * (1 - 0.25 * random.random())
