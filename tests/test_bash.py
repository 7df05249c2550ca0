"""The bash tool against a real /bin/bash: state, output, limits, timeouts, process cleanup."""

from __future__ import annotations

import asyncio
import gc
import os
import pathlib
import stat
import threading
import time
import typing

import pytest
from anthropic.types.beta import BetaToolBash20241022Param, BetaToolBash20250124Param

from computer_use_demo.tools import BashTool, BashTool20241022, BashTool20250124, ToolCollection
from computer_use_demo.tools.base import CLIResult, ToolError, ToolResult
from computer_use_demo.tools.bash import BashSession
from computer_use_demo.tools.run import MAX_RESPONSE_LEN, TRUNCATED_MESSAGE
from tests.support.bash import alive, bash, kill_leftovers, quick_bash, wait_gone

__all__ = ["bash", "quick_bash"]  # fixtures

RESTART = "restart: true"


async def pids_of(tool: BashTool, command: str) -> list[int]:
    """Run ``command`` (which echoes pids, one a line) and return them as ints."""
    result = await tool(command=command)
    assert result.output, result
    return [int(line) for line in result.output.split()]


# --- the API definition ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "param", "api_type"),
    [
        (BashTool20241022, BetaToolBash20241022Param, "bash_20241022"),
        (BashTool20250124, BetaToolBash20250124Param, "bash_20250124"),
        (BashTool, BetaToolBash20250124Param, "bash_20250124"),
    ],
)
def test_to_params_matches_the_sdk_type(cls: type[BashTool], param: type, api_type: str) -> None:
    params = cls().to_params()
    assert params == {"type": api_type, "name": "bash"}
    hints = typing.get_type_hints(param)
    assert set(params) <= set(hints)
    assert typing.get_args(hints["type"]) == (params["type"],)
    assert typing.get_args(hints["name"]) == ("bash",)
    assert cls.api_type == api_type and cls.name == "bash"


# --- state and output -----------------------------------------------------------------------


async def test_cwd_variables_and_functions_persist(bash: BashTool, tmp_path) -> None:
    first = await bash(command=f"cd {tmp_path} && X=42 && greet() {{ echo hello $1; }}")
    assert first == CLIResult(output="", error="", exit_code=0)
    result = await bash(command="pwd; echo $X; greet you")
    assert result.output == f"{tmp_path}\n42\nhello you"
    assert result.error == ""


async def test_shell_is_started_lazily_and_once(bash: BashTool) -> None:
    assert bash.session is None
    (pid1,) = await pids_of(bash, "echo $$")
    (pid2,) = await pids_of(bash, "echo $$")
    assert pid1 == pid2 == bash.session.pid


async def test_restart_gives_a_fresh_shell_and_ends_the_old_one(bash: BashTool, tmp_path) -> None:
    old_pid, child = await pids_of(bash, f"cd {tmp_path}; X=1; sleep 1000 & echo $$; echo $!")
    result = await bash(restart=True)
    assert result == ToolResult(system="tool has been restarted.")
    assert wait_gone(old_pid, child) == []
    (new_pid,) = await pids_of(bash, "echo $$")
    assert new_pid != old_pid
    fresh = await bash(command='echo "[$X]"; pwd')
    assert fresh.output == f"[]\n{os.getcwd()}"


async def test_restart_ignores_a_command_given_with_it(bash: BashTool, tmp_path) -> None:
    marker = tmp_path / "ran"
    result = await bash(restart=True, command=f"touch {marker}")
    assert result.system == "tool has been restarted."
    assert not marker.exists()


async def test_stdout_and_stderr_are_separate_and_one_newline_is_stripped(bash: BashTool) -> None:
    result = await bash(command="echo out1; echo err1 >&2; printf 'out2\\n\\n'; echo err2 >&2")
    assert result.output == "out1\nout2\n"
    assert result.error == "err1\nerr2"


