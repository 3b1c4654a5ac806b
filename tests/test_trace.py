"""`gradcli trace`: the evaluation trace (Wengert list) is internally consistent and agrees with `diff`.

Each row is checked against the other rows only: the chain rule (an adjoint is the sum over its
consumers of consumer-adjoint × local partial), the local partials against central differences of the
row's own operation, the output row against Expression.value, the inputs against Expression.gradient.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import gradcli
from gradcli.api import Expression
from gradcli.cli.app import app
from gradcli.tools.trace import Trace, TraceRow, explain, trace

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
runner = CliRunner()

# Rich must not see a terminal, colours or a width other than the one a test sets.
PLAIN_ENV: dict[str, str | None] = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None, "NO_COLOR": "1"}

CLASSIC = "log(x1) + x1*x2 - sin(x2)"  # Griewank & Walther; Baydin et al. 2018, table 2 (ln is spelled log)


@dataclass(frozen=True)
class Case:
    id: str
    source: str  # an expression, or @name for samples/name.grad
    point: dict[str, Any]

    def text(self) -> str:
        if self.source.startswith("@"):
            return (SAMPLES / f"{self.source[1:]}.grad").read_text(encoding="utf-8")
        return self.source

    def cli_source(self) -> str:
        return f"@{SAMPLES / self.source[1:]}.grad" if self.source.startswith("@") else self.source


CASES = [
    Case("classic", CLASSIC, {"x1": 2.0, "x2": 5.0}),
    Case("add_mul_graph", "@add_mul_graph", {"x": 1.0, "w": 2.0, "b": 3.0}),
    Case("rosenbrock", "@rosenbrock", {"x": 1.0, "y": 2.0}),
    Case("rosenbrock_off", "@rosenbrock", {"x": -0.7, "y": 0.4}),
    Case("neuron", "@neuron", {"x1": 2.0, "x2": 0.0, "w1": -3.0, "w2": 1.0, "b": 6.881373587019543}),
    Case("logistic_loss", "@logistic_loss", {"x": [1.0, 2.0], "w": [0.5, -0.25], "b": 0.0, "y": 1.0}),
    Case("shared", "a = sin(x); a*a + a", {"x": 0.7}),
    Case("pow_abs", "x^y + 2^x + sqrt(abs(x))", {"x": 1.5, "y": 2.3}),
    Case("gauss_cos_tanh", "exp(-x^2)*cos(3*x) + tanh(x*y)", {"x": 0.3, "y": -1.2}),
    Case("binary_funcs", "atan2(y, x) + hypot(x, y) + logaddexp(x, y) + sigmoid(x*y)", {"x": 0.8, "y": -0.4}),
    Case("special", "softplus(x)/(1 + x^2) - erf(y)*cosh(x) + log1p(x*x)", {"x": 0.6, "y": 0.25}),
    Case("quotient_chain", "u = x/y; v = u - y/x; exp(v)*u + 1/(u*u + 1)", {"x": 1.3, "y": 0.9}),
    Case("arrays", "sum(w*x^2) + b", {"x": [1.0, -2.0, 0.5], "w": [0.3, 0.1, -1.0], "b": 2.0}),
]

IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def compiled(case: Case) -> tuple[Expression, dict[str, np.ndarray]]:
    expr = gradcli.compile(case.text())
    return expr, expr.bind(case.point)


def by_name(t: Trace) -> dict[str, TraceRow]:
    return {r.name: r for r in t.rows}


def names_in(text: str) -> set[str]:
    return set(IDENT.findall(text))


def unbroadcast(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a contribution down to the shape of the value it is the adjoint of."""
    x = np.asarray(x, dtype=float)
    while x.ndim > len(shape):
        x = x.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and x.shape[axis] != 1:
            x = x.sum(axis=axis, keepdims=True)
    return x


def is_scalar(v: Any) -> bool:
    return np.ndim(v) == 0


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def traced(request: pytest.FixtureRequest) -> tuple[Case, Expression, dict[str, np.ndarray], Trace]:
    case: Case = request.param
    expr, point = compiled(case)
    return case, expr, point, trace(expr, point, "reverse")


# -- reverse mode ---------------------------------------------------------------------------------------


def test_last_row_is_the_value(traced: tuple[Case, Expression, dict[str, np.ndarray], Trace]) -> None:
    _, expr, point, t = traced
    np.testing.assert_allclose(t.rows[-1].value, expr.value(point), rtol=1e-14, atol=0)
    np.testing.assert_array_equal(t.rows[-1].adjoint, np.ones(np.shape(t.rows[-1].value)))


