"""The task API (FastAPI, under ``/api/`` on the door): sessions, runs, live events, approvals,
take-over, replays, for scripts and other programs. ``python -m computer_use_demo.api`` runs
the door with the task API and the MCP server mounted in it. It sits above the app and the
door: it may import both (the chat's runner and settings, the door it mounts itself in) and
every layer below them, never the entry files."""
