"""Secrets: recognised by whole words of a name (credentials hidden, token COUNTS shown), kept
out of the environment of every process the agent's tools start, and replaced by value wherever
text is shown or saved."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from computer_use_demo.agent.events import (
    REDACTED,
    AssistantBlock,
    Done,
    StepStarted,
    ToolResultEvent,
    ToolStarted,
    UserMessage,
    redact_event,
    redact_headers,
    to_json,
)
from computer_use_demo.agent.redaction import (
    is_secret_env,
    known_secrets,
    redact_json,
    remember_secret,
    stream_safe,
)
from computer_use_demo.app.render import display_body, progress_text, redact_url
from computer_use_demo.sessions.replay import render_html
from computer_use_demo.sessions.trajectory import Trajectory
from computer_use_demo.tools.base import CLIResult
from computer_use_demo.tools.bash import BashTool
from computer_use_demo.tools.run import run
from tests.support.ui import IMAGE


@pytest.mark.parametrize(
    "name",
    [
        "x-api-key",
        "Authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "X-Amz-Security-Token",
        "x-goog-api-key",
        "x-password",
    ],
)
def test_secret_headers_are_hidden(name: str) -> None:
    assert redact_headers({name: "s3cr3t-value"}) == {name.lower(): REDACTED}


@pytest.mark.parametrize(
    "name",
    [
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-input-tokens-limit",
        "content-type",
        "anthropic-beta",
        "request-id",
    ],
)
def test_ordinary_headers_stay_readable(name: str) -> None:
    assert redact_headers({name: "1000"}) == {name: "1000"}


def test_body_keeps_token_counts_and_hides_credentials() -> None:
    body = {
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "usage": {"input_tokens": 12, "output_tokens": 34, "cache_read_input_tokens": 5},
        "messages": [
            {"role": "user", "content": [{"type": "tool_use", "input": {"key": "shift"}}]}
        ],
        "api_key": "sk-ant-xyz",
        "access_token": "ya29.abc",
        "sessionToken": "FwoG...",
        "aws_secret_access_key": "wJalr...",
    }
    shown = display_body(body)
    assert shown["max_tokens"] == 4096
    assert shown["thinking"]["budget_tokens"] == 2048
    assert shown["usage"] == body["usage"]
    assert shown["messages"][0]["content"][0]["input"] == {"key": "shift"}
    for secret in ("api_key", "access_token", "sessionToken", "aws_secret_access_key"):
        assert shown[secret] == REDACTED, secret


def test_url_parameters() -> None:
    url = redact_url("https://x.example/v1?key=AIzaSecret&X-Amz-Security-Token=abc&max_tokens=5")
    assert "AIzaSecret" not in url and "abc" not in url
    assert "max_tokens=5" in url


# --- secrets by environment name: what the agent's processes never inherit -----------------

ENV_SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-env-secret-0000000001",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-env-secret-0002",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEenv-secret-0003",
    "ANTHROPIC_VERTEX_ACCESS_TOKEN": "ya29.env-secret-0004",
    "GITHUB_TOKEN": "ghp_env-secret-0005",
    "OPENAI_API_KEY": "sk-env-secret-0006",
    "MY_SECRET_THING": "env-secret-0007-value",
}
NAMES = [
    *ENV_SECRETS,
    "ACCESS_TOKEN",
    "VNC_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "db_password",
    "PATH",
    "HOME",
    "DISPLAY",
    "XAUTHORITY",
    "MAX_TOKENS",
    "TOKENIZERS_PARALLELISM",
    "KEYBOARD",
    "AWS_REGION",
    "SECRETARY",
]


def test_the_shell_rule_for_secret_names_agrees_with_python(tmp_path: Path) -> None:
    """image/lib.sh keeps secrets from the desktop's processes with the same rule."""
    script = (
        f"source {IMAGE / 'lib.sh'} && for n in {' '.join(NAMES)}; do "
        'if is_secret_env "$n"; then echo "$n yes"; else echo "$n no"; fi; done'
    )
    env = {**os.environ, "STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shell = dict(line.split() for line in done.stdout.splitlines())
    python = {n: "yes" if is_secret_env(n) else "no" for n in NAMES}
    assert shell == python
    assert python["MAX_TOKENS"] == "no" and python["PATH"] == "no" and python["XAUTHORITY"] == "no"
    assert python["GITHUB_TOKEN"] == "yes" and python["ACCESS_TOKEN"] == "yes"


async def test_env_in_the_agents_bash_shows_no_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in ENV_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("XAUTHORITY", str(tmp_path / "Xauthority"))
    tool = BashTool()
    try:
        result = await tool(command="env; echo ---; cat /proc/$$/environ | tr '\\0' '\\n'")
    finally:
        await tool.stop()
    out = result.output or ""
    assert "PATH=" in out and f"XAUTHORITY={tmp_path / 'Xauthority'}" in out  # the rest stays
    for name, value in ENV_SECRETS.items():
        assert value not in out, name
        assert f"{name}=" not in out, name


async def test_every_process_the_tools_start_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ENV_SECRETS["ANTHROPIC_API_KEY"])
    code, out, _ = await run(["env"])
    assert code == 0 and "ANTHROPIC_API_KEY" not in out and "PATH=" in out
    # Even an environment handed over explicitly loses its secrets.
    code, out, _ = await run(["env"], env={"PATH": os.environ["PATH"], "AWS_SESSION_TOKEN": "x"})
    assert code == 0 and out.strip() == f"PATH={os.environ['PATH']}"


