"""Firefox's enterprise policy for the desktop, with an allow-list of domains applied.

The policy is the base (image/desktop/firefox-policies.json, first-run nags off) plus, when
domains are allowed, a ``WebsiteFilter`` that blocks every site (``<all_urls>``) except those
domains and their subdomains (``*://*.example.com/*``; Firefox blocks top-level pages and
frames, not every request). Which domains is the agent half's setting: app/firefox.py.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

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
