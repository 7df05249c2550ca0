"""The bash tool: one persistent bash per tool instance (bash_20241022, bash_20250124).

The shell itself is the desktop's (``desktop/shell.py`` says how a command runs, and why):
in this process, or kept by the desktop server under a session id when ``COMPUTER_USE_DESKTOP``
names one. Here are the tool's semantics: its input, restart, the 16,000-character truncation
with the reference's note, and errors as ``ToolError``s the model reads. Stop (and a cancelled
call) ends the shell's whole process group either way.
"""

from __future__ import annotations

from typing import Any

from anthropic.types.beta import BetaToolBash20241022Param, BetaToolBash20250124Param

from ..desktop import shell
from ..desktop.backend import Desktop
from ..desktop.client import RemoteBashSession, RemoteDesktop
from ..desktop.errors import DesktopError
from ..desktop.local import LocalDesktop
from ..desktop.select import chosen_desktop
from ..desktop.shell import (
    DEFAULT_TIMEOUT,
    HEAD_BYTES,
    NON_INTERACTIVE_ENV,
    READ_CHUNK,
    RESTART_HINT,
    ShellOutput,
    shell_env,
)
from .base import BaseAnthropicTool, CLIResult, ToolError, ToolResult
from .run import maybe_truncate
from .specs import BASH_20241022, BASH_20250124

__all__ = [
    "DEFAULT_TIMEOUT",
    "HEAD_BYTES",
    "NON_INTERACTIVE_ENV",
    "READ_CHUNK",
    "RESTART_HINT",
    "BashSession",
    "BashTool",
    "BashTool20241022",
    "BashTool20250124",
    "shell_env",
]


def _result(out: ShellOutput) -> CLIResult:
    """What a command printed, as the model sees it (each stream truncated, with the note)."""
    return CLIResult(
        output=maybe_truncate(out.output), error=maybe_truncate(out.error), exit_code=out.exit_code
    )


class _ToolSession:
    """A desktop bash session that answers in the tool's terms: CLIResult, ToolError."""

    async def start(self) -> None:
        try:
            await super().start()  # type: ignore[misc]
        except DesktopError as exc:
            raise ToolError(exc.message) from None

    async def run(self, command: str) -> CLIResult:  # type: ignore[override]
        try:
            return _result(await super().run(command))  # type: ignore[misc]
        except DesktopError as exc:
            raise ToolError(exc.message) from None


class BashSession(_ToolSession, shell.BashSession):
    """A bash session in this process (``desktop.shell.BashSession``) in the tool's terms."""


class _RemoteSession(_ToolSession, RemoteBashSession):
    """A bash session kept by the desktop server, in the tool's terms."""


class BashTool(BaseAnthropicTool):
    """Runs commands in a persistent bash session (started on the first call)."""

    spec = BASH_20250124

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, desktop: Desktop | None = None) -> None:
        self.timeout = timeout
        #: Where the shell runs: None or a LocalDesktop here, else the desktop server.
        self.desktop = desktop if desktop is not None else chosen_desktop()
        self._session: BashSession | _RemoteSession | None = None

    @property
    def session(self) -> BashSession | _RemoteSession | None:
        """The current shell session, if one was started."""
        return self._session

    def _new_session(self) -> BashSession | _RemoteSession:
        desktop = self.desktop
        if desktop is None or isinstance(desktop, LocalDesktop):
            return BashSession(timeout=self.timeout)
        if isinstance(desktop, RemoteDesktop):
            return _RemoteSession(desktop, timeout=self.timeout)
        raise ToolError(f"the bash tool cannot run on {desktop!r}")

    async def __call__(
        self, command: str | None = None, restart: bool = False, **kwargs: Any
    ) -> ToolResult:
        """Run ``command`` (positional or keyword, as in the reference), or restart the shell."""
        if not isinstance(restart, bool):
            raise ToolError(f"`restart` must be a boolean, got {type(restart).__name__}.")
        if restart:
            await self.stop()
            self._session = self._new_session()
            await self._session.start()
            return ToolResult(system="tool has been restarted.")
        if command is None:
            raise ToolError("no command provided.")
        if not isinstance(command, str):
            raise ToolError(f"`command` must be a string, got {type(command).__name__}.")
        if self._session is None:
            self._session = self._new_session()
        return await self._session.run(command)

    async def stop(self) -> None:
        """Kill the shell's process group; the next call starts a fresh shell."""
        session, self._session = self._session, None
        if session is not None:
            await session.stop()

    def to_params(self) -> BetaToolBash20241022Param | BetaToolBash20250124Param:
        return {"type": self.api_type, "name": self.name}  # type: ignore[return-value]


class BashTool20250124(BashTool):
    spec = BASH_20250124


class BashTool20241022(BashTool20250124):
    """A subclass of BashTool20250124 as in the reference; its api_type stays bash_20241022."""

    spec = BASH_20241022