async def test_output_without_a_trailing_newline(bash: BashTool) -> None:
    result = await bash(command="printf abc; printf xyz >&2")
    assert (result.output, result.error) == ("abc", "xyz")


async def test_empty_command_returns_empty_result(bash: BashTool) -> None:
    assert await bash(command="") == CLIResult(output="", error="", exit_code=0)
    assert await bash(command="   \n\n  ") == CLIResult(output="", error="", exit_code=0)


async def test_nonzero_exit_keeps_output_and_the_shell(bash: BashTool) -> None:
    result = await bash(command="echo before; ls /definitely/missing; echo after; false")
    assert result.output == "before\nafter"
    assert "/definitely/missing" in result.error
    assert bash.session.last_returncode == 1
    await bash(command="(exit 7)")
    assert bash.session.last_returncode == 7
    assert (await bash(command="echo still here")).output == "still here"
    assert bash.session.last_returncode == 0


async def test_error_messages_name_bash_not_the_command_file(bash: BashTool) -> None:
    result = await bash(command="no_such_command_xyz")
    assert result.error == "bash: line 1: no_such_command_xyz: command not found"


async def test_multiline_commands_and_heredocs(bash: BashTool) -> None:
    command = "for i in 1 2 3; do\n  echo $i\ndone\ncat <<'EOF'\n$HOME stays literal\nEOF"
    result = await bash(command=command)
    assert result.output == "1\n2\n3\n$HOME stays literal"


async def test_non_utf8_output_is_replaced_not_raised(bash: BashTool) -> None:
    result = await bash(command="printf 'a\\xffb\\xc3'; printf '\\xfe\\xfd' >&2")
    assert result.output == "a\ufffdb\ufffd"
    assert result.error == "\ufffd\ufffd"
    assert (await bash(command="echo ok")).output == "ok"


async def test_utf8_output_and_commands_round_trip(bash: BashTool) -> None:
    result = await bash(command="echo 'héllo wörld €𝄞'")
    assert result.output == "héllo wörld €𝄞"


async def test_environment_is_inherited_and_non_interactive(monkeypatch) -> None:
    monkeypatch.setenv("BASH_TOOL_TEST_VAR", "inherited")
    tool = BashTool()
    try:
        result = await tool(command="echo $BASH_TOOL_TEST_VAR $PAGER $GIT_PAGER $TERM")
        assert result.output == "inherited cat cat dumb"
    finally:
        await tool.stop()


async def test_sentinel_cannot_be_faked_by_tracing(bash: BashTool) -> None:
    await bash(command="set -xv")
    result = await bash(command="echo traced")
    assert result.output == "traced"
    assert "echo traced" in result.error
    assert "__bash_tool_" not in result.error + result.output
    await bash(command="set +xv")
    assert await bash(command="echo clean") == CLIResult(output="clean", error="", exit_code=0)


async def test_functions_named_like_the_protocol_builtins_do_not_break_it(bash: BashTool) -> None:
    await bash(command="printf() { echo hijacked; }; .() { echo hijacked; }; source() { :; }")
    assert await bash(command="echo ok") == CLIResult(output="ok", error="", exit_code=0)
    assert (await bash(command="printf x")).output == "hijacked"


async def test_late_background_output_is_not_lost(bash: BashTool, tmp_path) -> None:
    flag = tmp_path / "printed"
    await bash(command=f"(sleep 0.2; echo late; touch {flag}) &")
    for _ in range(500):
        if flag.exists():
            break
        await asyncio.sleep(0.01)
    result = await bash(command="echo now")
    assert result.output.split("\n")[-1] == "now"
    assert "late" in result.output


async def test_concurrent_calls_are_serialized(bash: BashTool) -> None:
    results = await asyncio.gather(
        bash(command="sleep 0.2; echo first"), bash(command="echo second")
    )
    assert [r.output for r in results] == ["first", "second"]


# --- big outputs ----------------------------------------------------------------------------


