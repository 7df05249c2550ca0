"""The package's layers (DESIGN.md, "Package layout"): imports point down only, and the
reference's import paths keep working."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "computer_use_demo"

#: Lower number = lower layer. A module may import its own layer and the ones below it.
LAYERS = {
    "desktop": 0,
    "tools": 1,
    "agent": 2,
    "sessions": 3,
    "app": 4,
    "door": 4,
    "evals": 4,
    "api": 5,  # the task API and the MCP server: above the app (its runner) and the door
    "mcp_server": 5,
    "<top>": 6,  # the entry files: loop.py, streamlit.py, cli.py, __main__.py
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "<top>"


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def submodule_or(package: str, name: str) -> str:
    """``package.name`` when that is a module (``from . import history``), else ``package``."""
    base = PACKAGE.parent.joinpath(*f"{package}.{name}".split("."))
    is_module = base.with_suffix(".py").exists() or (base / "__init__.py").exists()
    return f"{package}.{name}" if is_module else package


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every package module that ``path`` imports, at any depth (function-level included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found += [(node.lineno, submodule_or(target, a.name)) for a in node.names]
    return [(line, m) for line, m in found if m.split(".")[0] == "computer_use_demo"]


def all_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_imports_point_down_only() -> None:
    upward = []
    for path in all_modules():
        mine = layer_of(module_name(path))
        for line, target in imported_modules(path):
            theirs = layer_of(target)
            if LAYERS[theirs] > LAYERS[mine]:
                upward.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} ({mine}) imports {target} ({theirs})"
                )
    assert not upward, "imports that point up a layer:\n" + "\n".join(upward)


def test_the_walker_finds_every_kind_of_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walker itself: relative, absolute, package and function-level imports are all seen."""
    root = tmp_path / "computer_use_demo"
    for module in ("agent/loop", "app/render", "desktop/screen", "tools/base"):
        (root / module).parent.mkdir(parents=True, exist_ok=True)
        (root / module).parent.joinpath("__init__.py").write_text("")
        (root / f"{module}.py").write_text("")
    bad = root / "desktop" / "bad.py"
    bad.write_text(
        "from ..agent import loop\n"
        "from .screen import Screen\n"
        "import computer_use_demo.app.render\n"
        "def f():\n    from ..tools.base import ToolResult\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", root)
    found = sorted(m for _, m in imported_modules(bad))
    assert found == [
        "computer_use_demo.agent.loop",
        "computer_use_demo.app.render",
        "computer_use_demo.desktop.screen",
        "computer_use_demo.tools.base",
    ]
    assert [layer_of(m) for m in found] == ["agent", "app", "desktop", "tools"]


def test_no_import_cycles_between_modules() -> None:
    """models and thinking used to import each other; no module pair may do that."""
    edges: dict[str, set[str]] = {}
    for path in all_modules():
        edges[module_name(path)] = {m for _, m in imported_modules(path)}
    cycles = sorted(
        f"{a} <-> {b}"
        for a, targets in edges.items()
        for b in targets
        if a < b and a in edges.get(b, set()) and not a.endswith("__init__")
    )
    assert not cycles, cycles


def test_every_package_says_what_lives_there() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "import" in doc, (
            f"{init}: the docstring says what lives here and what it may import"
        )


#: The reference's public import paths (anthropics/claude-quickstarts, computer-use-demo).
REFERENCE_PATHS = {
    "computer_use_demo.loop": ["sampling_loop", "APIProvider", "SYSTEM_PROMPT"],
    "computer_use_demo.streamlit": [],
    "computer_use_demo.tools": [
        "ToolResult",
        "CLIResult",
        "ToolFailure",
        "ToolError",
        "ToolCollection",
        "ToolVersion",
        "TOOL_GROUPS_BY_VERSION",
        "BashTool20241022",
        "BashTool20250124",
        "ComputerTool20241022",
        "ComputerTool20250124",
        "EditTool20241022",
        "EditTool20250124",
        "EditTool20250429",
    ],
    "computer_use_demo.tools.base": ["BaseAnthropicTool", "ToolResult", "CLIResult", "ToolError"],
    "computer_use_demo.tools.bash": ["BashTool20250124"],
    "computer_use_demo.tools.computer": ["ComputerTool20250124"],
    "computer_use_demo.tools.edit": ["EditTool20250124"],
    "computer_use_demo.tools.collection": ["ToolCollection"],
    "computer_use_demo.tools.groups": ["TOOL_GROUPS_BY_VERSION", "ToolVersion"],
    "computer_use_demo.tools.run": ["run", "maybe_truncate"],
}


@pytest.mark.parametrize("path", sorted(REFERENCE_PATHS))
def test_the_reference_import_paths_work(path: str) -> None:
    module = importlib.import_module(path)
    missing = [name for name in REFERENCE_PATHS[path] if not hasattr(module, name)]
    assert not missing, f"{path} lacks {missing}"
