"""Eval tasks: one JSON file per task, checked against task.schema.json when loaded.

A bad file is refused with the file, the field and why (``TaskError``), before any desktop
starts: a suite either loads whole or not at all. Strings may name the placeholders of
``PLACEHOLDERS``; ``Task.fill`` puts one desktop's values in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

#: What a task's strings may name, e.g. "{home}/notes.txt".
PLACEHOLDERS = ("home", "pages", "inbox", "display")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
#: The suite that ships with the package (the default of ``eval``).
STARTER_SUITE = Path(str(resources.files(__package__) / "suites" / "starter"))

DEFAULT_MAX_STEPS = 30
DEFAULT_TIMEOUT_S = 300.0


class TaskError(ValueError):
    """A task file that cannot be used: ``str()`` says the file, the field and why."""

    def __init__(self, path: Path | str, field: str, why: str) -> None:
        self.path, self.field, self.why = str(path), field, why
        super().__init__(f"{path}: {field or '(the file)'}: {why}")


@cache
def schema() -> dict[str, Any]:
    """The task format (JSON Schema, draft 2020-12)."""
    return json.loads((resources.files(__package__) / "task.schema.json").read_text("utf-8"))


def _field(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _why(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field(s)")
    if (
        error.validator == "anyOf"
        and error.validator_value
        and "required" in str(error.validator_value)
    ):
        options = [" and ".join(o.get("required", [])) for o in error.validator_value]
        return "needs one of: " + ", ".join(options)
    return error.message


@dataclass(frozen=True)
class Limits:
    max_steps: int = DEFAULT_MAX_STEPS
    max_cost_usd: float | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class Task:
    """One task as loaded (placeholders not yet filled)."""

    id: str
    instruction: str
    checkers: list[dict[str, Any]]
    setup: list[dict[str, Any]] = field(default_factory=list)
    oracle: list[dict[str, Any]] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    description: str = ""
    tags: list[str] = field(default_factory=list)
    path: Path | None = None

    def fill(self, values: Mapping[str, str]) -> Task:
        """This task with every placeholder replaced by ``values`` (one desktop's)."""

        def sub(value: Any) -> Any:
            if isinstance(value, str):
                return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
            if isinstance(value, list):
                return [sub(v) for v in value]
            if isinstance(value, dict):
                return {k: sub(v) for k, v in value.items()}
            return value

        return Task(
            id=self.id,
            instruction=sub(self.instruction),
            checkers=sub(self.checkers),
            setup=sub(self.setup),
            oracle=sub(self.oracle),
            limits=self.limits,
            description=self.description,
            tags=self.tags,
            path=self.path,
        )


def parse_task(data: Any, path: Path | str = "<task>") -> Task:
    """A task from its JSON value; TaskError (file, field, why) if it breaks the format."""
    validator = jsonschema.Draft202012Validator(
        schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = list(error.absolute_path)
        missing = re.match(r"'(.+)' is a required property", error.message)
        if error.validator == "required" and missing:
            raise TaskError(path, _field([*where, missing.group(1)]), "required, but missing")
        raise TaskError(path, _field(where), _why(error))
    limits = data.get("limits", {})
    return Task(
        id=data["id"],
        instruction=data["instruction"],
        checkers=data["checkers"],
        setup=data.get("setup", []),
        oracle=data.get("oracle", []),
        limits=Limits(
            max_steps=limits.get("max_steps", DEFAULT_MAX_STEPS),
            max_cost_usd=limits.get("max_cost_usd"),
            timeout_s=float(limits.get("timeout_s", DEFAULT_TIMEOUT_S)),
        ),
        description=data.get("description", ""),
        tags=data.get("tags", []),
        path=Path(path),
    )


def load_task(path: Path) -> Task:
    """One task file; TaskError if it is no JSON or breaks the format."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise TaskError(path, "", f"cannot read it: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise TaskError(path, "", f"not UTF-8 text: {e}") from e
    except json.JSONDecodeError as e:
        raise TaskError(path, "", f"not JSON: {e.msg} at line {e.lineno}, column {e.colno}") from e
    return parse_task(data, path)


def task_files(suite: Path) -> list[Path]:
    """A suite's task files: the folder's ``*.json`` (not its pages), or one file."""
    suite = Path(suite)
    if suite.is_file():
        return [suite]
    if not suite.is_dir():
        raise TaskError(suite, "", "no such suite (a folder of task files, or one task file)")
    files = sorted(p for p in suite.glob("*.json") if p.is_file())
    if not files:
        raise TaskError(suite, "", "the suite has no task file (*.json)")
    return files


def load_suite(suite: Path, only: list[str] | None = None) -> list[Task]:
    """Every task of ``suite`` (only the ids in ``only``, when given). Refuses the suite with
    every bad file's error (a TaskError per line) and duplicate ids."""
    tasks: list[Task] = []
    errors: list[str] = []
    seen: dict[str, Path] = {}
    for path in task_files(suite):
        try:
            task = load_task(path)
        except TaskError as e:
            errors.append(str(e))
            continue
        if task.id in seen:
            errors.append(
                str(TaskError(path, "id", f"{task.id!r} is also the id of {seen[task.id]}"))
            )
            continue
        seen[task.id] = path
        tasks.append(task)
    if errors:
        raise TaskError(suite, "", "bad task files:\n  " + "\n  ".join(errors))
    if only:
        unknown = [i for i in only if i not in seen]
        if unknown:
            raise TaskError(suite, "", f"no task with id {', '.join(unknown)}")
        tasks = [t for t in tasks if t.id in only]
    return tasks


def pages_dir(suite: Path) -> Path | None:
    """The suite's web pages (its ``pages`` folder), if it has one."""
    folder = Path(suite) if Path(suite).is_dir() else Path(suite).parent
    return folder / "pages" if (folder / "pages").is_dir() else None
