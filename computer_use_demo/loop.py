"""The reference's import path for the agent loop; the loop itself lives in agent/loop.py."""

from .agent.loop import (
    PROMPT_CACHING_BETA_FLAG,
    SYSTEM_PROMPT,
    TOKEN_EFFICIENT_TOOLS_BETA_FLAG,
    APIProvider,
    LoopConfig,
    ThinkingEffort,
    ThinkingMode,
    agent_events,
    build_tools,
    sampling_loop,
)

__all__ = [
    "PROMPT_CACHING_BETA_FLAG",
    "SYSTEM_PROMPT",
    "TOKEN_EFFICIENT_TOOLS_BETA_FLAG",
    "APIProvider",
    "LoopConfig",
    "ThinkingEffort",
    "ThinkingMode",
    "agent_events",
    "build_tools",
    "sampling_loop",
]
