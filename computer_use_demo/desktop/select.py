"""Which desktop the tools act on, chosen once at the edge (the app, the CLI, the image):

- ``COMPUTER_USE_DESKTOP`` unset or empty: in-process (``LocalDesktop``), on the tool's own
  display (``DISPLAY_NUM``/``DISPLAY``), as library use, forks and the reference's tests expect;
- ``COMPUTER_USE_DESKTOP=unix:///path/to/socket``: the desktop server on that socket;
- ``COMPUTER_USE_DESKTOP=http(s)://host:port``: the desktop server on TCP, with its token in
  ``COMPUTER_USE_DESKTOP_TOKEN`` or in the file ``COMPUTER_USE_DESKTOP_TOKEN_FILE``.

The environment is read on first use and remembered for the process (``use_desktop`` sets or
resets it explicitly: the edges and the tests).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from .backend import Desktop
from .client import RemoteDesktop, token_from_env
from .local import LocalDesktop

DESKTOP_ENV = "COMPUTER_USE_DESKTOP"

_lock = threading.Lock()
_UNSET = object()
_chosen: object = _UNSET


def desktop_from_env(env: Mapping[str, str] | None = None) -> RemoteDesktop | None:
    """The desktop server ``env`` names, or None for in-process (DesktopError if it names one
    wrongly, or a TCP server without its token)."""
    env = os.environ if env is None else env
    url = (env.get(DESKTOP_ENV) or "").strip()
    if not url:
        return None
    return RemoteDesktop(url, token=token_from_env(env))


def use_desktop(desktop: Desktop | object | None = _UNSET) -> None:
    """Set the process's desktop (None: in-process); with no argument, forget the choice so
    the environment is read again on next use."""
    global _chosen
    with _lock:
        _chosen = desktop


def chosen_desktop() -> Desktop | None:
    """The process's desktop server, or None for in-process (read once from the environment)."""
    global _chosen
    with _lock:
        if _chosen is _UNSET:
            _chosen = desktop_from_env()
        return _chosen  # type: ignore[return-value]


def desktop_for(display: str) -> Desktop:
    """The desktop a tool on ``display`` acts on: the chosen server, else ``display`` here."""
    return chosen_desktop() or LocalDesktop(display)