@pytest.mark.parametrize("megabytes", [1, 10])
async def test_megabytes_of_output_complete_and_are_truncated(
    bash: BashTool, megabytes: int
) -> None:
    size = megabytes * 1_000_000
    result = await bash(command=f"head -c {size} /dev/zero | tr '\\0' x; echo done >&2")
    assert result.output == "x" * MAX_RESPONSE_LEN + TRUNCATED_MESSAGE
    assert result.error == "done"
    assert (await bash(command="echo next")).output == "next"


async def test_hundred_megabytes_of_yes_complete(bash: BashTool) -> None:
    result = await bash(command="yes | head -c 100000000")
    assert result.output == "y\n" * (MAX_RESPONSE_LEN // 2) + TRUNCATED_MESSAGE


async def test_big_stderr_is_truncated_too(bash: BashTool) -> None:
    result = await bash(command="head -c 2000000 /dev/zero | tr '\\0' e >&2; echo small")
    assert result.output == "small"
    assert result.error == "e" * MAX_RESPONSE_LEN + TRUNCATED_MESSAGE


@pytest.mark.parametrize(
    ("chars", "truncated"), [(MAX_RESPONSE_LEN, False), (MAX_RESPONSE_LEN + 1, True)]
)
async def test_truncation_boundary_counts_characters_not_bytes(
    bash: BashTool, chars: int, truncated: bool
) -> None:
    # € is 3 bytes in UTF-8: the limit is about characters.
    result = await bash(command=f"python3 -c \"print('€' * {chars})\"")
    if truncated:
        assert result.output == "€" * MAX_RESPONSE_LEN + TRUNCATED_MESSAGE
    else:
        assert result.output == "€" * chars


async def test_huge_command_string_runs(bash: BashTool) -> None:
    result = await bash(command="echo " + "z" * 1_000_000 + " | wc -c")
    assert result.output == "1000001"


# --- commands that could hang -----------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    ["cat", "read x; echo got=$?", "python3", "head -n 1", "bash", "sort"],
)
async def test_commands_reading_stdin_get_eof(quick_bash: BashTool, command: str) -> None:
    result = await quick_bash(command=command)
    assert "timed out" not in (result.error or "")
    assert (await quick_bash(command="echo alive")).output == "alive"


async def test_read_reports_eof(bash: BashTool) -> None:
    assert (await bash(command="read x; echo got=$?")).output == "got=1"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("echo 'unbalanced", "unexpected EOF while looking for matching"),
        ('echo "unbalanced', "unexpected EOF while looking for matching"),
        ("if then fi", "syntax error near unexpected token"),
        ("cat <<EOF\nno end marker", "here-document at line 1 delimited by end-of-file"),
        ("echo $(", "unexpected EOF"),
        ("(", "syntax error"),
    ],
)
async def test_syntax_errors_do_not_hang_or_lose_state(
    quick_bash: BashTool, command: str, message: str
) -> None:
    await quick_bash(command="KEEP=yes")
    result = await quick_bash(command=command)
    assert message in result.error
    assert (await quick_bash(command="echo $KEEP")).output == "yes"


async def test_nul_bytes_in_a_direct_call_do_not_hang(quick_bash: BashTool) -> None:
    result = await quick_bash(command="echo a\x00b")
    assert "timed out" not in (result.error or "")
    assert (await quick_bash(command="echo alive")).output == "alive"


async def test_return_at_top_level_ends_only_the_command(bash: BashTool) -> None:
    result = await bash(command="echo one; return 4; echo two")
    assert result.output == "one"
    assert bash.session.last_returncode == 4
    assert (await bash(command="echo three")).output == "three"


# --- timeout ----------------------------------------------------------------------------------