# --- secrets by value: wherever text is shown or saved --------------------------------------

KEY = "sk-ant-typed-in-the-sidebar-0123"


def leaky_events() -> list:
    return [
        UserMessage(text=f"my key is {KEY}, use it"),
        AssistantBlock(block={"type": "text", "text": f"I will export {KEY}"}),
        ToolStarted(tool_use_id="t1", name="bash", input={"command": f"echo {KEY}"}),
        ToolResultEvent(
            tool_use_id="t1",
            name="bash",
            result=CLIResult(output=f"{KEY}\n{ENV_SECRETS['AWS_SECRET_ACCESS_KEY']}"),
        ),
        Done(reason="end_turn", steps=1, messages=[{"role": "user", "content": KEY}]),
    ]


def test_redact_event_replaces_known_values_and_keeps_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRETS["AWS_SECRET_ACCESS_KEY"])
    remember_secret(KEY)
    assert KEY in known_secrets() and ENV_SECRETS["AWS_SECRET_ACCESS_KEY"] in known_secrets()
    for event in leaky_events():
        redacted = redact_event(event)
        text = json.dumps(to_json(redacted))
        assert KEY not in text and ENV_SECRETS["AWS_SECRET_ACCESS_KEY"] not in text
        assert REDACTED in text and type(redacted) is type(event)
    plain = UserMessage(text="nothing secret here")
    assert redact_event(plain) is plain
    # Screenshots are not scanned (nor changed).
    shot = {"type": "base64", "media_type": "image/png", "data": KEY}
    assert redact_json({"source": shot})["source"] is shot


def test_saved_sessions_and_the_replay_hold_no_secret(tmp_path: Path) -> None:
    remember_secret(KEY)
    trajectory = Trajectory.create(tmp_path / "sessions", title="leaky")
    for event in leaky_events():
        trajectory.append(event)
    saved = "".join(p.read_text() for p in trajectory.path.rglob("*") if p.is_file())
    assert KEY not in saved and REDACTED in saved
    page = render_html(leaky_events(), title=f"about {KEY}")
    assert KEY not in page and "my key is [REDACTED], use it" in page


def test_the_progress_line_shows_no_secret() -> None:
    remember_secret(KEY)
    events = [
        StepStarted(step=2),
        ToolStarted(
            tool_use_id="t2", name="bash", input={"command": f"curl -H 'x-api-key: {KEY}'"}
        ),
    ]
    line = progress_text(events)
    assert line.startswith("Step 2 · bash curl") and KEY not in line and REDACTED in line


def test_a_secret_split_across_streamed_pieces_never_shows_in_part() -> None:
    text = f"Here it is: {KEY} (keep it safe)"
    shown = ""
    for end in range(1, len(text) + 1):  # one character a piece, the worst case
        visible = stream_safe(text[:end], [KEY])
        assert visible.startswith(shown), "what was shown never changes"
        assert KEY[:3] not in visible.replace(REDACTED, ""), visible
        shown = visible
    assert shown == f"Here it is: {REDACTED} (keep it safe)"
    assert stream_safe("ends with s", [KEY]) == "ends with "  # could be the key's start
    assert stream_safe("ends with x", [KEY]) == "ends with x"
