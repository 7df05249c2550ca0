"""A task's setup on its desktop: run a command, write a file, open an app, wait for a window.

Everything runs as the desktop's user, with the desktop's environment (its display, its home,
no secret of ours). A step that fails raises ``SetupFailed`` saying which step and why: the
task is then reported as a setup failure, not as the agent's.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..desktop.processes import launch
from .checkers import run_command

DEFAULT_RUN_TIMEOUT = 60.0
DEFAULT_WINDOW_TIMEOUT = 30.0
#: Firefox without first-run pages, nags or session restore: each task's profile is new.
FIREFOX_PREFS = {
    "browser.aboutwelcome.enabled": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "startup.homepage_welcome_url": "",
    "startup.homepage_welcome_url.additional": "",
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.policy.firstRunURL": "",
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.sessionstore.resume_from_crash": False,
    "browser.formfill.enable": False,
    "signon.rememberSignons": False,
    "app.update.auto": False,
    "browser.translations.automaticallyPopup": False,
    "browser.newtabpage.enabled": False,
}


class SetupFailed(Exception):
    """A setup step did not work; ``str()`` says which and why."""


def firefox_argv(home: Path, url: str | None) -> list[str]:
    """Firefox on a profile of the desktop's home (made with FIREFOX_PREFS if new)."""
    binary = shutil.which("firefox-esr") or shutil.which("firefox") or "firefox-esr"
    profile = home / ".eval-firefox"
    if not profile.is_dir():
        profile.mkdir(parents=True, mode=0o700)
        lines = [f"user_pref({_js(k)}, {_js(v)});" for k, v in FIREFOX_PREFS.items()]
        (profile / "user.js").write_text("\n".join(lines) + "\n")
    return [binary, "--profile", str(profile), "--no-remote", *([url] if url else [])]


def _js(value: Any) -> str:
    return "true" if value is True else "false" if value is False else repr(value)


def editor_argv(target: str | None) -> list[str]:
    """The desktop's text editor (as the panel's launcher picks it), else a terminal."""
    for app in ("mousepad", "gedit", "featherpad", "leafpad"):
        if shutil.which(app):
            return [app, *([target] if target else [])]
    return terminal_argv(None)


def terminal_argv(target: str | None) -> list[str]:
    return ["xterm", *(["-e", "bash", "-c", target] if target else [])]


async def find_window(env: Mapping[str, str], *, name: str | None, klass: str | None) -> bool:
    """Whether a visible window with the title regex ``name`` / class ``klass`` exists."""
    argv = ["xdotool", "search", "--onlyvisible"]
    argv += ["--name", name] if name else ["--class", klass or ""]
    code, out = await run_command(" ".join(_quote(a) for a in argv), env, env.get("HOME", "/"))
    return code == 0 and bool(out.split())


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


async def wait_window(step: Mapping[str, Any], env: Mapping[str, str]) -> None:
    timeout = float(step.get("timeout", DEFAULT_WINDOW_TIMEOUT))
    deadline = time.monotonic() + timeout
    while not await find_window(env, name=step.get("name"), klass=step.get("class")):
        if time.monotonic() > deadline:
            what = f"title /{step['name']}/" if step.get("name") else f"class {step['class']}"
            raise SetupFailed(f"no window with {what} after {timeout:g}s")
        await asyncio.sleep(0.1)


def write_file(step: Mapping[str, Any]) -> None:
    path = Path(step["path"])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(step["content"], encoding="utf-8")
        if step.get("executable"):
            os.chmod(path, 0o755)
    except OSError as e:
        raise SetupFailed(f"cannot write {path}: {e.strerror or e}") from e


async def run_step(step: Mapping[str, Any], env: Mapping[str, str], log: Path) -> None:
    """One setup step (SetupFailed if it fails)."""
    home = Path(env["HOME"])
    kind = step["type"]
    if kind == "run":
        timeout = float(step.get("timeout", DEFAULT_RUN_TIMEOUT))
        code, output = await run_command(step["command"], env, str(home), timeout)
        if code != 0:
            said = "timed out" if code is None else f"exit code {code}"
            raise SetupFailed(f"{step['command']!r}: {said}: {output.strip()[-500:]}")
    elif kind == "write_file":
        write_file(step)
    elif kind == "open":
        target = step.get("target")
        argv = {
            "firefox": lambda: firefox_argv(home, target),
            "editor": lambda: editor_argv(target),
            "terminal": lambda: terminal_argv(target),
        }[step["app"]]()
        try:
            launch(argv, env=env, cwd=str(home), log=str(log))
        except OSError as e:
            raise SetupFailed(f"cannot start {argv[0]}: {e.strerror or e}") from e
    elif kind == "wait_window":
        await wait_window(step, env)


async def run_setup(steps: list[dict[str, Any]], env: Mapping[str, str], log: Path) -> None:
    """Every step in order; SetupFailed names the first that failed (1-based)."""
    for number, step in enumerate(steps, 1):
        try:
            await run_step(step, env, log)
        except SetupFailed as e:
            raise SetupFailed(f"setup step {number} ({step['type']}): {e}") from None
