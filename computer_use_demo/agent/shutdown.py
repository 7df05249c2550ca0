"""The process is shutting down: from that moment no Messages API request leaves it.

A stop (the Stop button, Ctrl+C) ends one run; a shutdown (SIGTERM: ``docker stop``, the
supervisor stopping the app) ends them all, and must not pay for one more call on the way
out: when the desktop goes down with the app, a killed shell would otherwise be reported to
the model ("bash has exited with returncode -15") and answered by another request. So
``begin()`` sets a process-wide flag that the loop checks before every step and the API
client's middleware checks before every attempt (retries included), then tells the runs to
stop (``on_begin`` hooks). The run ends ``interrupted``, its open tool calls answered
``APP_STOPPED``, as a crash is told when the session is next opened.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

#: What the chat shows, and what a tool call that a crash or a shutdown cut short is
#: answered (sessions/trajectory.py writes it for a run the app's death cut off).
APP_STOPPED = "This run was interrupted: the app stopped."

_BEGUN = threading.Event()
_HOOKS: list[Callable[[], None]] = []
_LOCK = threading.Lock()


class ShuttingDown(Exception):
    """An API request refused because the process is shutting down (never retried)."""

    def __init__(self) -> None:
        super().__init__("the app is shutting down: no more API calls")


def begun() -> bool:
    """Whether the shutdown began (then no request may leave)."""
    return _BEGUN.is_set()


def begin() -> None:
    """Begin the shutdown: refuse every further request and ask every run to stop. Safe in
    a signal handler and from any thread; a second call does nothing."""
    with _LOCK:
        if _BEGUN.is_set():
            return
        _BEGUN.set()
        hooks = list(_HOOKS)
    log.info("shutting down: no more API calls; stopping the runs")
    for hook in hooks:
        try:
            hook()
        except Exception:
            log.exception("a shutdown hook failed")


def on_begin(hook: Callable[[], None]) -> None:
    """Call ``hook`` (quickly, without blocking) when the shutdown begins; at once if it has."""
    with _LOCK:
        if not _BEGUN.is_set():
            _HOOKS.append(hook)
            return
    hook()


def check() -> None:
    """Raise ShuttingDown once the shutdown began (before a request is sent)."""
    if _BEGUN.is_set():
        raise ShuttingDown
