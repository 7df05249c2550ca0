"""Saved sessions (one event per line, screenshots beside them), their summary text, and the
HTML replay. It may import the agent, the tools and the desktop, never the app or the door."""
