"""The agent half through the desktop server, against the fake Messages API: a run whose
screenshot, click, typing, bash and editor all go through the server (chosen by
COMPUTER_USE_DESKTOP, as the app and the CLI choose it); the person's stop ends a running
``sleep 100`` within a second; the server killed mid-run gives is_error results and a valid
history. The same runs across network namespaces are in test_desktop_netns.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from computer_use_demo.desktop.select import use_desktop
from tests.fake_api import FakeAnthropicAPI
from tests.support.desktop_server import RunningServer, tcp_server, unix_server
from tests.support.loop import fake_api_fixture as fake_api_fixture
from tests.support.remote_run import TYPED, run
from tests.support.xvfb import XDisplay, xvfb
from tests.test_computer import App

pytestmark = pytest.mark.desktop

DISPLAYS = range(160, 170)
#: What the agent half must do without: the desktop is reached through the server only.
AGENT_ONLY = ("DISPLAY", "DISPLAY_NUM", "WIDTH", "HEIGHT")


@pytest.fixture(scope="module")
def display() -> Iterator[XDisplay]:
    with xvfb(DISPLAYS, 1024, 768) as d:
        yield d


@pytest.fixture
def through(
    request: pytest.FixtureRequest, display: XDisplay, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningServer]:
    """The desktop server (unix socket, or TCP when the test asks), chosen through the
    environment; the agent half itself has no display."""
    kind = getattr(request, "param", "unix")
    with tcp_server(display) if kind == "tcp" else unix_server(display) as server:
        for name in AGENT_ONLY:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("COMPUTER_USE_DESKTOP", server.url)
        if server.token:
            monkeypatch.setenv("COMPUTER_USE_DESKTOP_TOKEN", server.token)
        try:
            yield server
        finally:
            use_desktop()  # forget the choice: the next test reads its own environment


def xterm_typing_into(display: XDisplay, path: Path) -> App:
    """An xterm at the task's click point whose ``cat`` writes what is typed to ``path``."""
    xterm = App(
        display,
        ["xterm", "-geometry", "40x10+0+0", "-T", "typing", "-e", "sh", "-c", f"cat > {path}"],
    )
    xterm.wait_for_window("typing")
    return xterm


@pytest.mark.parametrize("through", ["unix", "tcp"], indirect=True)
async def test_a_task_through_the_desktop_server(
    through: RunningServer, display: XDisplay, fake_api: FakeAnthropicAPI, tmp_path: Path
) -> None:
    typed, note = tmp_path / "typed.txt", tmp_path / "notes" / "note.txt"
    xterm = xterm_typing_into(display, typed)
    try:
        summary = await run("task", fake_api, note=str(note), typed=str(typed))
    finally:
        xterm.stop()
    assert summary["reason"] == "end_turn"
    assert summary["invalid_requests"] == []
    results = summary["results"]
    assert not [k for k, r in results.items() if r["is_error"]], results
    assert results["toolu_shot"]["images"] == ["image/png"]
    assert results["toolu_click"]["images"] == ["image/png"]
    assert results["toolu_type"]["images"] == ["image/png"]
    bash = results["toolu_bash"]["text"]
    assert f"on {display.name}" in bash  # the server's display, though we have none
    assert TYPED in bash and bash.endswith("/tmp")
    assert note.read_text() == "one\n2\n"
    assert "2\t2" in results["toolu_view"]["text"]
    assert fake_api.valid_requests[0].body["tools"][0]["display_width_px"] == 1024


async def test_stop_ends_a_running_sleep_within_a_second(
    through: RunningServer, fake_api: FakeAnthropicAPI
) -> None:
    summary = await run("stop", fake_api)
    assert summary["reason"] == "stopped"
    assert summary["alive_before_stop"] is True
    assert summary["group_gone_after"] < 1.0, summary
    assert summary["invalid_requests"] == []
    assert [r["id"] for r in summary["last_results"]] == ["toolu_sleep"]


async def test_the_server_killed_mid_run(
    through: RunningServer, fake_api: FakeAnthropicAPI
) -> None:
    summary = await run("kill", fake_api)
    assert through.proc.wait(10) is not None  # the agent's bash killed its own server
    assert summary["reason"] == "end_turn"
    assert summary["invalid_requests"] == []  # the history stayed one the API accepts
    killed, after = summary["results"]["toolu_kill"], summary["results"]["toolu_after"]
    assert killed["is_error"] and after["is_error"]
    assert "did not answer" in killed["text"] or "interrupted" in killed["text"], killed
    assert "did not answer" in after["text"] and "started again" in after["text"], after
    assert summary["requests"] == 3


