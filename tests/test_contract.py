"""Promises of the command line (issue: keep every promise): formats a command can't write are
refused with the ones it has, mistakes are not silent, files are written in the format their name
says, and the fast entry point agrees with the Typer app on every command line it takes."""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_properties import deterministic
from typer.testing import CliRunner

import gradcli
from gradcli import api
from gradcli.cli import entry
from gradcli.cli.app import app
from gradcli.errors import UsageError

runner = CliRunner()


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.mark.parametrize("command", ["eval", "diff", "hessian", "jacobian", "check", "trace", "verify"])
@pytest.mark.parametrize("fmt", ["latex", "csv"])
def test_a_format_the_command_cannot_write_is_refused_with_the_ones_it_has(command: str, fmt: str) -> None:
    extra = ["--claim", "1"] if command == "verify" else ["--at", "x=1"]
    result = run(command, "x", *extra, "--format", fmt)
    assert result.exit_code == 2, result.output
    assert f"{command} has no --format {fmt} here: its formats are auto, table, plain, json" in result.stderr
    assert result.stdout == ""


def test_latex_is_for_diff_symbolic() -> None:
    assert run("diff", "x^2", "--symbolic", "--format", "latex").stdout.strip() == r"2 \cdot x"


def test_the_same_variable_twice_in_at_is_an_error() -> None:
    for args in (["--at", "x=1", "--at", "x=2"], ["--at", "x=1,x=2"]):
        result = run("eval", "x", *args)
        assert result.exit_code == 2 and "--at gives x twice" in result.stderr


def test_grid_may_be_repeated() -> None:
    repeated = run("eval", "x*y", "--grid", "x=0:1:2", "--grid", "y=0:1:2")
    joined = run("eval", "x*y", "--grid", "x=0:1:2,y=0:1:2")
    assert repeated.exit_code == 0, repeated.output
    assert repeated.stdout == joined.stdout and repeated.stdout.count("\n") == 5


@pytest.mark.parametrize(("name", "first_line"), [("g.dot", "digraph gradcli {"), ("g.mmd", "flowchart"), ("g.txt", "v1 *")])
def test_graph_file_format_follows_its_suffix(tmp_path: Path, name: str, first_line: str) -> None:
    target = tmp_path / name
    result = run("graph", "x*y", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8").startswith(first_line)


def test_graph_format_and_suffix_that_disagree_are_an_error(tmp_path: Path) -> None:
    result = run("graph", "x*y", "--format", "tree", "-o", str(tmp_path / "g.png"))
    assert result.exit_code == 2 and "names a png file, but --format is tree" in result.stderr
    assert not (tmp_path / "g.png").exists()


def test_short_help() -> None:
    assert run("-h").exit_code == 0 and "Usage" in run("-h").stdout
    assert "--order" in run("diff", "-h").stdout


def test_empty_axes_keep_their_shape_in_text() -> None:
    assert run("eval", "[[],[]]").stdout.strip() == "[[], []]"
    assert run("eval", "[[[]],[[]]]").stdout.strip() == "[[[]], [[]]]"


def test_symbolic_with_infinite_constants_is_no_internal_error() -> None:
    result = run("diff", "--symbolic", "2*x*x*inf")
    assert result.exit_code == 0 and "internal error" not in result.stderr


def test_an_order_whose_tape_would_be_too_large_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "MAX_TAPE", 20_000)
    # x^3.5 has no Taylor rule at a base of 0, so order 60 there nests the first-order transform, and is refused.
    with pytest.raises(UsageError, match="order 60 by nesting would need a tape of about"):
        gradcli.compile("(x - 1)^3.5 * sin(x) * exp(x)").derivative({"x": 1.0}, order=60)
    # Taylor mode needs no nested tape: (sin·exp)^(n) = 2^(n/2)·e^x·sin(x + nπ/4). The product's terms are
    # of size 2^n against a result of 2^(n/2), so about 2^30 of float64's 2^52 survive (README, Taylor mode).
    got = float(gradcli.compile("sin(x)*exp(x)").derivative({"x": 1.0}, order=60))
    assert got == pytest.approx(2**30 * math.e * math.sin(1 + 15 * math.pi), rel=1e-7)


# -- the fast entry point and the Typer app: one behaviour --------------------------------------