def test_inputs_first_then_tape_order(traced: tuple[Case, Expression, dict[str, np.ndarray], Trace]) -> None:
    _, expr, _, t = traced
    kinds = [r.op == "input" for r in t.rows]
    assert kinds == sorted(kinds, reverse=True)
    assert {r.name for r in t.rows if r.op == "input"} == set(expr.variables)
    ops = [r for r in t.rows if r.op != "input"]
    assert [r.name for r in ops] == [f"v{k}" for k in range(1, len(ops) + 1)]
    assert [r.index for r in ops] == sorted(r.index for r in ops)


def test_input_adjoints_are_the_gradient(traced: tuple[Case, Expression, dict[str, np.ndarray], Trace]) -> None:
    _, expr, point, t = traced
    grad = expr.gradient(point)
    rows = by_name(t)
    assert set(t.gradient) == set(grad)
    for v, g in grad.items():
        np.testing.assert_allclose(rows[v].adjoint, g, rtol=1e-13, atol=1e-15, err_msg=v)
        np.testing.assert_allclose(t.gradient[v], g, rtol=1e-13, atol=1e-15, err_msg=v)


def test_adjoints_obey_the_chain_rule(traced: tuple[Case, Expression, dict[str, np.ndarray], Trace]) -> None:
    """v̄ = Σ over consumers c of c̄ · ∂c/∂v, using nothing but the rows."""
    _, _, _, t = traced
    # Rows whose operation has no local partials (dot, sum, …) hide how they use their arguments.
    opaque = {n for r in t.rows if r.op != "input" and not r.partials for n in names_in(r.expression)}
    checked = 0
    for row in t.rows[:-1]:
        if row.name in opaque:
            continue
        total = np.zeros(np.shape(row.value))
        uses = 0
        for consumer in t.rows:
            for p in consumer.partials:
                if p.wrt == row.name:
                    assert p.value is not None
                    total = total + unbroadcast(np.asarray(consumer.adjoint) * np.asarray(p.value), np.shape(row.value))
                    uses += 1
        assert uses > 0, f"{row.name} is in the trace but nothing uses it"
        np.testing.assert_allclose(row.adjoint, total, rtol=1e-12, atol=1e-14, err_msg=row.name)
        checked += 1
    assert checked >= 1


def _row_function(row: TraceRow, values: dict[str, np.ndarray], wrt: str) -> Any:
    expr = gradcli.compile(row.expression)
    point = {n: values[n] for n in expr.variables}

    def f(x: float) -> float:
        return float(expr.value({**point, wrt: x}))

    return f


def test_local_partials_match_central_differences(traced: tuple[Case, Expression, dict[str, np.ndarray], Trace]) -> None:
    """Each ∂row/∂input number is the derivative of the row's own operation (recompiled over row names)."""
    _, _, _, t = traced
    values = {r.name: r.value for r in t.rows}
    checked = 0
    for row in t.rows:
        if row.op == "input" or not is_scalar(row.value):
            continue
        used = names_in(row.expression) & set(values)
        if not all(is_scalar(values[n]) for n in used):
            continue
        # One partial per argument position: v1*v1 lists ∂/∂v1 twice, and the derivative in v1 is their sum.
        summed: dict[str, float] = {}
        for p in row.partials:
            summed[p.wrt] = summed.get(p.wrt, 0.0) + float(p.value)
        for wrt, number in summed.items():
            x0 = float(values[wrt])
            h = 1e-6 * max(1.0, abs(x0))
            f = _row_function(row, values, wrt)
            fd = (f(x0 + h) - f(x0 - h)) / (2 * h)
            assert math.isclose(number, fd, rel_tol=1e-6, abs_tol=1e-7), (row.name, row.expression, wrt, number, fd)
            checked += 1
    assert checked >= 1


def test_row_expressions_recompute_the_values(traced: tuple[Case, Expression, dict[str, np.ndarray], Trace]) -> None:
    """Each row's right-hand side, written in gradcli over the row names, gives the row's value."""
    _, _, _, t = traced
    values = {r.name: r.value for r in t.rows}
    for row in t.rows:
        if row.op == "input":
            continue
        e = gradcli.compile(row.expression)
        np.testing.assert_allclose(e.value({n: values[n] for n in e.variables}), row.value, rtol=1e-14, atol=1e-300)


def _formulas(t: Trace) -> list[tuple[TraceRow, str, Any]]:
    return [(row, p.formula, p.value) for row in t.rows for p in row.partials]


