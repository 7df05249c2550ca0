"""The file editor on real files: every command, every error path, every version."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from anthropic.types import beta

from computer_use_demo.tools import (
    EditTool,
    EditTool20241022,
    EditTool20250124,
    EditTool20250429,
    EditTool20250728,
    ToolCollection,
    ToolError,
    ToolResult,
    edit,
)
from computer_use_demo.tools.run import TRUNCATED_MESSAGE
from tests.support.edit import (
    ALL_EDITORS,
    NO_UNDO_EDITORS,
    run_permission_report,
)
from tests.support.edit import editor as editor
from tests.support.edit import editor_server as editor_server
from tests.support.edit import shared_dir as shared_dir
from tests.support.edit import undo_editor as undo_editor

CAT = "Here's the result of running `cat -n` on {}:\n"
HOME_NOTES = os.path.expanduser("~/notes.txt")
REVIEW = "Review the changes and make sure they are as expected. Edit the file again if necessary."


async def fails(tool: EditTool, **kwargs: object) -> str:
    """The ToolError message of a call that must fail."""
    with pytest.raises(ToolError) as info:
        await tool(**kwargs)
    return info.value.message


def numbered(*lines: str, first: int = 1) -> str:
    return "".join(f"{n:6}\t{line}\n" for n, line in enumerate(lines, first))


# --- to_params --------------------------------------------------------------------------------

SDK_PARAM = {
    EditTool20241022: beta.BetaToolTextEditor20241022Param,
    EditTool20250124: beta.BetaToolTextEditor20250124Param,
    EditTool20250429: beta.BetaToolTextEditor20250429Param,
    EditTool20250728: beta.BetaToolTextEditor20250728Param,
}


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (EditTool20241022, {"type": "text_editor_20241022", "name": "str_replace_editor"}),
        (EditTool20250124, {"type": "text_editor_20250124", "name": "str_replace_editor"}),
        (
            EditTool20250429,
            {"type": "text_editor_20250429", "name": "str_replace_based_edit_tool"},
        ),
        (
            EditTool20250728,
            {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        ),
    ],
)
def test_to_params(cls: type[EditTool], expected: dict[str, str]) -> None:
    params = cls().to_params()
    assert params == expected
    assert set(params) <= set(SDK_PARAM[cls].__annotations__)
    # Only 20250728 knows max_characters; the others ignore it rather than send a bad field.
    with_limit = cls(max_characters=500).to_params()
    if cls is EditTool20250728:
        assert with_limit == {**expected, "max_characters": 500}
        assert "max_characters" in SDK_PARAM[cls].__annotations__
    else:
        assert with_limit == expected


@pytest.mark.parametrize("bad", [0, -5, "100", True, 1.5])
def test_bad_max_characters_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="max_characters"):
        EditTool20250728(max_characters=bad)  # type: ignore[arg-type]


# --- view of a file ---------------------------------------------------------------------------


async def test_view_file(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.py"
    f.write_text("def f():\n\treturn 1\n\nprint(f())\n")
    result = await editor(command="view", path=str(f))
    assert result.error is None
    assert result.output == CAT.format(f) + numbered("def f():", "\treturn 1", "", "print(f())")


async def test_view_counts_lines_like_cat_n(editor: EditTool, tmp_path: Path) -> None:
    unterminated = tmp_path / "u.txt"
    unterminated.write_text("a\nb")
    assert (await editor(command="view", path=str(unterminated))).output == CAT.format(
        unterminated
    ) + numbered("a", "b")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert (await editor(command="view", path=str(empty))).output == CAT.format(empty)
    many = tmp_path / "many.txt"
    many.write_text("x\n" * 999_999 + "last\n")
    out = (await editor(command="view", path=str(many), view_range=[999_999, -1])).output
    assert out == CAT.format(many) + "999999\tx\n1000000\tlast\n"


@pytest.mark.parametrize(
    ("view_range", "lines"),
    [
        ([2, 3], [2, 3]),
        ([2, -1], [2, 3, 4, 5]),
        ([5, -1], [5]),
        ([1, 5], [1, 2, 3, 4, 5]),
        ([4, 4], [4]),
    ],
)
async def test_view_range(
    editor: EditTool, tmp_path: Path, view_range: list[int], lines: list[int]
) -> None:
    f = tmp_path / "f.txt"
    f.write_text("".join(f"line {i}\n" for i in range(1, 6)))
    result = await editor(command="view", path=str(f), view_range=view_range)
    expected = "".join(f"{i:6}\tline {i}\n" for i in lines)
    assert result.output == CAT.format(f) + expected


@pytest.mark.parametrize(
    ("view_range", "needle"),
    [
        ([0, 2], "Its first element `0` should be within the range of lines of the file: [1, 5]"),
        ([6, -1], "Its first element `6` should be within the range of lines of the file: [1, 5]"),
        ([-1, -1], "Its first element `-1`"),
        ([2, 6], "Its second element `6` should be smaller than or equal to the number of lines"),
        ([3, 2], "Its second element `2` should be larger or equal than its first `3`"),
        ([3, -4], "Its second element `-4` should be larger or equal than its first `3`"),
    ],
)
async def test_view_range_errors(
    editor: EditTool, tmp_path: Path, view_range: list[int], needle: str
) -> None:
    f = tmp_path / "f.txt"
    f.write_text("".join(f"line {i}\n" for i in range(1, 6)))
    message = await fails(editor, command="view", path=str(f), view_range=view_range)
    assert message.startswith(f"Invalid `view_range`: {view_range}.")
    assert needle in message
    if view_range == [2, 6]:
        assert "`5`" in message


async def test_view_range_on_empty_file_says_so(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "empty.txt"
    f.write_text("")
    message = await fails(editor, command="view", path=str(f), view_range=[1, -1])
    assert "[1, 0]" in message and "empty" in message


@pytest.mark.parametrize("bad", [[1], [1, 2, 3], "1,2", [1.0, 2], [True, 2], None])
async def test_view_range_must_be_two_ints_when_called_directly(
    tmp_path: Path, bad: object
) -> None:
    f = tmp_path / "f.txt"
    f.write_text("a\nb\n")
    tool = EditTool20250124()
    if bad is None:  # None means "no range": the whole file
        assert (await tool(command="view", path=str(f), view_range=bad)).output.endswith("b\n")
        return
    message = await fails(tool, command="view", path=str(f), view_range=bad)
    assert message == "Invalid `view_range`. It should be a list of two integers."


async def test_long_view_is_truncated_with_the_reference_note(
    editor: EditTool, tmp_path: Path
) -> None:
    f = tmp_path / "big.txt"
    f.write_text("x" * 100 + "\n" * 1 + "".join(f"{i}\n" for i in range(5000)))
    out = (await editor(command="view", path=str(f))).output
    assert out.endswith(TRUNCATED_MESSAGE)
    assert len(out) == len(CAT.format(f)) + 16_000 + len(TRUNCATED_MESSAGE)
    assert out.startswith(CAT.format(f) + "     1\t" + "x" * 100 + "\n     2\t0\n")


async def test_max_characters_limits_views_for_20250728(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("".join(f"line {i}\n" for i in range(1, 101)))
    tool = EditTool20250728(max_characters=50)
    out = (await tool(command="view", path=str(f))).output
    head, _, rest = out.partition(CAT.format(f))
    assert head == ""
    body = numbered(*(f"line {i}" for i in range(1, 101)))
    assert rest.startswith(body[:50] + "\n<response clipped><NOTE>")
    assert "max_characters=50" in rest and "100 lines" in rest and "view_range" in rest
    assert "line 9" not in rest  # nothing past the limit
    # A view that fits is not touched, and the limit replaces the 16,000 default.
    small = (await tool(command="view", path=str(f), view_range=[1, 2])).output
    assert small == CAT.format(f) + numbered("line 1", "line 2")
    wide = EditTool20250728(max_characters=100_000)
    big = tmp_path / "big.txt"
    big.write_text("y" * 30_000 + "\n")
    assert (await wide(command="view", path=str(big))).output.endswith("y" * 100 + "\n")
    listing = await tool(command="view", path=str(tmp_path))
    assert "max_characters=50" in listing.output


@pytest.mark.parametrize("cls", [EditTool20241022, EditTool20250124, EditTool20250429])
async def test_max_characters_does_not_apply_to_older_versions(
    cls: type[EditTool], tmp_path: Path
) -> None:
    f = tmp_path / "f.txt"
    f.write_text("".join(f"line {i}\n" for i in range(1, 101)))
    out = (await cls(max_characters=50)(command="view", path=str(f))).output
    assert out.endswith("   100\tline 100\n")


# --- view of a directory ----------------------------------------------------------------------


def make_tree(root: Path) -> None:
    (root / "a" / "deep").mkdir(parents=True)
    (root / "a" / "x.txt").write_text("x")
    (root / "a" / ".hidden_in_a").write_text("h")
    (root / "a" / "deep" / "too_deep.txt").write_text("y")
    (root / ".hidden_dir").mkdir()
    (root / ".hidden_dir" / "z.txt").write_text("z")
    (root / ".hidden_file").write_text("h")
    (root / "b.txt").write_text("b")
    (root / "link").symlink_to(root / "a")


async def test_view_directory_two_levels_without_hidden(editor: EditTool, tmp_path: Path) -> None:
    make_tree(tmp_path)
    result = await editor(command="view", path=str(tmp_path))
    expected = [
        tmp_path,
        tmp_path / "a",
        tmp_path / "a" / "deep",
        tmp_path / "a" / "x.txt",
        tmp_path / "b.txt",
        tmp_path / "link",  # a symlink is listed, not followed
    ]
    assert result.output == (
        f"Here's the files and directories up to 2 levels deep in {tmp_path}, "
        "excluding hidden items:\n" + "".join(f"{p}\n" for p in expected)
    )


async def test_view_inside_a_hidden_directory_lists_it(editor: EditTool, tmp_path: Path) -> None:
    # The reference's `find -not -path '*/.*'` shows nothing at all below a hidden folder.
    make_tree(tmp_path)
    out = (await editor(command="view", path=str(tmp_path / ".hidden_dir"))).output
    assert out.endswith(f"{tmp_path / '.hidden_dir'}\n{tmp_path / '.hidden_dir' / 'z.txt'}\n")


async def test_view_range_on_a_directory_is_an_error(editor: EditTool, tmp_path: Path) -> None:
    message = await fails(editor, command="view", path=str(tmp_path), view_range=[1, 2])
    assert message == (
        "The `view_range` parameter is not allowed when `path` points to a directory."
    )


async def test_huge_directory_listing_is_truncated(editor: EditTool, tmp_path: Path) -> None:
    for i in range(2000):
        (tmp_path / f"file_{i:05}.txt").touch()
    out = (await editor(command="view", path=str(tmp_path))).output
    assert f"{tmp_path}/file_00000.txt\n{tmp_path}/file_00001.txt\n" in out
    if editor.max_characters is None:
        assert out.endswith(TRUNCATED_MESSAGE)


# --- create -----------------------------------------------------------------------------------


async def test_create(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "new" / "deeper" / "f.txt"
    text = "héllo\r\n\tworld"
    result = await editor(command="create", path=str(f), file_text=text)
    assert result.output == f"File created successfully at: {f}"
    assert f.read_bytes() == text.encode()
    empty = tmp_path / "empty.txt"
    await editor(command="create", path=str(empty), file_text="")
    assert empty.read_bytes() == b""


async def test_create_refuses_existing_paths(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("precious")
    for path in (f, tmp_path):
        message = await fails(editor, command="create", path=str(path), file_text="x")
        assert message == (
            f"File already exists at: {path}. Cannot overwrite files using command `create`."
        )
    assert f.read_text() == "precious"
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    await fails(editor, command="create", path=str(dangling), file_text="x")
    assert not (tmp_path / "nowhere").exists()


async def test_create_under_a_file_is_an_error(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("x")
    message = await fails(editor, command="create", path=str(f / "sub" / "g.txt"), file_text="y")
    assert "is a file, not a directory" in message
    assert f.read_text() == "x"


async def test_create_needs_file_text_when_called_directly(
    editor: EditTool, tmp_path: Path
) -> None:
    message = await fails(editor, command="create", path=str(tmp_path / "f"))
    assert message == "Parameter `file_text` is required for command: create"
    assert not (tmp_path / "f").exists()


# --- str_replace ------------------------------------------------------------------------------


async def test_str_replace_shows_the_edit_with_context(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("".join(f"line {i}\n" for i in range(1, 21)))
    result = await editor(
        command="str_replace", path=str(f), old_str="line 10\n", new_str="ten\nTEN\n"
    )
    lines = [f"line {i}" for i in range(1, 21)]
    lines[9:10] = ["ten", "TEN"]
    assert f.read_text() == "\n".join(lines) + "\n"
    snippet = numbered(*lines[5:16], first=6)  # 4 lines before, the edit, 4 after
    assert result.output == (
        f"The file {f} has been edited. " + CAT.format(f"a snippet of {f}") + snippet + REVIEW
    )


async def test_str_replace_at_the_start_and_without_new_str(
    editor: EditTool, tmp_path: Path
) -> None:
    f = tmp_path / "f.txt"
    f.write_text("first\nsecond\n")
    result = await editor(command="str_replace", path=str(f), old_str="first\n")
    assert f.read_text() == "second\n"
    assert numbered("second") in result.output


async def test_snippet_of_a_huge_edit_is_truncated(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("start\nPLACEHOLDER\nend\n")
    new = "".join(f"generated {i}\n" for i in range(100_000))
    out = (
        await editor(command="str_replace", path=str(f), old_str="PLACEHOLDER\n", new_str=new)
    ).output
    assert len(out) < 17_000 and TRUNCATED_MESSAGE in out and out.endswith(REVIEW)
    assert f.read_text() == "start\n" + new + "end\n"


async def test_str_replace_not_found(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("alpha\nbeta\n")
    message = await fails(editor, command="str_replace", path=str(f), old_str="gamma", new_str="")
    assert message == (
        f"No replacement was performed, old_str `gamma` did not appear verbatim in {f}."
    )
    assert f.read_text() == "alpha\nbeta\n"


async def test_str_replace_several_occurrences_names_their_lines(
    editor: EditTool, tmp_path: Path
) -> None:
    f = tmp_path / "f.txt"
    f.write_text("x = 1\ny = 2\nx = 1\nz\nx = 1\n")
    message = await fails(editor, command="str_replace", path=str(f), old_str="x = 1", new_str="")
    assert message.startswith("No replacement was performed. Multiple occurrences (3)")
    assert "in lines [1, 3, 5]" in message
    # A multi-line old_str (the reference reports no line at all for these).
    message = await fails(
        editor, command="str_replace", path=str(f), old_str="1\n", new_str="one\n"
    )
    assert "in lines [1, 3, 5]" in message
    # Overlapping occurrences are ambiguous too.
    g = tmp_path / "g.txt"
    g.write_text("aaa\n")
    message = await fails(editor, command="str_replace", path=str(g), old_str="aa", new_str="b")
    assert "Multiple occurrences (2)" in message and "[1]" in message
    assert f.read_text() == "x = 1\ny = 2\nx = 1\nz\nx = 1\n"
    assert g.read_text() == "aaa\n"


async def test_str_replace_many_occurrences_lists_a_bounded_number(
    editor: EditTool, tmp_path: Path
) -> None:
    f = tmp_path / "f.txt"
    f.write_text("e\n" * 5000)
    message = await fails(editor, command="str_replace", path=str(f), old_str="e", new_str="")
    assert "Multiple occurrences (5000)" in message
    assert "and 4950 more lines" in message
    assert len(message) < 1000


async def test_str_replace_empty_old_str_is_refused(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("")
    message = await fails(editor, command="str_replace", path=str(f), old_str="", new_str="x")
    assert "`old_str` must not be empty" in message
    assert f.read_text() == ""


async def test_huge_old_str_is_shortened_in_the_error(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("small\n")
    message = await fails(
        editor, command="str_replace", path=str(f), old_str="q" * 1_500_000, new_str=""
    )
    assert len(message) < 2000
    assert "characters omitted" in message


async def test_tabs_are_preserved_byte_for_byte(editor: EditTool, tmp_path: Path) -> None:
    makefile = tmp_path / "Makefile"
    original = b"all: build\n\tcc -o app main.c\n\ntest:\n\t./app --test\t# tab\n"
    makefile.write_bytes(original)
    view = (await editor(command="view", path=str(makefile))).output
    assert "     2\t\tcc -o app main.c\n" in view  # shown as is, so it can be matched
    await editor(command="str_replace", path=str(makefile), old_str="all: build", new_str="all:")
    assert makefile.read_bytes() == original.replace(b"all: build", b"all:")
    await editor(command="str_replace", path=str(makefile), old_str="\t./app", new_str="\t./app -v")
    assert makefile.read_bytes() == original.replace(b"all: build", b"all:").replace(
        b"\t./app", b"\t./app -v"
    )


async def test_crlf_files_keep_crlf(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "win.txt"
    f.write_bytes(b"one\r\ntwo\r\nthree\r\nfour")
    view = (await editor(command="view", path=str(f))).output
    assert "\r" not in view and numbered("one", "two", "three", "four") in view
    # The model sends what it saw, with \n; the file keeps \r\n, and its missing final newline.
    await editor(command="str_replace", path=str(f), old_str="one\ntwo", new_str="1\n2\n2b")
    assert f.read_bytes() == b"1\r\n2\r\n2b\r\nthree\r\nfour"
    await editor(command="insert", path=str(f), insert_line=1, new_str="after 1\nand")
    assert f.read_bytes() == b"1\r\nafter 1\r\nand\r\n2\r\n2b\r\nthree\r\nfour"
    await editor(command="insert", path=str(f), insert_line=7, new_str="end")
    assert f.read_bytes() == b"1\r\nafter 1\r\nand\r\n2\r\n2b\r\nthree\r\nfour\r\nend"


async def test_mixed_line_endings_are_left_alone(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "mixed.txt"
    f.write_bytes(b"a\r\nb\nc\r\n")
    await editor(command="str_replace", path=str(f), old_str="b", new_str="B")
    assert f.read_bytes() == b"a\r\nB\nc\r\n"


async def test_missing_final_newline_is_kept(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"a\nb\nlast")
    await editor(command="str_replace", path=str(f), old_str="b", new_str="B")
    assert f.read_bytes() == b"a\nB\nlast"
    await editor(command="insert", path=str(f), insert_line=3, new_str="after")
    assert f.read_bytes() == b"a\nB\nlast\nafter"


async def test_edits_keep_mode_symlinks_and_hard_links(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "script.sh"
    f.write_text("echo hi\n")
    f.chmod(0o751)
    await editor(command="str_replace", path=str(f), old_str="hi", new_str="ho")
    assert f.stat().st_mode & 0o777 == 0o751
    link = tmp_path / "link.sh"
    link.symlink_to(f)
    await editor(command="str_replace", path=str(link), old_str="o ho", new_str="o hey")
    assert link.is_symlink() and f.read_text() == "echo hey\n"
    hard = tmp_path / "hard.sh"
    os.link(f, hard)
    await editor(command="insert", path=str(hard), insert_line=0, new_str="#!/bin/sh")
    assert f.read_text() == hard.read_text() == "#!/bin/sh\necho hey\n"
    assert sorted(os.listdir(tmp_path)) == ["hard.sh", "link.sh", "script.sh"]


# --- insert -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (0, "new\n1\n2\n3\n"),
        (1, "1\nnew\n2\n3\n"),
        (3, "1\n2\n3\nnew\n"),
    ],
)
async def test_insert(editor: EditTool, tmp_path: Path, line: int, expected: str) -> None:
    f = tmp_path / "f.txt"
    f.write_text("1\n2\n3\n")
    result = await editor(command="insert", path=str(f), insert_line=line, new_str="new")
    assert f.read_text() == expected
    assert result.output.startswith(
        f"The file {f} has been edited. " + CAT.format("a snippet of the edited file")
    )
    assert f"{line + 1:6}\tnew\n" in result.output
    assert result.output.endswith(
        "Review the changes and make sure they are as expected (correct indentation, "
        "no duplicate lines, etc). Edit the file again if necessary."
    )


async def test_insert_snippet_has_context(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("".join(f"{i}\n" for i in range(1, 21)))
    out = (await editor(command="insert", path=str(f), insert_line=10, new_str="a\nb\n")).output
    assert numbered("7", "8", "9", "10", "a", "b", "11", "12", "13", "14", first=7) in out
    assert "     6\t" not in out and "15\n" not in out
    assert f.read_text().count("\n") == 22  # a trailing newline is not an extra blank line


async def test_insert_into_an_empty_file(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("")
    await editor(command="insert", path=str(f), insert_line=0, new_str="")
    assert f.read_text() == "\n"


async def test_insert_text_is_the_newer_name_of_new_str(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("1\n")
    await editor(command="insert", path=str(f), insert_line=1, insert_text="via insert_text")
    await editor(command="insert", path=str(f), insert_line=0, insert_text="wins", new_str="loses")
    assert f.read_text() == "wins\n1\nvia insert_text\n"


@pytest.mark.parametrize("line", [-1, 4, 1000])
async def test_insert_line_out_of_range(editor: EditTool, tmp_path: Path, line: int) -> None:
    f = tmp_path / "f.txt"
    f.write_text("1\n2\n3\n")
    message = await fails(editor, command="insert", path=str(f), insert_line=line, new_str="x")
    assert message == (
        f"Invalid `insert_line` parameter: {line}. It should be within the range of lines "
        "of the file: [0, 3]"
    )
    assert f.read_text() == "1\n2\n3\n"


async def test_insert_needs_its_parameters(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("1\n")
    assert await fails(editor, command="insert", path=str(f), new_str="x") == (
        "Parameter `insert_line` is required for command: insert"
    )
    assert await fails(editor, command="insert", path=str(f), insert_line=0) == (
        "Parameter `insert_text` is required for command: insert"
    )
    assert "must be an integer" in await fails(
        editor, command="insert", path=str(f), insert_line="1", new_str="x"
    )
    assert f.read_text() == "1\n"


# --- undo_edit --------------------------------------------------------------------------------


async def test_undo_restores_each_edit_in_turn(undo_editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "new_dir" / "f.txt"
    await undo_editor(command="create", path=str(f), file_text="a\nb\n")
    await undo_editor(command="str_replace", path=str(f), old_str="a", new_str="A")
    await undo_editor(command="insert", path=str(f), insert_line=2, new_str="c")
    assert f.read_text() == "A\nb\nc\n"
    result = await undo_editor(command="undo_edit", path=str(f))
    assert result.output == (
        f"Last edit to {f} undone successfully. " + CAT.format(f) + numbered("A", "b")
    )
    assert f.read_text() == "A\nb\n"
    await undo_editor(command="undo_edit", path=str(f))
    assert f.read_text() == "a\nb\n"
    result = await undo_editor(command="undo_edit", path=str(f))
    assert "removed" in result.output
    assert not f.exists() and not f.parent.exists()  # create made the folder: it goes too
    assert await fails(undo_editor, command="undo_edit", path=str(f)) == (
        f"The path {f} does not exist. Please provide a valid path."
    )


async def test_undo_is_per_file(undo_editor: EditTool, tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"a\r\n\tA")
    b.write_text("b\n")
    await undo_editor(command="str_replace", path=str(a), old_str="a", new_str="1")
    await undo_editor(command="str_replace", path=str(b), old_str="b", new_str="2")
    await undo_editor(command="undo_edit", path=str(a))
    assert a.read_bytes() == b"a\r\n\tA"  # byte for byte
    assert b.read_text() == "2\n"
    assert await fails(undo_editor, command="undo_edit", path=str(a)) == (
        f"No edit history found for {a}."
    )


async def test_undo_recreates_a_file_deleted_since(undo_editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("before\n")
    await undo_editor(command="str_replace", path=str(f), old_str="before", new_str="after")
    f.unlink()
    await undo_editor(command="undo_edit", path=str(f))
    assert f.read_text() == "before\n"


async def test_undo_keeps_a_create_folder_that_got_other_files(
    undo_editor: EditTool, tmp_path: Path
) -> None:
    f = tmp_path / "d" / "f.txt"
    await undo_editor(command="create", path=str(f), file_text="x")
    (tmp_path / "d" / "other.txt").write_text("keep")
    await undo_editor(command="undo_edit", path=str(f))
    assert not f.exists() and (tmp_path / "d" / "other.txt").read_text() == "keep"


async def test_failed_edits_leave_no_history(undo_editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("x\n")
    await fails(undo_editor, command="str_replace", path=str(f), old_str="nope", new_str="")
    await fails(undo_editor, command="create", path=str(f), file_text="y")
    assert await fails(undo_editor, command="undo_edit", path=str(f)) == (
        f"No edit history found for {f}."
    )
    assert f.read_text() == "x\n"


async def test_undo_history_is_bounded(
    undo_editor: EditTool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "f.txt"
    f.write_text("0\n")
    for i in range(edit.HISTORY_DEPTH + 3):
        await undo_editor(
            command="str_replace", path=str(f), old_str=f"{i}\n", new_str=f"{i + 1}\n"
        )
    for _ in range(edit.HISTORY_DEPTH):
        await undo_editor(command="undo_edit", path=str(f))
    assert f.read_text() == "3\n"  # the 3 oldest edits were forgotten
    assert "No edit history" in await fails(undo_editor, command="undo_edit", path=str(f))
    # Overall bytes: with room for about two snapshots, the least recently edited file's
    # snapshots go first and the newest one always stays.
    monkeypatch.setattr(edit, "HISTORY_BYTES", 2_500)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("a" * 1000)
    b.write_text("b" * 1000)
    await undo_editor(command="insert", path=str(a), insert_line=0, new_str="1")
    await undo_editor(command="insert", path=str(b), insert_line=0, new_str="1")
    await undo_editor(command="insert", path=str(b), insert_line=0, new_str="2")
    assert "No edit history" in await fails(undo_editor, command="undo_edit", path=str(a))
    await undo_editor(command="undo_edit", path=str(b))
    await undo_editor(command="undo_edit", path=str(b))
    assert b.read_text() == "b" * 1000


@pytest.mark.parametrize("cls", NO_UNDO_EDITORS, ids=lambda c: c.api_type)
async def test_versions_without_undo_refuse_it(cls: type[EditTool], tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("x\n")
    tool = cls()
    await tool(command="str_replace", path=str(f), old_str="x", new_str="y")
    assert await fails(tool, command="undo_edit", path=str(f)) == (
        "Unrecognized command undo_edit. The allowed commands for the "
        "str_replace_based_edit_tool tool are: view, create, str_replace, insert"
    )
    assert f.read_text() == "y\n"


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["view", "create", "str_replace", "insert"])
async def test_relative_path(editor: EditTool, command: str) -> None:
    message = await fails(
        editor, command=command, path="x", file_text="", old_str="a", insert_line=0, new_str=""
    )
    assert message == (
        "The path x is not an absolute path, it should start with `/`. Maybe you meant /x?"
    )
    assert "Maybe you meant /src/a.py?" in await fails(editor, command="view", path="./src/a.py")
    assert f"Maybe you meant {HOME_NOTES}?" in await fails(
        editor, command="view", path="~/notes.txt"
    )


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("view", {}),
        ("str_replace", {"old_str": "a"}),
        ("insert", {"insert_line": 0, "new_str": "a"}),
    ],
)
async def test_missing_path(
    editor: EditTool, tmp_path: Path, command: str, extra: dict[str, object]
) -> None:
    missing = tmp_path / "missing.txt"
    assert await fails(editor, command=command, path=str(missing), **extra) == (
        f"The path {missing} does not exist. Please provide a valid path."
    )
    inside_a_file = tmp_path / "file.txt"
    inside_a_file.write_text("x")
    message = await fails(editor, command=command, path=str(inside_a_file / "sub"), **extra)
    assert "is a file, not a directory" in message


@pytest.mark.parametrize(
    ("command", "extra"),
    [("str_replace", {"old_str": "a"}), ("insert", {"insert_line": 0, "new_str": "a"})],
)
async def test_directory_for_an_edit(
    editor: EditTool, tmp_path: Path, command: str, extra: dict[str, object]
) -> None:
    assert await fails(editor, command=command, path=str(tmp_path), **extra) == (
        f"The path {tmp_path} is a directory and only the `view` command can be used on directories"
    )


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x7fELF\x02\x01\x00\x00binary", "contains NUL bytes"),
        (b"caf\xe9 latin-1\n", "at offset 3 are not valid UTF-8"),
    ],
)
@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("view", {}),
        ("str_replace", {"old_str": "a", "new_str": "b"}),
        ("insert", {"insert_line": 0, "new_str": "a"}),
    ],
)
async def test_binary_and_undecodable_files(
    editor: EditTool,
    tmp_path: Path,
    data: bytes,
    why: str,
    command: str,
    extra: dict[str, object],
) -> None:
    f = tmp_path / "blob"
    f.write_bytes(data)
    message = await fails(editor, command=command, path=str(f), **extra)
    assert message.startswith(f"The file {f} is not a UTF-8 text file: ")
    assert why in message
    assert "\x00" not in message and "ELF" not in message and "latin" not in message
    assert f.read_bytes() == data


async def test_too_large_files_are_refused(editor: EditTool, tmp_path: Path) -> None:
    f = tmp_path / "huge.log"
    f.touch()
    os.truncate(f, edit.MAX_FILE_BYTES + 1)  # sparse: no disk space used
    message = await fails(editor, command="view", path=str(f))
    assert "too large for the editor" in message and "grep -n" in message


async def test_special_files_are_refused(editor: EditTool, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    message = await fails(editor, command="view", path=str(fifo))  # would block forever
    assert "not a regular file" in message
    assert "not a regular file" in await fails(editor, command="view", path="/dev/zero")


async def test_unknown_command(editor: EditTool, tmp_path: Path) -> None:
    message = await fails(editor, command="delete", path=str(tmp_path))
    allowed = ", ".join(editor.spec.input_schema["properties"]["command"]["enum"])
    assert message == (
        f"Unrecognized command delete. The allowed commands for the {editor.name} tool are: "
        f"{allowed}"
    )


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"command": "view"}, "Parameter `path` is required"),
        ({"command": "view", "path": ""}, "must not be empty"),
        ({"command": "view", "path": 7}, "`path` must be a string, got int"),
        ({"command": "view", "path": "/tmp/a\x00b"}, "NUL"),
        ({"command": "create", "path": "/tmp/never", "file_text": 5}, "`file_text` must be"),
        ({"path": "/tmp"}, "Unrecognized command None"),
    ],
)
async def test_bad_direct_calls_are_tool_errors(
    editor: EditTool, kwargs: dict[str, object], needle: str
) -> None:
    assert needle in await fails(editor, **kwargs)


def test_permission_denied(shared_dir: Path) -> None:
    """Real permission errors, from a process that is not root (root ignores file modes)."""
    if os.geteuid() == 0:
        print("running as root: the permission cases run in a child process as `nobody`")
    report = run_permission_report(shared_dir)
    unreadable = shared_dir / "unreadable.txt"
    readonly = shared_dir / "readonly.txt"
    assert report["view_unreadable"] == f"Permission denied: cannot read {unreadable}."
    assert report["replace_unreadable"] == f"Permission denied: cannot read {unreadable}."
    assert report["replace_readonly"] == f"Permission denied: cannot write {readonly}."
    assert report["insert_readonly"] == f"Permission denied: cannot write {readonly}."
    assert report["create_in_locked"] == (
        f"Permission denied: cannot create {shared_dir / 'locked' / 'new.txt'}."
    )
    assert report["view_closed_dir"] == f"Permission denied: cannot list {shared_dir / 'closed'}."
    assert report["view_in_closed_dir"] == (
        f"Permission denied: cannot access {shared_dir / 'closed' / 'f.txt'}."
    )
    assert report["replace_in_locked"].startswith("NO ERROR: The file ")
    assert report["readonly_after"] == "keep me\n"
    assert report["inner_after"] == "new\n"
    assert report["locked_listing"] == '["writable.txt"]'  # no temporary file left behind
    # A folder that cannot be listed is named; the rest of the listing is still shown.
    assert f"{shared_dir}/closed\n" in report["listing"]
    assert f"{shared_dir}/locked/writable.txt\n" in report["listing"]
    assert report["listing"].endswith(f"Could not list: {shared_dir}/closed (Permission denied)\n")


# --- through ToolCollection: bad input is an error result, never an exception -----------------


def bad_inputs(path: str) -> list[tuple[dict[str, object], str]]:
    big = "z" * 3_000_000
    return [
        ({"command": "view"}, "'path' is required"),
        ({"path": path}, "'command' is required"),
        ({"command": "view", "path": 5}, "`path` must be of type string"),
        ({"command": "view", "path": path, "view_range": "1,2"}, "`view_range` must be of type"),
        ({"command": "view", "path": path, "view_range": [1]}, "must have 2 items"),
        ({"command": "view", "path": path, "view_range": [1, "2"]}, "`view_range.1`"),
        ({"command": "create", "path": path}, "'file_text' is required for command 'create'"),
        ({"command": "str_replace", "path": path}, "'old_str' is required for command"),
        ({"command": "insert", "path": path, "new_str": "x"}, "'insert_line' is required"),
        (
            {"command": "insert", "path": path, "insert_line": "3", "new_str": "x"},
            "`insert_line` must be of type integer",
        ),
        ({"command": "insert", "path": path, "insert_line": -1, "new_str": "x"}, "out of range"),
        ({"command": "delete", "path": path}, "`command` must be one of"),
        ({"command": 3, "path": path}, "`command` must be"),
        ({"command": "view", "path": path + "\x00"}, "NUL"),
        ({"command": "create", "path": path + ".new", "file_text": "a\x00b"}, "NUL"),
        ({"command": "create", "path": path + ".new", "file_text": big}, "too long"),
        ({"command": "str_replace", "path": path, "old_str": big}, "too long"),
        ({"command": "view", "path": "/" + "p" * 3_000_000}, "too long"),
        ({"command": "view", "path": "relative"}, "not an absolute path"),
    ]


@pytest.mark.parametrize("cls", ALL_EDITORS, ids=lambda c: c.api_type)
async def test_collection_turns_bad_input_into_error_results(
    cls: type[EditTool], tmp_path: Path
) -> None:
    f = tmp_path / "f.txt"
    f.write_text("hello\n")
    tools = ToolCollection(cls())
    for tool_input, needle in bad_inputs(str(f)):
        result = await tools.run(name=cls.name, tool_input=tool_input)
        assert isinstance(result, ToolResult)
        assert result.error and needle in result.error, (tool_input.keys(), result.error)
        assert result.output is None
    for not_a_dict in (None, "view", ["view", str(f)]):
        result = await tools.run(name=cls.name, tool_input=not_a_dict)
        assert result.error and "JSON object" in result.error
    undo = await tools.run(name=cls.name, tool_input={"command": "undo_edit", "path": str(f)})
    if "undo_edit" in cls.spec.choices:
        assert undo.error == f"No edit history found for {f}."
    else:
        assert undo.error and "`command` must be one of" in undo.error
    assert f.read_text() == "hello\n"
    assert sorted(os.listdir(tmp_path)) == ["f.txt"]


@pytest.mark.parametrize("cls", ALL_EDITORS, ids=lambda c: c.api_type)
async def test_collection_runs_good_input(cls: type[EditTool], tmp_path: Path) -> None:
    tools = ToolCollection(cls())
    f = tmp_path / "f.txt"
    big = "w" * 1_900_000  # under the 2,000,000-character field limit
    created = await tools.run(
        name=cls.name,
        tool_input={"command": "create", "path": str(f), "file_text": big, "unknown_field": 1},
    )
    assert created.error is None and created.output == f"File created successfully at: {f}"
    view = await tools.run(name=cls.name, tool_input={"command": "view", "path": str(f)})
    assert view.error is None and view.output.endswith(TRUNCATED_MESSAGE)
    replaced = await tools.run(
        name=cls.name,
        tool_input={"command": "str_replace", "path": str(f), "old_str": big, "new_str": "ok"},
    )
    assert replaced.error is None and f.read_text() == "ok"


# --- the reference's seams: pathlib checks and I/O, listings through edit.run ----------------


class PathlibLog:
    """Wraps pathlib's methods the reference's editor (and its tests) use; each call still runs
    for real. Records (method, path, args)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str, tuple[object, ...]]] = []
        for name in ("exists", "is_dir", "read_text", "write_text"):
            real = getattr(Path, name)

            def wrapper(path: Path, *args: object, _real=real, _name=name, **kw: object) -> object:
                self.calls.append((_name, str(path), args))
                return _real(path, *args, **kw)

            monkeypatch.setattr(Path, name, wrapper)

    def of(self, name: str) -> list[tuple[str, tuple[object, ...]]]:
        return [(p, a) for n, p, a in self.calls if n == name]


