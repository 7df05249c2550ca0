"""The headless CLI as a user runs it: a subprocess against the fake Messages API."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from computer_use_demo.agent import history as h
from computer_use_demo.agent.events import Done, UserMessage
from computer_use_demo.sessions.trajectory import (
    APP_STOPPED,
    EVENTS_FILE,
    Trajectory,
    list_trajectories,
)
from tests.fake_api import FakeAnthropicAPI, error, message, text, tool_use
from tests.support.bash import kill_leftovers, wait_gone
from tests.support.loop import fake_api_fixture  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, api: FakeAnthropicAPI, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-ant-cli-secret", "PYTHONWARNINGS": "ignore"}
    env["BIND_ADDR"] = "127.0.0.1"  # a loopback-only setup: bash runs without asking
    env.pop("ANTHROPIC_BASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "computer_use_demo", "--base-url", api.url, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kwargs,  # type: ignore[arg-type]
    )


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, out, err


def test_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "computer_use_demo", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    for option in (
        "--max-steps",
        "--model",
        "--provider",
        "--tool-version",
        "--continue",
        "--trajectory-dir",
    ):
        assert option in result.stdout


def test_a_task_end_to_end_then_continued(fake_api: FakeAnthropicAPI, tmp_path: Path) -> None:
    fake_api.push(
        message(text("Let me run it."), tool_use("bash", {"command": "echo cli-bash-ok"})),
        message(text("It printed cli-bash-ok.")),
    )
    code, out, err = finish(
        cli("--trajectory-dir", str(tmp_path), "--max-steps", "5", "print something", api=fake_api)
    )
    assert code == 0, err
    assert "You: print something" in out
    assert '→ bash {"command": "echo cli-bash-ok"}' in out
    assert "← cli-bash-ok" in out
    assert "Claude: It printed cli-bash-ok." in out
    assert "Done: end_turn after 2 steps." in out
    assert not fake_api.invalid_requests
    assert "sk-ant-cli-secret" not in out + err

    (info,) = list_trajectories(tmp_path)
    assert info.steps == 2 and info.title == "print something"
    trajectory = Trajectory.open(info.path)
    events = trajectory.events()
    assert isinstance(events[0], UserMessage) and isinstance(events[-1], Done)
    assert "sk-ant-cli-secret" not in (info.path / "messages.jsonl").read_text()
    # Private: the session folder 0700, its files 0600.
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o700
    for file in info.path.rglob("*"):
        if file.is_file():
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert len(trajectory.messages()) == 4

    fake_api.push(message(text("Continued.")))
    code, out, err = finish(cli("--continue", str(info.path), "and now?", api=fake_api))
    assert code == 0, err
    assert "Claude: Continued." in out
    last = fake_api.requests[-1]
    assert last.valid and len(last.body["messages"]) == 5
    assert last.body["messages"][-1]["content"][-1]["text"] == "and now?"
    assert len(Trajectory.open(info.path).messages()) == 6


def test_max_steps_exit_status(fake_api: FakeAnthropicAPI, tmp_path: Path) -> None:
    fake_api.push(*[message(tool_use("bash", {"command": "true"})) for _ in range(3)])
    code, out, _ = finish(cli("--no-save", "--max-steps", "1", "loop", api=fake_api))
    assert code == 3 and "Done: max_steps after 1 step." in out


def test_ctrl_c_stops_the_run_and_saves_a_healed_history(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    marker = tmp_path / "sleep.pid"
    command = f"sleep 60 & echo $! > {marker}.tmp; mv {marker}.tmp {marker}; wait; echo never"
    fake_api.push(
        message(
            tool_use("bash", {"command": command}, id="toolu_sleep"),
            tool_use("bash", {"command": "echo second"}, id="toolu_second"),
        )
    )
    proc = cli("--trajectory-dir", str(tmp_path / "runs"), "wait a minute", api=fake_api)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the bash tool never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        code, out, err = finish(proc, timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 130, (out, err)
    assert time.monotonic() - t0 < 15
    assert "Done: stopped after 1 step." in out
    (info,) = list_trajectories(tmp_path / "runs")
    events = Trajectory.open(info.path).events()
    final = events[-1]
    assert isinstance(final, Done) and final.reason == "stopped"
    results = final.messages[-1]["content"]
    assert [r["tool_use_id"] for r in results] == ["toolu_sleep", "toolu_second"]
    assert all(r["is_error"] for r in results)
    assert results[1]["content"] == h.STOPPED_BY_USER
    # the command's process group died with the stop
    sleep_pid = int(marker.read_text())
    try:
        assert not wait_gone(sleep_pid), "the running command must not survive Ctrl+C"
    finally:
        kill_leftovers(sleep_pid)


def test_streamed_text_is_printed_once_and_not_saved_as_deltas(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    said = "A streamed answer, printed piece by piece as it arrives."
    fake_api.push(message(text(said), chunk_delay=0.02))
    code, out, err = finish(cli("--trajectory-dir", str(tmp_path), "stream it", api=fake_api))
    assert code == 0, err
    assert out.count(said) == 1 and f"Claude: {said}\n" in out
    assert fake_api.requests[0].streamed
    (info,) = list_trajectories(tmp_path)
    saved = (info.path / EVENTS_FILE).read_text()
    assert "text_delta" not in saved and said in saved


def test_a_dollar_cap_stops_the_run(fake_api: FakeAnthropicAPI, tmp_path: Path) -> None:
    # Each call costs under $0.001 here, but could cost about $0.02 (1000 output tokens).
    fake_api.push(*[message(tool_use("bash", {"command": "true"})) for _ in range(12)])
    code, out, _ = finish(
        cli(
            "--no-save",
            *("--model", "claude-sonnet-4-5-20250929"),  # $3 / $15: the figures above
            *("--max-tokens", "1000", "--max-cost", "0.022", "loop"),
            api=fake_api,
        )
    )
    assert code == 4, out
    assert "Stopped: the run budget of $0.022 would be passed" in out
    assert "Done: budget after" in out and 1 <= len(fake_api.requests) < 12


def test_thinking_flags_reach_the_request(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(text("Thought about it.")))
    code, _, err = finish(
        cli("--no-save", "--thinking", "adaptive", "--effort", "high", "think", api=fake_api)
    )
    assert code == 0, err
    body = fake_api.valid_requests[0].body
    assert body["model"] == "claude-opus-4-8"  # the default: a current model
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"} and body[
        "output_config"
    ] == {"effort": "high"}
    code, _, err = finish(
        cli("--no-save", "--effort", "xhigh", "--model", "claude-opus-4-6", "x", api=fake_api)
    )
    assert code == 2 and "does not support effort 'xhigh'" in err


def test_a_refusal_ends_with_its_message_and_status_5(fake_api: FakeAnthropicAPI) -> None:
    details = {"type": "refusal", "category": "bio", "explanation": "Not this one."}
    fake_api.push(message(text("No."), stop_reason="refusal", stop_details=details))
    code, out, _ = finish(cli("--no-save", "task", api=fake_api))
    assert code == 5
    assert "Done: refusal after 1 step." in out and "Not this one." in out


def test_a_model_without_a_published_price_says_so(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(message(text("Done.")))
    code, out, err = finish(
        cli(
            "--no-save",
            *("--model", "claude-fable-5-2", "--tool-version", "computer_use_20251124"),
            "task",
            api=fake_api,
        )
    )
    assert code == 0, err
    assert "no price for this model" in out and "$" not in out.split("tokens:")[1]
    body = fake_api.valid_requests[0].body
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}  # always on


def test_a_secret_the_run_meets_is_printed_and_saved_redacted(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    """The key (from the environment) as the model echoes it and as a command prints it."""
    fake_api.push(
        message(text("Your key is sk-ant-cli-secret."), tool_use("bash", {"command": "env"})),
        message(text("Done looking.")),
    )
    code, out, err = finish(
        cli(
            "--trajectory-dir",
            str(tmp_path),
            "--max-steps",
            "3",
            "--api-key",
            "sk-ant-cli-typed-secret",
            "what is my key?",
            api=fake_api,
        )
    )
    assert code == 0, err
    assert "Your key is [REDACTED]." in out
    assert "sk-ant-cli-secret" not in out + err and "sk-ant-cli-typed-secret" not in out + err
    (info,) = list_trajectories(tmp_path)
    saved = (info.path / EVENTS_FILE).read_text()
    assert "Your key is [REDACTED]." in saved and "sk-ant-cli-secret" not in saved
    # The model was sent what the shell printed: no secret variable in it.
    result = fake_api.requests[-1].body["messages"][-1]["content"][0]
    assert "PATH=" in str(result) and "ANTHROPIC_API_KEY" not in str(result)


def _wait_for(path: Path, proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_sigterm_mid_tool_makes_no_api_call_after_it(
    fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    """A shutdown (SIGTERM to the process group: the shell dies too) ends the run without
    telling the model that its shell died, and without one more paid call."""
    marker = tmp_path / "started"
    command = f"touch {marker}; sleep 60"
    fake_api.push(
        message(tool_use("bash", {"command": command}, id="toolu_sleep")),
        message(text("This answer must never be asked for.")),
    )
    proc = cli("--trajectory-dir", str(tmp_path / "runs"), "wait a minute", api=fake_api)
    try:
        _wait_for(marker, proc, "the bash tool never started")
        os.killpg(proc.pid, signal.SIGTERM)
        code, out, err = finish(proc, timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 143, (out, err)
    assert len(fake_api.requests) == 1, "no API call after SIGTERM"
    (info,) = list_trajectories(tmp_path / "runs")
    final = Trajectory.open(info.path).events()[-1]
    assert isinstance(final, Done) and final.reason == "interrupted"
    (result,) = final.messages[-1]["content"]
    assert result["content"] == APP_STOPPED and result["is_error"]


def test_sigterm_during_a_retry_wait_sends_no_retry(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(error(429, "Slow down", retry_after=5), message(text("too late")))
    proc = cli("--no-save", "hello", api=fake_api)
    try:
        deadline = time.monotonic() + 60
        while not fake_api.requests:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no request arrived"
            time.sleep(0.05)
        time.sleep(0.5)  # the client is waiting to retry
        proc.send_signal(signal.SIGTERM)
        code, out, err = finish(proc, timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 143, (out, err)
    time.sleep(5)  # past the retry-after: no retry comes
    assert len(fake_api.requests) == 1


def test_the_cli_says_retry_only_for_what_it_retries(fake_api: FakeAnthropicAPI) -> None:
    fake_api.push(error(429, "Slow down", retry_after=1), message(text("After the wait.")))
    code, out, err = finish(cli("--no-save", "hello", api=fake_api))
    assert code == 0, err
    assert "  (API: 429)" in out
    assert "(API rate limited (429): retry 1 of 4 in 1 s)" in out
    fake_api.push(error(400, "bad request"))
    code, out, err = finish(cli("--no-save", "hello", api=fake_api))
    assert code == 1 and "  (API: 400)" in out
    assert "retry" not in out.lower()
