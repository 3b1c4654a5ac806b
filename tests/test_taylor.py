"""Taylor mode (engine/taylor.py, primitives/series.py), diff --order N, derivative tensors and `taylor`.

Oracles: SymPy derivatives evaluated at 50 digits (a row per primitive), textbook series, closed-form series
multiplied out in mpmath at 60 digits (order 100), the nested first-order transform (orders ≤ 4, and the
kink conventions), finite differences of the polynomial `taylor` prints, and the JSON Schema.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

import mpmath
import numpy as np
import pytest
import sympy as sp
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from typer.testing import CliRunner

import gradcli
from gradcli.cli.app import app
from gradcli.engine import taylor
from gradcli.engine.primitives import PRIMITIVES
from gradcli.engine.tape import Tape, specialise

runner = CliRunner()
X, Y, Z = sp.symbols("x y z")


def sympy_coefficients(f: sp.Expr, at: sp.Rational, order: int) -> list[float]:
    """f^(k)(at)/k! for k = 0..order, each evaluated at 50 digits."""
    out, g = [], f
    for k in range(order + 1):
        out.append(float(sp.N(g.subs(X, at), 50)) / math.factorial(k))
        g = sp.diff(g, X)
    return out


def series_of(source: str, x0: float, order: int, **fixed: float) -> np.ndarray:
    """Taylor coefficients of the program in x at x0 (other variables fixed), from one Taylor pass."""
    e = gradcli.compile(source)
    point = e.bind({"x": x0, **fixed})
    return e.taylor_coefficients(point, {"x": np.asarray(1.0)}, order, 0)


def assert_close(got: Any, want: Any, rtol: float = 1e-12) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    scale = max(float(np.max(np.abs(want))), 1e-300)
    assert np.allclose(got, want, rtol=rtol, atol=rtol * 1e-3 * scale), (got, want)


# -- one row per primitive -------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    prim: str
    source: str  # a program in x using the primitive
    sympy: Any  # the same function for SymPy
    points: tuple[sp.Rational, ...]
    order: int = 6
    rtol: float = 1e-11


R = sp.Rational
MAT = sp.Matrix([[2 + X, X**2], [1, 3 - X]])
ROWS = [
    Row("add", "x + x^2", X + X**2, (R(1, 3), R(-2))),
    Row("sub", "x^2 - 3*x", X**2 - 3 * X, (R(1, 3), R(2))),
    Row("mul", "sin(x) * exp(x)", sp.sin(X) * sp.exp(X), (R(1, 3), R(-1))),
    Row("div", "exp(x) / (1 + x^2)", sp.exp(X) / (1 + X**2), (R(1, 2), R(-3, 2))),
    Row("neg", "-(x^3)", -(X**3), (R(1, 2),)),
    Row("pow", "x^3.5", X ** R(7, 2), (R(1, 2), R(3))),
    Row("pow", "x^(-2)", X ** (-2), (R(1, 2), R(-3))),
    Row("pow", "x^x", X**X, (R(1, 2), R(2))),
    Row("pow", "(x - 1)^3", (X - 1) ** 3, (R(1), R(2))),  # a base of 0: repeated products
    Row("pow", "pow(2, x)", 2**X, (R(1, 2),)),
    Row("exp", "exp(x)", sp.exp(X), (R(1, 3), R(-2))),
    Row("expm1", "expm1(x)", sp.exp(X) - 1, (R(1, 3), R(-2))),
    Row("log", "log(x)", sp.log(X), (R(1, 3), R(5))),
    Row("log1p", "log1p(x)", sp.log(1 + X), (R(1, 3), R(-1, 2))),
    Row("log2", "log2(x)", sp.log(X, 2), (R(1, 3), R(5))),
    Row("log10", "log10(x)", sp.log(X, 10), (R(1, 3), R(5))),
    Row("log_base", "log(x, 1 + x^2)", sp.log(X) / sp.log(1 + X**2), (R(1, 2), R(3))),
    Row("sqrt", "sqrt(x)", sp.sqrt(X), (R(1, 3), R(4))),
    Row("cbrt", "cbrt(x)", sp.cbrt(X), (R(1, 3), R(4))),
    Row("sin", "sin(x)", sp.sin(X), (R(1, 3), R(-2))),
    Row("cos", "cos(x)", sp.cos(X), (R(1, 3), R(-2))),
    Row("tan", "tan(x)", sp.tan(X), (R(1, 3), R(-1))),
    Row("asin", "asin(x)", sp.asin(X), (R(1, 3), R(-4, 5))),
    Row("acos", "acos(x)", sp.acos(X), (R(1, 3), R(-4, 5))),
    Row("atan", "atan(x)", sp.atan(X), (R(1, 3), R(-2))),
    Row("sinh", "sinh(x)", sp.sinh(X), (R(1, 3), R(-2))),
    Row("cosh", "cosh(x)", sp.cosh(X), (R(1, 3), R(-2))),
    Row("tanh", "tanh(x)", sp.tanh(X), (R(1, 3), R(-2))),
    Row("asinh", "asinh(x)", sp.asinh(X), (R(1, 3), R(-2))),
    Row("acosh", "acosh(x)", sp.acosh(X), (R(3, 2), R(4))),
    Row("atanh", "atanh(x)", sp.atanh(X), (R(1, 3), R(-4, 5))),
    Row("abs", "abs(x)", sp.sqrt(X**2), (R(1, 3), R(-2))),
    Row("sign", "sign(x) * x^2", X**2, (R(1, 3),)),
    Row("sign", "sign(x) * x^2", -(X**2), (R(-2),)),
    Row("floor", "floor(x) * x + x", X, (R(1, 3),)),
    Row("floor", "floor(x) * x", -3 * X, (R(-5, 2),)),
    Row("ceil", "ceil(x) * x", X, (R(1, 3),)),
    Row("ceil", "ceil(x) * x", -2 * X, (R(-5, 2),)),
    Row("round", "round(x) * x", 2 * X, (R(7, 3),)),
    Row("relu", "relu(x^3)", X**3, (R(1, 3), R(2))),
    Row("sigmoid", "sigmoid(x)", 1 / (1 + sp.exp(-X)), (R(1, 3), R(-2))),
    Row("softplus", "softplus(x)", sp.log(1 + sp.exp(X)), (R(1, 3), R(-2))),
    Row("erf", "erf(x)", sp.erf(X), (R(1, 3), R(-2))),
    Row("erfc", "erfc(x)", sp.erfc(X), (R(1, 3), R(-2))),
    Row("gamma", "gamma(x)", sp.gamma(X), (R(1, 3), R(5, 2), R(-1, 2))),
    Row("lgamma", "lgamma(x)", sp.loggamma(X), (R(1, 3), R(5, 2))),
    Row("digamma", "digamma(x)", sp.digamma(X), (R(1, 3), R(5, 2))),
    Row("atan2", "atan2(x, 1 + x^2)", sp.atan2(X, 1 + X**2), (R(1, 3), R(-2))),
    Row("hypot", "hypot(x, 2 - x)", sp.sqrt(X**2 + (2 - X) ** 2), (R(1, 3), R(-2))),
    Row("min", "min(x, x^2)", X**2, (R(1, 3),)),
    Row("max", "max(x, x^2)", X, (R(1, 3),)),
    Row("logaddexp", "logaddexp(x, 2*x)", sp.log(sp.exp(X) + sp.exp(2 * X)), (R(1, 3), R(-2))),
    Row("where", "where(x > 0, sin(x), x^3)", sp.sin(X), (R(1, 3),)),
    Row("where", "where(x > 0, sin(x), x^3)", X**3, (R(-2),)),
    Row("clip", "clip(x^2, x, 3)", X**2, (R(3, 2),)),
    Row("clip", "clip(x^2, x, 3)", X, (R(1, 2),)),
    Row("lt", "where(x < 1, x^2 + 1, x)", X**2 + 1, (R(1, 3),)),
    Row("le", "where(x <= 1, x^2, x)", X**2, (R(1, 3),)),
    Row("gt", "where(x > 1, x^2, x)", X, (R(1, 3),)),
    Row("ge", "where(x >= 1, x^2, x)", X**2, (R(2),)),
    Row("eq", "where(x == 1, x^2, x)", X, (R(1, 3),)),
    Row("ne", "where(x != 1, x^2, x)", X**2, (R(1, 3),)),
    Row("dot", "dot([x, x^2], [sin(x), 2])", X * sp.sin(X) + 2 * X**2, (R(1, 3),)),
    Row("matmul", "sum([[x, 1], [2, x^2]] @ [exp(x), x])", X * sp.exp(X) + X + 2 * sp.exp(X) + X**3, (R(1, 3),)),
    Row("sum", "sum([x, x^2, sin(x)])", X + X**2 + sp.sin(X), (R(1, 3),)),
    Row("mean", "mean([x, x^2, sin(x)])", (X + X**2 + sp.sin(X)) / 3, (R(1, 3),)),
    Row("norm", "norm([x, 2, x^2])", sp.sqrt(X**2 + 4 + X**4), (R(1, 3), R(-2))),
    Row("logsumexp", "logsumexp([x, 2*x, 1])", sp.log(sp.exp(X) + sp.exp(2 * X) + sp.E), (R(1, 3), R(-2))),
    Row("stack", "sum([x, x^2] * [3, x])", 3 * X + X**3, (R(1, 3),)),
    # arrays, indexing, linear algebra (SymPy's matrices as the oracle where it helps)
    Row("getitem", "dot([x, x^2, sin(x)][1:], [2, 3])", 2 * X**2 + 3 * sp.sin(X), (R(1, 3),)),
    Row(
        "transpose",
        "dot(flatten(transpose([[x, 1], [x^2, exp(x)]])), [1, 2, 3, 4])",
        X + 2 * X**2 + 3 + 4 * sp.exp(X),
        (R(1, 3),),
    ),
    Row(
        "reshape", "dot(reshape([x, x^2, 1, sin(x)], 2, 2) @ [1, 2], [1, 5])", X + 2 * X**2 + 5 * (1 + 2 * sp.sin(X)), (R(1, 3),)
    ),
    Row("flatten", "dot(flatten([[x, 1], [x^2, 3]]), [1, 2, 3, 4])", X + 2 + 3 * X**2 + 12, (R(1, 3),)),
    Row("flip", "dot(flip([x, x^2, exp(x)]), [1, 2, 3])", sp.exp(X) + 2 * X**2 + 3 * X, (R(1, 3),)),
    Row("tril", "sum(tril([[x, x^2], [exp(x), 3]]) @ [1, 2])", X + sp.exp(X) + 6, (R(1, 3),)),
    Row("triu", "sum(triu([[x, x^2], [exp(x), 3]]) @ [1, 2])", X + 2 * X**2 + 6, (R(1, 3),)),
    Row("concat", "dot(concat([x, x^2], [exp(x)]), [1, 2, 3])", X + 2 * X**2 + 3 * sp.exp(X), (R(1, 3),)),
    Row("trace", "trace([[x, x^2], [exp(x), sin(x)]])", X + sp.sin(X), (R(1, 3),)),
    Row("diag", "dot(diag([[x, x^2], [exp(x), sin(x)]]), [1, 3])", X + 3 * sp.sin(X), (R(1, 3),)),
    Row("sum_axis", "dot(sum([[x, x^2], [exp(x), 3]], 0), [1, 2])", X + sp.exp(X) + 2 * (X**2 + 3), (R(1, 3),)),
    Row("mean_axis", "dot(mean([[x, x^2], [exp(x), 3]], 1), [1, 2])", (X + X**2) / 2 + (sp.exp(X) + 3), (R(1, 3),)),
    Row("cumsum", "dot(cumsum([x, x^2, exp(x)]), [1, 2, 3])", 6 * X + 5 * X**2 + 3 * sp.exp(X), (R(1, 3),)),
    Row("sort", "dot(sort([x, 2*x, 1 - x]), [1, 2, 3])", X + 2 * 2 * X + 3 * (1 - X), (R(1, 5),)),
    Row("sort", "dot(sort([x, 2*x, 1 - x]), [1, 2, 3])", X + 2 * (1 - X) + 3 * 2 * X, (R(2, 5),)),
    Row("amax", "max([x, x^2, 0.5]) + max([sin(x), x^3])", R(1, 2) + sp.sin(X), (R(1, 3),)),
    Row("amin", "min([x, x^2, 0.5])", X**2, (R(1, 3),)),
    Row(
        "softmax",
        "dot(softmax([x, x^2, 1]), [1, 2, 3])",
        (sp.exp(X) + 2 * sp.exp(X**2) + 3 * sp.E) / (sp.exp(X) + sp.exp(X**2) + sp.E),
        (R(1, 3), R(-1)),
    ),
    Row(
        "logsoftmax",
        "dot(logsoftmax([x, x^2, 1]), [1, 2, 3])",
        X + 2 * X**2 + 3 - 6 * sp.log(sp.exp(X) + sp.exp(X**2) + sp.E),
        (R(1, 3),),
    ),
    Row(
        "logsumexp_axis",
        "dot(logsumexp([[x, x^2], [1, 2*x]], 0), [1, 2])",
        sp.log(sp.exp(X) + sp.E) + 2 * sp.log(sp.exp(X**2) + sp.exp(2 * X)),
        (R(1, 3),),
    ),
    Row(
        "norm_axis",
        "dot(norm([[x, x^2], [1, 2*x]], 1), [1, 2])",
        sp.sqrt(X**2 + X**4) + 2 * sp.sqrt(1 + 4 * X**2),
        (R(1, 3), R(-2)),
    ),
    Row("prod", "prod([x, x^2, sin(x)])", X**3 * sp.sin(X), (R(1, 3), R(0))),
    Row("prod_axis", "dot(prod([[x, x^2], [1, sin(x)]], 0), [1, 2])", X + 2 * X**2 * sp.sin(X), (R(1, 3),)),
    Row("outer", "sum(outer([x, 1], [x^2, sin(x)]) @ [1, 2])", (X + 1) * (X**2 + 2 * sp.sin(X)), (R(1, 3),)),
    Row("tensordot", "tensordot([[x, 1], [2, x^2]], [[sin(x), 1], [x, 3]], 2)", X * sp.sin(X) + 1 + 2 * X + 3 * X**2, (R(1, 3),)),
    Row(
        "kron", "dot(kron([x, 1], [x^2, sin(x)]), [1, 2, 3, 4])", X**3 + 2 * X * sp.sin(X) + 3 * X**2 + 4 * sp.sin(X), (R(1, 3),)
    ),
    Row(
        "convolve",
        "dot(convolve([x, 1], [x^2, sin(x)]), [1, 2, 3])",
        X**3 + 2 * (X * sp.sin(X) + X**2) + 3 * sp.sin(X),
        (R(1, 3),),
    ),
    Row(
        "correlate",
        "dot(correlate([x, 1, x^2], [sin(x), 2]), [1, 2])",
        X * sp.sin(X) + 2 + 2 * (sp.sin(X) + 2 * X**2),
        (R(1, 3),),
    ),
    Row(
        "inv",
        "sum(inv([[2 + x, x^2], [1, 3 - x]]) @ [1, exp(x)])",
        sum(MAT.inv() * sp.Matrix([1, sp.exp(X)])),
        (R(1, 3), R(-1, 2)),
    ),
    Row("solve", "sum(solve([[2 + x, x^2], [1, 3 - x]], [exp(x), 1]))", sum(MAT.LUsolve(sp.Matrix([sp.exp(X), 1]))), (R(1, 3),)),
    Row(
        "solve",
        "sum(solve([[2 + x, x^2], [1, 3 - x]], [[exp(x), 1], [x, 2]]))",
        sum(MAT.LUsolve(sp.Matrix([[sp.exp(X), 1], [X, 2]]))),
        (R(1, 3),),
    ),
    Row("det", "det([[2 + x, x^2], [1, 3 - x]] @ [[1, x], [sin(x), 2]])", MAT.det() * (2 - X * sp.sin(X)), (R(1, 3), R(-1, 2))),
    Row("logdet", "logdet([[2 + x, x^2], [1, 3 - x]])", sp.log(MAT.det()), (R(1, 3),)),
    Row("len", "len([x, 1, 2]) * x^2", 3 * X**2, (R(1, 3),)),
    # special functions (Bessel: scipy's derivatives at the point; the rest derived from their partials)
    Row("j0", "besselj0(x)", sp.besselj(0, X), (R(1, 3), R(5, 2))),
    Row("j1", "besselj1(x)", sp.besselj(1, X), (R(1, 3), R(5, 2))),
    Row("y0", "bessely0(x)", sp.bessely(0, X), (R(1, 3), R(5, 2))),
    Row("y1", "bessely1(x)", sp.bessely(1, X), (R(2, 3), R(5, 2))),
    Row("i0", "besseli0(x)", sp.besseli(0, X), (R(1, 3), R(-2))),
    Row("i1", "besseli1(x)", sp.besseli(1, X), (R(1, 3), R(-2))),
    Row("k0", "besselk0(x)", sp.besselk(0, X), (R(1, 3), R(5, 2))),
    Row("k1", "besselk1(x)", sp.besselk(1, X), (R(2, 3), R(5, 2))),
    Row("jv", "besselj(2.5, x)", sp.besselj(R(5, 2), X), (R(1, 3), R(5, 2))),
    Row("yv", "bessely(1.5, x)", sp.bessely(R(3, 2), X), (R(2, 3), R(5, 2))),
    Row("iv", "besseli(2, x)", sp.besseli(2, X), (R(1, 3), R(-2))),
    Row("kv", "besselk(0.5, x)", sp.besselk(R(1, 2), X), (R(2, 3), R(5, 2))),
    Row("gammainc", "gammainc(2.5, x)", sp.lowergamma(R(5, 2), X) / sp.gamma(R(5, 2)), (R(1, 3), R(3))),
    Row("gammaincc", "gammaincc(2.5, x)", sp.uppergamma(R(5, 2), X) / sp.gamma(R(5, 2)), (R(1, 3), R(3))),
    Row("betainc", "betainc(2, 3, x)", sp.betainc_regularized(2, 3, 0, X), (R(1, 3), R(3, 4))),
    Row("erfinv", "erfinv(x)", sp.erfinv(X), (R(1, 3), R(-1, 2))),
    Row("erfcinv", "erfcinv(x)", sp.erfinv(1 - X), (R(1, 3), R(3, 2))),
    Row("mod", "mod(x, 0.7) * x", (X - R(7, 10)) * X, (R(1),)),
    Row("fmod", "fmod(x, 0.7) * x", (X - R(7, 10)) * X, (R(6, 5),)),
    Row("fmod", "fmod(x, 0.7) * x", X**2, (R(-1, 2),)),
]


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.prim}:{r.source}" for r in ROWS])
def test_rule_matches_sympy(row: Row) -> None:
    e = gradcli.compile(row.source)
    assert row.prim in e.tape.ops, f"{row.source} doesn't use {row.prim}"
    for x0 in row.points:
        got = series_of(row.source, float(x0), row.order).reshape(row.order + 1, -1).sum(axis=1)
        assert_close(got, sympy_coefficients(row.sympy, x0, row.order), row.rtol)


def _internal_series(op: str, param: Any, second: float | None, x0: float, order: int) -> np.ndarray:
    tape = Tape()
    x = tape.var("x")
    args = (x,) if second is None else (x, tape.const(second))
    out = tape.emit(op, args, param)
    tape = specialise(tape, {"x": ()})
    return taylor.propagate(tape, {"x": np.asarray(x0)}, {"x": np.asarray(1.0)}, order, [out])[0]


@pytest.mark.parametrize(
    ("op", "param", "second", "f", "x0"),
    [
        ("polygamma", 2, None, sp.polygamma(2, X), R(1, 3)),
        ("polygamma", 1, None, sp.polygamma(1, X), R(7, 2)),
        ("xlogy", None, 3.0, X * sp.log(3), R(1, 3)),
        ("index", 0, None, X, R(1, 3)),
    ],
)
def test_internal_rules_match_sympy(op: str, param: Any, second: float | None, f: Any, x0: sp.Rational) -> None:
    if op == "index":  # x[0] of a vector literal [x, 2]
        tape = Tape()
        v = tape.emit("stack", (tape.var("x"), tape.const(2.0)))
        out = tape.emit("index", (v,), 0)
        tape = specialise(tape, {"x": ()})
        got = taylor.propagate(tape, {"x": np.asarray(float(x0))}, {"x": np.asarray(1.0)}, 5, [out])[0]
    else:
        got = _internal_series(op, param, second, float(x0), 5)
    assert_close(got, sympy_coefficients(f, x0, 5), 1e-11)


@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("x0", [R(1, 3), R(0)])
def test_scan_rule_matches_sympy(reverse: int, x0: sp.Rational) -> None:
    """scan (prod's running products, y_i = a_i·y_(i∓1) + b_i) with a and b moving, zeros among the a's at x = 0:
    its series against SymPy's of the recurrence unrolled by hand."""
    a_exprs = [X + 2, X, sp.sin(X), X**2 - 1]
    b_exprs = [sp.exp(X), 3 * X, 1 + X**2, sp.cos(X)]
    order = 5
    tape = Tape()
    x = tape.var("x")
    square = tape.emit("mul", (x, x))
    one = tape.const(1.0)
    a = tape.emit("stack", (tape.emit("add", (x, tape.const(2.0))), x, tape.emit("sin", (x,)), tape.emit("sub", (square, one))))
    b = tape.emit("stack", (tape.emit("exp", (x,)), tape.emit("mul", (tape.const(3.0), x)), tape.emit("add", (one, square)),
                            tape.emit("cos", (x,))))  # fmt: skip
    out = tape.emit("scan", (a, b), (0, reverse))
    tape = specialise(tape, {"x": ()})
    got = taylor.propagate(tape, {"x": np.asarray(float(x0))}, {"x": np.asarray(1.0)}, order, [out])[0]
    idx = list(range(4))[::-1] if reverse else list(range(4))
    want: dict[int, sp.Expr] = {}
    prev: sp.Expr = sp.Integer(0)
    for n, i in enumerate(idx):
        want[i] = b_exprs[i] if n == 0 else a_exprs[i] * prev + b_exprs[i]
        prev = want[i]
    for i in range(4):
        assert_close(got[:, i], sympy_coefficients(want[i], x0, order), 1e-11)


# Internal primitives (emitted by derivative rules) that are linear in `lin` together, or bilinear in a pair:
# (op, param, argument shapes, which arguments move, "linear" | "bilinear").
INTERNAL = [
    ("matmul_grad_a", None, [(2, 2), (2, 3), (3, 2)], (0, 2), "bilinear"),
    ("matmul_grad_b", None, [(2, 2), (2, 3), (3, 2)], (0, 1), "bilinear"),
    ("tensordot_grad_a", (1,), [(2, 2), (2, 3), (3, 2)], (0, 2), "bilinear"),
    ("tensordot_grad_b", (1,), [(2, 2), (2, 3), (3, 2)], (0, 1), "bilinear"),
    ("kron_grad_a", None, [(6,), (2,), (3,)], (0, 2), "bilinear"),
    ("kron_grad_b", None, [(6,), (2,), (3,)], (0, 1), "bilinear"),
    ("expand_axis", (0,), [(3,), (2, 3)], (0, 1), "linear"),
    ("unbroadcast", None, [(2, 3), (3,)], (0, 1), "linear"),
    ("broadcast_like", None, [(3,), (2, 3)], (0, 1), "linear"),
    ("scatter", ((1, None, None),), [(2,), (3,)], (0, 1), "linear"),
    ("rows", (1, 3), [(4,)], (0,), "linear"),
    ("rcumsum", (0,), [(4,)], (0,), "linear"),
    ("shift", (0, 1), [(4,)], (0,), "linear"),
    ("shift", (None, -1), [(2, 3)], (0,), "linear"),
    ("sort_like", None, [(3,), (3,)], (0, 1), "linear"),
    ("unsort", None, [(3,), (3,)], (0, 1), "linear"),
    ("size_of", None, [(2, 3)], (0,), "linear"),
]


@pytest.mark.parametrize(("op", "param", "shapes", "moving", "kind"), INTERNAL, ids=[r[0] for r in INTERNAL])
def test_internal_linear_rules_apply_the_op_to_each_coefficient(
    op: str, param: Any, shapes: list, moving: tuple, kind: str
) -> None:
    """Each argument moves as a polynomial u(t) = (x + s·t)² (coefficients x², 2xs, s²); a linear op's series is
    the op applied to the coefficients, a bilinear one's their Cauchy product: both by the op's forward."""
    from gradcli.engine.primitives.core import Ints

    rng = np.random.default_rng(7)
    tape = Tape()
    names = [f"a{i}" for i in range(len(shapes))]
    args = [tape.emit("mul", (tape.var(n), tape.var(n))) for n in names]
    p = Ints(param) if isinstance(param, tuple) and op != "scatter" else param
    out = tape.emit(op, tuple(args), p)
    tape = specialise(tape, dict(zip(names, shapes)))
    xs = {n: rng.uniform(0.5, 2.0, sh) for n, sh in zip(names, shapes)}
    seeds = {n: rng.uniform(-1.0, 1.0, sh) for i, (n, sh) in enumerate(zip(names, shapes)) if i in moving}
    order = 4
    got = taylor.propagate(tape, xs, seeds, order, [out])[0]
    coeffs = []
    for n in names:
        s = seeds.get(n, np.zeros_like(xs[n]))
        coeffs.append([xs[n] ** 2, 2 * xs[n] * s, s**2] + [np.zeros_like(s)] * (order - 2))
    prim = PRIMITIVES[op]
    f = lambda vals: np.asarray(prim.apply(vals, p))  # noqa: E731
    for k in range(order + 1):
        if kind == "linear":
            lin = moving if op not in ("expand_axis", "unbroadcast", "broadcast_like", "scatter", "sort_like", "unsort") else (0,)
            want = f([c[k] if i in lin else c[0] for i, c in enumerate(coeffs)])
            if op == "size_of" and k:
                want = np.zeros_like(want)
        else:
            i, j = moving
            want = sum(f([c[m] if a == i else c[k - m] if a == j else c[0] for a, c in enumerate(coeffs)]) for m in range(k + 1))
        assert_close(got[k], want, 1e-13)


def test_every_primitive_has_a_row_or_falls_back() -> None:
    """A primitive with a Taylor rule has a row above; one without is in missing_rules() (and nests)."""
    covered = {r.prim for r in ROWS} | {"polygamma", "xlogy", "index", "scan"} | {r[0] for r in INTERNAL}
    missing = set(taylor.missing_rules())
    for name in PRIMITIVES:
        assert (name in covered) != (name in missing), name
    assert missing == {"mul0", "cofactor"}


# -- known series to order 30 ----------------------------------------------------------------------

KNOWN = [
    ("exp(x)", lambda k: 1 / math.factorial(k)),
    ("sin(x)", lambda k: 0.0 if k % 2 == 0 else (-1) ** (k // 2) / math.factorial(k)),
    ("1/(1 - x)", lambda k: 1.0),
    ("log1p(x)", lambda k: 0.0 if k == 0 else (-1) ** (k + 1) / k),
    ("atan(x)", lambda k: 0.0 if k % 2 == 0 else (-1) ** (k // 2) / k),
]


@pytest.mark.parametrize(("source", "coefficient"), KNOWN, ids=[s for s, _ in KNOWN])
def test_known_series_to_order_30(source: str, coefficient: Any) -> None:
    got = series_of(source, 0.0, 30)
    want = [coefficient(k) for k in range(31)]
    assert np.allclose(got, want, rtol=1e-13, atol=1e-15), (got, want)
    e = gradcli.compile(source)
    poly = e.taylor_polynomial({"x": 0.0}, "x", 30)
    assert np.allclose([poly[(k,)] for k in range(31)], want, rtol=1e-13, atol=1e-15)


# -- order 100, exact to rounding ------------------------------------------------------------------


def _mp_series(a: mpmath.mpf, n: int) -> list[mpmath.mpf]:
    """sin(x)·exp(x)/(1 + x²) about a from closed-form series, multiplied out at 60 digits."""
    s = [mpmath.sin(a + k * mpmath.pi / 2) / mpmath.factorial(k) for k in range(n + 1)]
    e = [mpmath.exp(a) / mpmath.factorial(k) for k in range(n + 1)]
    q = [1 + a * a, 2 * a, mpmath.mpf(1)] + [mpmath.mpf(0)] * n  # 1 + (a + h)²
    r = [1 / q[0]]
    for k in range(1, n + 1):
        r.append(-sum(q[j] * r[k - j] for j in range(1, min(k, 2) + 1)) / q[0])
    se = [sum(s[j] * e[k - j] for j in range(k + 1)) for k in range(n + 1)]
    return [sum(se[j] * r[k - j] for j in range(k + 1)) for k in range(n + 1)]


def test_order_100_against_60_digit_series() -> None:
    mpmath.mp.dps = 60
    want = _mp_series(mpmath.mpf(1) / 2, 100)
    e = gradcli.compile("sin(x)*exp(x)/(1+x^2)")
    for n in (3, 10, 50, 100):
        got = float(e.derivative({"x": 0.5}, "x", n))
        exact = float(want[n] * mpmath.factorial(n))
        assert abs(got - exact) <= 1e-12 * abs(exact), (n, got, exact)


def test_sin_order_60_and_sympy_at_order_12() -> None:
    e = gradcli.compile("sin(x)")
    for n in (20, 60):
        assert abs(float(e.derivative({"x": 1.0}, "x", n)) - math.sin(1 + n * math.pi / 2)) < 1e-13
    f = gradcli.compile("sin(x)*exp(x)/(1+x^2)")
    want = float(sp.N(sp.diff(sp.sin(X) * sp.exp(X) / (1 + X**2), X, 12).subs(X, R(1, 2)), 50))
    assert abs(float(f.derivative({"x": 0.5}, "x", 12)) - want) <= 1e-12 * abs(want)


# -- agreement with the nested transform at orders ≤ 4, and the kink conventions ------------------

NESTED = [
    ("sin(x)*exp(x)/(1+x^2)", {"x": 0.5}),
    ("x^3*y^2 + sin(x*y)", {"x": 0.5, "y": -0.7}),
    ("tanh(x*y) + sqrt(x^2 + y^2) + pow(x, y)", {"x": 1.3, "y": 0.4}),
    ("gamma(x) * erf(y) + atan2(y, x)", {"x": 1.7, "y": 0.3}),
    ("logsumexp([x, y, x*y]) + norm([x, y])", {"x": 0.2, "y": 0.9}),
    # kinks: the documented conventions (relu'(0) = 0, abs'(0) = 0, ties split evenly, clip passes to x)
    ("relu(x) + abs(y) + x^3", {"x": 0.0, "y": 0.0}),
    ("max(x, y) * min(x, y) + x^2*y", {"x": 1.0, "y": 1.0}),
    ("clip(x*y, x, 2) + floor(x) + sign(y)*y^3", {"x": 1.0, "y": 1.0}),
    ("where(x > 0, x^4, exp(y))*y", {"x": 0.0, "y": 0.5}),
    ("sum([x, y, 1] * x^2*y) + sum(max([x, y], 0.5) * [[1], [y]])", {"x": 0.5, "y": 2.0}),  # ranks mixed elementwise
    # the array primitives, several directions in one pass (the direction axis through each rule)
    ("sum(softmax([x, y, x*y]) * [1, 2, 3]) + dot(inv([[2 + x, y], [x*y, 3]]) @ [1, x], [y, 1])", {"x": 0.4, "y": -0.3}),
    ("dot(sum([[x, y], [y^2, x*y]], 0), [1, 2]) + mean([[x, y], [1, x^3]], 1)[1] + logsoftmax([x, y])[0]", {"x": 0.4, "y": 0.8}),
    ("dot([x, y, x*y, sin(x)][1:3], [2, 1]) + [[x, y], [1, 2]][0, 1]^3 + len([x, y]) * x", {"x": 0.6, "y": 1.1}),
    ("det([[x, y], [1, 3]]) * logdet([[2 + x, y], [y, 3]]) + solve([[2, x], [y, 3]], [1, x*y])[0]", {"x": 0.5, "y": 0.2}),
    (
        "sum(solve([[2, x], [y, 3]], [[1, x], [y, 2]])) + trace(transpose([[x, y], [x*y, 1]]) @ [[y, 1], [2, x]])",
        {"x": 0.5, "y": 0.2},
    ),
    ("max([x, y^2, 0.1]) + sort([x, y, x*y])[2] + prod([x, y, 1 + x]) + prod([[x, y], [2, x*y]], 1)[0]", {"x": 0.3, "y": 0.7}),
    ("logsumexp([[x, y], [1, x*y]], 1)[0] + norm([[x, y], [1, 2]], 0)[1] + min([x*y, y, 2])", {"x": 0.3, "y": 0.7}),
    (
        "tensordot([[x, y], [1, 2]], [[y, 1], [x, x*y]], 2) + kron([x, 1], [y, 2])[1] * convolve([x, y], [1, x])[1]",
        {"x": 0.3, "y": -0.6},
    ),
    (
        "cumsum([x, y, x*y])[2] * correlate([x, y, 1], [x, 2])[1] + outer([x, y], [y, 1])[0, 0] + flip([x, y*y])[0]",
        {"x": 0.3, "y": -0.6},
    ),
    (
        "concat([x], [y, x*y])[2] + reshape([x, y, 1, x*y], 2, 2)[1, 1] + tril([[x, y], [y, x]])[1, 0] * y",
        {"x": 0.3, "y": 0.9},
    ),
    ("besselj0(x) * besselk(1.5, y) + gammainc(2.5, x + y) + erfinv(x*y) + betainc(2, 3, x)", {"x": 0.3, "y": 0.9}),
]


def _nested(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise taylor.NoTaylorRule("test")

    monkeypatch.setattr(taylor, "propagate", refuse)


@pytest.mark.parametrize(("source", "point"), NESTED, ids=[s for s, _ in NESTED])
@pytest.mark.parametrize("order", [3, 4])
def test_taylor_agrees_with_nesting(monkeypatch: pytest.MonkeyPatch, source: str, point: dict, order: int) -> None:
    names = tuple(point)
    fast = gradcli.compile(source)
    got = fast.derivative_tensor(point, names, order)
    assert fast.notes == [], fast.notes
    with monkeypatch.context() as m:
        _nested(m)
        slow = gradcli.compile(source)
        want = slow.derivative_tensor(point, names, order)
        assert slow.notes and "nests" in slow.notes[0]
    assert np.allclose(got, want, rtol=1e-9, atol=1e-9), (got, want)
    for v in names:  # each variable's pure N-th derivative, by one univariate pass
        with np.errstate(all="ignore"):
            single = gradcli.compile(source).derivative(point, v, order)
        idx = (names.index(v),) * order
        assert np.isclose(single, want[idx] if want.ndim else want, rtol=1e-9, atol=1e-9)


def test_cli_order_5_through_array_primitives() -> None:
    """indexing, sum(W, 0), softmax and inv at order 5 in one Taylor pass (no note), against SymPy."""
    source = (
        "sum(softmax([x, x^2, 1]) * [1, 2, 3]) + [x, x^2, x^3][2] + dot(sum([[x, 1], [x^2, 2]], 0), [1, 3])"
        " + sum(inv([[2, x], [1, 3]]))"
    )
    result = runner.invoke(app, ["diff", source, "--at", "x=0.4", "--order", "5", "--format", "plain"])
    assert result.exit_code == 0, result.output
    assert "note" not in result.stderr, result.stderr
    ex, ex2, e = sp.exp(X), sp.exp(X**2), sp.E
    inv = sp.Matrix([[2, X], [1, 3]]).inv()
    f = (ex + 2 * ex2 + 3 * e) / (ex + ex2 + e) + X**3 + (X + X**2) + 3 * 3 + sum(inv)
    want = float(sp.N(sp.diff(f, X, 5).subs(X, R(2, 5)), 50))
    assert abs(float(result.stdout.strip()) - want) < 1e-9 * abs(want), (result.stdout, want)


def test_kink_conventions_at_high_order() -> None:
    """relu, abs at 0: every derivative past the first 0; a tie of max/min splits evenly; clip at a bound → x."""
    assert float(gradcli.compile("relu(x)").derivative({"x": 0.0}, "x", 5)) == 0.0
    assert float(gradcli.compile("abs(x)^3 + relu(x)").derivative({"x": 0.0}, "x", 3)) == 0.0
    assert float(gradcli.compile("max(x, 2*x)*x").derivative({"x": 0.0}, "x", 3)) == 0.0
    c = series_of("max(x, 2 - x)", 1.0, 3)
    assert list(c) == [1.0, 0.0, 0.0, 0.0]  # ½·1 + ½·(−1)
    c = series_of("clip(x^3, 1, 2)", 1.0, 3)
    assert np.allclose(c, [1.0, 3.0, 3.0, 1.0])  # at the bound, the series of x^3


def test_infinite_slope_falls_back_with_a_note() -> None:
    """sqrt at 0 has an infinite slope: Taylor mode steps aside, nesting follows IEEE (as order ≤ 2 does)."""
    e = gradcli.compile("sqrt(x) + x^3")
    with np.errstate(all="ignore"):
        e.derivative({"x": 0.0}, "x", 3)
    assert any("sqrt" in n for n in e.notes)


def test_primitive_without_rule_here_nests_and_says_so() -> None:
    """x^3.5 at a base of 0 has no series (its 4th derivative is infinite): order 3 nests, with a note."""
    result = runner.invoke(app, ["diff", "(x - 0.7)^3.5 + sin(x)", "--at", "x=0.7", "--order", "3", "--format", "plain"])
    assert result.exit_code == 0, result.output
    want = float(sp.N(sp.diff((X - R(7, 10)) ** R(7, 2) + sp.sin(X), X, 3).subs(X, R(7, 10)), 50))
    assert abs(float(result.stdout.strip()) - want) < 1e-12 * abs(want)
    assert "note: pow has no Taylor rule here" in result.stderr


def test_det_at_a_singular_matrix_by_interpolation() -> None:
    """det at a singular A has no log det series; its rule interpolates det(Σ A_j t^j) instead: SymPy, and
    the mixed partials of a 3×3 determinant singular at the point, in one pass with no note."""
    got = series_of("det([[x, 1], [1, 1]]) * exp(x)", 1.0, 6)
    assert_close(got, sympy_coefficients((X - 1) * sp.exp(X), R(1), 6), 1e-12)
    m = sp.Matrix([[X, Y, 1], [1, X * Y, 1], [Y, 1, X]])
    assert m.det().subs({X: 1, Y: 1}) == 0
    e = gradcli.compile("det([[x, y, 1], [1, x*y, 1], [y, 1, x]])")
    tensor = e.derivative_tensor({"x": 1.0, "y": 1.0}, ("x", "y"), 3)
    assert e.notes == []
    for idx in [(0, 0, 0), (0, 0, 1), (0, 1, 1), (1, 1, 1)]:
        want = float(sp.diff(m.det(), *([X, Y][i] for i in idx)).subs({X: 1, Y: 1}))
        assert abs(tensor[idx] - want) < 1e-10, (idx, tensor[idx], want)


# -- several variables: mixed partials -------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "f", "point", "order"),
    [
        ("x^3*y^2*z + sin(x*y*z)", X**3 * Y**2 * Z + sp.sin(X * Y * Z), {"x": 0.5, "y": 0.7, "z": -1.1}, 3),
        (
            "exp(x - y) / (1 + x*y^2) + z*cos(z*x)",
            sp.exp(X - Y) / (1 + X * Y**2) + Z * sp.cos(Z * X),
            {"x": 0.5, "y": 0.2, "z": 1.3},
            4,
        ),
        ("atan(x*y) + log(1 + x^2 + y^4)", sp.atan(X * Y) + sp.log(1 + X**2 + Y**4), {"x": 0.4, "y": -0.6}, 6),
    ],
)
def test_mixed_partials_match_sympy(source: str, f: Any, point: dict, order: int) -> None:
    import itertools

    syms = {"x": X, "y": Y, "z": Z}
    names = tuple(point)
    e = gradcli.compile(source)
    tensor = e.derivative_tensor(point, names, order)
    subs = {syms[k]: sp.nsimplify(v) for k, v in point.items()}
    for idx in itertools.combinations_with_replacement(range(len(names)), order):
        want = float(sp.N(sp.diff(f, *(syms[names[i]] for i in idx)).subs(subs), 50))
        assert abs(tensor[idx] - want) <= 1e-9 * max(1.0, abs(want)), (idx, tensor[idx], want)


def test_ten_variable_polynomial_third_order_tensor() -> None:
    names = [f"x{i}" for i in range(10)]
    syms = sp.symbols(names)
    terms = [f"{i + 1}*x{i}^3*x{(i + 1) % 10}" for i in range(10)] + [f"x{i}*x{(i + 3) % 10}*x{(i + 5) % 10}" for i in range(10)]
    source = " + ".join(terms)
    f = sp.sympify(source.replace("^", "**"), locals=dict(zip(names, syms)))
    point = {n: 0.1 * (i + 1) - 0.4 for i, n in enumerate(names)}
    tensor = gradcli.compile(source).derivative_tensor(point, tuple(names), 3)
    subs = {s: sp.nsimplify(point[n]) for n, s in zip(names, syms)}
    for idx in [(0, 0, 0), (0, 0, 1), (0, 3, 5), (2, 5, 7), (9, 9, 0), (1, 2, 3), (4, 4, 4)]:
        want = float(sp.diff(f, *(syms[i] for i in idx)).subs(subs))
        assert abs(tensor[idx] - want) < 1e-10 * max(1.0, abs(want)), (idx, tensor[idx], want)
    assert np.allclose(tensor, np.transpose(tensor, (1, 0, 2)))


def test_cli_lists_distinct_partials() -> None:
    result = runner.invoke(app, ["diff", "x^3*y^2", "--at", "x=2,y=3", "--order", "3", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # d3/dx3 = 6y² = 54, d3/dx2dy = 12xy = 72, d3/dxdy2 = 6x² = 24, d3/dy3 = 0
    assert data["partials"] == pytest.approx({"d3/dx3": 54.0, "d3/dx2dy": 72.0, "d3/dxdy2": 24.0, "d3/dy3": 0.0}, abs=1e-9)
    assert data["derivative"]["y"]["x"]["x"] == pytest.approx(72.0)
    plain = runner.invoke(app, ["diff", "x^3*y^2", "--at", "x=2,y=3", "--order", "3", "--format", "plain"]).stdout
    assert plain.splitlines()[1].startswith("d3/dx2dy = 72")
    assert len(plain.splitlines()) == 4


# -- arrays and batches ----------------------------------------------------------------------------


def test_array_variable_gives_each_points_derivative() -> None:
    xs = np.array([-1.0, 0.1, 0.5, 2.0])
    e = gradcli.compile("sin(x)*exp(x)/(1+x^2)")
    got = e.derivative({"x": xs}, "x", 7)
    want = [float(e.derivative({"x": float(v)}, "x", 7)) for v in xs]
    assert got.shape == xs.shape and np.allclose(got, want, rtol=1e-13)
    result = runner.invoke(app, ["diff", "sin(x)", "--at", "x=[0,1]", "--order", "6", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["derivative"]["x"] == pytest.approx([0.0, -math.sin(1.0)])
    refused = runner.invoke(app, ["diff", "sum(x)^2", "--at", "x=[0,1]", "--order", "3"])
    assert refused.exit_code == 2 and "mix elements" in refused.stderr


def test_points_and_grid_at_order_n(tmp_path: Any) -> None:
    path = tmp_path / "p.csv"
    path.write_text("x,y\n0.1,1\n0.5,2\n-1,3\n")
    result = runner.invoke(app, ["diff", "sin(x)*y + log(x)", "--points", str(path), "--order", "5", "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "x,y,value,d5_x,d5_y"
    for line in lines[1:3]:
        x, y = map(float, line.split(",")[:2])
        want = y * math.cos(x) + 24 / x**5  # d5/dx5 of sin(x)·y + log x
        assert abs(float(line.split(",")[3]) - want) < 1e-9 * abs(want)
        assert float(line.split(",")[4]) == 0.0
    assert lines[3].endswith("nan,nan,nan")  # log(-1): undefined, the row is nan
    grid = runner.invoke(app, ["diff", "exp(2*x)", "--grid", "x=0:1:3", "--order", "4", "--format", "json"])
    rows = [json.loads(line) for line in grid.stdout.splitlines()]
    assert [r["derivative"]["x"] for r in rows] == pytest.approx([16 * math.exp(2 * v) for v in (0, 0.5, 1)])
    assert_valid("diff.row", rows[0])


# -- the taylor command ------------------------------------------------------------------------------


def _validator(name: str) -> Draft202012Validator:
    found = {}
    for entry in resources.files("gradcli").joinpath("schemas").iterdir():
        if entry.name.endswith(".schema.json"):
            found[entry.name] = json.loads(entry.read_text(encoding="utf-8"))
    registry = Registry().with_resources(
        [(d["$id"], Resource.from_contents(d, default_specification=DRAFT202012)) for d in found.values()]
    )
    return Draft202012Validator(found[f"{name}.schema.json"], registry=registry)


def assert_valid(name: str, doc: Any) -> None:
    problems = [e.message for e in _validator(name).iter_errors(doc)]
    assert not problems, (doc, problems)


def _poly_at(data: dict[str, Any], h: dict[str, float]) -> float:
    return sum(
        c["coefficient"] * math.prod(h[v] ** p for v, p in zip(data["variables"], c["powers"])) for c in data["coefficients"]
    )


@pytest.mark.parametrize(
    ("source", "at", "order"),
    [("sin(x)*exp(x)", ["x=0.3"], 6), ("log(1 + x^2 + y)", ["x=0.5,y=0.2"], 4), ("x^2*y*z + exp(x*z)", ["x=0.1,y=2,z=-1"], 3)],
)
def test_taylor_polynomial_approximates_the_function(source: str, at: list[str], order: int) -> None:
    result = runner.invoke(app, ["taylor", source, "--at", *at, "--order", str(order), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert_valid("taylor", data)
    n = len(data["variables"])
    assert len(data["coefficients"]) == math.comb(n + order, order)  # every multi-index to total degree N once
    e = gradcli.compile(source)
    point = {k: float(v) for k, v in data["point"].items()}
    direction = {v: 0.7 - 0.3 * i for i, v in enumerate(data["variables"])}
    errors = []
    for t in (1e-1, 5e-2):  # the remainder is O(t^(N+1)): halving t divides the error by about 2^(N+1)
        h = {v: t * d for v, d in direction.items()}
        value = float(e.value({v: point[v] + h[v] for v in point}))
        errors.append(abs(value - _poly_at(data, h)))
    assert errors[1] < errors[0] / 2 ** (order + 1) * 1.6, errors


def test_taylor_text_latex_and_plain() -> None:
    plain = runner.invoke(app, ["taylor", "exp(x)", "--at", "x=0", "--order", "3", "--format", "plain"])
    assert plain.stdout.strip() == "1 + x + 0.5*x^2 + 0.16666666666666666*x^3"
    shifted = runner.invoke(app, ["taylor", "log(x)", "--at", "x=1", "--order", "3", "--format", "plain"])
    assert shifted.stdout.strip() == "(x - 1) - 0.5*(x - 1)^2 + 0.3333333333333333*(x - 1)^3"
    latex = runner.invoke(app, ["taylor", "cos(x)*y", "--at", "x=0,y=-1", "--order", "2", "--format", "latex"])
    assert latex.stdout.strip() == r"-1 + \left(y + 1\right) + 0.5 x^{2}"
    helped = runner.invoke(app, ["taylor", "--help"])
    assert "Example: gradcli taylor" in helped.stdout
    several = runner.invoke(app, ["taylor", "x, x^2", "--at", "x=1"])
    assert several.exit_code == 2 and "one output" in several.stderr


def test_taylor_schema_rejects_a_broken_document() -> None:
    data = json.loads(runner.invoke(app, ["taylor", "x*y", "--at", "x=1,y=2", "--order", "2", "--format", "json"]).stdout)
    assert_valid("taylor", data)
    broken = dict(data, coefficients=[{"powers": [1, 0]}])
    assert list(_validator("taylor").iter_errors(broken))
    assert list(_validator("taylor").iter_errors({k: v for k, v in data.items() if k != "polynomial"}))


# -- review fixes (2026-12-02) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "c", "x0"),
    [("x^3", 3, "1e-300"), ("x^10", 10, "1e-40"), ("x^2.5", sp.Rational(5, 2), "1e-300"), ("sin(x)^2.5", None, "1e-300")],
)
def test_power_whose_value_underflows_keeps_its_derivatives(source: str, c: Any, x0: str) -> None:
    """x^c with x_0^c = 0 in floats: the derivatives C(c,k)·k!·x_0^(c−k) are representable (review item 1)."""
    f = X**c if c is not None else sp.sin(X) ** sp.Rational(5, 2)
    want = float(sp.N(sp.diff(f, X, 3).subs(X, sp.Float(x0, 60)), 30))
    result = runner.invoke(app, ["diff", source, "--at", f"x={x0}", "--order", "3", "--format", "plain"])
    assert result.exit_code == 0, result.output
    assert math.isclose(float(result.stdout), want, rel_tol=1e-12), (result.stdout, want)


def test_taylor_keeps_the_mixed_term_of_an_underflowing_power() -> None:
    result = runner.invoke(app, ["taylor", "x^2*y", "--at", "x=1e-200,y=1", "--order", "3", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    h = {"x": 1e-3, "y": 0.5}
    assert math.isclose(_poly_at(data, h), (1e-200 + 1e-3) ** 2 * 1.5, rel_tol=1e-12)
    assert math.isclose(series_of("x^3", 1e-300, 3)[3], 1.0, rel_tol=1e-15)


def test_taylor_refuses_an_array_output() -> None:
    """The series of [sin x, cos x] is not that of sin x + cos x (review item 2): exit 2, the shape named."""
    result = runner.invoke(app, ["taylor", "[sin(x), cos(x)]", "--at", "x=0", "--order", "2"])
    assert result.exit_code == 2, result.output
    assert "(2,)" in result.output and "Traceback" not in result.output
    summed = runner.invoke(app, ["taylor", "sum([sin(x), cos(x)])", "--at", "x=0", "--order", "2", "--format", "json"])
    assert summed.exit_code == 0, summed.output
    got = {tuple(c["powers"]): c["coefficient"] for c in json.loads(summed.stdout)["coefficients"]}
    want = sympy_coefficients(sp.sin(X) + sp.cos(X), sp.Integer(0), 2)
    assert all(math.isclose(got.get((k,), 0.0), w, abs_tol=1e-15) for k, w in enumerate(want)), got


@pytest.mark.parametrize("order", [171, 250, 400])
def test_derivatives_past_order_170_where_k_factorial_overflows(order: int) -> None:
    """k! > 1.8e308 past k = 170 (review item 6): sin^(k)(1) = sin(1 + kπ/2) and (e^(2x))^(k)(0) = 2^k."""
    e = gradcli.compile("sin(x)")
    want = float(mpmath.sin(1 + order * mpmath.pi / 2))
    assert math.isclose(float(e.derivative({"x": 1.0}, "x", order)), want, rel_tol=1e-10, abs_tol=1e-12)
    assert math.isclose(float(gradcli.compile("exp(2*x)").derivative({"x": 0.0}, "x", order)), 2.0**order, rel_tol=1e-12)
    result = runner.invoke(app, ["diff", "sin(x)", "--at", "x=1", "--order", str(order), "--format", "plain"])
    assert result.exit_code == 0, result.output
    assert math.isclose(float(result.stdout), want, rel_tol=1e-10, abs_tol=1e-12)


def test_mixed_partials_past_the_float_range_are_refused() -> None:
    result = runner.invoke(app, ["diff", "x*y", "--at", "x=1,y=2", "--order", "200"])
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.output and "order" in result.output


EIGHT = ",".join(f"{v}=1" for v in ("a", "b", "c", "d", "e1", "f1", "g1", "h"))


@pytest.mark.parametrize(
    ("argv", "size"),
    [
        (["diff", "x*y", "--at", "x=1,y=2", "--order", "100000"], "10^3010"),  # 2^100000 tensor entries
        (["diff", "x", "--at", "x=1", "--order", "1000000000"], "order"),
        (["diff", "sin(x)", "--at", "x=1", "--order", "20000"], "1500"),
        (["diff", "a*b*c*d*e1*f1*g1*h", "--at", EIGHT, "--order", "12"], "6.87e+10"),  # 8^12 entries
        (["taylor", "a*b*c*d*e1*f1*g1*h", "--at", EIGHT, "--order", "20"], "3.11e+06"),  # C(28, 20) coefficients
        (["taylor", "sin(x)", "--at", "x=1", "--order", "40000"], "1.6e+09"),  # 40001² multiply-adds
    ],
)
def test_orders_past_the_budget_are_refused_up_front(argv: list[str], size: str) -> None:
    """Review item 7: exit 2 with the size it would take, instead of gigabytes or a hang."""
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert size in result.output and "Traceback" not in result.output, result.output


def test_budget_leaves_sane_orders_alone() -> None:
    """Just under the limits the answers are still right: sin^(1500)(1) = sin(1), the 8-variable product's 6th partials."""
    assert math.isclose(float(gradcli.compile("sin(x)").derivative({"x": 1.0}, "x", 1500)), math.sin(1.0), rel_tol=1e-9)
    result = runner.invoke(app, ["diff", "a*b*c*d*e1*f1*g1*h", "--at", EIGHT, "--order", "6", "--format", "json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)["derivative"]
    assert math.isclose(d["a"]["b"]["c"]["d"]["e1"]["f1"], 1.0, rel_tol=1e-9)
    assert math.isclose(d["h"]["b"]["g1"]["d"]["e1"]["f1"], 1.0, rel_tol=1e-9) and abs(d["a"]["a"]["b"]["c"]["d"]["e1"]) < 1e-9


def test_taylor_latex_writes_greek_names_as_commands() -> None:
    """θ and alpha are \\theta and \\alpha in LaTeX (review item 21); the plain text keeps the names as typed."""
    argv = ["taylor", "sin(θ)*alpha + Ω1^2", "--at", "θ=0,alpha=1,Ω1=2", "--order", "2"]
    latex = runner.invoke(app, [*argv, "--format", "latex"])
    assert latex.exit_code == 0, latex.output
    omega = "\\left(\\Omega_{1} - 2\\right)"
    assert latex.stdout.strip() == f"4 + \\theta + 4 {omega} + \\theta \\left(\\alpha - 1\\right) + {omega}^{{2}}"
    plain = runner.invoke(app, [*argv, "--format", "plain"])
    assert "θ*(alpha - 1)" in plain.stdout and "(Ω1 - 2)^2" in plain.stdout, plain.stdout


@pytest.mark.parametrize("x0", ["2", "1", "-0.5"])  # invertible, singular (det 0 there), invertible
def test_det_of_a_polynomial_matrix_gains_no_junk_terms(x0: str) -> None:
    """det([[x,1],[1,x]]) = x² − 1: degree 2, so coefficients 3.. are exactly 0, not rounding noise (review item 19)."""
    result = runner.invoke(app, ["taylor", "det([[x,1],[1,x]])", "--at", f"x={x0}", "--order", "6", "--format", "json"])
    assert result.exit_code == 0, result.output
    got = {c["powers"][0]: c["coefficient"] for c in json.loads(result.stdout)["coefficients"]}
    want = sympy_coefficients(X**2 - 1, sp.Rational(x0), 6)
    assert all(got.get(k, 0.0) == 0.0 for k in range(3, 7)), got
    assert_close([got.get(k, 0.0) for k in range(3)], want[:3], rtol=1e-14)


SINGULAR_AND_NOT = [[[1, 2], [2, 4]], [[1, 2, 3], [2, 4, 6], [1, 0, 1]], [[0, 0, 0], [0, 0, 0], [0, 0, 1]], [[2, 1], [1, 3]]]


@pytest.mark.parametrize("a", SINGULAR_AND_NOT)
def test_hessian_of_det_at_a_singular_matrix(a: list[list[int]]) -> None:
    """∂²det/∂A_ij∂A_kl exists everywhere (det is a polynomial); at a singular A it was all nan (review item 3)."""
    n = len(a)
    syms = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"a{i}{j}"))
    flat = list(syms)
    hess = sp.hessian(syms.det(), flat).subs(dict(zip(flat, sum(a, []))))
    want = np.array(hess, dtype=float).reshape(n, n, n, n)
    result = runner.invoke(app, ["hessian", "det(A)", "--at", f"A={json.dumps(a)}", "--format", "json"])
    assert result.exit_code == 0, result.output
    got = np.array(json.loads(result.stdout)["hessian"]["A"]["A"], dtype=float)
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12), (got, want)