def test_partial_formulas_evaluate_to_their_numbers(traced: tuple[Case, Expression, dict[str, np.ndarray], Trace]) -> None:
    _, _, _, t = traced
    values = {r.name: r.value for r in t.rows}
    for row, text, number in _formulas(t):
        if "xlogy(" in text:  # see test_partial_formula_of_pow_is_gradcli_syntax
            continue
        e = gradcli.compile(text)
        got = e.value({n: values[n] for n in e.variables})
        np.testing.assert_allclose(got, number, rtol=1e-13, atol=1e-15, err_msg=f"{row.name}: {text}")


def test_partial_formula_of_pow_is_gradcli_syntax() -> None:
    expr = gradcli.compile("x^y")
    t = trace(expr, expr.bind({"x": 1.5, "y": 2.3}))
    formulas = [p.formula for p in t.rows[-1].partials]
    for text in formulas:
        gradcli.compile(text)


def test_classic_textbook_values() -> None:
    """Baydin et al. 2018, table 2 / Griewank & Walther: f(2, 5) = 11.652, ∂f/∂x1 = 5.5, ∂f/∂x2 = 1.716."""
    expr = gradcli.compile(CLASSIC)
    t = trace(expr, expr.bind({"x1": 2, "x2": 5}))
    rows = {r.expression: r for r in t.rows}
    expected_values = {
        "x1": 2.0,
        "x2": 5.0,
        "log(x1)": math.log(2),
        "x1*x2": 10.0,
        "sin(x2)": math.sin(5),
        "v1 + v2": math.log(2) + 10,
        "v3 - v4": math.log(2) + 10 - math.sin(5),
    }
    expected_adjoints = {
        "x1": 5.5,
        "x2": 2 - math.cos(5),
        "log(x1)": 1.0,
        "x1*x2": 1.0,
        "sin(x2)": -1.0,
        "v1 + v2": 1.0,
        "v3 - v4": 1.0,
    }
    assert set(rows) == set(expected_values)
    for e, v in expected_values.items():
        assert float(rows[e].value) == pytest.approx(v, rel=1e-15), e
        assert float(rows[e].adjoint) == pytest.approx(expected_adjoints[e], rel=1e-15), e
    assert float(t.rows[-1].value) == pytest.approx(11.652071455223084, rel=1e-15)
    assert round(float(t.rows[-1].value), 3) == 11.652
    assert float(t.gradient["x2"]) == pytest.approx(1.7163378145367738, rel=1e-15)
    partials = {(r.expression, p.wrt): (p.formula, float(p.value)) for r in t.rows for p in r.partials}
    assert partials[("log(x1)", "x1")] == ("1/x1", 0.5)
    assert partials[("x1*x2", "x1")] == ("x2", 5.0)
    assert partials[("x1*x2", "x2")] == ("x1", 2.0)
    assert partials[("sin(x2)", "x2")] == ("cos(x2)", math.cos(5))
    assert partials[("v3 - v4", "v4")] == ("-1", -1.0)


# -- forward mode ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_forward_tangent_is_the_directional_derivative(case: Case) -> None:
    expr, point = compiled(case)
    rng = np.random.default_rng(7)
    direction = {v: rng.uniform(-1, 1, np.shape(point[v])) for v in expr.variables}
    t = trace(expr, point, "forward", {"s": direction})
    grad = expr.gradient(point)
    expected = sum(float(np.sum(grad[v] * direction[v])) for v in expr.variables)
    np.testing.assert_allclose(t.rows[-1].tangents["s"], expected, rtol=1e-12, atol=1e-14)
    rows = by_name(t)
    for v in expr.variables:
        np.testing.assert_allclose(rows[v].tangents["s"], direction[v])
    # The default seeds are one column per input: the last row's tangents are then the gradient.
    t = trace(expr, point, "forward")
    assert list(t.seeds) == list(expr.variables)
    for v in expr.variables:
        np.testing.assert_allclose(t.rows[-1].tangents[v], np.sum(grad[v]) if np.ndim(grad[v]) else grad[v], rtol=1e-12)


def test_forward_and_reverse_rows_agree() -> None:
    expr = gradcli.compile(CLASSIC)
    point = expr.bind({"x1": 2, "x2": 5})
    rev, fwd = trace(expr, point, "reverse"), trace(expr, point, "forward")
    assert [(r.name, r.expression) for r in rev.rows] == [(r.name, r.expression) for r in fwd.rows]
    for a, b in zip(rev.rows, fwd.rows):
        np.testing.assert_array_equal(a.value, b.value)
        assert [(p.wrt, p.formula) for p in a.partials] == [(p.wrt, p.formula) for p in b.partials]


def test_unknown_mode_is_a_usage_error() -> None:
    expr = gradcli.compile("x")
    with pytest.raises(gradcli.UsageError):
        trace(expr, expr.bind({"x": 1}), "sideways")


# -- the command line -----------------------------------------------------------------------------------


