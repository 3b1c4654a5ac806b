"""Vector-valued and multi-output programs: every output, every derivative, checked against oracles.

The oracles are SymPy's Jacobians and Hessians of the same math written independently, closed
forms from the textbook (softmax: diag(s) − s sᵀ), central differences, and JAX's documented
numbers for its `where` trap (recorded as constants: the suite doesn't depend on JAX).
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import sympy
from hypothesis import assume, given
from hypothesis import strategies as st
from test_properties import COORD, deterministic, expressions
from typer.testing import CliRunner

import gradcli
from gradcli.cli.app import app
from gradcli.errors import UsageError

runner = CliRunner()
X, Y, Z = sympy.symbols("x y z", real=True)


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def ok_json(*args: str) -> dict:
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def sympy_jacobian(outputs: list[sympy.Expr], variables: list[sympy.Symbol], at: dict) -> np.ndarray:
    jac = sympy.Matrix(outputs).jacobian(variables).subs(at)
    return np.array(jac.evalf(30).tolist(), dtype=float)


def central(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """∂f/∂x by central differences, a block f.shape + x.shape."""
    x = np.asarray(x, dtype=float)
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h
        cols.append((np.asarray(f(x + e.reshape(x.shape))) - np.asarray(f(x - e.reshape(x.shape)))) / (2 * h))
    return np.stack(cols, axis=-1).reshape(np.shape(f(x)) + x.shape)


# -- the examples of the issue, against independent oracles ------------------------------------------


def test_jacobian_of_a_vector_literal_is_the_full_matrix() -> None:
    data = ok_json("jacobian", "[x*y, x+y]", "--at", "x=1,y=2")
    block = data["jacobian"]["[x*y, x+y]"]
    got = np.column_stack([block["x"], block["y"]])
    want = sympy_jacobian([X * Y, X + Y], [X, Y], {X: 1, Y: 2})
    np.testing.assert_allclose(got, want, rtol=1e-15)
    result = run("jacobian", "[x*y, x+y]", "--at", "x=1,y=2")
    assert result.stdout.split("\n")[:2] == ["2 1", "1 1"]


def test_jacobian_of_an_elementwise_function_of_an_array_is_diagonal() -> None:
    data = ok_json("jacobian", "x^2", "--at", "x=[1,2,3]")
    assert np.array(data["jacobian"]["x^2"]["x"]).shape == (3, 3)
    np.testing.assert_array_equal(data["jacobian"]["x^2"]["x"], np.diag([2.0, 4.0, 6.0]))


@pytest.mark.parametrize("mode", ["auto", "reverse", "forward"])
def test_softmax_jacobian_is_diag_s_minus_s_st(mode: str) -> None:
    z = np.array([1.0, 2.0, 3.0])
    s = np.exp(z) / np.sum(np.exp(z))
    want = np.diag(s) - np.outer(s, s)
    data = ok_json("jacobian", "exp(z)/sum(exp(z))", "--at", "z=[1,2,3]", "--mode", mode)
    got = np.array(data["jacobian"]["exp(z)/sum(exp(z))"]["z"])
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-16)
    assert abs(got.sum()) < 1e-15  # columns sum to zero: what `diff` (the gradient of the sum) sees
    assert data["mode"] == ("reverse" if mode == "auto" else mode)


def test_jacobian_of_a_vector_of_powers_at_a_scalar() -> None:
    data = ok_json("jacobian", "[x, x^2, x^3]", "--at", "x=2")
    assert data["jacobian"]["[x, x^2, x^3]"]["x"] == [1, 4, 12]
    assert run("jacobian", "[x, x^2, x^3]", "--at", "x=2").stdout.split() == ["1", "4", "12"]


def test_jacobian_blocks_have_shape_output_plus_input() -> None:
    f = gradcli.compile("W @ x, sum(x^2), [sum(W), 1]")
    W = np.arange(6.0).reshape(2, 3)
    x = np.array([1.0, -1.0, 2.0])
    jac = f.jacobian({"W": W, "x": x})
    labels = f.output_names
    assert jac[labels[0]]["W"].shape == (2, 2, 3) and jac[labels[0]]["x"].shape == (2, 3)
    assert jac[labels[1]]["W"].shape == (2, 3) and jac[labels[1]]["x"].shape == (3,)
    assert jac[labels[2]]["W"].shape == (2, 2, 3) and jac[labels[2]]["x"].shape == (2, 3)
    np.testing.assert_allclose(jac[labels[0]]["x"], W)
    np.testing.assert_allclose(jac[labels[0]]["W"], central(lambda w: w @ x, W), rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(jac[labels[1]]["x"], 2 * x)
    np.testing.assert_allclose(jac[labels[2]]["W"][0], np.ones((2, 3)))
    np.testing.assert_allclose(jac[labels[2]]["W"][1], np.zeros((2, 3)))
    forward = f.jacobian({"W": W, "x": x}, mode="forward")
    for o in labels:
        for v in ("W", "x"):
            np.testing.assert_allclose(forward[o][v], jac[o][v], rtol=1e-14, atol=1e-15)


def test_hessian_of_every_output() -> None:
    data = ok_json("hessian", "cos(x*y), sin(x*y)", "--at", "x=1,y=2")
    assert data["outputs"] == ["cos(x*y)", "sin(x*y)"]
    for label, f in (("cos(x*y)", sympy.cos(X * Y)), ("sin(x*y)", sympy.sin(X * Y))):
        want = np.array(sympy.hessian(f, (X, Y)).subs({X: 1, Y: 2}).evalf(30).tolist(), dtype=float)
        h = data["hessian"][label]
        got = np.array([[h["x"]["x"], h["x"]["y"]], [h["y"]["x"], h["y"]["y"]]])
        np.testing.assert_allclose(got, want, rtol=1e-14)
    plain = run("hessian", "cos(x*y), sin(x*y)", "--at", "x=1,y=2").stdout
    assert "d2(cos(x*y))/dxdy" in plain and "d2(sin(x*y))/dxdy" in plain


def test_outputs_with_the_same_text_are_never_merged() -> None:
    data = ok_json("eval", "x, x", "--at", "x=1")
    assert data["value"] == {"x": 1, "x#2": 1} and data["outputs"] == ["x", "x#2"]
    data = ok_json("jacobian", "y1 = x*z; y2 = z; y1, y1, z", "--at", "x=1,z=2")
    assert data["outputs"] == ["y1", "y1#2", "z"]
    assert data["jacobian"]["y1"] == data["jacobian"]["y1#2"] == {"x": 2, "z": 1}
    assert data["jacobian"]["z"] == {"x": 0, "z": 1}
    assert len(run("jacobian", "y1 = x*z; y2 = z; y1, y1, z", "--at", "x=1,z=2").stdout.splitlines()) == 3


def test_third_derivative_tensor_of_several_variables() -> None:
    data = ok_json("diff", "x^2*y + sin(x)*y^3", "--at", "x=1,y=2", "--order", "3")
    f = X**2 * Y + sympy.sin(X) * Y**3
    names = {"x": X, "y": Y}
    for a, b, c in itertools.product("xy", repeat=3):
        want = float(sympy.diff(f, names[a], names[b], names[c]).subs({X: 1, Y: 2}).evalf(30))
        assert data["derivative"][a][b][c] == pytest.approx(want, rel=1e-13, abs=1e-14)


def test_nth_derivative_of_several_outputs() -> None:
    data = ok_json("diff", "sin(x), exp(2*x)", "--at", "x=0.5", "--order", "4")
    assert data["derivative"]["sin(x)"]["x"] == pytest.approx(np.sin(0.5), rel=1e-14)
    assert data["derivative"]["exp(2*x)"]["x"] == pytest.approx(16 * np.exp(1.0), rel=1e-14)


def test_unknown_wrt_is_an_error_with_a_suggestion() -> None:
    result = run("diff", "x^2", "--at", "x=1", "--wrt", "X")
    assert result.exit_code == 2
    assert "X is not a variable" in result.output and "did you mean x?" in result.output
    with pytest.raises(UsageError, match="not a variable"):
        gradcli.compile("x*y").gradient({"x": 1, "y": 2}, wrt="z")


def test_wrt_a_bound_unused_variable_gives_zero_blocks_of_its_shape() -> None:
    data = ok_json("hessian", "sum(x^2)", "--at", "x=[1,2]", "--at", "y=[1,2,3]", "--wrt", "x,y")
    h = data["hessian"]
    assert h["x"]["x"] == [[2, 0], [0, 2]]
    assert np.array(h["x"]["y"]).shape == (2, 3) and not np.any(h["x"]["y"])
    assert np.array(h["y"]["x"]).shape == (3, 2) and np.array(h["y"]["y"]).shape == (3, 3)
    data = ok_json("diff", "x^2", "--at", "x=1,y=[4,5]", "--wrt", "x,y")
    assert data["gradient"] == {"x": 2, "y": [0, 0]}


def test_nothing_to_differentiate() -> None:
    result = run("diff", "2")
    assert result.exit_code == 0
    assert result.stdout.strip() == "2"
    assert "nothing to differentiate" in result.stderr


# -- the where trap and 0^x ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_gradient_flows_only_into_the_branch_taken(mode: str) -> None:
    # JAX's documented trap: grad(where(x > 0, x, expm1(x))) at 10000 is nan there; the truth is 1.
    f = gradcli.compile("where(x > 0, x, expm1(x))")
    with np.errstate(all="ignore"):
        assert f.gradient({"x": 10000.0}, mode=mode)["x"] == 1.0
        assert f.derivative({"x": 10000.0}, order=2) == 0.0
        assert f.derivative({"x": -1.0}, order=3) == pytest.approx(np.exp(-1.0), rel=1e-15)
        h = gradcli.compile("where(x > 0, x*y, expm1(x*y))").hessian({"x": 10000.0, "y": 1.0})
    assert h == {"x": {"x": 0.0, "y": 1.0}, "y": {"x": 1.0, "y": 0.0}}
    # an array of points: each point takes its own branch
    g = f.gradient({"x": np.array([-1.0, 1.0, 1e4])})["x"]
    np.testing.assert_allclose(g, [np.exp(-1.0), 1.0, 1.0])


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_zero_to_the_x_has_zero_derivatives(order: int) -> None:
    # 0^x = 0 for x > 0: every derivative is 0 (autograd and JAX agree)
    assert gradcli.compile("0.0 ** x").derivative({"x": 0.0019}, order=order) == 0.0


def test_zero_tangents_stay_zero_through_infinite_partials() -> None:
    # sqrt has slope inf at 0: the Hessian's ∂²/∂y² and ∂²/∂x∂y must not become nan from 0·inf
    f = gradcli.compile("sqrt(x) + x*y + y^3")
    h = f.hessian({"x": 0.0, "y": 2.0})
    assert h["y"]["y"] == 12.0 and h["x"]["y"] == 1.0
    fwd = gradcli.compile("sum(sqrt(x))").gradient({"x": np.array([0.0, 4.0])}, mode="forward")["x"]
    assert fwd[1] == 0.25 and np.isinf(fwd[0])


# -- the Python API -------------------------------------------------------------------------------


def test_api_value_of_several_outputs() -> None:
    f = gradcli.compile("x*y, x+y")
    assert f.value({"x": 1, "y": 2}) == (2.0, 3.0)
    assert [float(v) for v in f.values({"x": 1, "y": 2})] == [2.0, 3.0]
    with pytest.raises(UsageError, match="2 outputs"):
        f.gradient({"x": 1, "y": 2})
    assert f.gradient({"x": 1, "y": 2}, output=0) == {"x": 2.0, "y": 1.0}


def test_api_hessians_per_output() -> None:
    hs = gradcli.compile("x^2*y, x*y^3").hessians({"x": 1.0, "y": 2.0})
    assert hs["x^2*y"] == {"x": {"x": 4.0, "y": 2.0}, "y": {"x": 2.0, "y": 0.0}}
    assert hs["x*y^3"] == {"x": {"x": 0.0, "y": 12.0}, "y": {"x": 12.0, "y": 12.0}}


def test_api_batch_hessian_gives_one_hessian_per_point() -> None:
    f = gradcli.compile("x^2*y + sin(x)")
    x = np.linspace(-1, 1, 2000)
    y = np.linspace(0, 3, 2000)
    h = f.hessian({"x": x, "y": y}, batch=True)
    assert h["x"]["x"].shape == (2000,) and h["x"]["y"].shape == (2000,)
    np.testing.assert_allclose(h["x"]["x"], 2 * y - np.sin(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h["x"]["y"], 2 * x, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(h["y"]["y"], 0.0)
    # without batch=True the same arrays are one point: the Hessian of the sum, blocks 2000 × 2000
    assert f.hessian({"x": x[:5], "y": y[:5]})["x"]["x"].shape == (5, 5)


def test_api_batch_of_a_reducing_program_goes_point_by_point() -> None:
    f = gradcli.compile("sum(x^2) * y")
    xs = np.arange(10.0).reshape(5, 2)
    ys = np.arange(5.0)
    h = f.hessian({"x": xs, "y": ys}, batch=True)
    assert h["x"]["x"].shape == (5, 2, 2) and h["x"]["y"].shape == (5, 2)
    for b in range(5):
        np.testing.assert_allclose(h["x"]["x"][b], 2 * ys[b] * np.eye(2))
        np.testing.assert_allclose(h["x"]["y"][b], 2 * xs[b])
    jac = f.jacobian({"x": xs, "y": ys}, batch=True)
    np.testing.assert_allclose(jac["sum(x^2) * y"]["x"], 2 * xs * ys[:, None])
    with pytest.raises(UsageError, match="batch axis"):
        f.hessian({"x": xs, "y": 1.0}, batch=True)


# -- commands that cover every output ---------------------------------------------------------


def test_check_covers_every_element_of_a_vector_output() -> None:
    data = ok_json("check", "exp(z)/sum(exp(z))", "--at", "z=[1,2,3]")
    assert data["ok"] and len(data["rows"]) == 9  # the whole Jacobian, not only its (zero) column sums


def test_verify_checks_every_output_against_its_formula() -> None:
    good = run("verify", "x^2, x^3", "--claim", "2*x, 3*x^2", "--wrt", "x")
    assert good.exit_code == 0, good.output
    bad = ok_json_code("verify", "x^2, x^3", "--claim", "2*x, 3*x", "--wrt", "x", code=1)
    assert bad["output"] == "x^3" and bad["counterexample"] is not None


def ok_json_code(*args: str, code: int) -> dict:
    result = run(*args, "--format", "json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_points_write_every_outputs_hessian() -> None:
    result = run("hessian", "x*y, x^2", "--points", "-", "--format", "json", input="x,y\n1,2\n")
    row = json.loads(result.stdout.splitlines()[0])
    assert row["hessian"] == {"x*y": {"x": {"x": 0, "y": 1}, "y": {"x": 1, "y": 0}},
                              "x^2": {"x": {"x": 2, "y": 0}, "y": {"x": 0, "y": 0}}}  # fmt: skip


# -- properties ---------------------------------------------------------------------------------

ELEMENTWISE = expressions(max_leaves=4, reductions=False)


@deterministic(60)
@given(
    items=st.lists(ELEMENTWISE, min_size=1, max_size=3),
    mix=st.sampled_from(["", "sum", "mean"]),
    x=st.lists(COORD, min_size=2, max_size=2),
    y=st.lists(COORD, min_size=2, max_size=2),
)
def test_jacobian_is_stacked_gradients_and_forward_equals_reverse(
    items: list[str], mix: str, x: list[float], y: list[float]
) -> None:
    """For random vector-valued programs: each Jacobian row is the gradient of that output element,
    forward mode equals reverse mode, and `diff` equals the column sums of the Jacobian."""
    # a vector output of shape (len(items), 2), maybe a scalar output too
    extra = f", {mix}({items[0]})" if mix else ""
    src = "[" + ", ".join(f"({i}) + 0*x" for i in items) + "]" + extra
    f = gradcli.compile(src)
    point = {"x": np.array(x), "y": np.array(y)}
    wrt = ("x", "y")
    with np.errstate(all="ignore"):
        values = f.values(point)
        assume(all(np.all(np.isfinite(v)) and np.all(np.abs(v) < 1e6) for v in values))
        rev = f.jacobian(point, wrt, mode="reverse")
        fwd = f.jacobian(point, wrt, mode="forward")
        split = f.elements(point)
        for k, label in enumerate(f.output_names):
            shape = np.shape(values[k])
            for v, t in (("x", (2,)), ("y", (2,))):
                block = rev[label][v]
                assume(np.all(np.abs(block[np.isfinite(block)]) < 1e6))  # nan and inf stay in: both modes must agree
                assert block.shape == shape + t
                np.testing.assert_allclose(fwd[label][v], block, rtol=1e-9, atol=1e-9)
                # the gradient of the sum of output k = the Jacobian's column sums
                diff = f.gradient(point, wrt, output=k)[v]
                np.testing.assert_allclose(diff, block.reshape(-1, *t).sum(axis=0), rtol=1e-9, atol=1e-9)
        # each row: the gradient of one output element on its own
        offsets = [0, *np.cumsum([np.size(v) for v in values])]
        for k, label in enumerate(f.output_names):
            for e in range(int(np.size(values[k]))):
                g = split.gradient(point, wrt, output=int(offsets[k]) + e)
                for v, t in (("x", (2,)), ("y", (2,))):
                    row = rev[label][v].reshape(-1, *t)[e]
                    np.testing.assert_allclose(g[v], row, rtol=1e-9, atol=1e-9)


@deterministic(30)
@given(src=expressions(max_leaves=3), x=COORD, y=COORD, order=st.integers(min_value=2, max_value=3))
def test_derivative_tensor_is_symmetric_and_matches_nested_hessian(src: str, x: float, y: float, order: int) -> None:
    f = gradcli.compile(src)
    point = {"x": x, "y": y}
    with np.errstate(all="ignore"):
        t = f.derivative_tensor(point, ("x", "y"), order)
        assume(np.all(np.isfinite(t)) and np.all(np.abs(t) < 1e6))
        assert t.shape == (2,) * order
        for perm in itertools.permutations(range(order)):
            np.testing.assert_allclose(np.transpose(t, perm), t, rtol=1e-9, atol=1e-9)
        if order == 2:
            h = f.hessian(point, ("x", "y"))
            np.testing.assert_allclose(t, [[h["x"]["x"], h["x"]["y"]], [h["y"]["x"], h["y"]["y"]]], rtol=1e-12, atol=1e-12)
        else:  # the third derivative: central differences of the AD Hessian
            eps = 1e-5
            for j, v in enumerate(("x", "y")):
                up = f.hessian({**point, v: point[v] + eps}, ("x", "y"))
                dn = f.hessian({**point, v: point[v] - eps}, ("x", "y"))
                for a, b in itertools.product(range(2), repeat=2):
                    na, nb = ("x", "y")[a], ("x", "y")[b]
                    num = (up[na][nb] - dn[na][nb]) / (2 * eps)
                    assume(np.isfinite(num))
                    assert abs(t[a, b, j] - num) <= 1e-4 * (1 + abs(num))


# -- found in review ------------------------------------------------------------------------------


def test_high_order_derivative_of_one_variable_is_fast_and_right() -> None:
    # the symmetric fill is per sorted multi-index: order 12 is one pass, not 12! permutations
    assert gradcli.compile("sin(x)").derivative({"x": 1.0}, order=12) == pytest.approx(np.sin(1.0), rel=1e-13)


def test_order_2_of_one_array_variable_is_its_hessian() -> None:
    data = ok_json("diff", "x^3", "--at", "x=[1,2]", "--order", "2")
    assert data["hessian"] == {"x": {"x": [[6, 0], [0, 12]]}}


def test_jacobian_rows_and_check_keep_zero_cotangents_zero_at_an_infinite_slope() -> None:
    f = gradcli.compile("sqrt(x)")
    with np.errstate(all="ignore"):
        rev = f.jacobian({"x": np.array([0.0, 1.0])}, mode="reverse")["sqrt(x)"]["x"]
        fwd = f.jacobian({"x": np.array([0.0, 1.0])}, mode="forward")["sqrt(x)"]["x"]
    np.testing.assert_array_equal(rev, [[np.inf, 0.0], [0.0, 0.5]])
    np.testing.assert_array_equal(fwd, rev)
    assert ok_json("check", "sqrt(x)", "--at", "x=[0,1]")["ok"]


def test_a_broadcast_where_branch_gets_its_own_shape_of_cotangent() -> None:
    f = gradcli.compile("where(x > 0, y, 0)")
    g = f.gradient({"x": np.array([0.0, 1.0]), "y": 2.0})
    assert g["y"] == 1.0 and np.array_equal(g["x"], [0.0, 0.0])
    assert f.hessian({"x": np.array([0.0, 1.0]), "y": 2.0})["y"]["y"] == 0.0


def test_plot_of_several_outputs_is_refused_not_dropped() -> None:
    result = run("plot", "sin(x), cos(x)", "--range", "x=0:1")
    assert result.exit_code == 2 and "2 outputs" in result.stderr


def test_batch_gives_a_value_per_point_even_for_a_constant_output() -> None:
    f = gradcli.compile("x, 3")
    value, grad = f.value_and_gradient({"x": [1.0, 2.0, 3.0]}, output=1, batch=True)
    np.testing.assert_array_equal(value, [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(grad["x"], [0.0, 0.0, 0.0])
