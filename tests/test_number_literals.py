"""Long vector literals of numbers (issue 12): read without a parser step or node per item, lowered to one
constant, with the values, derivatives, errors and refusals a literal had when it was a stack of constants.

Oracles: numpy's sum of the same floats, Python's float() of each item's text, the same program with the
fast path switched off (the parser and a stack of constants), and per-point evaluation for --points.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import gradcli
from gradcli.cli.app import app
from gradcli.errors import GrammarError
from gradcli.language import syntax

runner = CliRunner()


def slow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every literal through the parser token by token, as before the fast path."""
    monkeypatch.setattr(syntax, "PREBUILD_FROM", 10**9)
    monkeypatch.setattr(syntax.number_vectors, "__defaults__", (10**9,))


def literal(values: np.ndarray) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def test_a_million_numbers_sum_as_numpy_sums_them() -> None:
    values = np.random.default_rng(0).uniform(-1, 1, 10**6)
    f = gradcli.compile(f"sum({literal(values)})")
    assert len(f.tape) == 2  # one constant and the sum: no instruction per item
    assert f.value() == pytest.approx(float(np.sum(values)), rel=1e-13, abs=1e-12)


def test_a_literal_times_a_variable_differentiates_to_its_sum() -> None:
    values = np.random.default_rng(1).uniform(-5, 5, 20_000).round(3)
    f = gradcli.compile(f"sum(x*{literal(values)})")
    assert f.value({"x": 2.0}) == pytest.approx(2 * float(np.sum(values)), rel=1e-12)
    assert float(f.gradient({"x": 2.0})["x"]) == pytest.approx(float(np.sum(values)), rel=1e-12)
    r = runner.invoke(app, ["diff", f"sum(x*{literal(values)})", "--at", "x=2", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert "gradient" in r.output


ITEMS = ["1", "-2", "3.5e2", "-.5", "+4", "−7", "1E-3", "0005", "-0", "2.", "-0.0", "6e+1", ".25", "-1e-300", "1.7e308"]


def _value(text: str) -> float:
    """An item as the grammar reads it: a sign, then a NUMBER."""
    sign = -1.0 if text[0] in "-−" else 1.0
    return sign * float(text.lstrip("+-−"))


def test_signs_ints_and_exponents_lower_to_the_same_numbers_as_the_parser_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    items = ITEMS * 4  # 60 items: past syntax.PREBUILD_FROM
    text = "[" + ", ".join(items) + "]"
    assert syntax.number_vectors(text)  # the fast path takes it
    fast = gradcli.compile(text).value()
    want = np.array([_value(t) for t in items])
    assert fast.tobytes() == want.tobytes()  # bit for bit, -0 included
    assert np.signbit(fast[items.index("-0")]) and np.signbit(fast[items.index("-0.0")])
    slow(monkeypatch)
    assert not syntax.number_vectors(text)
    before = gradcli.compile(text)
    assert before.value().tobytes() == want.tobytes()


def test_short_and_nested_literals_of_numbers_are_constants_too() -> None:
    f = gradcli.compile("[[1, 2], [3, -4]] @ [x, 1]")
    assert [op for op in f.tape.ops if op not in ("var", "const")] == ["stack", "matmul"]  # the stack is [x, 1]
    matrix = f.tape.args[f.tape.ops.index("matmul")][0]
    assert f.tape.ops[matrix] == "const" and f.tape.params[matrix].tolist() == [[1, 2], [3, -4]]
    assert f.value({"x": 2.0}).tolist() == [4.0, 2.0]
    g = gradcli.compile("[x, 1, 2]")  # a variable among them: still a stack
    assert "stack" in g.tape.ops
    assert g.value({"x": 5.0}).tolist() == [5.0, 1.0, 2.0]


def test_a_syntax_error_inside_a_long_literal_points_at_its_column() -> None:
    items = [str(k) for k in range(3000)]
    items[1700] = "17 00"
    text = "y = 2\nsum([" + ", ".join(items) + "])*y"
    with pytest.raises(GrammarError) as err:
        gradcli.compile(text)
    column = text.index("17 00") + 3 - text.index("\n")
    assert f"syntax error at line 2, column {column}: unexpected '00'" in str(err.value)


def test_a_too_large_number_in_a_long_literal_is_refused_as_in_a_short_one() -> None:
    long = "[" + ", ".join(["1"] * 100 + ["1e999"]) + "]"
    with pytest.raises(GrammarError) as err:
        gradcli.compile(long)
    with pytest.raises(GrammarError) as short:
        gradcli.compile("[1, 1e999]")
    assert "the number 1e999 is too large for a float64" in str(err.value) and str(err.value) == str(short.value)


def test_export_refuses_a_literal_of_numbers_as_a_vector_literal() -> None:
    values = ", ".join(str(k) for k in range(100))
    for text in (f"x*[{values}]", "x*[1, 2]"):
        r = runner.invoke(app, ["export", text])
        assert r.exit_code != 0 and "export doesn't support vector literals yet" in r.output, r.output


def test_points_evaluate_an_array_constant_point_by_point(tmp_path) -> None:  # noqa: ANN001
    """An array constant has its own axis, which must not meet the batch axis of the points (mixes_elements)."""
    path = tmp_path / "p.csv"
    path.write_text("x\n1\n2\n3\n")
    values = np.arange(40.0) / 4  # a long literal, elementwise times x: no reduction to force rows one by one
    text = f"x*{literal(values)}"
    r = runner.invoke(app, ["eval", text, "--points", str(path), "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.strip().splitlines()]
    assert [row["value"] for row in rows] == [(x * values).tolist() for x in (1.0, 2.0, 3.0)]
    small = runner.invoke(app, ["eval", "x*[0.5, 1.5, 2.5]", "--points", str(path)])  # as many items as points
    assert small.exit_code == 0 and small.output.splitlines()[1] == '1,"[0.5, 1.5, 2.5]"', small.output
