"""Regression tests for reviewer findings (notes/review.md), one section per item: each failed before its fix."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner, Result

from gradcli.cli.app import app

runner = CliRunner()


def run(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


# -- 10: one row of the wrong shape doesn't abort a --points run ----------------------------------


def test_points_row_of_wrong_length_is_malformed_not_fatal(tmp_path: Path) -> None:
    rows = [[1.0, 2.0, 3.0], [1.0, 2.0], [4.0, 5.0, 6.0]]
    f = tmp_path / "v.jsonl"
    f.write_text("".join(json.dumps({"x": r}) + "\n" for r in rows))
    result = run("diff", "x[2]", "--points", str(f))
    no_traceback(result)
    assert result.exit_code == 2  # malformed rows: exit 2 after the others are written
    assert "line 2" in result.stderr and "out of range" in result.stderr
    body = list(csv.reader(io.StringIO(result.stdout)))[1:]
    assert len(body) == 3
    assert float(body[0][1]) == rows[0][2] and float(body[2][1]) == rows[2][2]  # x[2] of the good rows
    assert body[1][1] == "nan"


def test_points_non_square_row_is_malformed_and_skippable(tmp_path: Path) -> None:
    mats = [[[2.0, 0.5], [0.5, 3.0]], [[1.0, 2.0, 3.0]], [[4.0, 1.0], [1.0, 2.0]]]
    f = tmp_path / "a.jsonl"
    f.write_text("".join(json.dumps({"A": m}) + "\n" for m in mats))
    result = run("diff", "logdet(A)", "--points", str(f), "--format", "json")
    no_traceback(result)
    assert result.exit_code == 2 and "line 2" in result.stderr and "square" in result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("error") for o in objs] == [None, "malformed row", None]
    assert objs[1]["line"] == 2
    for o, m in zip([objs[0], objs[2]], [mats[0], mats[2]]):  # oracle: numpy's slogdet and inverse transpose
        assert np.isclose(o["value"], np.linalg.slogdet(np.array(m))[1])
        assert np.allclose(o["gradient"]["A"], np.linalg.inv(np.array(m)).T)
    skipped = run("diff", "logdet(A)", "--points", str(f), "--skip-bad")
    no_traceback(skipped)
    assert skipped.exit_code == 0 and "line 2" in skipped.stderr
    assert len(list(csv.reader(io.StringIO(skipped.stdout)))) == 3  # header and the two good rows


# -- 9: a vector literal nested past numpy's 64 axes is a clear error, not an internal one ---------


def test_vector_literal_deeper_than_64_axes() -> None:
    for depth, body in [(65, "x"), (10_000, "x"), (10_000, "1")]:
        result = run("eval", "[" * depth + body + "]" * depth, "--at", "x=1")
        no_traceback(result)
        assert result.exit_code == 3, result.stderr
        assert "at most 64 axes" in result.stderr
    deepest = run("eval", "[" * 64 + "x" + "]" * 64, "--at", "x=2")  # numpy's limit itself still works
    assert deepest.exit_code == 0 and float(deepest.stdout.strip("[] \n")) == 2.0


# -- 5 and 11: --grid bounds must be finite; a COUNT that isn't digits is said so ------------------


def test_grid_non_finite_bounds_are_refused() -> None:
    for grid, side in [("x=0:inf:3", "HIGH"), ("x=-inf:1:3", "LOW"), ("x=nan:1:2", "LOW")]:
        result = run("diff", "sin(x)", "--grid", grid)
        no_traceback(result)
        assert result.exit_code == 2 and result.stdout == ""
        assert side in result.stderr and "finite" in result.stderr


def test_grid_count_messages_say_what_is_wrong() -> None:
    cases = {"x=0:1:1e9": "1000000000", "x=0:1:2.5": "whole number", "x=0:1:0": "whole number", "x=0:1:abc": "'abc'"}
    for grid, said in cases.items():
        result = run("diff", "sin(x)", "--grid", grid)
        no_traceback(result)
        assert result.exit_code == 2 and said in result.stderr and "expected NAME=LOW" not in result.stderr, result.stderr
    good = run("diff", "sin(x)", "--grid", "x=0:1:3")
    body = list(csv.reader(io.StringIO(good.stdout)))[1:]
    assert [float(r[0]) for r in body] == list(np.linspace(0, 1, 3))
    assert np.allclose([float(r[2]) for r in body], np.cos(np.linspace(0, 1, 3)))


# -- 15: the command line names its own commands (there is no `gradient` command) -----------------


def test_array_variable_high_order_points_to_real_commands() -> None:
    result = run("diff", "x^3*y", "--at", "x=[1,2]", "--at", "y=1", "--order", "3")
    no_traceback(result)
    assert result.exit_code == 2
    assert "use gradient" not in result.stderr and "diff for the gradient" in result.stderr
    for suggested in ("diff", "hessian", "jacobian"):  # each command it names exists and works on this input
        assert run(suggested, "x^3*y", "--at", "x=[1,2]", "--at", "y=1").exit_code == 0


# -- 16: --at with nan: a sentence that reads, and the way to give nan ----------------------------


def test_at_with_nan_says_how_to_give_it(tmp_path: Path) -> None:
    result = run("eval", "2*x", "--at", "x=[3,nan,1]")
    no_traceback(result)
    assert result.exit_code == 2
    assert "not use" not in result.stderr and "uses the variable nan" in result.stderr and "@" in result.stderr
    f = tmp_path / "values.json"  # the way it names works: nan flows through 2*x
    f.write_text("[3, NaN, 1]")
    ok = run("eval", "2*x", "--at", f"x=@{f}")
    assert ok.exit_code == 0 and ok.stdout.split() == ["[6,", "nan,", "2]"]
    two = run("eval", "x", "--at", "x=[y,z]")
    assert two.exit_code == 2 and "uses the variables y, z" in two.stderr


# -- 17: shape messages say each thing once, blame what was written, and say k ≥ 0 ----------------


def test_shape_messages_are_not_repetitive_or_misattributed() -> None:
    inv = run("eval", "inv(A)", "--at", "A=[[1,2,3],[4,5,6]]")
    no_traceback(inv)
    assert inv.exit_code == 3 and "square matrix" in inv.stderr
    assert inv.stderr.count("(2, 3)") == 1  # the shape said once
    stack = run("eval", "stack(x,y)", "--at", "x=[1,2]", "--at", "y=[1,2,3]")
    assert stack.exit_code == 3 and "stack(x,y)" in stack.stderr and "vector literal" not in stack.stderr
    dot = run("eval", "tensordot(A,B,-1)", "--at", "A=[[1,2],[3,4]]", "--at", "B=[[1,2],[3,4]]")
    assert dot.exit_code == 3 and "≥ 0" in dot.stderr and "last -1 axes" not in dot.stderr
    fine = run("eval", "tensordot(A,B,1)", "--at", "A=[[1,2],[3,4]]", "--at", "B=[[1,2],[3,4]]")
    assert fine.exit_code == 0
    assert np.allclose(np.array(json.loads(fine.stdout)), np.array([[1, 2], [3, 4]]) @ np.array([[1, 2], [3, 4]]))


# -- 13: √-x says how to write it ------------------------------------------------------------------


def test_sqrt_of_a_negated_operand_suggests_parentheses() -> None:
    for text, fix in [("√-x", "√(-x)"), ("√-4", "√(-4)")]:
        result = run("eval", text, "--at", "x=-9")
        no_traceback(result)
        assert result.exit_code == 2 and f"write {fix}" in result.stderr
    suggested = run("eval", "√(-x)", "--at", "x=-9")  # the suggestion parses and means the root of the negation
    assert suggested.exit_code == 0 and float(suggested.stdout) == 3.0
    negative = run("eval", "√(-4)")  # parses too: √ of -4 is outside the real domain (exit 3), not a syntax error
    assert negative.exit_code == 3 and "syntax" not in negative.stderr


# -- 20: no negative zero in output ----------------------------------------------------------------


def test_no_negative_zero_printed(tmp_path: Path) -> None:
    f = tmp_path / "m.csv"
    f.write_text("x,y\n6,3\n0,3\n-6,3\n")
    result = run("diff", "mod(x, y)", "--points", str(f))
    assert result.exit_code == 0
    body = list(csv.reader(io.StringIO(result.stdout)))[1:]
    assert all(cell != "-0" for row in body for cell in row), body
    # d/dy mod(x, y) = -floor(x / y): the oracle, with its signed zero compared as a number
    assert [float(r[4]) for r in body] == [-np.floor(x / 3) for x in (6.0, 0.0, -6.0)]
    assert run("eval", "--", "-0").stdout.strip() == "0"
    assert run("eval", "--", "[-0, 1]").stdout.strip() == "[0, 1]"


# -- 12: names are NFKC-normalised, as Python's identifiers --------------------------------------


def test_names_are_nfkc_normalised() -> None:
    import unicodedata

    nfd, nfc = "e\u0301", "\u00e9"
    assert unicodedata.normalize("NFC", nfd) == nfc and nfd != nfc
    for expr, at in [(f"{nfd}+1", f"{nfc}=1"), (f"{nfc}+1", f"{nfd}=1"), ("ｘ+1", "x=1"), ("x+1", "ｘ=1")]:
        result = run("eval", expr, "--at", at)
        no_traceback(result)
        assert result.exit_code == 0 and float(result.stdout) == 2.0, result.stderr
    mixed = run("diff", "ｘ^2*x", "--at", "x=2")  # ｘ and x are one variable: d/dx x^3 = 3·2² = 12
    assert mixed.exit_code == 0 and float(mixed.stdout) == 12.0
    power = run("eval", "x²", "--at", "x=3")  # superscripts stay a "write x^2" error, not the name x2
    assert power.exit_code == 2 and "x^2" in power.stderr
    caret = run("eval", "ｘ+", "--at", "x=1")  # the caret still sits under the end of what was typed
    assert caret.exit_code == 2 and caret.stderr.splitlines()[-1] == " " * 5 + "^"
