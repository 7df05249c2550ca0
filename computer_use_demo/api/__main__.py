"""``python -m computer_use_demo.api``: the door, with the task API at /api and the MCP server
at /mcp in its process (image/start_webapp.sh starts it so)."""

from .mount import main

main()