def test_unset_means_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from computer_use_demo.desktop.local import LocalDesktop
    from computer_use_demo.tools import BashTool20250124, ComputerTool20250124, EditTool20250728

    monkeypatch.delenv("COMPUTER_USE_DESKTOP", raising=False)
    use_desktop()
    try:
        assert isinstance(ComputerTool20250124(display_num=1).screen.desktop, LocalDesktop)
        assert BashTool20250124().desktop is None
        assert EditTool20250728()._server is None
    finally:
        use_desktop()


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("ftp://desktop", "must be unix:///path/to/socket or http(s)://host:port"),
        ("unix://relative.sock", "unix:///absolute/path"),
        ("http://127.0.0.1:9", "needs its token"),
    ],
)
def test_a_wrong_desktop_setting_is_refused_clearly(
    value: str, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from computer_use_demo.desktop.errors import DesktopError
    from computer_use_demo.desktop.select import desktop_from_env

    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPUTER_USE_DESKTOP")}
    with pytest.raises(DesktopError, match=said.replace("(", r"\(").replace(")", r"\)")):
        desktop_from_env({**env, "COMPUTER_USE_DESKTOP": value})


def test_the_token_may_come_from_a_file(tmp_path: Path) -> None:
    from computer_use_demo.desktop.select import desktop_from_env

    token = tmp_path / "token"
    token.write_text("a-token-from-a-file-0123456789\n")
    desktop = desktop_from_env(
        {
            "COMPUTER_USE_DESKTOP": "http://127.0.0.1:9",
            "COMPUTER_USE_DESKTOP_TOKEN_FILE": str(token),
        }
    )
    assert desktop is not None
    assert desktop._headers["authorization"] == "Bearer a-token-from-a-file-0123456789"


async def test_the_toolset_and_approval_crops_through_the_server(
    through: RunningServer, display: XDisplay
) -> None:
    """The computer toolset's batch (a click, a settled screenshot, a zoom) and the approval
    crop of a click, with the desktop reached through the server only."""
    import asyncio
    import base64
    import io

    from PIL import Image

    from computer_use_demo.desktop.screen import HIGH_RES_IMAGES
    from computer_use_demo.tools import ComputerToolset20260801, ToolCollection
    from computer_use_demo.tools.approval_policy import (
        CROP_SIZE,
        ApprovalPolicy,
        ApprovalRequest,
        PolicyApprover,
        screen_crop,
    )

    def use(name: str, n: int, **tool_input: object) -> dict:
        return {
            "type": "tool_use",
            "id": f"toolu_{n}",
            "name": name,
            "input": tool_input,
            "toolset_name": "computer",
        }

    toolset = ComputerToolset20260801()
    assert toolset.screen.backend == "server"
    tools = ToolCollection(toolset)
    calls = [
        use("left_click", 1, coordinate=[300, 200]),
        use("screenshot", 2),
        use("zoom", 3, region=[0, 0, 256, 192]),
        use("cursor_position", 4),
    ]
    results: list[dict] = []
    async for _ in tools.run_turn(calls, results=results, stop=asyncio.Event()):
        pass
    assert not [r for r in results if r.get("is_error")], results
    images = [
        Image.open(io.BytesIO(base64.b64decode(c["source"]["data"])))
        for r in results
        for c in r["content"]
        if isinstance(c, dict) and c.get("type") == "image"
    ]
    zoomed = HIGH_RES_IMAGES.fit(256, 192, enlarge=True)  # the zoom fills the model's limits
    assert [i.size for i in images] == [(1024, 768), zoomed]
    assert "300" in str(results[3]["content"]) and "200" in str(results[3]["content"])

    asked: list[ApprovalRequest] = []

    async def say_no(request: ApprovalRequest) -> bool:
        asked.append(request)
        return False

    tools.approve = PolicyApprover(ApprovalPolicy(click="ask"), ask=say_no, crop=screen_crop(tools))
    denied: list[dict] = []
    async for _ in tools.run_turn(
        [use("left_click", 5, coordinate=[1000, 20])], results=denied, stop=asyncio.Event()
    ):
        pass
    assert denied[0]["is_error"]
    crop = Image.open(io.BytesIO(base64.b64decode(asked[0].image or "")))
    assert crop.size == CROP_SIZE


def test_the_system_prompt_names_the_servers_display(
    through: RunningServer, display: XDisplay
) -> None:
    from computer_use_demo.agent.prompts import display_number

    assert display_number() == display.number  # DISPLAY_NUM is unset in the agent half
