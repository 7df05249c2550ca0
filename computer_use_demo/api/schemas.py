"""What the task API takes and answers, as typed models (FastAPI makes the OpenAPI schema of
them, and a request that does not fit is answered 422 with the field and what is wrong)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..agent.thinking import THINKING_EFFORTS, THINKING_MODES
from ..app.settings import PROVIDERS
from ..tools.approval_policy import MODES
from ..tools.groups import TOOL_VERSIONS

Provider = Literal[PROVIDERS]  # type: ignore[valid-type]
ToolVersionName = Literal[TOOL_VERSIONS]  # type: ignore[valid-type]
ThinkingModeName = Literal[THINKING_MODES]  # type: ignore[valid-type]
EffortName = Literal[("", *THINKING_EFFORTS)]  # type: ignore[valid-type]
ApprovalMode = Literal[MODES]  # type: ignore[valid-type]


class RunSettings(BaseModel):
    """The sidebar's settings for one run. Each one left out is the chat's saved choice (or
    its default); a new ``model`` brings that model's tool version, output tokens and
    thinking, as choosing it in the sidebar does, unless those are given too."""

    model_config = ConfigDict(extra="forbid")

    provider: Provider | None = None
    model: str | None = Field(None, min_length=1, max_length=200)
    tool_version: ToolVersionName | None = None
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    thinking_mode: ThinkingModeName | None = None
    thinking_effort: EffortName | None = Field(None, description='"": the model\'s default')
    thinking_budget: int | None = Field(None, ge=1024)
    only_n_most_recent_images: int | None = Field(None, ge=0, le=1000)
    system_prompt_suffix: str | None = Field(None, max_length=20_000)
    token_efficient_tools_beta: bool | None = None
    max_steps: int | None = Field(None, ge=1, le=10_000, description="default 200")
    max_run_cost_usd: float | None = Field(None, ge=0, description="0: no cap")
    max_session_cost_usd: float | None = Field(None, ge=0, description="0: no cap")
    approve_bash: ApprovalMode | None = None
    approve_typing: ApprovalMode | None = None
    approve_click: ApprovalMode | None = None
    context_editing: bool | None = None
    context_edit_trigger_tokens: int | None = Field(None, ge=1)
    compaction: bool | None = None
    compaction_trigger_tokens: int | None = Field(None, ge=1)


class NewSession(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field("", max_length=200, description="shown in the chat's session list")


class NewMessage(BaseModel):
    """A message for the agent: it starts a run in the session."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(..., min_length=1, max_length=200_000)
    settings: RunSettings = Field(default_factory=RunSettings)
    interrupt: bool = Field(
        False,
        description="stop this session's run first, if one works (else: 409)",
    )


class ApprovalAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # true or false, not "yes"

    approved: bool


class ControlRequest(BaseModel):
    """Take the desktop (the agent pauses at its next step) or hand it back."""

    model_config = ConfigDict(extra="forbid", strict=True)  # true or false, not "yes"

    person: bool


class Control(BaseModel):
    person: bool = Field(description="the person holds the desktop: agents pause")


class PendingApproval(BaseModel):
    id: str
    tool_name: str
    action: str
    action_class: str
    description: str
    input: dict[str, Any]
    image: str | None = Field(None, description="for a click: base64 PNG around the target")


class UsageSummary(BaseModel):
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    responses: int
    cost_usd: float | None = Field(description="None: a model without a known price")


class LastRun(BaseModel):
    reason: str
    steps: int
    detail: str = ""
    answer: str = Field("", description="Claude's last text of the run")


class SessionInfo(BaseModel):
    id: str
    title: str
    created: datetime
    updated: datetime
    steps: int
    running: bool
    running_in: str | None = Field(None, description='who runs it: "task API (pid 12)"...')


class SessionState(SessionInfo):
    paused: bool = Field(description="the person holds the desktop (take control)")
    pending_approval: PendingApproval | None = None
    usage: UsageSummary
    last_run: LastRun | None = None
    links: dict[str, str]


class Started(BaseModel):
    session: SessionState
    events: str = Field(description="follow the run here (Server-Sent Events)")


class Problem(BaseModel):
    detail: str | list[Any]
    holder: str | None = Field(None, description="409: who holds the desktop")
