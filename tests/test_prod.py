"""prod's derivatives of every order, at zeros and next to them, in every mode.

prod's partial ∂/∂x_k = ∏_{j≠k} x_j is the product of the elements before x_k times the product of those after
it (running products: the internal primitives scan and shift), never ans/x_k, so nothing divides and the
Hessian and higher derivatives are exact polynomials in the inputs. Oracles: SymPy (exact rational
arithmetic on the same polynomial), the hand values ∂²(xyz)/∂x∂y = z…, a numpy loop for scan's recurrence,
and central differences.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import sympy as sp
from typer.testing import CliRunner

import gradcli
from gradcli.cli.app import app
from gradcli.engine import derivatives, evaluate, taylor
from gradcli.engine.tape import Tape, specialise

runner = CliRunner()

# Points with no, one, two, three zeros, tiny factors (where ans/x lost the Hessian) and huge ratios.
XYZ = [
    (1.0, 2.0, 3.0),
    (0.0, 2.0, 3.0),
    (2.0, 0.0, 0.0),
    (0.0, 0.0, 0.0),
    (1e-9, 3.0, -2.0),
    (1e-200, 1e-200, 3.0),
    (-1.5, 1e-300, 0.0),
]


def _xyz_hessian(x: float, y: float, z: float) -> np.ndarray:
    return np.array([[0.0, z, y], [z, 0.0, x], [y, x, 0.0]])


@pytest.mark.parametrize("xyz", XYZ, ids=str)
def test_three_factor_hessian_is_the_remaining_factor(xyz: tuple[float, float, float]) -> None:
    f = gradcli.compile("prod([x, y, z])")
    point = dict(zip("xyz", xyz))
    hess = f.hessian(point, wrt=["x", "y", "z"])
    got = np.array([[float(hess[a][b]) for b in "xyz"] for a in "xyz"])
    np.testing.assert_array_equal(got, _xyz_hessian(*xyz))
    x, y, z = xyz
    for mode in ("reverse", "forward"):
        grad = f.gradient(point, wrt=["x", "y", "z"], mode=mode)
        np.testing.assert_array_equal([float(grad[v]) for v in "xyz"], [y * z, x * z, x * y], err_msg=mode)


@pytest.mark.parametrize("x", [1e-9, -1e-9, 1e-150, 0.0, 5e-324, 0.7])
def test_linear_in_x_has_zero_second_derivative(x: float) -> None:
    # prod([x, 3]) = 3x: ans/x made its Hessian about -4.8e-7 at x = 1e-9.
    f = gradcli.compile("prod([x, 3])")
    assert float(f.hessian({"x": x})["x"]["x"]) == 0.0
    assert float(f.gradient({"x": x})["x"]) == 3.0
    assert float(f.derivative({"x": x}, "x", order=3)) == 0.0


def test_cli_hessian_of_the_reported_case() -> None:
    result = runner.invoke(app, ["hessian", "prod([x, 3])", "--at", "x=1e-9"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["0"]


def _sympy_prod_hessian(values: list[float]) -> np.ndarray:
    syms = sp.symbols(f"v0:{len(values)}")
    p = sp.Mul(*syms)
    subs = {s: sp.Rational(v) for s, v in zip(syms, values)}
    return np.array([[float(sp.diff(p, a, b).subs(subs)) for b in syms] for a in syms])


VECTORS = [
    [0.5, -2.0, 3.0, 1.25],
    [0.0, -2.0, 3.0, 1.25],
    [0.0, -2.0, 0.0, 1.25],
    [0.0, 0.0, 0.0, 1.25],
    [0.0, 0.0, 0.0, 0.0],
    [1e-9, 3.0, 1e-9, 2.0],
]


@pytest.mark.parametrize("v", VECTORS, ids=str)
def test_vector_hessian_matches_sympy(v: list[float]) -> None:
    got = gradcli.compile("prod(x)").hessian({"x": v})["x"]["x"]
    np.testing.assert_allclose(got, _sympy_prod_hessian(v), rtol=1e-15, atol=0)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize(
    "W",
    [
        [[0.5, -2.0, 3.0], [1.5, 2.0, -1.0]],
        [[0.0, -2.0, 3.0], [0.0, 0.0, -1.0]],
        [[0.0, 0.0, 0.0], [1e-9, 0.0, 2.0]],
    ],
    ids=["no zero", "zeros", "a zero row"],
)
def test_prod_along_an_axis_matches_sympy(W: list[list[float]], axis: int) -> None:
    """prod(W, axis) weighted by c: gradient (both modes) and Hessian against SymPy's of the same polynomial."""
    syms = sp.symbols("w0:6")
    M = sp.Matrix(2, 3, syms)
    ax = axis % 2
    parts = [sp.Mul(*M[:, j]) for j in range(3)] if ax == 0 else [sp.Mul(*M[i, :]) for i in range(2)]
    weights = [1.0, -2.0, 0.5][: len(parts)]
    poly = sum(w * p for w, p in zip(weights, parts))
    subs = {s: sp.Rational(x) for s, x in zip(syms, np.ravel(W))}
    want_grad = np.array([float(sp.diff(poly, s).subs(subs)) for s in syms]).reshape(2, 3)
    want_hess = np.array([[float(sp.diff(poly, a, b).subs(subs)) for b in syms] for a in syms]).reshape(2, 3, 2, 3)
    f = gradcli.compile(f"dot(prod(W, {axis}), {list(weights)})")
    for mode in ("reverse", "forward"):
        np.testing.assert_allclose(f.gradient({"W": W}, mode=mode)["W"], want_grad, rtol=1e-15, atol=0, err_msg=mode)
    np.testing.assert_allclose(f.hessian({"W": W})["W"]["W"], want_hess, rtol=1e-15, atol=0)