def run(*args: str, env: dict[str, str | None] | None = None) -> Any:
    return runner.invoke(app, list(args), env={**PLAIN_ENV, **(env or {})})


def strict_json(text: str) -> Any:
    def reject(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=reject)


def test_cli_seed_dir() -> None:
    result = run("trace", CLASSIC, "--at", "x1=2,x2=5", "--mode", "forward", "--seed-dir", "x1=1,x2=2", "--format", "json")
    assert result.exit_code == 0, result.output
    data = strict_json(result.stdout)
    assert data["mode"] == "forward"
    assert data["seeds"] == {"x1=1,x2=2": {"x1": 1, "x2": 2}}
    last = data["rows"][-1]["tangents"]["x1=1,x2=2"]
    assert last == pytest.approx(5.5 * 1 + (2 - math.cos(5)) * 2, rel=1e-14)
    inputs = {r["name"]: r["tangents"]["x1=1,x2=2"] for r in data["rows"] if r["op"] == "input"}
    assert inputs == {"x1": 1, "x2": 2}


def test_cli_seed_dir_partial_direction_and_repeated_option() -> None:
    result = run("trace", CLASSIC, "--at", "x1=2,x2=5", "--mode", "forward", "--seed-dir", "x2=1", "--format", "json")
    assert result.exit_code == 0, result.output
    (label,) = strict_json(result.stdout)["seeds"]
    assert strict_json(result.stdout)["rows"][-1]["tangents"][label] == pytest.approx(2 - math.cos(5), rel=1e-14)
    result = run(
        "trace", CLASSIC, "--at", "x1=2,x2=5", "--mode", "forward", "--seed-dir", "x1=1", "--seed-dir", "x2=1", "-f", "json"
    )
    assert result.exit_code == 0, result.output
    data = strict_json(result.stdout)
    assert list(data["seeds"]) == ["x1=1", "x2=1"]  # a repeated --seed-dir is another direction, not merged
    tangents = data["rows"][-1]["tangents"]
    assert tangents["x1=1"] == pytest.approx(5.5, rel=1e-14)
    assert tangents["x2=1"] == pytest.approx(2 - math.cos(5), rel=1e-14)


def test_cli_seed_dir_unknown_variable() -> None:
    result = run("trace", CLASSIC, "--at", "x1=2,x2=5", "--mode", "forward", "--seed-dir", "z=1")
    assert result.exit_code == 2
    assert "z is not a variable" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_cli_json_rows(case: Case, mode: str) -> None:
    at = [f"{k}={json.dumps(v)}" for k, v in case.point.items()]
    args = ["trace", case.cli_source(), *(a for item in at for a in ("--at", item)), "--mode", mode, "--format", "json"]
    result = run(*args)
    assert result.exit_code == 0, result.output
    data = strict_json(result.stdout)
    assert data["mode"] == mode
    rows = data["rows"]
    assert isinstance(rows, list) and rows
    for row in rows:
        assert isinstance(row, dict)
        assert {"name", "op", "expression", "source", "value", "partials"} <= set(row)
        assert ("adjoint" in row) == (mode == "reverse")
        assert ("tangents" in row) == (mode == "forward")
        assert isinstance(row["partials"], list)
        for p in row["partials"]:
            assert set(p) == {"wrt", "formula", "value"}
    expr, point = compiled(case)
    np.testing.assert_allclose(rows[-1]["value"], expr.value(point), rtol=1e-15)
    if mode == "reverse":
        for v, g in expr.gradient(point).items():
            np.testing.assert_allclose(data["gradient"][v], g, rtol=1e-15)


def test_cli_explain_reverse_names_the_rules() -> None:
    result = run("trace", CLASSIC, "--at", "x1=2,x2=5", "--explain", "--format", "json")
    assert result.exit_code == 0, result.output
    lines = strict_json(result.stdout)["explanation"]
    text = "\n".join(lines)
    for rule in ("product rule", "sum rule", "chain rule through log", "chain rule through sin", "difference rule"):
        assert rule in text
    assert lines[0].startswith("Backward sweep")
    assert "x1̄ = v1̄·∂v1/∂x1 + v2̄·∂v2/∂x1 = 1·0.5 + 1·5 = 5.5" in text
    assert lines[-1].endswith("∂f/∂x1 = 5.5, ∂f/∂x2 = 1.7163378145367738")
    plain = run("trace", CLASSIC, "--at", "x1=2,x2=5", "--explain", "--format", "plain").stdout
    for line in lines:
        assert line in plain


