"""The combined page on 8080: its server, and the URLs the page builds in a real browser."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.support.browser import launch_chromium
from tests.support.procs import kill_tree
from tests.support.ui import IMAGE, free_ports, wait_http


@pytest.fixture
def page_server() -> Iterator[tuple[int, int, int]]:
    port, streamlit_port, novnc_port = free_ports(3)
    proc = subprocess.Popen(
        [
            sys.executable,
            str(IMAGE / "webapp" / "server.py"),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--streamlit-port",
            str(streamlit_port),
            "--novnc-port",
            str(novnc_port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=15)
        yield port, streamlit_port, novnc_port
    finally:
        kill_tree(proc)


def test_server_fills_in_the_ports_and_serves_only_the_page(page_server) -> None:
    port, streamlit_port, novnc_port = page_server
    html = wait_http(f"http://127.0.0.1:{port}/").decode()
    assert f'streamlit: "{streamlit_port}"' in html and f'novnc: "{novnc_port}"' in html
    assert "__STREAMLIT_PORT__" not in html and "__NOVNC_PORT__" not in html
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/../../etc/passwd", timeout=5)
    assert err.value.code == 404


@pytest.mark.browser
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_page_builds_frame_urls_from_its_own_address(page_server, host: str) -> None:
    """Loaded from any host name, the frames point at that host (works on a remote machine)."""
    port, streamlit_port, novnc_port = page_server
    with launch_chromium() as browser:
        page = browser.new_page()
        page.goto(f"http://{host}:{port}/", wait_until="domcontentloaded")
        chat = page.get_attribute("#chat", "src")
        vnc = page.get_attribute("#vnc", "src")
        assert chat == f"http://{host}:{streamlit_port}/"
        assert vnc is not None and vnc.startswith(f"http://{host}:{novnc_port}/vnc.html?")
        for param in ("autoconnect=1", "reconnect=1", "resize=scale", "view_only=1"):
            assert param in vnc
        # The toggle gives control (view_only=0) and takes it back.
        page.click("#control")
        assert "view_only=0" in (page.get_attribute("#vnc", "src") or "")
        assert page.get_attribute("#control", "aria-pressed") == "true"
        page.click("#control")
        assert "view_only=1" in (page.get_attribute("#vnc", "src") or "")
