"""The engine of `gradcli verify` (gradcli.tools.verification): planted wrong derivatives are caught, right ones pass.

Each wrong claim below is a mistake people make by hand; the test asserts not
only that it is caught but that the counterexample's autodiff value is the
true derivative at the counterexample's point, and that the numeric witness
sides with it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import gradcli
from gradcli.errors import EvaluationError, GrammarError, ShapeError, UsageError
from gradcli.tools.verification import DEFAULT_RANGE, VerifyResult, parse_claims, verify

ROSENBROCK = (Path(__file__).resolve().parent.parent / "samples" / "rosenbrock.grad").read_text()


def scalar(point: dict[str, np.ndarray], name: str) -> float:
    return float(np.asarray(point[name]))


def assert_caught(result: VerifyResult, variable: str, truth: Callable[[dict[str, np.ndarray]], float]) -> None:
    """ok False, a counterexample for `variable` whose autodiff is the true derivative there, backed by the numeric one."""
    assert not result.ok
    c = result.counterexample
    assert c is not None
    assert c.variable == variable
    true = truth(c.point)
    assert float(c.autodiff) == pytest.approx(true, rel=1e-12, abs=1e-12)
    assert float(c.claim) != pytest.approx(true, rel=1e-6, abs=1e-6)
    assert c.numeric is not None and float(c.numeric) == pytest.approx(true, rel=1e-6, abs=1e-6)
    assert "wrong" in result.statement
    assert result.max_abs_error >= c.abs_error > 0
    data = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert data["ok"] is False and data["counterexample"]["autodiff"] == pytest.approx(true, rel=1e-12, abs=1e-12)


# -- planted mistakes ---------------------------------------------------------------

# (expression, wrong claims, order, the partial the counterexample names, the true derivative)
WRONG: list[tuple[str, str, list[str], int, str, Callable[[dict[str, np.ndarray]], float]]] = [
    ("wrong sign", "x^2 + 2*x + 1", ["-2*x - 2"], 1, "x", lambda p: 2 * scalar(p, "x") + 2),
    ("wrong sign of cos'", "cos(x)", ["sin(x)"], 1, "x", lambda p: -math.sin(scalar(p, "x"))),
    ("missing chain factor", "sin(x^2)", ["cos(x^2)"], 1, "x", lambda p: 2 * scalar(p, "x") * math.cos(scalar(p, "x") ** 2)),
    ("x*2 typed as x**2", "x^2", ["x**2"], 1, "x", lambda p: 2 * scalar(p, "x")),
    ("power rule without the factor", "x^3", ["x^2"], 1, "x", lambda p: 3 * scalar(p, "x") ** 2),
    ("wrong partial: ∂/∂y of x²y", "x^2*y", ["x=2*x*y", "y=2*x"], 1, "y", lambda p: scalar(p, "x") ** 2),
    ("wrong partial first", "x*y + sin(y)", ["x=x", "y=x + cos(y)"], 1, "x", lambda p: scalar(p, "y")),
    ("second derivative: first one given", "x^3", ["3*x^2"], 2, "x", lambda p: 6 * scalar(p, "x")),
    ("second derivative: wrong constant", "x^4", ["4*x^2"], 2, "x", lambda p: 12 * scalar(p, "x") ** 2),
    ("mixed partial wrong", "x^2*y^3", ["x,y=2*x*y^2"], 2, "x,y", lambda p: 6 * scalar(p, "x") * scalar(p, "y") ** 2),
    ("third derivative wrong", "sin(x)", ["cos(x)"], 3, "x", lambda p: -math.cos(scalar(p, "x"))),
]


@pytest.mark.parametrize(("why", "expression", "claims", "order", "variable", "truth"), WRONG, ids=[row[0] for row in WRONG])
def test_wrong_claims_are_caught(
    why: str, expression: str, claims: list[str], order: int, variable: str, truth: Callable[[dict[str, np.ndarray]], float]
) -> None:
    assert_caught(verify(expression, claims, order=order, samples=50), variable, truth)


def test_a_wrong_number_at_a_point_is_caught() -> None:
    result = verify("x^3", ["27"], points=[{"x": 2.0}])
    assert_caught(result, "x", lambda p: 12.0)
    assert result.checked == 1 and result.samples == 0


def test_a_wrong_array_partial_is_caught_elementwise() -> None:
    result = verify("sum(x^2)", ["x=3*x"], points=[{"x": [1.0, 2.0, 3.0]}])
    assert not result.ok
    c = result.counterexample
    assert c is not None
    np.testing.assert_array_equal(c.autodiff, [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(c.claim, [3.0, 6.0, 9.0])
    assert c.numeric is not None
    np.testing.assert_allclose(c.numeric, [2.0, 4.0, 6.0], rtol=1e-8)
    assert result.to_json()["counterexample"]["point"] == {"x": [1, 2, 3]}


def test_the_counterexample_is_the_worst_failing_point() -> None:
    # claim 2x+2.5 is off by 0.5 everywhere; 2x² off by most where |2x² - 2x| is largest: at x=-2 of these
    points = [{"x": 0.5}, {"x": -2.0}, {"x": 1.0}]
    result = verify("x^2", ["2*x^2"], points=points)
    assert result.counterexample is not None
    assert scalar(result.counterexample.point, "x") == -2.0
    assert result.counterexample.abs_error == result.max_abs_error == 12.0


def test_a_claim_that_is_inf_where_the_derivative_is_finite_is_a_mismatch_not_a_skip() -> None:
    result = verify("x", ["exp(1000)"], points=[{"x": 0.0}])
    assert not result.ok and result.skipped == 0
    assert result.to_json()["counterexample"]["claim"] == "inf"


# -- right claims -------------------------------------------------------------------

RIGHT: list[tuple[str, list[str], int]] = [
    ("x^2 + 2*x + 1", ["2*x + 2"], 1),
    ("x^2 + 2*x + 1", ["2*(x + 1)"], 1),  # the same derivative written differently
    ("x^2 + 2*x + 1", ["x*2 + 2"], 1),
    ("(x + 1)^2", ["2x + 2"], 1),  # implicit multiplication
    ("sin(x^2)", ["2*x*cos(x^2)"], 1),
    ("exp(2*x)", ["2*exp(x)^2"], 1),
    ("tanh(x)", ["1 - tanh(x)^2"], 1),
    ("sigmoid(x)", ["sigmoid(x)*(1 - sigmoid(x))"], 1),
    ("x^2*y + sin(y)", ["x=2*x*y", "y=x^2 + cos(y)"], 1),
    ("x^2*y + sin(y)", ["y = x^2 + cos(y)"], 1),  # only some partials, spaces around '='
    ("x^3", ["6*x"], 2),
    ("x^2*y^3", ["x=2*y^3", "y=6*x^2*y", "x,y=6*x*y^2", "y,x=6*x*y^2"], 2),
    ("sin(x)", ["-cos(x)"], 3),
]


@pytest.mark.parametrize(("expression", "claims", "order"), RIGHT)
def test_right_claims_pass(expression: str, claims: list[str], order: int) -> None:
    result = verify(expression, claims, order=order, samples=200)
    assert result.ok, result.statement
    assert result.counterexample is None
    assert result.checked == 200 and result.skipped == 0
    assert result.max_abs_error <= 1e-9
    assert "agree" in result.statement and "200 random points" in result.statement and "not a proof" in result.statement
    assert json.loads(json.dumps(result.to_json(), allow_nan=False))["counterexample"] is None


def test_a_claim_may_be_a_program_with_its_own_names() -> None:
    assert verify("x^2", ["k = 2\nk*x"], samples=20).ok
    assert verify("x^2*y", ["x=k = 2; k*x*y"], samples=20).ok


def test_a_number_at_a_given_point() -> None:
    result = verify("x**2 + 2*x + 1", ["8"], points=[{"x": 3.0}])
    assert result.ok and result.checked == 1 and result.samples == 0 and result.seed is None
    assert "the given point" in result.statement
    assert result.to_json()["samples"] == 1


def test_rosenbrock_sample_gradient_and_hessian() -> None:
    gradient = ["x=-2*(1 - x) - 400*x*(y - x^2)", "y=200*(y - x^2)"]
    result = verify(ROSENBROCK, gradient, samples=300, seed=7)
    assert result.ok, result.statement
    assert result.partials == (("x",), ("y",))
    assert set(result.ranges) == {"x", "y"}
    # the README's numbers, as plain numeric claims at its point
    assert verify(ROSENBROCK, ["x=-400", "y=200"], points=[{"x": 1, "y": 2}]).ok
    hessian = ["x=1200*x^2 - 400*y + 2", "y=200", "x,y=-400*x"]
    assert verify(ROSENBROCK, hessian, order=2, samples=100).ok
    # a classic slip: the outer derivative of b*(y - x^2)^2 without the inner -2x
    assert_caught(
        verify(ROSENBROCK, ["x=-2*(1 - x) + 200*(y - x^2)", "y=200*(y - x^2)"], samples=100),
        "x",
        lambda p: -2 * (1 - scalar(p, "x")) - 400 * scalar(p, "x") * (scalar(p, "y") - scalar(p, "x") ** 2),
    )


def test_array_variables_at_given_points() -> None:
    result = verify("sum((y - W @ x)^2)", ["x=-2*(y - W @ x) @ W"], points=[{"W": [[1, 2], [3, 4]], "x": [1, 1], "y": [0, 1]}])
    assert result.ok, result.statement


def test_explicit_points_and_samples_together() -> None:
    result = verify("x*y", ["x=y", "y=x"], points=[{"x": 1, "y": 2}, {"x": 3, "y": 4}], samples=10)
    assert result.ok and result.checked == 12 and result.points == 2 and result.samples == 10
    assert "12 points (2 given points and 10 random points" in result.statement


def test_tolerances_are_configurable() -> None:
    assert not verify("x^2", ["2*x + 1e-6"], samples=10).ok
    loose = verify("x^2", ["2*x + 1e-6"], samples=10, atol=1e-5)
    assert loose.ok and loose.atol == 1e-5
    assert loose.max_abs_error == pytest.approx(1e-6)
    assert verify("1e6*x^2", ["2e6*x*(1 + 1e-9)"], samples=10).ok  # within rtol=1e-8
    assert not verify("1e6*x^2", ["2e6*x*(1 + 1e-9)"], samples=10, rtol=1e-12, atol=0).ok


def test_relative_error_where_the_derivative_is_zero_is_honest() -> None:
    result = verify("x^2", ["2*x + 1e-12"], points=[{"x": 0.0}])
    assert result.ok and result.max_rel_error == math.inf
    assert json.loads(json.dumps(result.to_json(), allow_nan=False))["max_rel_error"] == "inf"


# -- points: seeds, ranges, skips -------------------------------------------------------


def test_samples_are_seeded_and_lie_in_the_range() -> None:
    a = verify("x^2", ["2*x^2"], samples=30, seed=3, ranges={"x": (1, 5)})
    b = verify("x^2", ["2*x^2"], samples=30, seed=3, ranges={"x": (1, 5)})
    c = verify("x^2", ["2*x^2"], samples=30, seed=4, ranges={"x": (1, 5)})
    assert a.counterexample is not None and b.counterexample is not None and c.counterexample is not None
    assert scalar(a.counterexample.point, "x") == scalar(b.counterexample.point, "x") != scalar(c.counterexample.point, "x")
    assert 1 <= scalar(a.counterexample.point, "x") <= 5
    assert a.ranges == {"x": (1.0, 5.0)} and a.seed == 3
    assert "x∈[1, 5]" in a.statement


def test_default_range_and_sample_count() -> None:
    result = verify("x^2", ["2*x"])
    assert result.samples == 100 and result.ranges == {"x": DEFAULT_RANGE} and result.seed == 0
    assert "x∈[-2, 2]" in result.statement


def test_points_where_the_expression_is_undefined_are_skipped_and_counted() -> None:
    result = verify("log(x)", ["1/x"], samples=100)
    assert result.ok
    assert 0 < result.skipped < 100 and result.checked + result.skipped == 100
    assert result.skip_reasons == {"expression": result.skipped}
    assert f"{result.skipped} skipped: the expression is undefined there" in result.statement
    assert f"at {result.checked} of 100 points" in result.statement
    assert result.to_json()["skipped"] == result.skipped


def test_a_wrong_claim_is_caught_at_the_points_that_remain() -> None:
    result = verify("log(x)", ["-1/x"], samples=100)
    assert_caught(result, "x", lambda p: 1 / scalar(p, "x"))
    assert result.skipped > 0


def test_points_where_the_claim_or_the_derivative_is_undefined_are_skipped() -> None:
    claim = verify("x^2", ["2*x^2/x"], points=[{"x": 0.0}, {"x": 1.0}])
    assert claim.ok and claim.checked == 1 and claim.skip_reasons == {"claim": 1}
    derivative = verify("sqrt(x)", ["0.5/sqrt(x)"], points=[{"x": 0.0}, {"x": 4.0}])  # slope inf at 0
    assert derivative.ok and derivative.checked == 1 and derivative.skip_reasons == {"derivative": 1}


def test_nothing_checked_is_an_evaluation_error() -> None:
    with pytest.raises(EvaluationError, match="all 10 points were skipped") as info:
        verify("log(x)", ["1/x"], samples=10, ranges={"x": (-2, -1)})
    assert "log(x) is undefined" in str(info.value)
    assert info.value.exit_code == 3


def test_random_points_are_scalars() -> None:
    with pytest.raises(ShapeError, match="--at"):
        verify("sum(W @ x)", ["1"], wrt="x", samples=3)


# -- bad claims and options ---------------------------------------------------------------

BAD: list[tuple[str, list[str], dict[str, object], type[Exception], list[str]]] = [
    ("x^2", ["2*x +"], {}, GrammarError, ["in the claim", "'2*x +'", "syntax error"]),
    ("x^2", ["x=2*x +"], {}, GrammarError, ["in the claim", "syntax error"]),
    ("x^2", ["2*sinn(x)"], {}, GrammarError, ["in the claim", "did you mean sin?"]),
    ("x^2", ["x==1"], {}, GrammarError, ["in the claim"]),  # a comparison, not a key
    ("x^2", ["2*z"], {}, UsageError, ["z", "not a variable"]),
    ("x^2", ["z=2*x"], {}, UsageError, ["z", "not a variable"]),
    ("x*y", ["y"], {}, UsageError, ["2 variables", "--wrt", "NAME=formula"]),
    ("x*y", ["x,y=1"], {}, UsageError, ["order 1"]),
    ("x*y*z", ["x,y,z=1"], {"order": 2}, UsageError, ["3 variables"]),
    ("x^2", ["x=2*x", "x=2*x"], {}, UsageError, ["two claims"]),
    ("x^2", ["x=2*x", "2*x"], {}, UsageError, ["two claims"]),
    ("x^2", ["x="], {}, UsageError, ["no formula"]),
    ("x^2", ["2*x, 2"], {}, UsageError, ["2 outputs"]),
    ("x^2, x", ["2*x"], {}, UsageError, ["one formula per output", "2 outputs"]),
    ("x^2", [], {}, UsageError, ["nothing to verify"]),
    ("x^2", ["2*x"], {"samples": 0}, UsageError, ["no points"]),
    ("x^2", ["2*x"], {"ranges": {"y": (0, 1)}}, UsageError, ["range", "y"]),
    ("x^2", ["2*x"], {"ranges": {"x": (3, 1)}}, UsageError, ["range of x"]),
    ("x^2", ["2*x"], {"order": 0}, UsageError, ["order"]),
    ("x^2", ["2*x"], {"samples": -1}, UsageError, ["samples"]),
    ("x^2", ["1"], {"points": [{"y": 1}]}, EvaluationError, ["no value for x"]),
    ("sum(x^2)", ["2"], {"order": 2, "points": [{"x": [1, 2]}]}, UsageError, ["scalar", "array"]),
    ("x", ["[1, 2]"], {"points": [{"x": 1}]}, ShapeError, ["shape"]),
]


@pytest.mark.parametrize(("expression", "claims", "options", "error", "words"), BAD)
def test_bad_claims_and_options_raise_the_right_error(
    expression: str, claims: list[str], options: dict[str, object], error: type[Exception], words: list[str]
) -> None:
    with pytest.raises(error) as info:
        verify(expression, claims, **options)  # type: ignore[arg-type]
    assert type(info.value) is error or error is EvaluationError
    for word in words:
        assert word in str(info.value)


def test_a_bare_claim_is_for_the_single_wrt_variable() -> None:
    assert verify("x*y", ["y"], wrt="x", samples=10).ok
    assert verify("x*y", ["x"], wrt=["y"], samples=10).ok
    claims = parse_claims(gradcli.compile("x*y"), ["y"], wrt=["x"])
    assert [c.partial for c in claims] == [("x",)]


def test_claim_keys() -> None:
    expr = gradcli.compile("x^2*y")
    assert [c.partial for c in parse_claims(expr, ["x=2*x*y", " y = x^2"])] == [("x",), ("y",)]
    assert [c.partial for c in parse_claims(expr, ["x=2*y", "x, y=2*x"], order=2)] == [("x", "x"), ("x", "y")]
    assert [c.partial for c in parse_claims(gradcli.compile("x^3"), ["6*x"], order=2)] == [("x", "x")]
