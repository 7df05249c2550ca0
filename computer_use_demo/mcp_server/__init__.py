"""The desktop as an MCP server (the official ``mcp`` SDK; the name keeps clear of the SDK's
own ``mcp`` package): the desktop's actions and ``run_task``, over streamable HTTP on the door
and over stdio. It may import the task API, the app's runner and settings, and every layer
below them, never the entry files."""