def test_cli_explain_forward_and_shared() -> None:
    result = run("trace", "a = sin(x); a*a + a", "--at", "x=1", "--mode", "forward", "--explain", "--format", "plain")
    assert result.exit_code == 0, result.output
    assert "Forward sweep" in result.stdout
    assert "product rule" in result.stdout and "sum rule" in result.stdout and "chain rule through sin" in result.stdout
    expr = gradcli.compile("a = sin(x); a*a + a")
    lines = explain(trace(expr, expr.bind({"x": 1.0}), "reverse"))
    # sin(x) feeds the product twice and the sum once: three terms in its adjoint.
    (line,) = [ln for ln in lines if ln.startswith("v1̄ =")]
    assert line.count("·∂") == 3


GOLDEN_PLAIN = (
    "v           value  local partials                adjoint v̄\n"
    "x           1                                    3\n"
    "w           2                                    3\n"
    "b           3                                    3\n"
    "v1 = x + w  3      ∂/∂x = 1; ∂/∂w = 1            3\n"
    "v2 = v1*b   9      ∂/∂v1 = b = 3; ∂/∂b = v1 = 3  1\n"
    "gradient: d/dx = 3, d/dw = 3, d/db = 3\n"
)


def test_golden_plain_add_mul_graph() -> None:
    """f = (x + w)*b at x=1, w=2, b=3: v1 = 3, f = 9; v̄1 = b = 3, x̄ = w̄ = 3, b̄ = v1 = 3 (by hand)."""
    result = run("trace", f"@{SAMPLES / 'add_mul_graph.grad'}", "--at", "x=1,w=2,b=3", "--format", "plain")
    assert result.exit_code == 0, result.output
    assert result.stdout == GOLDEN_PLAIN


GOLDEN_TABLE = (
    "a = x + w; y = a * b                                             \n"
    "┏━━━━━━━━━━━━┳━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┓\n"
    "┃ v          ┃ value ┃               local partials ┃ adjoint v̄ ┃\n"
    "┡━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━┩\n"
    "│ x          │     1 │                              │         3 │\n"
    "│ w          │     2 │                              │         3 │\n"
    "│ b          │     3 │                              │         3 │\n"
    "│ v1 = x + w │     3 │           ∂/∂x = 1; ∂/∂w = 1 │         3 │\n"
    "│ v2 = v1*b  │     9 │ ∂/∂v1 = b = 3; ∂/∂b = v1 = 3 │         1 │\n"
    "└────────────┴───────┴──────────────────────────────┴───────────┘\n"
    "gradient: d/dx = 3, d/dw = 3, d/db = 3\n"
)


