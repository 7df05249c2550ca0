"""The system prompt: the reference's text, with the real display, distribution and date."""

from __future__ import annotations

import os
import platform
from datetime import date
from functools import cache

from ..desktop.errors import DesktopError
from ..desktop.select import chosen_desktop


@cache
def _distribution() -> str:
    """``Debian`` / ``Ubuntu`` from /etc/os-release, so the model picks the right commands."""
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("NAME="):
                    name = line.split("=", 1)[1].strip().strip('"').split()
                    return name[0] if name else "Linux"
    except OSError:
        pass
    return "Linux"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def display_number() -> int:
    """The X display the desktop runs on (``DISPLAY_NUM``, as the reference; without it, the
    desktop server's display when the tools act through one; default 1)."""
    value = os.environ.get("DISPLAY_NUM", "")
    if not value:
        try:
            server = chosen_desktop()
        except DesktopError:
            server = None
        if server is not None:
            value = server.display.rpartition(":")[2].partition(".")[0]
    try:
        return int(value or "1")
    except ValueError:
        return 1


#: Set by the start (image/entrypoint.sh): "0" when the desktop's user has no sudo (the default
#: of the two-user stack), "1" when it has; unset: unknown (library use), the reference's words.
DESKTOP_SUDO_ENV = "DESKTOP_SUDO"


def desktop_has_sudo() -> bool | None:
    """Whether the desktop's user may use sudo (``DESKTOP_SUDO``); None when nobody said."""
    value = os.environ.get(DESKTOP_SUDO_ENV, "").strip()
    return {"0": False, "1": True}.get(value)


def _install_line(distribution: str, sudo: bool | None) -> str:
    if sudo is False:
        # The model would otherwise spend steps on apt-get and sudo that cannot work here.
        return (
            "* You have no sudo (no root) on this desktop, so you cannot install "
            f"{distribution} packages (apt-get fails): use the applications already installed, "
            "or install into your home folder (pip install --user, downloads into ~). "
            "Use curl instead of wget."
        )
    return (
        f"* You can feel free to install {distribution} applications with your bash tool. "
        "Use curl instead of wget."
    )


def system_prompt(
    *,
    display_num: int | None = None,
    today: date | None = None,
    editor_name: str = "str_replace_based_edit_tool",
    sudo: bool | None = None,
) -> str:
    """The reference system prompt for this machine. ``editor_name`` is the editor tool's name
    in the chosen tool group (``str_replace_editor`` for the 2024 tools); ``sudo`` whether the
    desktop's user has sudo (default: ``DESKTOP_SUDO``; unknown keeps the reference's words)."""
    num = display_number() if display_num is None else display_num
    day = today or date.today()
    install = _install_line(_distribution(), desktop_has_sudo() if sudo is None else sudo)
    return f"""<SYSTEM_CAPABILITY>
* You are utilising {_article(_distribution())} {_distribution()} virtual machine using {platform.machine()} architecture with internet access.
{install}
* To open firefox, please just click on the firefox icon.  Note, firefox-esr is what is installed on your system.
* Using bash tool you can start GUI applications, but you need to set export DISPLAY=:{num} and use a subshell. For example "(DISPLAY=:{num} xterm &)". GUI apps run with bash tool will appear within your desktop environment, but they may take some time to appear. Take a screenshot to confirm it did.
* When using your bash tool with commands that are expected to output very large quantities of text, redirect into a tmp file and use {editor_name} or `grep -n -B <lines before> -A <lines after> <query> <filename>` to confirm output.
* When viewing a page it can be helpful to zoom out so that you can see everything on the page.  Either that, or make sure you scroll down to see everything before deciding something isn't available.
* When using your computer function calls, they take a while to run and send back to you.  Where possible/feasible, try to chain multiple of these calls all into one function calls request.
* The current date is {day.strftime("%A, %B")} {day.day}, {day.year}.
</SYSTEM_CAPABILITY>

<IMPORTANT>
* When using Firefox, if a startup wizard appears, IGNORE IT.  Do not even click "skip this step".  Instead, click on the address bar where it says "Search or enter address", and enter the appropriate search term or URL there.
* If the item you are looking at is a pdf, if after taking a single screenshot of the pdf it seems that you want to read the entire document instead of trying to continue to read the pdf from your screenshots + navigation, determine the URL, use curl to download the pdf, install and use pdftotext to convert it to a text file, and then read that text file directly with your {editor_name}.
</IMPORTANT>"""


def with_suffix(prompt: str, suffix: str) -> str:
    """The reference's way of adding the user's suffix: one space, then the suffix."""
    return f"{prompt} {suffix}" if suffix else prompt
