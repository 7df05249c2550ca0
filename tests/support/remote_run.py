"""One agent run whose tools act through the desktop server, against the fake Messages API: the
agent half of the remote tests. Importable (``scripted_task`` and friends) and runnable as

    python -m tests.support.remote_run SCENARIO OUT.json

with COMPUTER_USE_DESKTOP (and its token) in the environment, so that it can run in another
network namespace than the desktop server: it starts the fake API on its own loopback, runs the
loop with the tools the config builds (so the desktop is chosen from the environment, as the app
and the CLI choose it), and writes what happened as JSON.

Scenarios:
- ``task``: screenshot, a click into the xterm at (60, 40), typing into it, bash, the editor;
- ``stop``: bash ``sleep 100`` stopped by the person once it runs: the result names the shell's
  process group, so the caller can check it ended within a second;
- ``kill``: bash kills the desktop server itself, then a screenshot: both results say so.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from typing import Any

from computer_use_demo.agent.events import Done, ToolStarted
from computer_use_demo.agent.loop import agent_events
from computer_use_demo.desktop.select import use_desktop
from tests.fake_api import FakeAnthropicAPI, message, text, tool_use
from tests.support.loop import config, user

#: Where the xterm of the task scenario sits (its -geometry), and what is typed into it.
CLICK = (60, 40)
TYPED = "typed-through-the-server"


def scripted_task(api: FakeAnthropicAPI, note_path: str, typed_path: str) -> None:
    api.push(
        message(tool_use("computer", {"action": "screenshot"}, id="toolu_shot")),
        message(
            tool_use(
                "computer", {"action": "left_click", "coordinate": list(CLICK)}, id="toolu_click"
            )
        ),
        message(tool_use("computer", {"action": "type", "text": TYPED + "\n"}, id="toolu_type")),
        message(
            tool_use(
                "bash",
                {"command": f'sleep 0.5; echo "on $DISPLAY"; cat {typed_path}; cd /tmp; pwd'},
                id="toolu_bash",
            )
        ),
        message(
            tool_use(
                "str_replace_based_edit_tool",
                {"command": "create", "path": note_path, "file_text": "one\ntwo\n"},
                id="toolu_create",
            )
        ),
        message(
            tool_use(
                "str_replace_based_edit_tool",
                {"command": "str_replace", "path": note_path, "old_str": "two", "new_str": "2"},
                id="toolu_edit",
            )
        ),
        message(
            tool_use(
                "str_replace_based_edit_tool",
                {"command": "view", "path": note_path},
                id="toolu_view",
            )
        ),
        message(text("Done through the desktop server.")),
    )


def scripted_stop(api: FakeAnthropicAPI) -> None:
    api.push(
        message(tool_use("bash", {"command": "echo $$"}, id="toolu_pid")),
        message(tool_use("bash", {"command": "sleep 100"}, id="toolu_sleep")),
        message(text("never sent")),
    )


def scripted_kill(api: FakeAnthropicAPI) -> None:
    api.push(
        message(tool_use("bash", {"command": "kill -9 $PPID; sleep 5"}, id="toolu_kill")),
        message(tool_use("computer", {"action": "screenshot"}, id="toolu_after")),
        message(text("The desktop is gone; I stop here.")),
    )


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs (zombies do not count)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def watch_group(pgid: int, since: float, found: dict[str, Any]) -> None:
    """Record in ``found["group_gone_after"]`` how long after ``since`` the group ended."""
    while time.monotonic() - since < 10:
        if not group_alive(pgid):
            found["group_gone_after"] = time.monotonic() - since
            return
        time.sleep(0.01)


def results_of(api: FakeAnthropicAPI) -> dict[str, dict[str, Any]]:
    """Every tool_result the fake API received, by tool_use id (last request's history)."""
    found: dict[str, dict[str, Any]] = {}
    for record in api.valid_requests:
        for msg in record.body["messages"]:
            if msg["role"] != "user" or isinstance(msg["content"], str):
                continue
            for block in msg["content"]:
                if block.get("type") == "tool_result":
                    found[block["tool_use_id"]] = block
    return found


def result_text(block: dict[str, Any]) -> str:
    content = block.get("content") or []
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content if b.get("type") == "text")


async def run(scenario: str, api: FakeAnthropicAPI, **paths: str) -> dict[str, Any]:
    """Run ``scenario`` against ``api``; what happened, as plain data."""
    use_desktop()  # read COMPUTER_USE_DESKTOP now, as an edge does
    cfg = config(api, tool_version="computer_use_20250429")
    stop = asyncio.Event()
    watched: dict[str, Any] = {}
    watcher: threading.Thread | None = None
    pid: int | None = None
    if scenario == "task":
        scripted_task(api, paths["note"], paths["typed"])
    elif scenario == "stop":
        scripted_stop(api)
    elif scenario == "kill":
        scripted_kill(api)
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    events = []
    async for event in agent_events(cfg, user("work on the desktop"), stop=stop):
        events.append(event)
        if isinstance(event, ToolStarted) and event.tool_use_id == "toolu_sleep":
            pid = int(result_text(results_of(api)["toolu_pid"]))
            await asyncio.sleep(1.0)  # let `sleep 100` run
            watched["alive_before_stop"] = group_alive(pid)
            stop.set()
            watcher = threading.Thread(target=watch_group, args=(pid, time.monotonic(), watched))
            watcher.start()
    if watcher is not None:
        await asyncio.to_thread(watcher.join)
    done = events[-1]
    assert isinstance(done, Done)
    results = {
        key: {
            "is_error": bool(block.get("is_error")),
            "text": result_text(block),
            "images": [
                b["source"]["media_type"]
                for b in block.get("content") or []
                if isinstance(b, dict) and b.get("type") == "image"
            ],
        }
        for key, block in results_of(api).items()
    }
    final = done.messages[-1]["content"] if done.messages else []
    return {
        "reason": done.reason,
        "results": results,
        "invalid_requests": [r.error for r in api.invalid_requests],
        "requests": len(api.valid_requests),
        "last_results": [
            {"id": b["tool_use_id"], "is_error": bool(b.get("is_error")), "text": result_text(b)}
            for b in (final if isinstance(final, list) else [])
            if isinstance(b, dict) and b.get("type") == "tool_result"
        ],
        "shell_pid": pid,
        **watched,
    }


def main(argv: list[str]) -> None:
    scenario, out = argv[0], argv[1]
    paths = dict(arg.split("=", 1) for arg in argv[2:])
    with FakeAnthropicAPI() as api:
        summary = asyncio.run(run(scenario, api, **paths))
    with open(out, "w", encoding="utf-8") as f:
        json.dump(summary, f)
    os._exit(0)  # the fake API's threads and any leftover connection must not hold us


if __name__ == "__main__":
    main(sys.argv[1:])
