"""Tool versions: which tools and which beta flag each API tool version uses. Data only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from .base import BaseAnthropicTool
from .bash import BashTool20241022, BashTool20250124
from .computer import ComputerTool20241022, ComputerTool20250124, ComputerTool20251124
from .computer_toolset import ComputerToolset20260801
from .edit import EditTool20241022, EditTool20250124, EditTool20250429, EditTool20250728

ToolVersion = Literal[
    "computer_use_20241022",
    "computer_use_20250124",
    "computer_use_20250429",
    "computer_use_20251124",
    "computer_toolset_20260801",
]
BetaFlag = Literal[
    "computer-use-2024-10-22",
    "computer-use-2025-01-24",
    "computer-use-2025-11-24",
]


@dataclass(frozen=True, kw_only=True)
class ToolGroup:
    """One tool version: its tool classes (a list, as in the reference) and its beta flag."""

    version: ToolVersion
    #: Tool classes (a list, as in the reference); a toolset (one tools[] entry for a family
    #: of member tools) among them.
    tools: list[type[BaseAnthropicTool] | type[ComputerToolset20260801]]
    beta_flag: BetaFlag | None = None


#: Every tool version (a list, as in the reference: forks append their own groups).
TOOL_GROUPS: list[ToolGroup] = [
    ToolGroup(
        version="computer_use_20241022",
        tools=[ComputerTool20241022, EditTool20241022, BashTool20241022],
        beta_flag="computer-use-2024-10-22",
    ),
    ToolGroup(
        version="computer_use_20250124",
        tools=[ComputerTool20250124, EditTool20250124, BashTool20250124],
        beta_flag="computer-use-2025-01-24",
    ),
    ToolGroup(
        version="computer_use_20250429",
        tools=[ComputerTool20250124, EditTool20250429, BashTool20250124],
        beta_flag="computer-use-2025-01-24",
    ),
    ToolGroup(
        version="computer_use_20251124",
        tools=[ComputerTool20251124, EditTool20250728, BashTool20250124],
        beta_flag="computer-use-2025-11-24",
    ),
    ToolGroup(
        # The computer toolset is generally available: no beta flag.
        version="computer_toolset_20260801",
        tools=[ComputerToolset20260801, EditTool20250728, BashTool20250124],
    ),
]

TOOL_GROUPS_BY_VERSION: dict[ToolVersion, ToolGroup] = {g.version: g for g in TOOL_GROUPS}
TOOL_VERSIONS: tuple[ToolVersion, ...] = get_args(ToolVersion)
assert set(TOOL_VERSIONS) == set(TOOL_GROUPS_BY_VERSION), "every ToolVersion needs a group"
