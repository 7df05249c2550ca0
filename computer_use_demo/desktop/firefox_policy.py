"""Firefox's enterprise policy for the desktop, with the allowed-domains setting applied.

image/start_desktop.sh runs ``python -m computer_use_demo.firefox_policy BASE TARGET`` when
the desktop starts: BASE (image/desktop/firefox-policies.json, first-run nags off) plus, when
domains are allowed, a ``WebsiteFilter`` that blocks every site (``<all_urls>``) except those
domains and their subdomains (``*://*.example.com/*``; Firefox blocks top-level pages and
frames, not every request). The domains come from ``$FIREFOX_ALLOWED_DOMAINS`` if set, else
from the chat app's ``firefox_allowed_domains`` setting; empty means no restriction.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ENV = "FIREFOX_ALLOWED_DOMAINS"
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}$")


def parse_domains(text: str) -> tuple[list[str], list[str]]:
    """(the domains, the entries that are no domain name) of a comma- or space-separated
    list; a scheme, a path or a leading ``*.`` is tolerated."""
    domains: list[str] = []
    bad: list[str] = []
    for item in re.split(r"[\s,;]+", text.strip()):
        if not item:
            continue
        host = re.sub(r"^[a-z]+://", "", item.lower()).split("/")[0].removeprefix("*.")
        if _DOMAIN.match(host) and "." in host:
            if host not in domains:
                domains.append(host)
        else:
            bad.append(item)
    return domains, bad


def with_allow_list(policy: dict[str, Any], domains: list[str] | None) -> dict[str, Any]:
    """``policy`` with Firefox limited to ``domains`` (None: unrestricted; an empty list
    blocks every site)."""
    if domains is None:
        return policy
    policies = dict(policy.get("policies", {}))
    policies["WebsiteFilter"] = {
        "Block": ["<all_urls>"],
        "Exceptions": [f"*://*.{domain}/*" for domain in domains],
    }
    return {**policy, "policies": policies}


def configured_domains() -> str:
    """The setting: the environment's, else the chat app's saved one."""
    if ENV in os.environ:
        return os.environ[ENV]
    from .ui_settings import load_settings

    return load_settings().firefox_allowed_domains


def write(base: Path, target: Path, domains: list[str] | None) -> None:
    """Write the policy atomically, readable by everyone (Firefox runs as the desktop's user)."""
    policy = with_allow_list(json.loads(base.read_text(encoding="utf-8")), domains)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".policies.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(policy, f, indent=2)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
