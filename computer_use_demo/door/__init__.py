"""The door on port 8080: the one way in from outside (token, Host and Origin checks), serving
the combined page, the chat and noVNC behind it. It may import every layer below it (sessions,
agent, tools, desktop), never the app."""
