"""Eval runs end to end: real desktops (Xvfb, mutter, tint2, Firefox, mousepad), the real
``python -m computer_use_demo eval`` command, the fake Messages API as the model.

- a scripted fake model solves some tasks and fails others: exactly the expected aggregate,
  with a setup failure, a timeout and an API error each reported as such;
- a run killed mid-way resumes and finishes the rest, without redoing finished tasks;
- the whole starter suite's oracle passes with --parallel 2.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.desktop.client import RemoteDesktop
from computer_use_demo.desktop.virtual import VirtualDesktop, marked_pids
from computer_use_demo.evals.task import STARTER_SUITE, load_suite
from tests.fake_api import FakeAnthropicAPI, Reply, error, message, text, tool_use
from tests.support.loop import MODEL

pytestmark = pytest.mark.desktop

ROOT = Path(__file__).resolve().parent.parent


def eval_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "computer_use_demo", "eval", *args]


def run_eval(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        eval_cmd(*args),
        cwd=ROOT,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_suite(folder: Path, tasks: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        (folder / f"{task['id']}.json").write_text(json.dumps(task))
    return folder


def attempts(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "attempts.jsonl").read_text().splitlines()]


def results(out: Path) -> dict[str, dict[str, Any]]:
    return {p.parent.name: json.loads(p.read_text()) for p in (out / "tasks").glob("*/result.json")}


# ---------------------------------------------------------------- the desktop itself


def test_a_virtual_desktop_starts_resets_and_stops(tmp_path: Path) -> None:
    desktop = VirtualDesktop(tmp_path / "d", width=800, height=600)
    asyncio.run(desktop.start())
    try:
        env = desktop.env
        assert desktop.start_seconds > 0
        # Ready means managed and paneled: the window manager's check window, tint2.
        wm = subprocess.run(
            ["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"], env=env, capture_output=True, text=True
        )
        assert "window id" in wm.stdout
        panel = subprocess.run(
            ["xdotool", "search", "--class", "tint2"], env=env, capture_output=True, text=True
        )
        assert panel.stdout.split()
        size = subprocess.run(["xdpyinfo"], env=env, capture_output=True, text=True).stdout
        assert "800x600 pixels" in size
        # Its desktop server answers on its private socket, for its display; the agent's
        # environment points there.
        assert stat.S_IMODE(desktop.socket.stat().st_mode) == 0o600
        assert desktop.agent_env["COMPUTER_USE_DESKTOP"] == f"unix://{desktop.socket}"
        assert RemoteDesktop(f"unix://{desktop.socket}").info_now().display == desktop.display
        # Only a client with the desktop's cookie gets in.
        stranger = {**env, "XAUTHORITY": str(tmp_path / "none")}
        assert subprocess.run(["xprop", "-root"], env=stranger, capture_output=True).returncode
        # An app started on it, detached, and a file in its home: a reset ends and empties.
        subprocess.Popen(["setsid", "xterm"], env=env, start_new_session=True)
        (desktop.home / "left-over.txt").write_text("x")
        deadline = time.monotonic() + 20
        while len(marked_pids(desktop.id)) <= len(desktop.base):
            assert time.monotonic() < deadline, "xterm did not start"
            time.sleep(0.05)
        display = desktop.display
        asyncio.run(desktop.reset())
        assert desktop.display == display  # the same desktop, fresh
        assert sorted(marked_pids(desktop.id)) == sorted(desktop.base)
        assert not (desktop.home / "left-over.txt").exists()
        # The desktop server's shells start in the home folder: it is still there.
        server = desktop.parts["server"].pid
        assert os.readlink(f"/proc/{server}/cwd") == str(desktop.home)
        parts = [p.pid for p in desktop.parts.values()]
    finally:
        desktop.stop()
    assert marked_pids(desktop.id) == []
    assert not any(_running(pid) for pid in parts)


# ---------------------------------------------------------------- a scripted fake model

FAKE_SUITE = [
    {
        "id": "answer-right",
        "instruction": "What is 6 times 7?",
        "checkers": [{"type": "answer", "number": 42}],
    },
    {
        "id": "answer-wrong",
        "instruction": "What is the capital of France?",
        "checkers": [{"type": "answer", "contains": "Paris"}],
    },
    {
        "id": "api-error",
        "instruction": "Make the API fail.",
        "checkers": [{"type": "answer", "contains": "anything"}],
    },
    {
        "id": "file-written",
        "instruction": "Write the word alpha into {home}/a.txt.",
        "setup": [{"type": "write_file", "path": "{home}/readme.txt", "content": "hello"}],
        "checkers": [
            {"type": "file", "path": "{home}/a.txt", "exact": "alpha"},
            {"type": "command", "command": "cat readme.txt", "exact": "hello"},
        ],
    },
    {
        "id": "setup-broken",
        "instruction": "Never asked.",
        "setup": [{"type": "run", "command": "echo the disk is gone >&2; exit 3"}],
        "checkers": [{"type": "answer", "contains": "x"}],
    },
    {
        "id": "too-slow",
        "instruction": "Wait a minute.",
        "limits": {"timeout_s": 4},
        "checkers": [{"type": "answer", "contains": "x"}],
    },
]


def fake_model(body: dict[str, Any]) -> Reply:
    """Answers each task by its instruction and how far its conversation is."""
    first = body["messages"][0]["content"]
    instruction = first if isinstance(first, str) else first[0]["text"]
    answered = sum(m["role"] == "assistant" for m in body["messages"])
    if instruction.startswith("What is 6"):
        return message(text("It is 42."))
    if instruction.startswith("What is the capital"):
        return message(text("Lyon, I think."))
    if instruction.startswith("Make the API fail"):
        return error(400, "scripted failure for this task")
    if instruction.startswith("Write the word alpha"):
        if answered == 0:
            # Relative: the shell starts in the home folder (on a desktop reused after a reset).
            return message(tool_use("bash", {"command": "printf alpha > a.txt"}))
        return message(text("Done: a.txt says alpha."))
    if instruction.startswith("Wait a minute"):
        return message(tool_use("bash", {"command": "sleep 60"}))
    return message(text("unexpected task"))


def test_a_scripted_fake_model_gives_exactly_the_expected_aggregate(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", FAKE_SUITE)
    out = tmp_path / "run"
    with FakeAnthropicAPI() as api:
        api.push(*[fake_model] * 40)
        env = {**os.environ, "ANTHROPIC_API_KEY": "sk-ant-eval-test-secret"}
        done = run_eval(
            str(suite),
            "--model",
            MODEL,
            "--base-url",
            api.url,
            "--parallel",
            "2",
            "--out",
            str(out),
            env=env,
        )
        assert done.returncode == 1, done.stderr  # not every task passed
        assert not api.invalid_requests, api.invalid_requests
    summary = json.loads((out / "aggregate.json").read_text())
    assert {
        k: summary[k]
        for k in (
            "tasks",
            "finished",
            "passed",
            "failed",
            "timeout",
            "error",
            "setup_failed",
            "not_run",
        )
    } == {
        "tasks": 6,
        "finished": 6,
        "passed": 2,
        "failed": 1,
        "timeout": 1,
        "error": 1,
        "setup_failed": 1,
        "not_run": 0,
    }
    by_id = {t["id"]: t for t in summary["per_task"]}
    assert {i: (t["status"], t["steps"]) for i, t in by_id.items()} == {
        "answer-right": ("passed", 1),
        "answer-wrong": ("failed", 1),
        "api-error": ("error", 1),
        "file-written": ("passed", 2),
        "setup-broken": ("setup_failed", 0),
        "too-slow": ("timeout", 1),
    }
    assert summary["steps"] == 6
    costs = [t["cost_usd"] for t in summary["per_task"]]
    assert summary["cost_usd"] == pytest.approx(sum(costs), abs=1e-6) and summary["cost_usd"] > 0
    found = results(out)
    assert "Paris" in found["answer-wrong"]["detail"] and "Lyon" in found["answer-wrong"]["detail"]
    assert "scripted failure" in found["api-error"]["detail"]
    assert "setup step 1 (run)" in found["setup-broken"]["detail"]
    assert "the disk is gone" in found["setup-broken"]["detail"]
    assert found["too-slow"]["reason"] == "timeout"
    # Each run left its session and replay; the timed-out one was stopped cleanly and saved.
    for task in ("answer-right", "file-written", "too-slow", "api-error"):
        folder = out / "tasks" / task
        assert (folder / found[task]["session"] / "messages.jsonl").is_file()
        assert "<html" in (folder / "replay.html").read_text()
    slow = out / "tasks" / "too-slow" / found["too-slow"]["session"] / "messages.jsonl"
    last = json.loads(slow.read_text().splitlines()[-1])
    assert (last["kind"], last["reason"]) == ("done", "stopped")
    assert [c["passed"] for c in found["file-written"]["checks"]] == [True, True]
    # The runs that held the key kept their memory (and so their environment) from the
    # desktop's processes of the same user.
    assert found["answer-right"]["memory_private"] is True
    # The secret key never reaches what the run saved.
    for path in out.rglob("*"):
        if path.is_file():
            assert b"sk-ant-eval-test-secret" not in path.read_bytes(), path
    report = (out / "report.html").read_text()
    assert report.count("<tr>") == 7  # the header and a row per task
    assert 'href="tasks/file-written/replay.html"' in report
    events = Counter((a["task"], a["event"]) for a in attempts(out))
    assert all(
        events[(t["id"], e)] == 1 for t in FAKE_SUITE for e in ("planned", "started", "finished")
    )


# ---------------------------------------------------------------- resume


def test_a_killed_run_resumes_and_finishes_the_rest(tmp_path: Path) -> None:
    quick = {"type": "file", "path": "{home}/done.txt", "exists": True}
    tasks = [
        {
            "id": f"{name}",
            "instruction": f"Task {name}.",
            "checkers": [quick],
            "oracle": [{"type": "bash", "command": f"sleep {pause}; touch $HOME/done.txt"}],
        }
        for name, pause in (("a-quick", 0), ("b-slow", 20), ("c-quick", 0), ("d-quick", 0))
    ]
    suite = write_suite(tmp_path / "suite", tasks)
    out = tmp_path / "run"
    proc = subprocess.Popen(
        eval_cmd(str(suite), "--oracle", "--out", str(out)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(
            a["event"] == "started" and a["task"] == "b-slow"
            for a in (attempts(out) if (out / "attempts.jsonl").exists() else [])
        ):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "b-slow never started"
            time.sleep(0.1)
        children = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and _ppid(int(p.name)) == proc.pid
        ]
        assert children, "the runner's desktops and worker server"
    finally:
        proc.kill()  # SIGKILL: no clean-up at all
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
    # What the killed runner started dies with it (its desktops, its worker server).
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in children):
        assert time.monotonic() < deadline, "the killed run's processes are still there"
        time.sleep(0.1)
    assert set(results(out)) == {"a-quick"}

    done = run_eval("--resume", str(out))
    assert done.returncode == 0, done.stderr
    assert "resuming: 1 finished, 3 to run" in done.stderr
    summary = json.loads((out / "aggregate.json").read_text())
    assert (summary["tasks"], summary["passed"]) == (4, 4)
    started = Counter(a["task"] for a in attempts(out) if a["event"] == "started")
    assert started == {"a-quick": 1, "b-slow": 2, "c-quick": 1, "d-quick": 1}
    # A finished run has nothing left to do.
    again = run_eval("--resume", str(out))
    assert again.returncode == 0 and "resuming: 4 finished, 0 to run" in again.stderr


def test_ctrl_c_stops_the_run_cleanly_and_says_how_to_finish_it(tmp_path: Path) -> None:
    tasks = [
        {"id": "slow", "instruction": "Slow.", "checkers": [{"type": "answer", "contains": "x"}],
         "oracle": [{"type": "bash", "command": "sleep 30"}, {"type": "answer", "text": "x"}]},
    ]  # fmt: skip
    suite = write_suite(tmp_path / "suite", tasks)
    out = tmp_path / "run"
    proc = subprocess.Popen(eval_cmd(str(suite), "--oracle", "--out", str(out)), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list((out / "tasks").glob("slow/session/*/messages.jsonl")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(1)  # the oracle's sleep is running
    children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                and _ppid(int(p.name)) == proc.pid]  # fmt: skip
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"interrupted: finish with --resume {out}" in err
    assert not any(_running(pid) for pid in children)
    # The stopped run saved its session whole; the task is not finished, so a resume reruns it.
    session = next((out / "tasks").glob("slow/session/*/messages.jsonl"))
    last = json.loads(session.read_text().splitlines()[-1])
    assert (last["kind"], last["reason"]) == ("done", "stopped")
    assert [a["event"] for a in attempts(out)] == ["planned", "started"]


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie waits for a reaper that may be slow)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


# ---------------------------------------------------------------- the command's edges


def test_eval_refuses_a_bad_suite_and_an_out_folder_in_use(tmp_path: Path) -> None:
    suite = write_suite(
        tmp_path / "suite", [{"id": "x", "instruction": "i", "checkers": [{"type": "answer"}]}]
    )
    bad = run_eval(str(suite), "--oracle", "--out", str(tmp_path / "run"))
    assert bad.returncode == 2
    assert f"{suite / 'x.json'}: checkers[0]: needs one of: contains, regex, number" in bad.stderr
    assert not (tmp_path / "run").exists()  # nothing made for a suite that cannot run
    used = tmp_path / "used"
    used.mkdir()
    (used / "something").write_text("x")
    busy = run_eval("--oracle", "--out", str(used))
    assert busy.returncode == 2 and "not empty (use --resume" in busy.stderr
    unknown = run_eval("--resume", str(tmp_path / "nowhere"))
    assert unknown.returncode == 2 and "not an eval run's folder" in unknown.stderr


def test_a_task_without_oracle_is_an_error_in_an_oracle_run(tmp_path: Path) -> None:
    suite = write_suite(
        tmp_path / "suite",
        [
            {
                "id": "no-oracle",
                "instruction": "i",
                "checkers": [{"type": "answer", "contains": "x"}],
            },
            {
                "id": "with-oracle",
                "instruction": "i",
                "checkers": [{"type": "answer", "contains": "x"}],
                "oracle": [{"type": "answer", "text": "x"}],
            },
        ],
    )
    done = run_eval(str(suite), "--oracle", "--out", str(tmp_path / "run"))
    assert done.returncode == 1
    found = results(tmp_path / "run")
    assert found["no-oracle"]["status"] == "error" and found["no-oracle"]["reason"] == "no_oracle"
    assert found["with-oracle"]["status"] == "passed"


# ---------------------------------------------------------------- the starter suite


def test_the_starter_suite_oracle_passes_with_parallel_2(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = run_eval("--oracle", "--parallel", "2", "--out", str(out))
    summary = json.loads((out / "aggregate.json").read_text())
    failed = {t["id"]: t for t in summary["per_task"] if t["status"] != "passed"}
    assert done.returncode == 0, (failed, done.stderr[-3000:])
    tasks = load_suite(STARTER_SUITE)
    assert summary["passed"] == summary["tasks"] == len(tasks)
    slots = {a.get("slot") for a in attempts(out) if a["event"] == "started"}
    assert slots == {0, 1}  # two desktops at once
    for task in tasks:
        folder = out / "tasks" / task.id
        result = json.loads((folder / "result.json").read_text())
        assert all(c["passed"] for c in result["checks"]) and result["checks"]
        assert (folder / "replay.html").is_file()
    assert (out / "report.html").read_text().count('">replay</a>') == len(tasks)


def test_a_terminal_gets_a_progress_bar(tmp_path: Path) -> None:
    import pty

    answer = {"type": "answer", "contains": "ok"}
    suite = write_suite(
        tmp_path / "suite",
        [
            {"id": f"t{i}", "instruction": "i", "checkers": [answer],
             "oracle": [{"type": "answer", "text": "ok"}]}
            for i in range(3)
        ],
    )  # fmt: skip
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        eval_cmd(str(suite), "--oracle", "--out", str(tmp_path / "run")),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert proc.wait(60) == 0
    text = shown.decode(errors="replace")
    assert "\r\x1b[K[" in text  # redrawn in place
    assert "] 0/3 · 1 running · starting" in text
    assert "] 3/3 · 0 running · passed 3" in text
    assert "t1: passed (1 steps" in text
    assert "3/3 passed" in text