FOUR = [(0.5, -2.0, 3.0, 1.25), (0.0, -2.0, 3.0, 1.25), (0.0, 0.0, 3.0, 1.25), (0.0, 0.0, 0.0, 1.25), (0.0, 0.0, 0.0, 0.0)]


def _sympy_tensor(expr: sp.Expr, syms: tuple[sp.Symbol, ...], values: tuple[float, ...], order: int) -> np.ndarray:
    subs = {s: sp.Rational(v) for s, v in zip(syms, values)}
    out = np.empty((len(syms),) * order)
    for idx in itertools.product(range(len(syms)), repeat=order):
        out[idx] = float(sp.diff(expr, *(syms[i] for i in idx)).subs(subs))
    return out


@pytest.mark.parametrize("nest", [False, True], ids=["taylor", "nested"])
@pytest.mark.parametrize("values", FOUR, ids=str)
@pytest.mark.parametrize("order", [3, 4])
def test_higher_order_tensors_at_zeros(
    values: tuple[float, ...], order: int, nest: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orders 3 and 4 of x·y²·z·w (a repeated factor too) by Taylor mode and by nesting the first-order transform
    (forward over forward over reverse, through scan's and shift's own JVPs): exact at three and four zeros."""
    if nest:

        def refuse(*args: object, **kwargs: object) -> None:
            raise taylor.NoTaylorRule("prod", "forced by the test")

        monkeypatch.setattr(taylor, "propagate", refuse)
    names = ("x", "y", "z", "w")
    f = gradcli.compile("prod([x, y, y, z, w])")
    syms = sp.symbols("x y z w")
    want = _sympy_tensor(syms[0] * syms[1] ** 2 * syms[2] * syms[3], syms, values, order)
    got = f.derivative_tensor(dict(zip(names, values)), names, order)
    # Taylor mode interpolates the mixed partials from series along several directions (a rounding or two)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13 * (1 + np.max(np.abs(want))))
    if nest:
        assert any("forced by the test" in n for n in f.notes)


@pytest.mark.parametrize("x0", [0.0, 1e-9, 0.3])
def test_diff_order_3_of_a_single_variable(x0: float) -> None:
    """d³/dx³ of prod([x, x, sin(x), 2]) = 2x²·sin x, against SymPy, on the command line."""
    X = sp.Symbol("x")
    want = float(sp.diff(2 * X**2 * sp.sin(X), X, 3).subs(X, sp.Float(x0, 30)))
    result = runner.invoke(app, ["diff", "prod([x, x, sin(x), 2])", "--at", f"x={x0!r}", "--order", "3", "--format", "json"])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)["derivative"]["x"]
    assert math.isclose(got, want, rel_tol=1e-13, abs_tol=1e-300)


# -- scan itself: its VJP and JVP with both arguments moving -----------------------------------------


def _scan_loop(a: np.ndarray, b: np.ndarray, reverse: bool) -> np.ndarray:
    """The recurrence by hand: y_0 = b_0, y_i = a_i·y_(i−1) + b_i (from the end when reversed), along axis 0."""
    idx = list(range(a.shape[0]))[::-1] if reverse else list(range(a.shape[0]))
    y = np.zeros_like(a)
    for n, i in enumerate(idx):
        y[i] = b[i] if n == 0 else a[i] * y[idx[n - 1]] + b[i]
    return y


@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("zeros", [False, True])
def test_scan_gradients_in_both_modes(reverse: int, zeros: bool) -> None:
    rng = np.random.default_rng(3)
    a, b, w = rng.uniform(-2, 2, (5, 2)), rng.uniform(-2, 2, (5, 2)), rng.uniform(-1, 1, (5, 2))
    if zeros:
        a[1, 0] = a[3, :] = 0.0
    tape = Tape()
    va, vb = tape.var("a"), tape.var("b")
    scanned = tape.emit("scan", (va, vb), (0, reverse))
    out = tape.emit("sum", (tape.emit("mul", (scanned, tape.const(w))),))
    shapes = {"a": a.shape, "b": b.shape}
    tape = derivatives.prepare(specialise(tape, shapes), shapes)
    inputs = {"a": a, "b": b}
    np.testing.assert_allclose(evaluate.run(tape, inputs, [scanned])[0], _scan_loop(a, b, bool(reverse)), rtol=1e-14)
    ga, gb = derivatives.grad(tape, out, [va, vb])
    assert ga is not None and gb is not None
    rev = evaluate.run(tape, inputs, [ga, gb])

    def value(aa: np.ndarray, bb: np.ndarray) -> float:
        return float(np.sum(_scan_loop(aa, bb, bool(reverse)) * w))

    for k, arr in enumerate((a, b)):
        fd = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            h = 1e-6
            up, down = arr.copy(), arr.copy()
            up[idx] += h
            down[idx] -= h
            args_up, args_down = ((up, b), (down, b)) if k == 0 else ((a, up), (a, down))
            fd[idx] = (value(*args_up) - value(*args_down)) / (2 * h)
        np.testing.assert_allclose(np.broadcast_to(rev[k], arr.shape), fd, rtol=1e-7, atol=1e-8)
        # forward mode: the tangent along a basis direction is the same column
        seeds = {va: tape.var(("tangent", 1, "a"), shape=a.shape), vb: tape.var(("tangent", 1, "b"), shape=b.shape)}
        tangents = derivatives.jvp(tape, seeds)
        for idx in np.ndindex(arr.shape):
            da, db = np.zeros_like(a), np.zeros_like(b)
            (da if k == 0 else db)[idx] = 1.0
            t = evaluate.run(tape, {**inputs, ("tangent", 1, "a"): da, ("tangent", 1, "b"): db}, [tangents[out]])[0]
            assert math.isclose(float(t), fd[idx], rel_tol=1e-7, abs_tol=1e-8)
