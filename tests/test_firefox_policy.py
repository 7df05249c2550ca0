"""The Firefox domain allow-list: the setting (or $FIREFOX_ALLOWED_DOMAINS) becomes an
enterprise-policy WebsiteFilter written at desktop start, on top of the image's base policy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from computer_use_demo.desktop.firefox_policy import parse_domains, with_allow_list

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "image" / "desktop" / "firefox-policies.json"


def test_domains_are_parsed_leniently_and_checked() -> None:
    domains, bad = parse_domains("wikipedia.org, https://Example.com/path *.python.org;x y")
    assert domains == ["wikipedia.org", "example.com", "python.org"]
    assert bad == ["x", "y"]
    assert parse_domains("") == ([], [])


def test_the_filter_blocks_everything_but_the_domains() -> None:
    base = json.loads(BASE.read_text())
    policy = with_allow_list(base, ["wikipedia.org"])
    assert policy["policies"]["WebsiteFilter"] == {
        "Block": ["<all_urls>"],
        "Exceptions": ["*://*.wikipedia.org/*"],
    }
    assert policy["policies"]["DisableAppUpdate"] is True  # the base is kept
    assert with_allow_list(base, None) == base  # no setting: no restriction
    assert with_allow_list(base, [])["policies"]["WebsiteFilter"]["Exceptions"] == []


def run_writer(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    target = tmp_path / "policies" / "policies.json"
    done = subprocess.run(
        [sys.executable, "-m", "computer_use_demo.app.firefox", str(BASE), str(target)],
        cwd=REPO,
        env={**{k: v for k, v in os.environ.items() if k != "FIREFOX_ALLOWED_DOMAINS"}, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done, target


def test_the_writer_takes_the_environment_first(tmp_path: Path) -> None:
    done, target = run_writer(tmp_path, FIREFOX_ALLOWED_DOMAINS="example.com nope")
    assert done.returncode == 0, done.stderr
    assert "ignored: nope" in done.stderr
    written = json.loads(target.read_text())
    assert written["policies"]["WebsiteFilter"]["Exceptions"] == ["*://*.example.com/*"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_the_writer_reads_the_apps_setting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".anthropic").mkdir(parents=True)
    settings = {"firefox_allowed_domains": "docs.python.org"}
    (home / ".anthropic" / "settings.json").write_text(json.dumps(settings))
    done, target = run_writer(tmp_path, HOME=str(home), CONFIG_DIR="")
    assert done.returncode == 0, done.stderr
    written = json.loads(target.read_text())
    assert written["policies"]["WebsiteFilter"]["Exceptions"] == ["*://*.docs.python.org/*"]
    # No setting at all: the base policy as it is.
    (home / ".anthropic" / "settings.json").write_text("{}")
    done, target = run_writer(tmp_path, HOME=str(home), CONFIG_DIR="")
    assert json.loads(target.read_text()) == json.loads(BASE.read_text())