async def test_timeout_kills_the_group_and_demands_a_restart(quick_bash: BashTool) -> None:
    shell, child = await pids_of(quick_bash, "sleep 1000 & echo $$; echo $!")
    with pytest.raises(ToolError) as timed_out:
        await quick_bash(command="echo started; sleep 30")
    assert "timed out" in timed_out.value.message
    assert "1 seconds" in timed_out.value.message
    assert RESTART in timed_out.value.message
    assert "started" in timed_out.value.message  # what was printed is not lost
    assert wait_gone(shell, child) == []

    with pytest.raises(ToolError) as again:
        await quick_bash(command="echo hi")
    assert "timed out" in again.value.message and RESTART in again.value.message

    assert (await quick_bash(restart=True)).system == "tool has been restarted."
    assert (await quick_bash(command="echo back")).output == "back"


async def test_endless_output_times_out_in_bounded_memory(quick_bash: BashTool) -> None:
    with pytest.raises(ToolError, match="timed out"):
        await quick_bash(command="yes")
    await quick_bash(restart=True)
    assert (await quick_bash(command="echo ok")).output == "ok"


async def test_timeout_is_configurable() -> None:
    assert BashTool().timeout == 120.0
    assert BashTool(timeout=7).timeout == 7


# --- the shell ending -------------------------------------------------------------------------


async def test_exit_is_reported_and_demands_a_restart(bash: BashTool) -> None:
    with pytest.raises(ToolError) as exited:
        await bash(command="echo bye; exit 3")
    assert "bash has exited with returncode 3" in exited.value.message
    assert RESTART in exited.value.message
    assert "bye" in exited.value.message

    with pytest.raises(ToolError, match="returncode 3"):
        await bash(command="echo hi")
    await bash(restart=True)
    assert (await bash(command="echo back")).output == "back"


async def test_exit_with_a_background_job_holding_the_pipes(bash: BashTool, tmp_path) -> None:
    pidfile = tmp_path / "child"
    try:
        with pytest.raises(ToolError, match="returncode 5"):
            await bash(command=f"sleep 1000 & echo $! > {pidfile}; exit 5")
        assert wait_gone(int(pidfile.read_text())) == []
    finally:
        if pidfile.exists():
            kill_leftovers(int(pidfile.read_text()))


async def test_exec_of_a_program_that_ends(bash: BashTool) -> None:
    with pytest.raises(ToolError, match="bash has exited with returncode 0"):
        await bash(command="exec true")


async def test_shell_killed_between_calls(bash: BashTool) -> None:
    (pid,) = await pids_of(bash, "echo $$")
    os.kill(pid, 9)
    assert wait_gone(pid) == []
    with pytest.raises(ToolError, match="returncode -9"):
        await bash(command="echo hi")
    await bash(restart=True)
    assert (await bash(command="echo back")).output == "back"


async def test_closed_stdout_is_reported(quick_bash: BashTool) -> None:
    with pytest.raises(ToolError) as closed:
        await quick_bash(command="exec >&-")
    assert "stdout or stderr" in closed.value.message and RESTART in closed.value.message
    await quick_bash(restart=True)
    assert (await quick_bash(command="echo back")).output == "back"


# --- stop and cancellation end every process ------------------------------------------------


async def test_stop_ends_bash_and_its_children(bash: BashTool) -> None:
    shell, child, grandchild = await pids_of(
        bash, "sleep 1000 & echo $$; echo $!; (sleep 1001 & echo $!)"
    )
    assert all(alive(p) for p in (shell, child, grandchild))
    await bash.stop()
    assert wait_gone(shell, child, grandchild) == []
    assert bash.session is None
    # The next call starts a fresh shell.
    (new_shell,) = await pids_of(bash, "echo $$")
    assert new_shell != shell


async def test_stop_before_any_call_is_harmless() -> None:
    tool = BashTool()
    await tool.stop()
    assert (await tool(command="echo ok")).output == "ok"
    await tool.stop()


async def test_stopped_session_refuses_to_run() -> None:
    session = BashSession()
    await session.start()
    pid = session.pid
    await session.stop()
    assert wait_gone(pid) == []
    with pytest.raises(ToolError, match="stopped"):
        await session.run("echo hi")
    assert session.pid == pid  # no new shell was started behind our back


