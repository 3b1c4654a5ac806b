"""`diff --symbolic`: the printed formulas are gradcli programs that evaluate to the AD numbers,
are simplified, bind long shared parts, print as LaTeX and JSON, and fail cleanly where they can't be written."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import gradcli
from gradcli.api import Expression
from gradcli.cli.app import app
from gradcli.tools.symbolic import Formulas, derivative_formulas

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
runner = CliRunner()


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # default (0.3, 2): inside every domain used


CASES = [
    Case("quadratic", "x**2 + 2*x + 1", {"x": (-3, 3)}),
    Case("poly2", "3*x^3*y - 2*x*y^2 + y^4 - 7", {"x": (-2, 2), "y": (-2, 2)}),
    Case("poly3", "(x + y + z)^3 - x*y*z", {"x": (-1, 1), "y": (-1, 1), "z": (-1, 1)}),
    Case("trig", "sin(x)*cos(y) + tan(x*y)", {"x": (0.1, 1.1), "y": (0.1, 1.1)}),
    Case("pythagoras", "sin(x)^2 + cos(x)^2", {"x": (-3, 3)}),
    Case("exp_log", "exp(x)*log(y) + log(x^2 + 1)"),
    Case("x_pow_y", "x^y"),
    Case("powers", "x^0.5 + x^-2 + 2^x + x^3"),
    Case("norm_sigmoid", "sqrt(x^2 + y^2) + 1/(1 + exp(-x))", {"x": (-2, 2), "y": (-2, 2)}),
    Case("rosenbrock", (SAMPLES / "rosenbrock.grad").read_text(encoding="utf-8"), {"x": (-2, 2), "y": (-1, 3)}),
    Case("rosenbrock_inline", "(1 - x)^2 + 100*(y - x^2)^2", {"x": (-2, 2), "y": (-1, 3)}),
    Case(
        "neuron", (SAMPLES / "neuron.grad").read_text(encoding="utf-8"), {v: (-1.5, 1.5) for v in ("x1", "x2", "w1", "w2", "b")}
    ),
    Case("add_mul_graph", (SAMPLES / "add_mul_graph.grad").read_text(encoding="utf-8"), {v: (-2, 2) for v in "xwb"}),
    Case("nested", "sin(cos(exp(x)))", {"x": (-1, 1.5)}),
    Case("nested2", "log(1 + exp(sin(x*y))) * sqrt(1 + cosh(x)^2)", {"x": (-1.5, 1.5), "y": (-1.5, 1.5)}),
    Case("gauss_tanh", "exp(-x^2)*cos(3*x) + tanh(x*y)", {"x": (-2, 2), "y": (-2, 2)}),
    Case("quotients", "x/(y + z^2) - z/x"),
    Case("inverse_hyperbolic", "atan(x) + asinh(y) + cosh(x*y) + asin(x/3) + acos(y/3)", {"x": (-2, 2), "y": (-2, 2)}),
    Case("smooth_activations", "sigmoid(x) + softplus(y) + erf(x*y)", {"x": (-2, 2), "y": (-2, 2)}),
    Case("binary_funcs", "atan2(y, x) + hypot(x, y) + logaddexp(x, y)", {"x": (-2, 2), "y": (0.2, 2)}),
    Case("logs", "log2(x) + log10(y) + cbrt(x) + log1p(x*y) + expm1(y)"),
    Case("let_chain", "a = x*y; b = sin(a) + a^2; c = exp(-b); c*a + b/(1 + c)", {"x": (-1, 1), "y": (-1, 1)}),
    Case("one_var_of_three", "x*y + z", {"x": (-1, 1), "y": (-1, 1), "z": (-1, 1)}),
]


def formula_program(f: Formulas, var: str) -> str:
    """The derivative as a gradcli program: the bindings as statements, then the formula."""
    return "; ".join([*(f"{n} = {text}" for n, text in f.bindings), f.derivatives[var]])


def random_points(expr: Expression, case: Case, n: int, seed: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    return [{v: float(rng.uniform(*case.ranges.get(v, (0.3, 2.0)))) for v in expr.variables} for _ in range(n)]


def assert_formulas_match_ad(expr: Expression, f: Formulas, points: list[dict[str, float]], label: str) -> None:
    assert set(f.derivatives) == set(expr.variables), label
    programs = {v: gradcli.compile(formula_program(f, v)) for v in expr.variables}
    for v, prog in programs.items():
        assert set(prog.variables) <= set(expr.variables), (label, v, prog.variables)
    for point in points:
        grad = expr.gradient(point)
        for v, prog in programs.items():
            got = float(prog.value({k: point[k] for k in prog.variables}))
            want = float(grad[v])
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12), (label, v, formula_program(f, v), point)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_formulas_evaluate_to_the_gradient(case: Case) -> None:
    expr = gradcli.compile(case.source)
    f = derivative_formulas(expr, None, None)
    assert_formulas_match_ad(expr, f, random_points(expr, case, 6, seed=len(case.id)), case.id)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_json_formulas_evaluate_to_the_gradient(case: Case) -> None:
    result = runner.invoke(app, ["diff", "--symbolic", "-", "--format", "json"], input=case.source)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"expression", "bindings", "derivative"}
    f = Formulas([(b["name"], b["formula"]) for b in data["bindings"]], data["derivative"])
    expr = gradcli.compile(case.source)
    assert_formulas_match_ad(expr, f, random_points(expr, case, 2, seed=1), case.id)


def test_wrt_picks_the_variables() -> None:
    expr = gradcli.compile("x*y + z")
    f = derivative_formulas(expr, None, ["y"])
    assert f.derivatives == {"y": "x"}
    result = runner.invoke(app, ["diff", "--symbolic", "x*y + z", "--wrt", "z,x", "--format", "json"])
    assert json.loads(result.stdout)["derivative"] == {"z": "1", "x": "y"}


# -- random expressions (a seeded generator, so the same ones every run) ------------------------------------

UNARY = ["sin({})", "cos({})", "tanh({})", "exp(-({})^2)", "log(1 + ({})^2)", "sqrt(2 + sin({}))", "atan({})", "-({})"]
BINARY = ["({}) + ({})", "({}) - ({})", "({})*({})", "({})/(1.5 + cos({}))", "({})^2*({})"]


def random_expression(rng: random.Random, names: list[str], depth: int) -> str:
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(names) if rng.random() < 0.8 else str(rng.choice([2, 3, 0.5]))
    if rng.random() < 0.45:
        return rng.choice(UNARY).format(random_expression(rng, names, depth - 1))
    op = rng.choice(BINARY)
    a, b = random_expression(rng, names, depth - 1), random_expression(rng, names, depth - 1)
    return op.format(a, b)


def random_expressions(n: int) -> list[str]:
    """The first n generated expressions that have a variable (a constant has no derivative to print)."""
    found: list[str] = []
    k = 0
    while len(found) < n:
        source = random_expression(random.Random(k), ["x", "y", "z"][: 1 + k % 3], 4)
        if re.search(r"\b[xyz]\b", source):
            found.append(source)
        k += 1
    return found


RANDOM = random_expressions(40)


@pytest.mark.parametrize("source", RANDOM, ids=[f"random{k}" for k in range(len(RANDOM))])
def test_random_expressions(source: str) -> None:
    expr = gradcli.compile(source)
    f = derivative_formulas(expr, None, None)
    case = Case("random", source, {v: (-1.5, 1.5) for v in expr.variables})
    assert_formulas_match_ad(expr, f, random_points(expr, case, 3, seed=3), source)


# -- simplification -------------------------------------------------------------------------------------------


def test_quadratic_prints_simply() -> None:
    result = runner.invoke(app, ["diff", "--symbolic", "x**2 + 2*x + 1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() in ("2 + 2*x", "2*x + 2")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x", {"x": "1"}),
        ("3*x", {"x": "3"}),
        ("x*y", {"x": "y", "y": "x"}),
        ("x + y", {"x": "1", "y": "1"}),
        ("x - y", {"x": "1", "y": "-1"}),
        ("sin(x)", {"x": "cos(x)"}),
        ("exp(x)", {"x": "exp(x)"}),
        ("x^3", {"x": "3*x^2"}),
        ("3*x^3", {"x": "9*x^2"}),
        ("x^2.5", {"x": "2.5*x^1.5"}),
        ("0*x + y", {"x": "0", "y": "1"}),
        ("x*y + z", {"x": "y", "y": "x", "z": "1"}),
    ],
)
def test_exact_simple_formulas(source: str, expected: dict[str, str]) -> None:
    assert derivative_formulas(gradcli.compile(source), None, None).derivatives == expected


NOISE = [
    (re.compile(r"\*1(?![\d.e])"), "*1"),
    (re.compile(r"(?<![\w.])1\*"), "1*"),
    (re.compile(r"\+ 0(?![\d.])"), "+ 0"),
    (re.compile(r"- 0(?![\d.])"), "- 0"),
    (re.compile(r"(?<![\w.])0\*"), "0*"),
    (re.compile(r"\*0(?![\d.])"), "*0"),
    (re.compile(r"\^1(?![\d.])"), "^1"),
    (re.compile(r"--"), "--"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_no_trivial_terms(case: Case) -> None:
    f = derivative_formulas(gradcli.compile(case.source), None, None)
    for text in [*f.derivatives.values(), *(t for _, t in f.bindings)]:
        for pattern, what in NOISE:
            assert not pattern.search(text), f"{what!r} in {text!r}"


@pytest.mark.parametrize("source", ["3*x^3*y", "x^-2", "x^1 + x"])
def test_constants_are_folded(source: str) -> None:
    f = derivative_formulas(gradcli.compile(source), None, None)
    for text in f.derivatives.values():
        assert not re.search(r"(?<![\w.^])\d+(\.\d+)?\*\d", text), text  # number*number
        assert not re.search(r"(?<![\w.^])-?\d+(\.\d+)? ([-+]|==) -?\d", text), text  # number ± number, number == number
        assert "^0" not in text, text


# -- bindings -------------------------------------------------------------------------------------------------


def test_long_shared_parts_are_bound() -> None:
    f = derivative_formulas(gradcli.compile("exp(-x^2)*cos(3*x) + tanh(x*y)"), None, None)
    bound = dict(f.bindings)
    assert "tanh(x*y)" in bound.values()
    assert "exp(-x^2)" in bound.values()
    (name,) = [n for n, text in f.bindings if text == "tanh(x*y)"]
    # The bound name is used, and the bound text is not repeated in the formulas.
    assert all("tanh(" not in text for text in f.derivatives.values())
    assert any(re.search(rf"\b{name}\b", text) for text in [*f.derivatives.values(), *bound.values()])
    names = [n for n, _ in f.bindings]
    assert names == [f"t{k}" for k in range(1, len(names) + 1)]


def test_bindings_in_plain_output() -> None:
    result = runner.invoke(app, ["diff", "--symbolic", "exp(-x^2)*cos(3*x) + tanh(x*y)"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith("t") and line.endswith("= tanh(x*y)") for line in lines)
    assert [line.split(" = ")[0] for line in lines if line.startswith("d/d")] == ["d/dx", "d/dy"]


def test_binding_names_avoid_variables() -> None:
    f = derivative_formulas(gradcli.compile("exp(-t1^2)*cos(3*t1) + tanh(t1*y)"), None, None)
    assert f.bindings
    assert "t1" not in [n for n, _ in f.bindings]
    expr = gradcli.compile("exp(-t1^2)*cos(3*t1) + tanh(t1*y)")
    assert_formulas_match_ad(expr, f, [{"t1": 0.3, "y": -0.7}], "t1 as a variable")


def test_short_or_unshared_parts_are_inline() -> None:
    for source in ("x**2 + 2*x + 1", "sin(x)*y", "x*y*z + x^3"):
        assert derivative_formulas(gradcli.compile(source), None, None).bindings == []


# -- formats --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "needles"),
    [
        ("sin(x)*y", ["\\sin", "\\cdot"]),
        ("x/(1 + y^2)", ["\\frac", "^{2}"]),
        ("sqrt(x^2 + y^2)", ["\\sqrt", "\\frac"]),
        ("log(x)*exp(y)", ["\\ln", "\\exp", "\\cdot"]),
        ("exp(-x^2)*cos(3*x) + tanh(x*y)", ["\\tanh", "\\cos", "\\sin", "\\left(", "\\right)"]),
    ],
)
def test_latex(source: str, needles: list[str]) -> None:
    result = runner.invoke(app, ["diff", "--symbolic", source, "--format", "latex"])
    assert result.exit_code == 0, result.output
    for needle in needles:
        assert needle in result.stdout, (needle, result.stdout)
    assert "**" not in result.stdout and "*" not in result.stdout.replace("\\cdot", "")


def test_latex_needs_symbolic() -> None:
    result = runner.invoke(app, ["diff", "x^2", "--at", "x=1", "--format", "latex"])
    assert result.exit_code == 2
    assert "--symbolic" in result.stderr


def test_json_keys() -> None:
    result = runner.invoke(app, ["diff", "--symbolic", "exp(-x^2)*cos(3*x) + tanh(x*y)", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["expression"] == "exp(-x^2)*cos(3*x) + tanh(x*y)"
    assert set(data["derivative"]) == {"x", "y"}
    assert all(set(b) == {"name", "formula"} for b in data["bindings"])
    assert {"name": "t2", "formula": "tanh(x*y)"} in data["bindings"] or any(
        b["formula"] == "tanh(x*y)" for b in data["bindings"]
    )


def test_at_gives_the_same_scalar_formulas() -> None:
    plain = runner.invoke(app, ["diff", "--symbolic", "x^3*y", "--format", "json"])
    at = runner.invoke(app, ["diff", "--symbolic", "x^3*y", "--at", "x=2,y=5", "--format", "json"])
    assert at.exit_code == 0 and plain.exit_code == 0
    assert json.loads(at.stdout) == json.loads(plain.stdout)


# -- what can't be written ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["sum(x^2)", "--at", "x=[1,2]"], ["--symbolic", "scalar"]),
        (["norm(x)", "--at", "x=[3,4]"], ["--symbolic", "scalar"]),
        (["x*y", "--at", "x=[3,4],y=2"], ["--symbolic", "scalar"]),
        (["x^2", "--order", "2"], ["--symbolic", "first derivatives"]),
    ],
)
def test_unwritable_is_exit_2_with_a_message(args: list[str], words: list[str]) -> None:
    result = runner.invoke(app, ["diff", "--symbolic", *args])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("gradcli: error: ")
    for w in words:
        assert w in result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.stderr


@pytest.mark.parametrize("source", ["lgamma(x)", "gamma(x)"])
def test_digamma_formula_is_gradcli_syntax_or_an_error(source: str) -> None:
    result = runner.invoke(app, ["diff", "--symbolic", source, "--format", "json"])
    if result.exit_code == 2:
        assert "digamma" in result.stderr or "--symbolic" in result.stderr
        return
    assert result.exit_code == 0
    gradcli.compile(json.loads(result.stdout)["derivative"]["x"])


def test_formula_program_helper_uses_statements() -> None:
    f = Formulas([("t1", "sin(x)"), ("t2", "t1*t1")], {"x": "t2 + t1"})
    assert formula_program(f, "x") == "t1 = sin(x); t2 = t1*t1; t2 + t1"
    assert float(gradcli.compile(formula_program(f, "x")).value({"x": 0.5})) == pytest.approx(np.sin(0.5) ** 2 + np.sin(0.5))