COMMANDS = st.sampled_from(["eval", "diff", "hessian", "jacobian"])
EXPRESSIONS = st.sampled_from(["x^2*y", "x", "sin(x)", "x*y, x+y", "[x, x^2]", "2", "x+", "log(x)"])
OPTIONS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["--at", "-a", "--at="]), st.sampled_from(["x=1", "y=2", "x=1,y=2", "x=[1,2]", "x=-1", "q"])),
        st.tuples(st.sampled_from(["--wrt"]), st.sampled_from(["x", "y", "x,y", "X", ""])),
        st.tuples(st.sampled_from(["--order", "-n"]), st.sampled_from(["1", "2", "3", "²", "٣", "0", "-1", "+2", " 2"])),
        st.tuples(st.sampled_from(["--mode"]), st.sampled_from(["forward", "reverse", "auto", "up"])),
        st.tuples(st.sampled_from(["--format", "-f"]), st.sampled_from(["json", "plain", "auto", "csv", "latex"])),
    ),
    max_size=4,
)


def command_line(command: str, expression: str, options: list[tuple[str, str]]) -> list[str]:
    argv = [command]
    for name, value in options:
        argv += [name + value] if name.endswith("=") else [name, value]
    return [*argv, expression]


def fast(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str] | None:
    """The fast path's (exit code, stdout) for argv, or None when it hands the line to Typer."""
    if entry._parse(argv) is None:
        return None
    out = io.StringIO()
    err = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "argv", ["gradcli", *argv])
    try:
        entry.run()
        code = 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    finally:
        monkeypatch.undo()
    return code, out.getvalue()


@deterministic(150)
@given(command=COMMANDS, expression=EXPRESSIONS, options=OPTIONS)
def test_fast_path_agrees_with_typer(command: str, expression: str, options: list[tuple[str, str]]) -> None:
    argv = command_line(command, expression, options)
    with pytest.MonkeyPatch.context() as mp:
        got = fast(argv, mp)
    if got is None:
        return
    typer_result = runner.invoke(app, argv)
    assert got == (typer_result.exit_code, typer_result.stdout), argv


# -- odd rows in points files: a malformed row is named, every other row is kept ---------------------


@pytest.mark.parametrize(
    ("text", "fmt", "bad_line"),
    [
        (b"x\n1\n\xff\n3\n", "csv", 3),  # not UTF-8
        (b'x,id\n1,"a"\n2,a\rb\n3,c\n', "csv", 4),  # a bare CR inside a field
        (b'{"x": ' + b"[" * 5000 + b"1" + b"]" * 5000 + b'}\n{"x": 2}\n{"x": 3}\n', "json", 1),  # nested too deeply
        (b'{"x": ' + b"9" * 4400 + b'}\n{"x": 2}\n{"x": 3}\n', "json", 1),  # an integer Python won't convert
    ],
    ids=["0xff byte", "bare CR", "deep JSON", "4400-digit integer"],
)
def test_an_odd_row_is_malformed_and_the_rest_are_written(tmp_path: Path, text: bytes, fmt: str, bad_line: int) -> None:
    path = tmp_path / ("rows.jsonl" if fmt == "json" else "rows.csv")
    path.write_bytes(text)
    for source, stdin in ((str(path), None), ("-", text)):
        result = runner.invoke(app, ["eval", "x", "--points", source, "--format", "csv"], input=stdin)
        assert result.exit_code == 2, result.output
        assert f"line {bad_line} of the points file" in result.stderr and "internal error" not in result.stderr
        values = [line.split(",")[-1] for line in result.stdout.splitlines()[1:]]
        assert "nan" in values and "3" in values, result.stdout  # the bad row keeps its place; the others are there


def test_passthrough_nan_in_json_lines_is_strict_json() -> None:
    row = '{"x": 1, "id": NaN, "v": [Infinity]}\n'
    result = runner.invoke(app, ["eval", "x", "--points", "-", "--format", "json"], input=row)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == '{"point": {"x": 1}, "value": 1, "columns": {"id": "nan", "v": ["inf"]}}'


ODD_BYTES = [b"1", b"2.5", b"-", b",", b'"', b"\r", b"\n", b"\xff", b"[", b"]", b"{", b"}", b"NaN", b"e", b" ", b"\x07"]
ODD_BYTES.append(b"9" * 30)


