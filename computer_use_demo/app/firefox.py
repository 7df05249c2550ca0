"""The Firefox allow-list setting, written as the desktop's policy when the desktop starts.

image/start_desktop.sh runs ``python -m computer_use_demo.app.firefox BASE TARGET``. The domains
come from ``$FIREFOX_ALLOWED_DOMAINS`` if set, else from the chat app's
``firefox_allowed_domains`` setting; empty means no restriction.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..desktop.firefox_policy import parse_domains, write
from .settings import load_settings

ENV = "FIREFOX_ALLOWED_DOMAINS"


def configured_domains() -> str:
    """The setting: the environment's, else the chat app's saved one."""
    if ENV in os.environ:
        return os.environ[ENV]
    return load_settings().firefox_allowed_domains


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    setting = configured_domains()
    domains, bad = parse_domains(setting)
    if bad:  # said, and left out: a typo must not open every site
        print(f"firefox policy: not a domain name, ignored: {', '.join(bad)}", file=sys.stderr)
    restricted = domains if setting.strip() else None
    write(args.base, args.target, restricted)
    if restricted is not None:
        print(f"firefox policy: only {', '.join(domains) or 'no site'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
