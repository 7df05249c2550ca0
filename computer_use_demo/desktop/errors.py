"""What can go wrong on the desktop, as exceptions whose text says why and what to do.

Every one is a ``DesktopError``, so the agent's tools can turn any of them into an error the
model reads (never a crash of the loop), whichever backend the desktop is reached through.
"""

from __future__ import annotations


class DesktopError(Exception):
    """An action on the desktop failed; ``message`` says why (and what to do)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DesktopUnreachable(DesktopError):
    """The desktop server did not answer (not running, restarting, or the network is down)."""


class ScreenError(DesktopError):
    """The screen cannot be read or a coordinate/region is not on it; the text says why."""


class ShellError(DesktopError):
    """A bash session cannot run the command (timed out, exited, stopped); the text says why
    and what to do. The session stays unusable until it is replaced."""
