"""Eval tasks and checkers: the format the loader enforces (a bad file is refused with the
file, the field and why), the starter suite, and each checker on real files and commands."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.evals import checkers
from computer_use_demo.evals.task import (
    STARTER_SUITE,
    TaskError,
    load_suite,
    load_task,
    pages_dir,
    parse_task,
)

GOOD: dict[str, Any] = {
    "id": "demo",
    "instruction": "Say hi into {home}/hi.txt",
    "checkers": [{"type": "file", "path": "{home}/hi.txt", "contains": "hi"}],
}


def write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def refused(data: Any, tmp_path: Path) -> TaskError:
    path = write(tmp_path, "task.json", data)
    with pytest.raises(TaskError) as caught:
        load_task(path)
    assert str(path) in str(caught.value)
    return caught.value


def test_a_good_task_loads_with_its_defaults(tmp_path: Path) -> None:
    task = load_task(write(tmp_path, "t.json", GOOD))
    assert task.id == "demo" and task.setup == [] and task.oracle == []
    assert task.limits.max_steps == 30 and task.limits.timeout_s == 300.0
    filled = task.fill({"home": "/h", "pages": "http://x", "inbox": "/i", "display": ":3"})
    assert filled.instruction == "Say hi into /h/hi.txt"
    assert filled.checkers[0]["path"] == "/h/hi.txt"


def test_placeholders_other_braces_are_left_alone() -> None:
    task = parse_task({**GOOD, "instruction": "echo ${HOME} {home} {nope} {}"})
    assert task.fill({"home": "/h"}).instruction == "echo ${HOME} /h {nope} {}"


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        ({"id": 7}, "id", "is not of type 'string'"),
        ({"instruction": None}, "instruction", "required, but missing"),
        ({"id": "Has Spaces"}, "id", "does not match"),
        ({"instruction": ""}, "instruction", "should be non-empty"),
        ({"checkers": []}, "checkers", "should be non-empty"),
        ({"colour": "red"}, "", "unknown field(s) ('colour' was unexpected)"),
        ({"checkers": [{"type": "smell"}]}, "checkers[0].type", "'smell' is not one of"),
        (
            {"checkers": [{"type": "answer"}]},
            "checkers[0]",
            "needs one of: contains, regex, number",
        ),
        ({"checkers": [{"type": "answer", "number": "42"}]}, "checkers[0].number", "not of type"),
        ({"checkers": [{"type": "answer", "regex": "(unclosed"}]}, "checkers[0].regex", "regex"),
        (
            {"checkers": [{"type": "file", "path": "/x", "json_path": "$.a"}]},
            "checkers[0]",
            "'equals' is a dependency of 'json_path'",
        ),
        (
            {"checkers": [{"type": "command", "command": "true", "exitcode": 0}]},
            "checkers[0]",
            "unknown field(s)",
        ),
        ({"setup": [{"type": "run"}]}, "setup[0].command", "required, but missing"),
        ({"setup": [{"type": "open", "app": "emacs"}]}, "setup[0].app", "'emacs' is not one of"),
        ({"limits": {"timeout_s": 0}}, "limits.timeout_s", "less than or equal to the minimum"),
        ({"limits": {"max_steps": 0}}, "limits.max_steps", "less than the minimum"),
        ({"oracle": [{"type": "answer"}]}, "oracle[0].text", "required, but missing"),
        ({"oracle": [{"type": "teleport"}]}, "oracle[0].type", "'teleport' is not one of"),
    ],
)
def test_a_bad_task_is_refused_with_the_field_and_why(
    change: dict[str, Any], field: str, why: str, tmp_path: Path
) -> None:
    data = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    error = refused(data, tmp_path)
    assert error.field == field, str(error)
    assert why in error.why, str(error)


def test_a_file_that_is_no_json_says_where(tmp_path: Path) -> None:
    error = refused('{"id": "x",\n  "instruction": }', tmp_path)
    assert "not JSON" in error.why and "line 2" in error.why


def test_a_suite_is_refused_whole_with_every_bad_file(tmp_path: Path) -> None:
    write(tmp_path, "a.json", GOOD)
    write(tmp_path, "b.json", GOOD)  # the same id
    write(tmp_path, "c.json", {**GOOD, "id": "c", "checkers": "none"})
    with pytest.raises(TaskError) as caught:
        load_suite(tmp_path)
    text = str(caught.value)
    assert f"{tmp_path / 'b.json'}: id: 'demo' is also the id of {tmp_path / 'a.json'}" in text
    assert f"{tmp_path / 'c.json'}: checkers: 'none' is not of type 'array'" in text


def test_a_missing_suite_and_an_unknown_task_id_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="no such suite"):
        load_suite(tmp_path / "nothing")
    with pytest.raises(TaskError, match="no task file"):
        load_suite(tmp_path)
    write(tmp_path, "a.json", GOOD)
    with pytest.raises(TaskError, match="no task with id other"):
        load_suite(tmp_path, ["other"])
    assert [t.id for t in load_suite(tmp_path, ["demo"])] == ["demo"]


def test_the_starter_suite_loads_and_covers_the_image_apps() -> None:
    tasks = load_suite(STARTER_SUITE)
    assert len(tasks) >= 20
    assert all(t.oracle for t in tasks), "every starter task has an oracle"
    tags = {tag for t in tasks for tag in t.tags}
    assert {"terminal", "editor", "firefox", "files"} <= tags
    opened = {s["app"] for t in tasks for s in t.setup if s["type"] == "open"}
    assert opened == {"firefox", "editor", "terminal"}
    pages = pages_dir(STARTER_SUITE)
    assert pages is not None
    for task in tasks:  # every local page a task opens ships with the suite
        for step in task.setup:
            if step.get("app") == "firefox":
                page = step["target"].removeprefix("{pages}/")
                assert (pages / page).is_file(), page
    firefox = [t for t in tasks if "firefox" in t.tags]
    kinds = {c["type"] for t in firefox for c in t.checkers}
    assert {"answer", "file"} <= kinds  # a table to read, a form to fill, a link to follow


# ---------------------------------------------------------------- checkers


def test_answer_checkers() -> None:
    def ok(spec: dict[str, Any], answer: str) -> bool:
        return checkers.check_answer({"type": "answer", **spec}, answer).passed

    assert ok({"contains": "Paris"}, "It is Paris.")
    assert not ok({"contains": "Paris"}, "Lyon")
    assert ok({"regex": r"^\d+$"}, "first\n42")
    assert ok({"number": 1234.5, "tolerance": 0.01}, "The total is 1,234.50 dollars")
    assert ok({"number": 43}, "Garden items: 12.00 + 27.90 + 3.10 = $43.00")
    assert not ok({"number": 43}, "about 42")
    assert not ok({"number": 4}, "four")
    result = checkers.check_answer({"type": "answer", "number": 8, "tolerance": 0.5}, "9")
    assert result.detail == "expected 8 ± 0.5, got 9"


def test_file_checkers(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text('{"server": {"port": 8081, "hosts": ["a", "b"]}}')
    (tmp_path / "t.txt").write_text("hello\n")

    def check(**spec: Any) -> checkers.CheckResult:
        return checkers.check_file({"type": "file", **spec})

    assert check(path=str(tmp_path / "t.txt"), exact="hello").passed
    assert check(path=str(tmp_path / "c.json"), json_path="$.server.port", equals=8081).passed
    assert check(path=str(tmp_path / "c.json"), json_path="$.server.hosts[1]", equals="b").passed
    missing = check(path=str(tmp_path / "c.json"), json_path="$.server.tls", equals=True)
    assert not missing.passed and missing.detail == "$.server has no field 'tls'"
    wrong = check(path=str(tmp_path / "c.json"), json_path="$.server.port", equals="8081")
    assert "is 8081, expected '8081'" in wrong.detail
    assert check(path=str(tmp_path / "gone"), exists=False).passed
    assert not check(path=str(tmp_path / "t.txt"), exists=False).passed
    absent = check(path=str(tmp_path / "gone"), contains="x")
    assert not absent.passed and "cannot read" in absent.detail
    assert not check(path=str(tmp_path / "t.txt"), json_path="$.a", equals=1).passed


def test_command_checkers(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "SOME_API_KEY": "secret-value"}

    def check(**spec: Any) -> checkers.CheckResult:
        run = checkers.check_command({"type": "command", **spec}, env, str(tmp_path))
        return asyncio.run(run)

    assert check(command="echo hi", exact="hi", exit_code=0).passed
    assert check(command="pwd", exact=str(tmp_path)).passed
    failed = check(command="echo oops; exit 3", exit_code=0)
    assert not failed.passed and failed.detail.startswith("exit code 3, expected 0")
    assert check(command="printf 'a\\nb\\n'", regex="^b$").passed
    # The desktop's commands never see a secret of ours.
    assert check(command='echo "[$SOME_API_KEY]"', exact="[]").passed


def test_the_readme_example_is_a_valid_task() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("**Write a task.**") :]
    block = section[section.index("```json") + len("```json") : section.index("```\n", 10)]
    task = parse_task(json.loads(block), "README.md")
    assert task.id == "web-fill-form" and task.oracle