async def test_cancel_kills_the_group_and_reraises(bash: BashTool, tmp_path) -> None:
    pidfile = tmp_path / "pids"
    task = asyncio.create_task(
        bash(command=f"sleep 1000 & echo $$ $! > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; wait")
    )
    try:
        for _ in range(500):
            if pidfile.exists():
                break
            await asyncio.sleep(0.01)
        shell, child = (int(p) for p in pidfile.read_text().split())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert wait_gone(shell, child) == []
    finally:
        if pidfile.exists():
            kill_leftovers(*(int(p) for p in pidfile.read_text().split()))

    with pytest.raises(ToolError, match="interrupted"):
        await bash(command="echo hi")
    await bash(restart=True)
    assert (await bash(command="echo back")).output == "back"


async def test_cancel_through_the_collection(bash: BashTool, tmp_path) -> None:
    pidfile = tmp_path / "pid"
    tools = ToolCollection(bash)
    task = asyncio.create_task(
        tools.run(name="bash", tool_input={"command": f"echo $$ > {pidfile}; sleep 1000"})
    )
    for _ in range(500):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        await asyncio.sleep(0.01)
    shell = int(pidfile.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert wait_gone(shell) == []


async def test_temp_dir_is_private_and_removed(bash: BashTool) -> None:
    await bash(command="true")
    directory = bash.session._dir
    assert directory is not None
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    await bash.stop()
    assert directory not in {str(p) for p in pathlib.Path(directory).parent.iterdir()}


def test_one_shell_serves_many_event_loops_and_threads(tmp_path) -> None:
    # The UI runs each agent turn in its own thread with a fresh asyncio.run: the shell and its
    # state must survive that.
    tool = BashTool()
    (pid,) = (int(p) for p in asyncio.run(tool(command=f"cd {tmp_path}; echo $$")).output.split())
    try:
        results: list[str] = []
        thread = threading.Thread(
            target=lambda: results.append(asyncio.run(tool(command="echo $$; pwd")).output)
        )
        thread.start()
        thread.join()
        assert results == [f"{pid}\n{tmp_path}"]
        assert asyncio.run(tool(command="echo $$")).output == str(pid)
    finally:
        asyncio.run(tool.stop())
        kill_leftovers(pid)
    assert wait_gone(pid) == []


def test_stop_from_another_thread_and_loop_kills_the_group() -> None:
    tool = BashTool()
    (pid,) = (int(p) for p in asyncio.run(tool(command="echo $$")).output.split())
    thread = threading.Thread(target=lambda: asyncio.run(tool.stop()))
    thread.start()
    thread.join()
    assert wait_gone(pid) == []


def session_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "bash-session"]


def wait_threads_end(threads: list[threading.Thread]) -> list[threading.Thread]:
    for thread in threads:
        thread.join(timeout=5)
    return [t for t in threads if t.is_alive()]


def test_a_dropped_session_ends_its_shell_thread_and_files() -> None:
    before = set(session_threads())
    session = BashSession()
    asyncio.run(session.start())
    pid, directory = session.pid, session._dir
    assert pid is not None and alive(pid) and directory and os.path.isdir(directory)
    mine = [t for t in session_threads() if t not in before]
    assert len(mine) == 1
    del session
    gc.collect()
    assert wait_gone(pid) == []
    assert not os.path.exists(directory)
    assert wait_threads_end(mine) == []


def test_a_dropped_broken_session_ends_its_thread() -> None:
    before = set(session_threads())
    session = BashSession(timeout=0.5)
    with pytest.raises(ToolError, match="timed out"):
        asyncio.run(session.run("sleep 5"))
    mine = [t for t in session_threads() if t not in before]
    assert len(mine) == 1
    del session
    # The timeout's traceback links the session's frames into a cycle, which the session's own
    # loop thread may still hold for a moment after the caller got the error: collect until
    # the finalizer has run (it ends the thread), as the interpreter's next collection would.
    deadline = time.monotonic() + 5
    while mine[0].is_alive() and time.monotonic() < deadline:
        gc.collect()
        mine[0].join(timeout=0.05)
    assert wait_threads_end(mine) == []