@deterministic(60)
@given(
    rows=st.lists(st.lists(st.sampled_from(ODD_BYTES), max_size=6).map(b"".join), max_size=8),
    json_lines=st.booleans(),
)
def test_random_points_files_never_crash(rows: list[bytes], json_lines: bool) -> None:
    """Whatever the rows hold, the run ends with 0 (all good) or 2 (malformed rows named), never an internal error."""
    header = b"" if json_lines else b"x,id\n"
    body = b"\n".join(b'{"x": ' + r + b"}" if json_lines else b"1," + r for r in rows)
    result = runner.invoke(app, ["eval", "x", "--points", "-"], input=header + body + b"\n")
    assert result.exit_code in (0, 2), (rows, result.output)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_a_grid_is_streamed_without_building_its_axes() -> None:
    result = run("eval", "x", "--grid", "x=0:1:100000000000000000000")
    assert result.exit_code == 2 and "--grid has 1e+20 points" in result.stderr
    got = run("eval", "x*y", "--grid", "x=-1:2:7,y=0.1:0.3:3").stdout.splitlines()[1:]
    xs, ys = np.linspace(-1, 2, 7), np.linspace(0.1, 0.3, 3)
    want = [(x, y) for x in xs for y in ys]
    assert [tuple(float(c) for c in line.split(",")[:2]) for line in got] == want  # exactly numpy's linspace points


# -- passthrough columns ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["x,y,id\n", ""], ids=["header only", "empty"])
def test_an_input_without_rows_still_writes_its_header(text: str) -> None:
    result = run("diff", "x*y", "--points", "-", input=text)
    assert result.exit_code == 0, result.output
    want = "x,y,id,value,d_x,d_y" if text else "x,y,value,d_x,d_y"
    assert result.stdout == want + "\n"


def test_a_passthrough_column_named_like_a_result_is_renamed_not_duplicated() -> None:
    result = run("diff", "x^2", "--points", "-", input="x,value,value_in\n3,a,b\n")
    assert result.stdout.splitlines() == ["x,value_in,value_in_in,value,d_x", "3,a,b,9,6"]
    header = result.stdout.splitlines()[0].split(",")
    assert len(header) == len(set(header)) == 5 and header[-2:] == ["value", "d_x"]


def test_json_lines_keys_first_seen_later_are_named_not_lost_silently() -> None:
    result = run("eval", "x", "--points", "-", "--format", "csv", input='{"x": 1}\n{"x": 2, "id": "b"}\n')
    assert result.exit_code == 0
    assert "not in the CSV: id (line 2)" in result.stderr


# -- what reaches the terminal ---------------------------------------------------------------------


def test_control_characters_from_the_input_are_escaped_in_messages() -> None:
    result = run("eval", "x", "--points", "-", input="x\n\x1b]0;owned\x07\n")
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "\\x1b]0;owned\\x07" in result.stderr


def test_the_caret_stands_under_the_column_after_wide_characters() -> None:
    result = run("eval", "界界 + )")
    source, caret = result.stderr.splitlines()[1:3]
    assert source == "  界界 + )" and caret == "  " + " " * 7 + "^"  # 界 takes two terminal columns


# -- a row of --points says what the command says at that one point ---------------------------------

ROW_VS_POINT = [
    ["diff", "x^3"],
    ["diff", "x^3", "--order", "2"],
    ["diff", "x^3, x^2", "--order", "2"],
    ["diff", "x^3*y", "--order", "2", "--wrt", "x"],
    ["diff", "x^3*y", "--order", "2"],
    ["diff", "x*y, x+y"],
    ["hessian", "x^3"],
    ["hessian", "x^2*y"],
    ["jacobian", "x*y, x+y"],
    ["eval", "x*y, x"],
]


@pytest.mark.parametrize("args", ROW_VS_POINT, ids=[" ".join(a) for a in ROW_VS_POINT])
def test_a_points_row_is_the_json_at_that_point(args: list[str]) -> None:
    """diff --order 2 by one variable is "order"/"derivative" at a point, so it is in a row too (and a
    Hessian in both with several variables): the keys of a row are those of the command at its point."""
    import json

    at_point = runner.invoke(app, [*args, "--at", "x=2,y=3", "-f", "json"])
    row = runner.invoke(app, [*args, "--points", "-", "-f", "json"], input="x,y\n2,3\n")
    assert at_point.exit_code == 0 and row.exit_code == 0, (at_point.output, row.output)
    one = json.loads(at_point.stdout)
    one.pop("expression")
    if args[0] == "jacobian":
        one.pop("mode")
    got = json.loads(row.stdout)
    got.pop("columns", None)  # y passes through where it is no variable
    assert got == one
