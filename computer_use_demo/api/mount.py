"""The door with the task API (/api) and the MCP server (/mcp) mounted in it."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

from ..agent import shutdown
from ..app import runner
from ..door import server as door
from ..mcp_server.server import create_server, http_app
from .app import create_app


def door_apps(config: door.DoorConfig) -> tuple[door.Mounts, door.Lifespan]:
    """What the door serves in its own process, and what runs while it does."""
    mcp = create_server()
    mcp_app = http_app(mcp)

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            try:
                yield
            finally:  # the door stops: so do the runs it started (their histories stay valid)
                shutdown.begin()
                await asyncio.to_thread(runner.stop_all, 15)

    return {"/api": create_app(), "/mcp": mcp_app}, lifespan


def main(argv: list[str] | None = None) -> None:
    os.umask(0o077)  # the sessions its runs save are this user's alone, as the chat's
    door.main(argv, apps=door_apps)