async def test_file_checks_and_contents_go_through_pathlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "crlf.txt"
    f.write_bytes(b"one\r\ntwo\r\n")
    log = PathlibLog(monkeypatch)
    tool = edit.EditTool20250728()
    await tool(command="str_replace", path=str(f), old_str="two", new_str="2")
    assert (str(f), ()) in log.of("exists") and (str(f), ()) in log.of("is_dir")
    assert log.of("read_text") == [(str(f), ())]
    assert log.of("write_text") == [(str(f), ("one\r\n2\r\n",))]  # the text, nothing else
    assert f.read_bytes() == b"one\r\n2\r\n"  # and our byte-exact write under it
    # Every version remembers the text before an edit, under the reference's name.
    assert tool._file_history[Path(f)] == ["one\r\ntwo\r\n"]
    tool._file_history.clear()
    assert tool._file_history[Path(f)] == []
    new = tmp_path / "sub" / "new.txt"
    await tool(command="create", path=str(new), file_text="x")
    assert log.of("write_text")[-1] == (str(new), ("x",)) and new.read_text() == "x"
    with pytest.raises(edit.ToolError, match="already exists"):
        await tool(command="create", path=str(new), file_text="y")


async def test_a_listing_is_find_through_edit_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "c.txt").write_text("c")
    (tmp_path / "a.txt").write_text("a")
    ran: list[object] = []
    real_run = edit.run

    async def recorded(cmd: object, *args: object, **kwargs: object) -> tuple[int, str, str]:
        ran.append(cmd)
        return await real_run(cmd, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(edit, "run", recorded)
    out = (await edit.EditTool20250728()(command="view", path=str(tmp_path))).output
    assert [c[0] for c in ran] == ["find"]  # type: ignore[index]
    assert out.endswith(f"{tmp_path}\n{tmp_path}/a.txt\n{tmp_path}/b\n{tmp_path}/b/c.txt\n")


def test_validate_path_says_the_references_words(tmp_path: Path) -> None:
    tool = edit.EditTool20250728()
    with pytest.raises(edit.ToolError, match="is not an absolute path"):
        tool.validate_path("view", Path("relative/path.txt"))
    with pytest.raises(edit.ToolError, match=f"The path {tmp_path}/nope does not exist"):
        tool.validate_path("view", tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(edit.ToolError, match="File already exists"):
        tool.validate_path("create", tmp_path / "f")
    with pytest.raises(edit.ToolError, match="is a directory"):
        tool.validate_path("str_replace", tmp_path)
    tool.validate_path("view", tmp_path)