def test_golden_table_add_mul_graph() -> None:
    result = run(
        "trace", f"@{SAMPLES / 'add_mul_graph.grad'}", "--at", "x=1,w=2,b=3", "--format", "table", env={"COLUMNS": "100"}
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == GOLDEN_TABLE


def test_table_fits_the_width() -> None:
    result = run("trace", CLASSIC, "--at", "x1=2,x2=5", "--format", "table", env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "11.65207" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 100


def test_cli_trace_domain_error_exit_3() -> None:
    result = run("trace", "log(x - 2)", "--at", "x=1")
    assert result.exit_code == 3
    assert "undefined" in result.stderr
    assert "Traceback" not in result.output


# -- several outputs ------------------------------------------------------------------------------------
#
# Every output is traced: its row is there, it has its own adjoint column (the reverse sweep seeded at it)
# and its own gradient, each equal to what Expression.gradient(point, output=k) gives on its own.

MULTI = [
    Case("mul_add", "x*y, x+y", {"x": 1.0, "y": 2.0}),
    Case("duplicate_input", "x, x", {"x": 1.5}),
    Case("duplicate_op", "x*y, x*y", {"x": 1.5, "y": -2.0}),
    Case("shared", "a = sin(x); a*a, a + y, x", {"x": 0.7, "y": 0.3}),
    Case("constant_output", "2, x*y", {"x": 1.0, "y": 3.0}),
    Case("arrays", "sum(w*x^2), w@x, x^2", {"x": [1.0, -2.0], "w": [0.5, 3.0]}),
    Case("classic_and_part", f"{CLASSIC}, log(x1)", {"x1": 2.0, "x2": 5.0}),
]


@pytest.fixture(scope="module", params=MULTI, ids=[c.id for c in MULTI])
def traced_multi(request: pytest.FixtureRequest) -> tuple[Case, Expression, dict[str, np.ndarray], Trace]:
    case: Case = request.param
    expr, point = compiled(case)
    return case, expr, point, trace(expr, point, "reverse")


def output_row(t: Trace, label: str) -> TraceRow:
    (row,) = [r for r in t.rows if label in r.outputs]
    return row


def test_multi_every_output_has_a_row(traced_multi: tuple[Case, Expression, dict[str, np.ndarray], Trace]) -> None:
    _, expr, point, t = traced_multi
    assert t.outputs == expr.output_names and len(t.outputs) >= 2
    assert len(t.output_rows) == len(t.outputs)
    values = expr.values(point)
    for k, label in enumerate(t.outputs):
        row = output_row(t, label)
        assert row.name == t.output_rows[k]
        np.testing.assert_allclose(row.value, values[k], rtol=1e-14, atol=0)
        np.testing.assert_array_equal(row.adjoints[label], np.ones(np.shape(row.value)))  # each sweep's seed
    # Each instruction once, inputs first, then tape order.
    assert len({r.index for r in t.rows}) == len(t.rows)
    ops = [r for r in t.rows if r.op != "input"]
    assert [r.index for r in ops] == sorted(r.index for r in ops)


def test_multi_adjoints_are_each_outputs_gradient(traced_multi: tuple[Case, Expression, dict[str, np.ndarray], Trace]) -> None:
    _, expr, point, t = traced_multi
    rows = by_name(t)
    assert list(t.gradients) == list(expr.output_names)
    for k, label in enumerate(t.outputs):
        grad = gradcli.compile(expr.text).gradient(point, output=k)  # independent of the trace's tape
        assert set(t.gradients[label]) == set(grad)
        for v, g in grad.items():
            np.testing.assert_allclose(t.gradients[label][v], g, rtol=1e-13, atol=1e-15, err_msg=f"{label}: {v}")
            np.testing.assert_allclose(rows[v].adjoints[label], g, rtol=1e-13, atol=1e-15, err_msg=f"{label}: {v}")
        for row in t.rows:
            assert set(row.adjoints) == set(t.outputs), row.name


def test_multi_rows_are_the_union_of_the_single_traces(
    traced_multi: tuple[Case, Expression, dict[str, np.ndarray], Trace],
) -> None:
    """Tracing output k alone gives the same rows that output depends on, with the same adjoints."""
    _, expr, point, t = traced_multi
    by_index = {r.index: r for r in t.rows}
    union: set[int] = set()
    for k, label in enumerate(t.outputs):
        alone = trace(expr, point, "reverse", outputs=[k])
        assert alone.outputs == (label,)
        union |= {r.index for r in alone.rows}
        for r in alone.rows:
            assert label in by_index[r.index].feeds
            np.testing.assert_allclose(by_index[r.index].adjoints[label], r.adjoint, rtol=1e-14, atol=0)
            np.testing.assert_array_equal(by_index[r.index].value, r.value)
        for v, g in alone.gradient.items():
            np.testing.assert_array_equal(t.gradients[label][v], g)
        # Rows this output doesn't depend on have adjoint 0 in its column.
        for r in by_index.values():
            if label not in r.feeds:
                np.testing.assert_array_equal(r.adjoints[label], np.zeros(np.shape(r.value)))
    assert union == set(by_index)


def test_multi_adjoints_obey_the_chain_rule(traced_multi: tuple[Case, Expression, dict[str, np.ndarray], Trace]) -> None:
    _, _, _, t = traced_multi
    opaque = {n for r in t.rows if r.op != "input" and not r.partials for n in names_in(r.expression)}
    for label in t.outputs:
        for row in t.rows:
            if row.name in opaque or label in row.outputs or row.op == "const":
                continue
            total = np.zeros(np.shape(row.value))
            for consumer in t.rows:
                for p in consumer.partials:
                    if p.wrt == row.name:
                        term = np.asarray(consumer.adjoints[label]) * np.asarray(p.value)
                        total = total + unbroadcast(term, np.shape(row.value))
            np.testing.assert_allclose(row.adjoints[label], total, rtol=1e-12, atol=1e-14, err_msg=f"{label}: {row.name}")


@pytest.mark.parametrize("case", MULTI, ids=[c.id for c in MULTI])
def test_multi_forward_has_every_output(case: Case) -> None:
    expr, point = compiled(case)
    rng = np.random.default_rng(3)
    direction = {v: rng.uniform(-1, 1, np.shape(point[v])) for v in expr.variables}
    t = trace(expr, point, "forward", {"s": direction})
    assert t.outputs == expr.output_names
    for k, label in enumerate(t.outputs):
        grad = expr.gradient(point, output=k)
        expected = sum(float(np.sum(grad[v] * direction[v])) for v in expr.variables)
        np.testing.assert_allclose(np.sum(output_row(t, label).tangents["s"]), expected, rtol=1e-12, atol=1e-14)


def test_multi_explain_mentions_every_output() -> None:
    expr = gradcli.compile("x*y, x+y")
    point = expr.bind({"x": 1, "y": 2})
    lines = explain(trace(expr, point))
    assert "Backward sweep for output x*y: the output is v1; start from v1̄ = 1" in lines[0]
    assert "The adjoints of the inputs in this sweep are the gradient of x*y: ∂(x*y)/∂x = 2, ∂(x*y)/∂y = 1" in lines
    assert any(line.startswith("Backward sweep for output x+y: the output is v2") for line in lines)
    assert "The adjoints of the inputs in this sweep are the gradient of x+y: ∂(x+y)/∂x = 1, ∂(x+y)/∂y = 1" in lines
    # Each sweep only walks the rows its output depends on: x+y's sweep never uses v1.
    start = next(k for k, line in enumerate(lines) if "output x+y" in line)
    assert not any("v1̄" in line for line in lines[start:])
    forward = explain(trace(expr, point, "forward"))
    assert "The outputs' tangents along x: x*y is v1, v1̇ = 2; x+y is v2, v2̇ = 1" in forward
    assert "The outputs' tangents along y: x*y is v1, v1̇ = 1; x+y is v2, v2̇ = 1" in forward


GOLDEN_MULTI_PLAIN = (
    "v           value  local partials              adjoint v̄ (x*y)  adjoint v̄ (x+y)\n"
    "x           1                                  2                 1\n"
    "y           2                                  1                 1\n"
    "v1 = x*y    2      ∂/∂x = y = 2; ∂/∂y = x = 1  1                 0\n"
    "v2 = x + y  3      ∂/∂x = 1; ∂/∂y = 1          0                 1\n"
    "outputs: x*y is v1, x+y is v2\n"
    "gradient of x*y: d/dx = 2, d/dy = 1\n"
    "gradient of x+y: d/dx = 1, d/dy = 1\n"
)


def test_cli_multi_plain_golden() -> None:
    """∂(xy)/∂x = y = 2, ∂(xy)/∂y = x = 1; ∂(x+y) = 1, 1 (by hand); no output dropped."""
    result = run("trace", "x*y, x+y", "--at", "x=1,y=2", "--format", "plain")
    assert result.exit_code == 0, result.output
    assert result.stdout == GOLDEN_MULTI_PLAIN


def test_cli_multi_table_has_every_column() -> None:
    result = run("trace", "x*y, x+y", "--at", "x=1,y=2", "--format", "table", env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "adjoint v̄ (x*y)" in result.stdout and "adjoint v̄ (x+y)" in result.stdout
    assert "gradient of x*y: d/dx = 2, d/dy = 1" in result.stdout
    assert "gradient of x+y: d/dx = 1, d/dy = 1" in result.stdout


@pytest.mark.parametrize("case", MULTI, ids=[c.id for c in MULTI])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_cli_multi_json(case: Case, mode: str) -> None:
    at = [f"{k}={json.dumps(v)}" for k, v in case.point.items()]
    result = run("trace", case.cli_source(), *(a for item in at for a in ("--at", item)), "--mode", mode, "-f", "json")
    assert result.exit_code == 0, result.output
    data = strict_json(result.stdout)
    expr, point = compiled(case)
    labels = list(expr.output_names)
    assert data["outputs"] == labels
    rows = data["rows"]
    # Every output is the output of exactly one row; a row may be several (x, x).
    claimed = [label for row in rows for label in row["outputs"]]
    assert sorted(claimed) == sorted(labels)
    values = expr.values(point)
    for k, label in enumerate(labels):
        (row,) = [r for r in rows if label in r["outputs"]]
        np.testing.assert_allclose(row["value"], values[k], rtol=1e-15)
    if mode == "reverse":
        assert list(data["gradient"]) == labels
        for row in rows:
            assert list(row["adjoint"]) == labels
        inputs = {r["name"]: r for r in rows if r["op"] == "input"}
        for k, label in enumerate(labels):
            for v, g in expr.gradient(point, output=k).items():
                np.testing.assert_allclose(data["gradient"][label][v], g, rtol=1e-15)
                np.testing.assert_allclose(inputs[v]["adjoint"][label], g, rtol=1e-15)
    else:
        assert "gradient" not in data
        for row in rows:
            assert set(row["tangents"]) == set(data["seeds"])


def test_cli_duplicate_outputs_stay_two() -> None:
    result = run("trace", "x, x", "--at", "x=3", "-f", "json")
    assert result.exit_code == 0, result.output
    data = strict_json(result.stdout)
    assert data["outputs"] == ["x", "x#2"]
    (row,) = data["rows"]
    assert row["outputs"] == ["x", "x#2"]
    assert row["adjoint"] == {"x": 1, "x#2": 1}
    assert data["gradient"] == {"x": {"x": 1}, "x#2": {"x": 1}}
    plain = run("trace", "x*y, x*y", "--at", "x=3,y=4", "-f", "plain").stdout
    assert "adjoint v̄ (x*y)  adjoint v̄ (x*y#2)" in plain
    assert "outputs: x*y is v1, x*y#2 is v1" in plain
    assert "gradient of x*y: d/dx = 4, d/dy = 3" in plain and "gradient of x*y#2: d/dx = 4, d/dy = 3" in plain


def test_cli_single_output_json_shape_is_unchanged() -> None:
    data = strict_json(run("trace", "x*y", "--at", "x=1,y=2", "-f", "json").stdout)
    assert "outputs" not in data
    assert all("outputs" not in row and not isinstance(row["adjoint"], dict) for row in data["rows"])
    assert data["gradient"] == {"x": 2, "y": 1}
    data = strict_json(run("trace", "x*y", "--at", "x=1,y=2", "--mode", "forward", "-f", "json").stdout)
    assert "outputs" not in data and all("outputs" not in row for row in data["rows"])


def test_cli_long_output_labels_are_numbered_in_headers() -> None:
    long = " + ".join(f"x*{k}" for k in range(1, 12))
    result = run("trace", f"x*y, {long}", "--at", "x=1,y=2", "-f", "plain")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0]
    assert header.endswith("adjoint v̄ (x*y)  adjoint v̄ (#2)")
    assert f"outputs: x*y is v1, #2 = {long} is v" in result.stdout
    assert "gradient of #2: d/dx = 66, d/dy = 0" in result.stdout
    data = strict_json(run("trace", f"x*y, {long}", "--at", "x=1,y=2", "-f", "json").stdout)
    assert data["outputs"] == ["x*y", long]  # JSON always spells the label out
    assert data["gradient"][long] == {"x": 66, "y": 0}


def test_deep_multi_output_trace() -> None:
    """10,000 levels of nesting in one output, another beside it: nothing recurses."""
    depth = 10_000
    deep = "(" * depth + "x" + "+y)" * depth
    expr = gradcli.compile(f"{deep}, x*y")
    point = expr.bind({"x": 0.5, "y": 2.0})
    t = trace(expr, point)
    assert len(t.rows) == depth + 3
    assert t.outputs == (deep, "x*y")
    assert float(t.gradients[deep]["y"]) == depth and float(t.gradients["x*y"]["x"]) == 2
    assert len(explain(t)) > depth
    assert len(trace(expr, point, "forward").rows) == depth + 3


def test_each_seed_dir_is_its_own_direction() -> None:
    """--seed-dir x=1 --seed-dir y=1 is two tangent columns (∂/∂x and ∂/∂y), not one merged direction x+y."""
    import json as _json

    out = CliRunner().invoke(app, ["trace", "x*y + y", "--at", "x=1,y=2", "--mode", "forward",
                                   "--seed-dir", "x=1", "--seed-dir", "y=1", "-f", "json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    data = _json.loads(out.stdout)
    assert data["seeds"] == {"x=1": {"x": 1}, "y=1": {"y": 1}}
    last = data["rows"][-1]["tangents"]
    grad = gradcli.compile("x*y + y").gradient({"x": 1.0, "y": 2.0})  # the oracle: reverse mode
    assert last == {"x=1": float(grad["x"]), "y=1": float(grad["y"])}
    together = CliRunner().invoke(app, ["trace", "x*y + y", "--at", "x=1,y=2", "--mode", "forward", "--seed-dir", "x=1,y=1",
                                        "-f", "json"])  # fmt: skip
    assert _json.loads(together.stdout)["rows"][-1]["tangents"] == {"x=1,y=1": float(grad["x"] + grad["y"])}


def test_seed_dir_in_reverse_mode_is_an_error_not_ignored() -> None:
    out = CliRunner().invoke(app, ["trace", "x*y", "--at", "x=1,y=2", "--seed-dir", "x=1"])
    assert out.exit_code == 2 and "--mode forward" in out.stderr


def test_the_gradient_of_an_array_variable_has_its_shape() -> None:
    import json as _json

    out = CliRunner().invoke(app, ["trace", "x*2", "--at", "x=[1,2]", "-f", "json"])
    assert out.exit_code == 0, out.output
    want = gradcli.compile("x*2").gradient({"x": [1.0, 2.0]})["x"].tolist()
    assert _json.loads(out.stdout)["gradient"] == {"x": want} == {"x": [2, 2]}
    plain = CliRunner().invoke(app, ["trace", "x*2", "--at", "x=[1,2]"])
    assert plain.stdout.splitlines()[-1] == "gradient: d/dx = [2, 2]"
