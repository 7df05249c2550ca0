"""The agent half's brain: the loop and what it needs (events, history transforms, requests,
streaming, stop reasons, models, thinking, context management, budgets, pause, providers,
prompts, redaction). It may import the tools and the desktop, never sessions, app or door."""
