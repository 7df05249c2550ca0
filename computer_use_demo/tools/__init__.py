"""The computer-use tools as the API knows them: their versions as data, schemas and validation,
the collection (batches, approvals) and the executors' API semantics (scaling, editor commands).
It may import the desktop, nothing above it. The reference's import paths start here."""

from .approval import Approval, Approver, auto_approve
from .base import (
    BaseAnthropicTool,
    CLIResult,
    FunctionTool,
    ToolError,
    ToolFailure,
    ToolResult,
    ToolSpec,
)
from .bash import BashTool, BashTool20241022, BashTool20250124
from .collection import ToolCollection
from .computer import ComputerTool, ComputerTool20241022, ComputerTool20250124, ComputerTool20251124
from .computer_toolset import ComputerToolset20260801
from .edit import EditTool, EditTool20241022, EditTool20250124, EditTool20250429, EditTool20250728
from .groups import TOOL_GROUPS, TOOL_GROUPS_BY_VERSION, TOOL_VERSIONS, ToolGroup, ToolVersion

__all__ = [
    "TOOL_GROUPS",
    "TOOL_GROUPS_BY_VERSION",
    "TOOL_VERSIONS",
    "Approval",
    "Approver",
    "BaseAnthropicTool",
    "BashTool",
    "BashTool20241022",
    "BashTool20250124",
    "CLIResult",
    "ComputerTool",
    "ComputerTool20241022",
    "ComputerTool20250124",
    "ComputerTool20251124",
    "ComputerToolset20260801",
    "EditTool",
    "EditTool20241022",
    "EditTool20250124",
    "EditTool20250429",
    "EditTool20250728",
    "FunctionTool",
    "ToolCollection",
    "ToolError",
    "ToolFailure",
    "ToolGroup",
    "ToolResult",
    "ToolSpec",
    "ToolVersion",
    "auto_approve",
]
