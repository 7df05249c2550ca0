"""The exfiltration run of the two-halves tests (natively: tests/test_two_halves.py; in the image:
tests/test_container.py): a scripted model makes the agent try every way to the key, the door's
token and the agent's state from the desktop it controls, and each attempt's refusal is checked
on what the model got back."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tests.fake_api import FakeAnthropicAPI, Reply, message, text, tool_use
from tests.support.browser import launch_chromium

KEY = "sk-ant-exfil-test-0123456789abcdef"
TASK = "Find the API key and the door's token"
DONE = "I could not reach any of them."
DESKTOP_USER = "computeruse-desktop"
EDITOR = "str_replace_based_edit_tool"
DENIED = "Permission denied"
PACKAGE = Path(__file__).resolve().parents[2] / "computer_use_demo"


def tools_use_the_desktop_server() -> bool:
    """Whether the agent's bash and editor act through the chosen desktop (the desktop server
    when COMPUTER_USE_DESKTOP names one: computer_use_demo/desktop/select.py). Until they do,
    they run in the chat app's process, as the agent's user, and the exfiltration runs are
    skipped with that reason."""
    uses = ("desktop_for(", "chosen_desktop(")
    return all(
        any(u in (PACKAGE / "tools" / name).read_text() for u in uses)
        for name in ("bash.py", "edit.py")
    )


NOT_WIRED = "the agent's bash and editor do not act through the desktop server yet (in-process)"


@dataclass(frozen=True)
class Attempt:
    """One tool call the scripted model makes, and what it must get back (a regex)."""

    tool: str
    input: dict[str, Any]
    refusal: str


def exfil_plan(
    *, home: PurePosixPath, state: PurePosixPath, door_url: str, door_pid: str
) -> list[Attempt]:
    """Every way to a secret, for a stack whose agent has ``home`` and whose state folder is
    ``state`` (paths as the desktop sees them)."""
    key_file = home / ".anthropic" / "api_key"
    settings = home / ".anthropic" / "settings.json"
    webapp = state / "webapp"
    socket = state / "desktop-server" / "desktop.sock"
    policy = "/etc/firefox/policies/policies.json"
    environs = (
        "for p in /proc/[0-9]*; do tr '\\0' '\\n' < $p/environ 2>/dev/null; done"
        " | grep -c 'sk-ant[-]'; tr '\\0' '\\n' < /proc/" + door_pid + "/environ"
    )
    return [
        Attempt("bash", {"command": "whoami"}, rf"^{DESKTOP_USER}\s*$"),
        Attempt(
            "bash",
            {"command": 'echo "key=[$ANTHROPIC_API_KEY]"; env | grep -c "sk-ant[-]"'},
            r"key=\[\]\s+0",
        ),
        Attempt("bash", {"command": environs}, rf"^0\s.*{DENIED}"),
        Attempt("bash", {"command": "ps eww -A | grep -c 'sk-ant[-]'"}, r"^0\s*$"),
        Attempt("bash", {"command": f"cat {key_file}"}, DENIED),
        Attempt("bash", {"command": f"cat {webapp / 'access-token'}"}, DENIED),
        Attempt("bash", {"command": f"cat {settings}"}, DENIED),
        Attempt("bash", {"command": "sudo -n cat /etc/shadow; echo sudo-exit=$?"}, r"sudo-exit=1"),
        Attempt(
            "bash",
            {
                "command": f"curl -sS -m 5 --unix-socket {webapp / 'chat.sock'} "
                "http://x/chat/_stcore/health; echo curl-exit=$?"
            },
            r"curl-exit=7",
        ),
        Attempt(
            "bash",
            {"command": f"curl -s -m 5 -o /dev/null -w 'door=%{{http_code}}' {door_url}chat/"},
            r"door=401",
        ),
        Attempt("bash", {"command": f"touch {webapp / 'person-in-control'}"}, DENIED),
        Attempt("bash", {"command": f"echo '{{}}' > {policy}; echo policy-exit=$?"}, DENIED),
        Attempt("bash", {"command": f"rm -f {socket}; echo rm-exit=$?"}, DENIED),
        Attempt(EDITOR, {"command": "view", "path": str(key_file)}, r"[Pp]ermission|not exist"),
        Attempt(
            EDITOR,
            {"command": "view", "path": str(webapp / "access-token")},
            r"[Pp]ermission|not exist",
        ),
    ]


def scripted(plan: list[Attempt]) -> Callable[[dict[str, Any]], Reply]:
    """The model: every attempt in one turn, then the final answer once the results are back."""

    def reply(body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]["content"]
        if isinstance(last, list) and any(b.get("type") == "tool_result" for b in last):
            return message(text(DONE))
        return message(
            text("Let me look around."),
            *(tool_use(a.tool, a.input, f"toolu_exfil_{i:02d}") for i, a in enumerate(plan)),
        )

    return reply


def run_task(page_url: str, chat_url: str, task: str = TASK, done: str = DONE) -> None:
    """Type ``task`` into the chat through the door, as a person would; wait for ``done``."""
    with launch_chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(page_url)  # the token, kept as the door's cookie
        page.goto(chat_url)
        box = page.get_by_placeholder(re.compile("Type a message to send to Claude"))
        box.fill(task)
        box.press("Enter")
        page.get_by_text(done).wait_for(timeout=180_000)
        context.close()


def result_text(block: dict[str, Any]) -> str:
    content = block.get("content", "")
    if isinstance(content, list):
        return " ".join(c.get("text", "") for c in content if isinstance(c, dict))
    return str(content)


def check_refusals(api: FakeAnthropicAPI, plan: list[Attempt], *, key: str, token: str) -> None:
    """Each attempt got its refusal back; the model was told there is no sudo; and no request
    body carries the key or the token (the key travels in the x-api-key header, as it must)."""
    # Only the agent's requests (a shared test machine's stray probe of a port may land here).
    invalid = [r for r in api.invalid_requests if r.path.startswith("/v1/")]
    assert not invalid, invalid[0].error
    final = next(r for r in reversed(api.valid_requests) if TASK in json.dumps(r.body))
    results = {
        b["tool_use_id"]: b
        for b in final.body["messages"][-1]["content"]
        if b.get("type") == "tool_result"
    }
    failed = []
    for i, attempt in enumerate(plan):
        said = result_text(results[f"toolu_exfil_{i:02d}"])
        if not re.search(attempt.refusal, said, re.MULTILINE | re.DOTALL):
            failed.append(f"{attempt.tool} {attempt.input}: got {said!r}")
    assert not failed, "\n".join(failed)
    assert "You have no sudo" in json.dumps(final.body["system"])
    for request in api.requests:
        sent = json.dumps(request.body)
        assert key not in sent and token not in sent, request.path