async def test_stop_ends_the_thread_and_is_idempotent() -> None:
    before = set(session_threads())
    session = BashSession()
    await session.start()
    mine = [t for t in session_threads() if t not in before]
    await session.stop()
    await session.stop()
    assert wait_threads_end(mine) == []


# --- direct calls and the collection --------------------------------------------------------


async def test_direct_call_without_a_command(bash: BashTool) -> None:
    with pytest.raises(ToolError, match=r"^no command provided\.$"):
        await bash()
    with pytest.raises(ToolError, match=r"^no command provided\.$"):
        await bash(restart=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"command": 123}, "`command` must be a string"),
        ({"command": ["ls"]}, "`command` must be a string"),
        ({"restart": "yes"}, "`restart` must be a boolean"),
    ],
)
async def test_direct_call_with_wrong_types(bash: BashTool, kwargs: dict, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        await bash(**kwargs)


async def test_unknown_keyword_arguments_are_ignored(bash: BashTool) -> None:
    assert (await bash(command="echo hi", future_field=1)).output == "hi"


@pytest.mark.parametrize("cls", [BashTool20241022, BashTool20250124])
@pytest.mark.parametrize(
    ("tool_input", "expected"),
    [
        ({"command": 5}, "`command` must be of type string"),
        ({"command": None}, "`command` must be of type string"),
        ({"restart": "true"}, "`restart` must be of type boolean"),
        ({}, "give a `command` to run, or `restart: true`"),
        ({"restart": False}, "give a `command` to run, or `restart: true`"),
        ({"command": "echo a\x00b"}, "must not contain NUL"),
        ({"command": "x" * 3_000_000}, "too long"),
        ("echo hi", "must be a JSON object"),
        (None, "must be a JSON object"),
    ],
)
async def test_collection_turns_bad_input_into_error_results(
    cls: type[BashTool], tool_input: typing.Any, expected: str
) -> None:
    tool = cls()
    try:
        result = await ToolCollection(tool).run(name="bash", tool_input=tool_input)
        assert result.error is not None and expected in result.error
        assert result.output is None
        assert tool.session is None  # nothing ran
    finally:
        await tool.stop()


@pytest.mark.parametrize("cls", [BashTool20241022, BashTool20250124])
async def test_collection_runs_commands_and_reports_tool_errors(cls: type[BashTool]) -> None:
    tool = cls(timeout=1.0)
    tools = ToolCollection(tool)
    try:
        ok = await tools.run(name="bash", tool_input={"command": "echo hi", "extra": 1})
        assert (ok.output, ok.error) == ("hi", "")
        timed_out = await tools.run(name="bash", tool_input={"command": "sleep 5"})
        assert timed_out.error and "timed out" in timed_out.error
        restarted = await tools.run(name="bash", tool_input={"restart": True})
        assert restarted.system == "tool has been restarted."
        again = await tools.run(name="bash", tool_input={"command": "echo again"})
        assert again.output == "again"
        await tools.stop()
        assert tool.session is None
    finally:
        await tool.stop()


async def test_the_references_timeout_name_and_words(bash: BashTool) -> None:
    """The reference's tests shorten the timeout through ``_session._timeout`` and match its
    message; ours says that first, then what happened."""
    await bash(command="echo warm")
    assert bash._session is not None
    bash._session._timeout = 0.1
    assert bash._session.timeout == 0.1
    with pytest.raises(ToolError) as timed_out:
        await bash(command="echo begun; sleep 5")
    message = timed_out.value.message
    assert message.startswith(
        "timed out: bash has not returned in 0.1 seconds and must be restarted"
    ), message
    assert "restart: true" in message and "begun" in message
