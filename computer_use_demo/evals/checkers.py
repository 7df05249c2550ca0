"""Checkers: did the task get done? A command's output, a file's content, the final answer.

Each checker gives a ``CheckResult`` with what it saw, so a failed task's report says why. A
checker that cannot run (a command that hangs, a file that is not there) fails with the
reason; it never raises.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..desktop.processes import kill_group, spawn

COMMAND_TIMEOUT = 30.0
#: What a report keeps of an output or a file.
SHOWN = 2000
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_JSON_PATH = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[([0-9]+)\]")


@dataclass(frozen=True)
class CheckResult:
    checker: dict[str, Any]
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def run_command(
    command: str, env: Mapping[str, str], cwd: str, timeout: float = COMMAND_TIMEOUT
) -> tuple[int | None, str]:
    """(exit code, stdout and stderr) of ``bash -c command`` on the desktop; None on timeout."""
    proc = await spawn(["bash", "-c", command], env=env, cwd=cwd)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        await kill_group(proc)
        return None, f"did not finish within {timeout:g}s"
    finally:
        if proc.returncode is None:
            await kill_group(proc)
    return proc.returncode, (out + err).decode(errors="replace")


def _clip(text: str) -> str:
    return text if len(text) <= SHOWN else text[:SHOWN] + f"… ({len(text) - SHOWN} more)"


def match_text(spec: Mapping[str, Any], text: str) -> str | None:
    """Why ``text`` fails ``spec``'s exact / contains / regex expectations (None: it passes).
    ``exact`` ignores surrounding whitespace (a trailing newline)."""
    if "exact" in spec and text.strip() != spec["exact"].strip():
        return f"expected exactly {spec['exact']!r}, got {_clip(text.strip())!r}"
    if "contains" in spec and spec["contains"] not in text:
        return f"expected it to contain {spec['contains']!r}, got {_clip(text)!r}"
    if "regex" in spec and not re.search(spec["regex"], text, re.MULTILINE):
        return f"expected a match of /{spec['regex']}/, got {_clip(text)!r}"
    return None


def json_path(value: Any, path: str) -> Any:
    """The value at ``$.a.b[0]`` in ``value``; KeyError naming the missing step."""
    at = "$"
    for key, index in _JSON_PATH.findall(path[1:]):
        if key:
            if not isinstance(value, dict) or key not in value:
                raise KeyError(f"{at} has no field {key!r}")
            value, at = value[key], f"{at}.{key}"
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                raise KeyError(f"{at} has no item [{index}]")
            value, at = value[int(index)], f"{at}[{index}]"
    return value


def last_number(text: str) -> float | None:
    """The last number written in ``text`` (1,234.5 and -3 count), if any."""
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def check_answer(spec: Mapping[str, Any], answer: str) -> CheckResult:
    why = match_text(spec, answer)
    if why is None and "number" in spec:
        got = last_number(answer)
        tolerance = spec.get("tolerance", 0)
        if got is None:
            why = f"expected the number {spec['number']:g}, the answer has no number"
        elif abs(got - spec["number"]) > tolerance:
            why = f"expected {spec['number']:g} ± {tolerance:g}, got {got:g}"
    return CheckResult(dict(spec), why is None, why or f"answer {_clip(answer)!r}")


def check_file(spec: Mapping[str, Any]) -> CheckResult:
    path = Path(spec["path"])
    exists = path.is_file()
    if "exists" in spec and exists != spec["exists"]:
        said = "exists" if exists else "does not exist"
        return CheckResult(dict(spec), False, f"{path} {said}")
    wants_content = any(k in spec for k in ("exact", "contains", "regex", "json_path"))
    if not wants_content:
        return CheckResult(dict(spec), True, f"{path} {'exists' if exists else 'is absent'}")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return CheckResult(dict(spec), False, f"cannot read {path}: {e.strerror or e}")
    why = match_text(spec, text)
    if why is None and "json_path" in spec:
        try:
            got = json_path(json.loads(text), spec["json_path"])
        except json.JSONDecodeError as e:
            why = f"{path} is not JSON: {e.msg}"
        except KeyError as e:
            why = str(e.args[0])
        else:
            if got != spec["equals"]:
                why = f"{spec['json_path']} is {got!r}, expected {spec['equals']!r}"
    return CheckResult(dict(spec), why is None, why or f"{path}: as expected")


async def check_command(spec: Mapping[str, Any], env: Mapping[str, str], cwd: str) -> CheckResult:
    code, output = await run_command(spec["command"], env, cwd)
    if code is None:
        return CheckResult(dict(spec), False, output)
    why = None
    if "exit_code" in spec and code != spec["exit_code"]:
        why = f"exit code {code}, expected {spec['exit_code']}; output {_clip(output)!r}"
    why = why or match_text(spec, output)
    return CheckResult(dict(spec), why is None, why or f"exit code {code}")


async def run_checkers(
    checkers: list[dict[str, Any]], *, answer: str, env: Mapping[str, str], cwd: str
) -> list[CheckResult]:
    """Every checker's result, in order (all run: a report shows each)."""
    results = []
    for spec in checkers:
        kind = spec["type"]
        if kind == "answer":
            results.append(check_answer(spec, answer))
        elif kind == "file":
            results.append(check_file(spec))
        else:
            results.append(await check_command(spec, env, cwd))
    return results
