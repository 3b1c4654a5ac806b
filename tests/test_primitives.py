"""One row per primitive: value, first derivatives (both modes) and the Hessian against independent oracles.

Oracles are numpy/scipy (values), complex-step differences of the numpy/scipy reference where it is
analytic (exact to rounding), central differences elsewhere, and textbook values for the kink conventions.
Nothing here is a number gradcli computed and that was then pasted back in.

Internal primitives can't be written in the language; their rows name an expression whose derivative
tapes use them, and the test checks that the forward-over-reverse (Hessian) tape really contains them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.special as sp

import gradcli
from gradcli.api import Expression
from gradcli.engine import derivatives
from gradcli.engine.primitives import PRIMITIVES
from gradcli.engine.tape import specialise

Point = dict[str, np.ndarray]
Gen = Callable[[np.random.Generator], np.ndarray]
Sampler = Callable[[np.random.Generator], Point]
Ref = Callable[..., Any]

SEED = 20240611
N_POINTS = 5
CS_STEP = 1e-20  # complex step
FD_STEP = 1e-5  # central differences, relative to max(1, |x|)


# -- samplers ------------------------------------------------------------------


def u(lo: float, hi: float, shape: tuple[int, ...] = ()) -> Gen:
    return lambda rng: np.asarray(rng.uniform(lo, hi, size=shape), dtype=float)


def pts(ok: Callable[..., bool] | None = None, **gens: Gen) -> Sampler:
    """A point from independent generators, resampled until `ok(**point)` (away from kinks, poles, cuts)."""

    def sample(rng: np.random.Generator) -> Point:
        for _ in range(1000):
            p = {k: g(rng) for k, g in gens.items()}
            if ok is None or ok(**p):
                return p
        raise AssertionError("sampler rejected 1000 points in a row")

    return sample


def frac_dist(x: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """Distance from x to the nearest number k + offset, k an integer."""
    y = np.asarray(x) - offset
    return np.abs(y - np.round(y))


def away_from_poles(x: np.ndarray) -> bool:
    return bool(np.all((x > 0.1) | (frac_dist(x) > 0.1)))


def well_conditioned(**p: np.ndarray) -> bool:
    return bool(np.linalg.cond(p["A"]) < 20)


def positive_det(A: np.ndarray) -> bool:
    return bool(np.linalg.det(A) > 0.2)


def near_identity(shape: tuple[int, int]) -> Gen:
    return lambda rng: np.eye(shape[0]) + rng.uniform(-0.4, 0.4, size=shape)


def no_ties(x: np.ndarray, axis: int | None = None) -> bool:
    """The extreme of each slice is ahead of the runner-up by a margin (no kink nearby)."""
    s = np.sort(x, axis=-1 if axis is None else axis) if axis is not None else np.sort(np.ravel(x))
    gap = np.diff(s, axis=-1 if axis is None else axis)
    first = np.take(gap, [0, -1], axis=-1 if axis is None else axis)
    return bool(np.min(first) > 0.05)


def re(x: Any) -> Any:
    """Real part, for conditions inside references evaluated at complex points."""
    return np.real(x)


# -- the table -------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str  # the primitive
    source: str  # a gradcli program using it (for an internal primitive: whose derivatives use it)
    sample: Sampler
    ref: Ref  # numpy/scipy value, called with the point's values in order (= the program's variables)
    analytic: bool = True  # complex-step differences of `cref` (else central differences of `ref`)
    cref: Ref | None = None  # a complex-analytic form of ref where ref itself doesn't take complex input
    higher: tuple[tuple[str, int, Ref], ...] = ()  # (variable, order n, reference of the n-th derivative)
    rtol: float = 1e-9  # first derivatives against complex step

    @property
    def complex_ref(self) -> Ref:
        return self.cref if self.cref is not None else self.ref


def _cbrt_c(x: Any) -> Any:
    return np.where(re(x) < 0, -((-x) ** (1 / 3)), x ** (1 / 3))


def _atan2_c(y: Any, x: Any) -> Any:
    # arctan(y/x) plus the constant that puts it in the right quadrant: analytic off the cut x < 0, y = 0.
    return np.arctan(y / x) + np.where(re(x) < 0, np.where(re(y) >= 0, math.pi, -math.pi), 0.0)


def _gamma_c(z: Any) -> Any:
    # scipy's complex Γ loses the tiny imaginary part left of 0; there use the reflection Γ(z) = π / (sin(πz) Γ(1-z)).
    return np.where(re(z) < 0.5, math.pi / (np.sin(math.pi * z) * sp.gamma(1 - z)), sp.gamma(z))


def _lgamma_c(x: Any) -> Any:
    # log|Γ(x)|: multiply by the sign of Γ at the real point so the log stays off its branch cut.
    return np.log(_gamma_c(x) * np.sign(sp.gamma(re(x))))


def _stack(*xs: Any) -> Any:
    return np.stack(xs)


def _where_cmp(cmp: Callable[[Any, Any], Any]) -> Ref:
    return lambda x, y: np.where(cmp(re(x), re(y)), x * y, x - y)


_sep = lambda x, y: abs(x - y) > 0.1  # two arguments away from a tie
_xy = {"x": u(-2, 2), "y": u(-2, 2)}

ROWS: list[Row] = [
    # -- operators -------------------------------------------------------------------------------
    Row("add", "x + y", pts(**_xy), lambda x, y: x + y),
    Row("sub", "x - y", pts(**_xy), lambda x, y: x - y),
    Row("mul", "x * y", pts(**_xy), lambda x, y: x * y),
    Row("div", "x / y", pts(lambda x, y: abs(y) > 0.3, **_xy), lambda x, y: x / y),
    Row("neg", "-x", pts(x=u(-3, 3)), lambda x: -x),
    Row("pow", "x ^ y", pts(x=u(0.2, 3), y=u(-2.5, 2.5)), lambda x, y: x**y),
    Row("matmul", "W @ x", pts(W=u(-1, 1, (2, 3)), x=u(-1, 1, (3,))), lambda W, x: W @ x),
    Row("lt", "where(x < y, x * y, x - y)", pts(_sep, **_xy), _where_cmp(np.less)),
    Row("le", "where(x <= y, x * y, x - y)", pts(_sep, **_xy), _where_cmp(np.less_equal)),
    Row("gt", "where(x > y, x * y, x - y)", pts(_sep, **_xy), _where_cmp(np.greater)),
    Row("ge", "where(x >= y, x * y, x - y)", pts(_sep, **_xy), _where_cmp(np.greater_equal)),
    Row(
        "eq",
        "where(round(x) == 1, sin(x), x * x)",
        pts(lambda x: frac_dist(x, 0.5) > 0.05, x=u(-0.5, 2.5)),
        lambda x: np.where(np.round(re(x)) == 1, np.sin(x), x * x),
    ),
    Row(
        "ne",
        "where(round(x) != 1, exp(x), x * x * x)",
        pts(lambda x: frac_dist(x, 0.5) > 0.05, x=u(-0.5, 2.5)),
        lambda x: np.where(np.round(re(x)) != 1, np.exp(x), x**3),
    ),
    # -- elementwise functions -------------------------------------------------------------------
    Row("exp", "exp(x)", pts(x=u(-3, 3)), np.exp, higher=(("x", 4, np.exp),)),
    Row("expm1", "expm1(x)", pts(x=u(-3, 3)), np.expm1),
    Row("log", "log(x)", pts(x=u(0.1, 5)), np.log, higher=(("x", 3, lambda x: 2 / x**3),)),
    Row("log1p", "log1p(x)", pts(x=u(-0.9, 4)), np.log1p),
    Row("log2", "log2(x)", pts(x=u(0.1, 5)), np.log2),
    Row("log10", "log10(x)", pts(x=u(0.1, 5)), np.log10),
    Row(
        "log_base",
        "log(x, b)",
        pts(lambda x, b: abs(b - 1) > 0.2, x=u(0.1, 5), b=u(0.2, 5)),
        lambda x, b: np.log(x) / np.log(b),
    ),
    Row("sqrt", "sqrt(x)", pts(x=u(0.1, 5)), np.sqrt),
    Row("cbrt", "cbrt(x)", pts(lambda x: abs(x) > 0.1, x=u(-4, 4)), np.cbrt, cref=_cbrt_c),
    Row("sin", "sin(x)", pts(x=u(-4, 4)), np.sin, higher=(("x", 3, lambda x: -np.cos(x)),)),
    Row("cos", "cos(x)", pts(x=u(-4, 4)), np.cos, higher=(("x", 3, np.sin),)),
    Row("tan", "tan(x)", pts(x=u(-1.3, 1.3)), np.tan),
    Row("asin", "asin(x)", pts(x=u(-0.9, 0.9)), np.arcsin),
    Row("acos", "acos(x)", pts(x=u(-0.9, 0.9)), np.arccos),
    Row("atan", "atan(x)", pts(x=u(-4, 4)), np.arctan),
    Row("sinh", "sinh(x)", pts(x=u(-3, 3)), np.sinh),
    Row("cosh", "cosh(x)", pts(x=u(-3, 3)), np.cosh),
    Row("tanh", "tanh(x)", pts(x=u(-3, 3)), np.tanh),
    Row("asinh", "asinh(x)", pts(x=u(-4, 4)), np.arcsinh),
    Row("acosh", "acosh(x)", pts(x=u(1.1, 5)), np.arccosh),
    Row("atanh", "atanh(x)", pts(x=u(-0.9, 0.9)), np.arctanh),
    Row("abs", "abs(x)", pts(lambda x: abs(x) > 0.05, x=u(-3, 3)), np.abs, analytic=False),
    Row("sign", "sign(x)", pts(lambda x: abs(x) > 0.05, x=u(-3, 3)), np.sign, analytic=False),
    Row("floor", "floor(x)", pts(lambda x: frac_dist(x) > 0.05, x=u(-3, 3)), np.floor, analytic=False),
    Row("ceil", "ceil(x)", pts(lambda x: frac_dist(x) > 0.05, x=u(-3, 3)), np.ceil, analytic=False),
    Row("round", "round(x)", pts(lambda x: frac_dist(x, 0.5) > 0.05, x=u(-3, 3)), np.round, analytic=False),
    Row("relu", "relu(x)", pts(lambda x: abs(x) > 0.05, x=u(-3, 3)), lambda x: np.maximum(x, 0.0), analytic=False),
    Row("sigmoid", "sigmoid(x)", pts(x=u(-6, 6)), lambda x: 1 / (1 + np.exp(-x))),
    Row("softplus", "softplus(x)", pts(x=u(-6, 6)), lambda x: np.log1p(np.exp(x))),
    Row("erf", "erf(x)", pts(x=u(-2.5, 2.5)), sp.erf),
    Row("erfc", "erfc(x)", pts(x=u(-2.5, 2.5)), sp.erfc),
    Row("gamma", "gamma(x)", pts(away_from_poles, x=u(-2.9, 4.5)), sp.gamma, cref=_gamma_c, rtol=1e-8),
    Row("lgamma", "lgamma(x)", pts(away_from_poles, x=u(-2.9, 6)), sp.gammaln, cref=_lgamma_c),
    Row("atan2", "atan2(y, x)", pts(lambda y, x: min(abs(x), abs(y)) > 0.1, y=u(-2, 2), x=u(-2, 2)), np.arctan2, cref=_atan2_c),
    Row(
        "hypot",
        "hypot(x, y)",
        pts(lambda x, y: math.hypot(x, y) > 0.3, **_xy),
        np.hypot,
        cref=lambda x, y: np.sqrt(x * x + y * y),
    ),
    Row("min", "min(x, y)", pts(_sep, **_xy), np.minimum, analytic=False),
    Row("max", "max(x, y)", pts(_sep, **_xy), np.maximum, analytic=False),
    Row(
        "logaddexp", "logaddexp(x, y)", pts(x=u(-4, 4), y=u(-4, 4)), np.logaddexp, cref=lambda x, y: np.log(np.exp(x) + np.exp(y))
    ),
    Row(
        "where",
        "where(c > 0, x * x, sin(y))",
        pts(lambda c, x, y: abs(c) > 0.05, c=u(-1, 1), **_xy),
        lambda c, x, y: np.where(re(c) > 0, x * x, np.sin(y)),
    ),
    Row(
        "clip",
        "clip(x, lo, hi)",
        pts(lambda x, lo, hi: min(abs(x - lo), abs(x - hi)) > 0.05, x=u(-2, 2), lo=u(-1.5, -0.5), hi=u(0.5, 1.5)),
        lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
        analytic=False,
    ),
    # -- reductions and arrays -------------------------------------------------------------------
    Row("sum", "sum(x * x)", pts(x=u(-2, 2, (2, 3))), lambda x: np.sum(x * x)),
    Row("mean", "mean(x ^ 3)", pts(x=u(-2, 2, (4,))), lambda x: np.mean(x**3)),
    Row("prod", "prod(x)", pts(x=u(-2, 2, (4,))), np.prod),
    Row("norm", "norm(x)", pts(x=u(-2, 2, (3,))), lambda x: np.sqrt(np.sum(x * x))),
    Row("logsumexp", "logsumexp(x)", pts(x=u(-3, 3, (4,))), lambda x: np.log(np.sum(np.exp(x)))),
    Row("dot", "dot(x, y)", pts(x=u(-2, 2, (3,)), y=u(-2, 2, (3,))), np.dot),
    Row("stack", "[x * y, sin(x), y]", pts(**_xy), lambda x, y: _stack(x * y, np.sin(x), y)),
    Row(
        "getitem",
        "x[1:] * sin(x[:-1]) + W[1, ::2] @ x[::2]",
        pts(x=u(-2, 2, (3,)), W=u(-1, 1, (2, 3))),
        lambda x, W: x[1:] * np.sin(x[:-1]) + W[1, ::2] @ x[::2],
    ),
    Row("len", "x * len(x) + W[0] * len(W)", pts(x=u(-2, 2, (3,)), W=u(-1, 1, (2, 3))), lambda x, W: x * len(x) + W[0] * len(W)),
    Row("digamma", "digamma(x)", pts(away_from_poles, x=u(-2.9, 4.5)), sp.psi, rtol=1e-8),  # also gamma's derivative
    # -- internal primitives, through expressions whose derivatives use them -----------------------
    Row("xlogy", "(1 + x * x) ^ y", pts(**_xy), lambda x, y: (1 + x * x) ** y),  # ∂/∂y = xlogy(ans, base)
    Row(
        "polygamma",
        "lgamma(x)",  # ψ' = polygamma(1); third and fourth derivatives go through polygamma's own rule
        pts(away_from_poles, x=u(-2.9, 6)),
        sp.gammaln,
        cref=_lgamma_c,
        higher=(
            ("x", 2, lambda x: sp.polygamma(1, x)),
            ("x", 3, lambda x: sp.polygamma(2, x)),
            ("x", 4, lambda x: sp.polygamma(3, x)),
        ),
    ),
    Row(  # below a where, cotangent·partial is mul0: the branch not taken stays exactly 0
        "mul0",
        "where(c > 0, sin(x) * y, exp(x * y))",
        pts(lambda c, x, y: abs(c) > 0.05, c=u(-1, 1), **_xy),
        lambda c, x, y: np.where(re(c) > 0, np.sin(x) * y, np.exp(x * y)),
    ),
    Row("unbroadcast", "x * y", pts(x=u(-2, 2), y=u(-2, 2, (3,))), lambda x, y: x * y),  # scalar · vector
    Row("broadcast_like", "sum(sin(x))", pts(x=u(-3, 3, (3,))), lambda x: np.sum(np.sin(x))),
    Row("size_of", "mean(exp(x))", pts(x=u(-2, 2, (2, 2))), lambda x: np.mean(np.exp(x))),
    Row(
        "index",  # a cotangent that isn't constant, or index(ones) would fold away
        "sin([x * x, x * y])",
        pts(x=u(-2, 2, (3,)), y=u(-2, 2, (3,))),
        lambda x, y: np.sin(_stack(x * x, x * y)),
    ),
    Row("scatter", "sum(exp(W[:, 1:]) * W[-1, 0])", pts(W=u(-1, 1, (2, 3))), lambda W: np.sum(np.exp(W[:, 1:]) * W[-1, 0])),
    Row("matmul_grad_a", "sum(sin(A @ B))", pts(A=u(-1, 1, (2, 3)), B=u(-1, 1, (3, 2))), lambda A, B: np.sum(np.sin(A @ B))),
    Row("matmul_grad_b", "sum(exp(v @ M))", pts(v=u(-1, 1, (3,)), M=u(-1, 1, (3, 2))), lambda v, M: np.sum(np.exp(v @ M))),
    # -- arrays (issue 13) ---------------------------------------------------------------------------
    Row("transpose", "transpose(W) @ x", pts(W=u(-1, 1, (3, 2)), x=u(-1, 1, (3,))), lambda W, x: W.T @ x),
    Row(
        "reshape", "sin(reshape(x, 2, 3)) * y", pts(x=u(-2, 2, (6,)), y=u(-1, 1, (3,))), lambda x, y: np.sin(x.reshape(2, 3)) * y
    ),
    Row("flatten", "flatten(W) * x", pts(W=u(-1, 1, (2, 3)), x=u(-1, 1, (6,))), lambda W, x: W.reshape(-1) * x),
    Row(
        "concat",
        "concat(x * y, sin(x), z)",
        pts(x=u(-2, 2, (3,)), y=u(-2, 2, (3,)), z=u(-2, 2, (2,))),
        lambda x, y, z: np.concatenate([x * y, np.sin(x), z]),
    ),
    Row(
        "rows",
        "sum(sin(concat(W, V)))",
        pts(W=u(-2, 2, (2, 2)), V=u(-2, 2, (1, 2))),
        lambda W, V: np.sum(np.sin(np.concatenate([W, V]))),
    ),
    Row("cumsum", "cumsum(x * x)", pts(x=u(-2, 2, (2, 3))), lambda x: np.cumsum(x * x)),
    Row("rcumsum", "sum(sin(cumsum(x, 1)))", pts(x=u(-2, 2, (2, 3))), lambda x: np.sum(np.sin(np.cumsum(x, axis=1)))),
    Row(
        "sort",
        "sort(x) * w",
        pts(lambda x, w: bool(np.min(np.diff(np.sort(x))) > 0.05), x=u(-2, 2, (4,)), w=u(-1, 1, (4,))),
        lambda x, w: np.sort(x) * w,
    ),
    Row(
        "sort_like",
        "sin(sort(x))",
        pts(lambda x: bool(np.min(np.diff(np.sort(x))) > 0.05), x=u(-2, 2, (4,))),
        lambda x: np.sin(np.sort(x)),
    ),
    Row(
        "unsort",
        "sort(x, 0) ^ 2",
        pts(lambda x: bool(np.min(np.diff(np.sort(x, axis=0), axis=0)) > 0.05), x=u(-2, 2, (3, 2))),
        lambda x: np.sort(x, axis=0) ** 2,
    ),
    Row(
        "flip",
        "flip(x) * y + flip(W, 1) @ y",
        pts(x=u(-2, 2, (3,)), y=u(-2, 2, (3,)), W=u(-2, 2, (3, 3))),
        lambda x, y, W: np.flip(x) * y + np.flip(W, 1) @ y,
    ),
    Row("tril", "sin(tril(W)) * tril(W, -1)", pts(W=u(-2, 2, (3, 3))), lambda W: np.sin(np.tril(W)) * np.tril(W, -1)),
    Row("triu", "triu(W, 1) @ exp(triu(W))", pts(W=u(-1, 1, (3, 3))), lambda W: np.triu(W, 1) @ np.exp(np.triu(W))),
    # -- linear algebra (issue 13) ----------------------------------------------------------------
    Row("inv", "inv(A)", pts(well_conditioned, A=u(-1, 1, (3, 3))), np.linalg.inv, rtol=1e-8),
    Row("solve", "solve(A, B)", pts(well_conditioned, A=u(-1, 1, (3, 3)), B=u(-1, 1, (3, 2))), np.linalg.solve, rtol=1e-8),
    Row("det", "det(A)", pts(A=u(-1, 1, (3, 3))), np.linalg.det),
    Row("cofactor", "sin(det(A))", pts(well_conditioned, A=u(-1, 1, (2, 2))), lambda A: np.sin(np.linalg.det(A))),
    Row("logdet", "logdet(A)", pts(positive_det, A=near_identity((3, 3))), lambda A: np.log(np.linalg.det(A))),
    Row("trace", "trace(A @ A)", pts(A=u(-1, 1, (3, 3))), lambda A: np.trace(A @ A)),
    Row("diag", "diag(x) @ diag(W)", pts(x=u(-2, 2, (3,)), W=u(-2, 2, (3, 3))), lambda x, W: np.diag(x) @ np.diag(W)),
    Row("outer", "outer(x, y)", pts(x=u(-2, 2, (3,)), y=u(-2, 2, (2,))), np.outer),
    Row(
        "tensordot",
        "tensordot(T, W, 2)",
        pts(T=u(-1, 1, (2, 3, 4)), W=u(-1, 1, (3, 4))),
        lambda T, W: np.tensordot(T, W, 2),
    ),
    Row(
        "tensordot_grad_a",
        "sum(sin(tensordot(A, B, 1)))",
        pts(A=u(-1, 1, (2, 3)), B=u(-1, 1, (3, 2))),
        lambda A, B: np.sum(np.sin(np.tensordot(A, B, 1))),
    ),
    Row(
        "tensordot_grad_b",
        "sum(exp(tensordot(v, M, 1)))",
        pts(v=u(-1, 1, (3,)), M=u(-1, 1, (3, 2))),
        lambda v, M: np.sum(np.exp(np.tensordot(v, M, 1))),
    ),
    Row("kron", "kron(A, B)", pts(A=u(-1, 1, (2, 2)), B=u(-1, 1, (2, 3))), np.kron),
    Row(
        "kron_grad_a",
        "sum(sin(kron(A, B)))",
        pts(A=u(-1, 1, (2, 2)), B=u(-1, 1, (3, 2))),
        lambda A, B: np.sum(np.sin(np.kron(A, B))),
    ),
    Row(
        "kron_grad_b", "sum(exp(kron(x, y)))", pts(x=u(-1, 1, (2,)), y=u(-1, 1, (3,))), lambda x, y: np.sum(np.exp(np.kron(x, y)))
    ),
    Row("convolve", "convolve(x, y)", pts(x=u(-2, 2, (4,)), y=u(-2, 2, (3,))), np.convolve),
    Row(
        "correlate",
        "correlate(x, y)",
        pts(x=u(-2, 2, (5,)), y=u(-2, 2, (3,))),
        lambda x, y: np.correlate(x, y, "valid"),
        cref=lambda x, y: np.correlate(x, np.conj(y), "valid"),  # numpy conjugates v; the analytic form doesn't
    ),
    # -- reductions along an axis, extremes, softmax (issue 13) ----------------------------------
    Row("sum_axis", "sum(W * W, 0)", pts(W=u(-2, 2, (2, 3))), lambda W: np.sum(W * W, axis=0)),
    Row("mean_axis", "mean(W ^ 3, 1)", pts(W=u(-2, 2, (2, 3))), lambda W: np.mean(W**3, axis=1)),
    Row("prod_axis", "prod(W, 0)", pts(W=u(-2, 2, (3, 2))), lambda W: np.prod(W, axis=0)),
    Row("norm_axis", "norm(W, 1)", pts(W=u(-2, 2, (2, 3))), lambda W: np.sqrt(np.sum(W * W, axis=1))),
    Row("logsumexp_axis", "logsumexp(W, 0)", pts(W=u(-3, 3, (3, 2))), lambda W: np.log(np.sum(np.exp(W), axis=0))),
    # prod's partials, the products before and after each element: running products (scan) of shifted values
    Row("scan", "prod(sin(x)) * y", pts(x=u(-2, 2, (4,)), y=u(-2, 2)), lambda x, y: np.prod(np.sin(x)) * y),
    Row("shift", "prod(W * W, 1) @ [1, 2]", pts(W=u(-2, 2, (2, 3))), lambda W: np.prod(W * W, axis=1) @ np.array([1.0, 2.0])),
    Row("expand_axis", "sum(sin(sum(W, -1)))", pts(W=u(-2, 2, (2, 3))), lambda W: np.sum(np.sin(np.sum(W, axis=-1)))),
    Row(
        "amax",
        "max(x) * amax(W, 0)",
        pts(lambda x, W: no_ties(x) and no_ties(W, 0), x=u(-2, 2, (4,)), W=u(-2, 2, (3, 2))),
        lambda x, W: np.max(x) * np.max(W, axis=0),
    ),
    Row(
        "amin",
        "amin(W, 1) + min(x)",
        pts(lambda W, x: no_ties(x) and no_ties(W, 1), W=u(-2, 2, (2, 3)), x=u(-2, 2, (3,))),
        lambda W, x: np.min(W, axis=1) + np.min(x),
    ),
    Row("softmax", "softmax(W, 1)", pts(W=u(-3, 3, (2, 3))), lambda W: np.exp(W) / np.sum(np.exp(W), axis=1, keepdims=True)),
    Row("logsoftmax", "logsoftmax(x)", pts(x=u(-3, 3, (4,))), lambda x: x - np.log(np.sum(np.exp(x)))),
    # -- special functions (issue 13) ------------------------------------------------------------
    Row("j0", "besselj0(x)", pts(x=u(-6, 6)), sp.j0, analytic=False, higher=(("x", 2, lambda x: -sp.j0(x) + sp.j1(x) / x),)),
    Row("j1", "besselj1(x)", pts(x=u(-6, 6)), sp.j1, analytic=False),
    Row("y0", "bessely0(x)", pts(x=u(0.2, 6)), sp.y0, analytic=False),
    Row("y1", "bessely1(x)", pts(x=u(0.2, 6)), sp.y1, analytic=False),
    Row("i0", "besseli0(x)", pts(x=u(-3, 3)), sp.i0, cref=lambda x: sp.iv(0, x)),
    Row("i1", "besseli1(x)", pts(x=u(-3, 3)), sp.i1, cref=lambda x: sp.iv(1, x)),
    Row("k0", "besselk0(x)", pts(x=u(0.2, 4)), sp.k0, cref=lambda x: sp.kv(0, x)),
    Row("k1", "besselk1(x)", pts(x=u(0.2, 4)), sp.k1, cref=lambda x: sp.kv(1, x)),
    Row("jv", "besselj(2.5, x)", pts(x=u(0.2, 6)), lambda x: sp.jv(2.5, x), analytic=False),
    Row("yv", "bessely(1.5, x)", pts(x=u(0.3, 6)), lambda x: sp.yv(1.5, x), analytic=False),
    Row("iv", "besseli(3, x)", pts(x=u(-3, 3)), lambda x: sp.iv(3, x)),
    Row("kv", "besselk(0.5, x)", pts(x=u(0.2, 4)), lambda x: sp.kv(0.5, x)),
    Row(
        "gammainc",
        "gammainc(2.5, x)",
        pts(x=u(0.1, 6)),
        lambda x: sp.gammainc(2.5, x),
        analytic=False,
        higher=(("x", 2, lambda x: x**1.5 * np.exp(-x) / sp.gamma(2.5) * (1.5 / x - 1)),),
    ),
    Row("gammaincc", "gammaincc(0.5, x)", pts(x=u(0.1, 6)), lambda x: sp.gammaincc(0.5, x), analytic=False),
    Row("betainc", "betainc(2, 3.5, x)", pts(x=u(0.05, 0.95)), lambda x: sp.betainc(2, 3.5, x), analytic=False),
    Row(
        "erfinv",
        "erfinv(x)",
        pts(x=u(-0.95, 0.95)),
        sp.erfinv,
        analytic=False,
        higher=(("x", 2, lambda x: 2 * sp.erfinv(x) * (math.pi / 4) * np.exp(2 * sp.erfinv(x) ** 2)),),
    ),
    Row("erfcinv", "erfcinv(x)", pts(x=u(0.05, 1.95)), sp.erfcinv, analytic=False),
    Row("mod", "mod(x, y)", pts(lambda x, y: frac_dist(x / y) > 0.05, x=u(-5, 5), y=u(0.5, 2)), np.mod, analytic=False),
    Row("fmod", "fmod(x, y)", pts(lambda x, y: frac_dist(x / y) > 0.05, x=u(-5, 5), y=u(-2, -0.5)), np.fmod, analytic=False),
]

ROW_IDS = [r.name for r in ROWS]


def points(row: Row) -> Iterator[Point]:
    rng = np.random.default_rng([SEED, ROW_IDS.index(row.name)])
    for _ in range(N_POINTS):
        yield row.sample(rng)


# -- numerical oracles -------------------------------------------------------------------------


def call(f: Ref, p: Point) -> Any:
    """A reference at a point: its values in order (numpy ufuncs take no keyword arguments)."""
    return f(*p.values())


def _step(v: float) -> float:
    return FD_STEP * max(1.0, abs(v))


def complex_step_grad(f: Ref, p: Point, name: str) -> np.ndarray:
    """∂(Σ f)/∂name by complex steps: Im f(x + ih·e_k) / h, exact to rounding for analytic f."""
    x = p[name]
    out = np.empty(x.shape)
    for k in np.ndindex(x.shape):
        z = x.astype(complex)
        z[k] += 1j * CS_STEP
        out[k] = np.imag(np.sum(call(f, {**p, name: z}))) / CS_STEP
    return out


def central_grad(f: Ref, p: Point, name: str) -> np.ndarray:
    x = p[name]
    out = np.empty(x.shape)
    for k in np.ndindex(x.shape):
        h = _step(float(x[k]))
        plus, minus = x.copy(), x.copy()
        plus[k] += h
        minus[k] -= h
        out[k] = (np.sum(call(f, {**p, name: plus})) - np.sum(call(f, {**p, name: minus}))) / (2 * h)
    return out


def central_jacobian(g: Callable[[Point], np.ndarray], p: Point, name: str) -> np.ndarray:
    """∂g/∂name by central differences, shaped g's shape + name's shape."""
    x = p[name]
    cols = []
    for k in np.ndindex(x.shape):
        h = _step(float(x[k]))
        plus, minus = x.copy(), x.copy()
        plus[k] += h
        minus[k] -= h
        cols.append((g({**p, name: plus}) - g({**p, name: minus})) / (2 * h))
    out = np.stack(cols, axis=-1)
    return out.reshape(out.shape[:-1] + x.shape)


# -- the table-driven checks -------------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_value(row: Row) -> None:
    expr = gradcli.compile(row.source)
    for p in points(row):
        assert list(p) == list(expr.variables), "the sampler's order must be the order of the reference's arguments"
        np.testing.assert_allclose(expr.value(p), call(row.ref, p), rtol=1e-12, atol=1e-13, err_msg=f"{row.source} at {p}")


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_first_derivatives(row: Row) -> None:
    expr = gradcli.compile(row.source)
    for p in points(row):
        reverse, forward = expr.gradient(p, mode="reverse"), expr.gradient(p, mode="forward")
        for v in expr.variables:
            if row.analytic:
                want, rtol, atol = complex_step_grad(row.complex_ref, p, v), row.rtol, 1e-11
            else:
                want, rtol, atol = central_grad(row.ref, p, v), 1e-6, 1e-8
            for mode, got in (("reverse", reverse), ("forward", forward)):
                assert got[v].shape == p[v].shape
                np.testing.assert_allclose(got[v], want, rtol=rtol, atol=atol, err_msg=f"∂/∂{v} ({mode}) of {row.source} at {p}")


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_hessian(row: Row) -> None:
    expr = gradcli.compile(row.source)
    names = expr.variables
    for p in points(row):
        hess = expr.hessian(p)
        for b in names:
            # Central differences of the reverse-mode gradient, column by column.
            fd = {a: central_jacobian(lambda q, a=a: expr.gradient(q, a)[a], p, b) for a in names}
            for a in names:
                assert hess[a][b].shape == p[a].shape + p[b].shape
                np.testing.assert_allclose(hess[a][b], fd[a], rtol=1e-6, atol=1e-6, err_msg=f"∂²/∂{a}∂{b} of {row.source} at {p}")
                if row.analytic:
                    # Independent of gradcli: complex step in a, central differences in b, of the reference.
                    ref = central_jacobian(lambda q, a=a: complex_step_grad(row.complex_ref, q, a), p, b)
                    np.testing.assert_allclose(hess[a][b], ref, rtol=1e-6, atol=1e-7, err_msg=f"∂²/∂{a}∂{b} of {row.source}")


@pytest.mark.parametrize("row", [r for r in ROWS if r.higher], ids=[r.name for r in ROWS if r.higher])
def test_higher_derivatives(row: Row) -> None:
    expr = gradcli.compile(row.source)
    for p in points(row):
        for v, n, ref in row.higher:
            np.testing.assert_allclose(expr.derivative(p, v, order=n), ref(p[v]), rtol=1e-9, atol=1e-12, err_msg=f"order {n}")


def _tape_ops(expr: Expression, p: Point) -> set[str]:
    """Every primitive on the tape of the program, its reverse-mode gradient and forward-over-reverse Hessian."""
    shapes: dict[Hashable, tuple[int, ...]] = {v: np.shape(p[v]) for v in expr.variables}
    tape = derivatives.prepare(specialise(expr.tape, shapes), shapes)
    wrt = [tape.var(v) for v in expr.variables]
    derivatives.grad(tape, expr.lowered.outputs[-1], wrt)
    seeds = {i: tape.var(("tangent", v), shape=tape.shapes[i]) for v, i in zip(expr.variables, wrt)}  # type: ignore[index]
    derivatives.jvp(tape, seeds)
    return set(tape.ops)


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_row_exercises_its_primitive(row: Row) -> None:
    expr = gradcli.compile(row.source)
    p = next(points(row))
    ops = _tape_ops(expr, p) if PRIMITIVES[row.name].internal else set(expr.tape.ops)
    assert row.name in ops, f"{row.source} doesn't use {row.name}: {sorted(ops)}"


def test_every_primitive_has_a_row() -> None:
    assert len(ROW_IDS) == len(set(ROW_IDS)), "duplicate rows"
    assert sorted(set(PRIMITIVES) - set(ROW_IDS)) == [], "primitives without a row in tests/test_primitives.py"
    assert sorted(set(ROW_IDS) - set(PRIMITIVES)) == [], "rows naming no primitive"


# -- kink conventions (PyTorch's) --------------------------------------------------------------

MODES = ("reverse", "forward")

KINKS: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # (id, source, point, the gradient there: every variable, or those given)
    ("relu at 0", "relu(x)", {"x": 0.0}, {"x": 0.0}),
    ("abs at 0", "abs(x)", {"x": 0.0}, {"x": 0.0}),
    ("max tie", "max(x, y)", {"x": 1.5, "y": 1.5}, {"x": 0.5, "y": 0.5}),
    ("min tie", "min(x, y)", {"x": -0.5, "y": -0.5}, {"x": 0.5, "y": 0.5}),
    ("max tie at 0", "max(x, y)", {"x": 0.0, "y": 0.0}, {"x": 0.5, "y": 0.5}),
    ("clip at lo", "clip(x, lo, hi)", {"x": -1.0, "lo": -1.0, "hi": 2.0}, {"x": 1.0, "lo": 0.0, "hi": 0.0}),
    ("clip at hi", "clip(x, lo, hi)", {"x": 2.0, "lo": -1.0, "hi": 2.0}, {"x": 1.0, "lo": 0.0, "hi": 0.0}),
    ("clip below", "clip(x, lo, hi)", {"x": -3.0, "lo": -1.0, "hi": 2.0}, {"x": 0.0, "lo": 1.0, "hi": 0.0}),
    ("clip above", "clip(x, lo, hi)", {"x": 3.0, "lo": -1.0, "hi": 2.0}, {"x": 0.0, "lo": 0.0, "hi": 1.0}),
    ("floor at integer", "floor(x)", {"x": 2.0}, {"x": 0.0}),
    ("ceil at integer", "ceil(x)", {"x": -1.0}, {"x": 0.0}),
    ("round at half", "round(x)", {"x": 2.5}, {"x": 0.0}),
    ("sign at 0", "sign(x)", {"x": 0.0}, {"x": 0.0}),
    ("floor times x", "x * floor(x)", {"x": 2.0}, {"x": 2.0}),  # floor'(2) = 0, so the product rule leaves floor(2)
    ("where at 0 takes -x", "where(x > 0, x, -x)", {"x": 0.0}, {"x": -1.0}),
    ("where at 0, >=", "where(x >= 0, x, -x)", {"x": 0.0}, {"x": 1.0}),
    ("x^y at x=0, y=2", "x ^ y", {"x": 0.0, "y": 2.0}, {"x": 0.0, "y": 0.0}),
    ("x^y at x=0, y=1", "x ^ y", {"x": 0.0, "y": 1.0}, {"x": 1.0, "y": 0.0}),
    ("x^y at x=0, y=0", "x ^ y", {"x": 0.0, "y": 0.0}, {"x": 0.0}),  # ∂/∂y: only a one-sided slope (-inf)
    ("x^0 at x=0", "x ^ 0", {"x": 0.0}, {"x": 0.0}),
    ("x^2 at x=0", "x ^ 2", {"x": 0.0}, {"x": 0.0}),
    ("sqrt at 0", "sqrt(x)", {"x": 0.0}, {"x": math.inf}),
    ("cbrt at 0", "cbrt(x)", {"x": 0.0}, {"x": math.inf}),
    ("norm at origin", "norm(x)", {"x": [0.0, 0.0, 0.0]}, {"x": [0.0, 0.0, 0.0]}),
    ("relu on an array", "relu(x)", {"x": [-1.0, 0.0, 2.0]}, {"x": [0.0, 0.0, 1.0]}),
    # d/dx_k of x1·x2·x3 is the product of the others, also where some factor is 0
    ("prod with a zero", "prod(x)", {"x": [0.0, 2.0, 3.0]}, {"x": [6.0, 0.0, 0.0]}),
    ("prod with two zeros", "prod(x)", {"x": [0.0, 2.0, 0.0]}, {"x": [0.0, 0.0, 0.0]}),
]


@pytest.mark.parametrize(("source", "at", "want"), [k[1:] for k in KINKS], ids=[k[0] for k in KINKS])
@pytest.mark.parametrize("mode", MODES)
def test_kink_conventions(source: str, at: dict[str, Any], want: dict[str, Any], mode: str) -> None:
    got = gradcli.compile(source).gradient(at, mode=mode)
    for v, w in want.items():
        np.testing.assert_array_equal(got[v], np.asarray(w, dtype=float), err_msg=f"∂/∂{v} of {source} at {at} ({mode})")


@pytest.mark.parametrize(
    ("source", "at", "want"),
    [
        ("relu(x)", {"x": 0.0}, 0.0),
        ("abs(x)", {"x": 0.0}, 0.0),
        ("x * abs(x)", {"x": 0.0}, 0.0),  # 2·sign(x)
        ("x ^ 2", {"x": 0.0}, 2.0),
        ("x ^ 3", {"x": 0.0}, 0.0),
        ("max(x, 0) * x", {"x": 0.0}, 1.0),  # 2·[x>0] + ½·[x=0]·2 — the tie halves both terms
    ],
)
def test_second_derivative_at_kinks(source: str, at: dict[str, float], want: float) -> None:
    expr = gradcli.compile(source)
    assert expr.hessian(at)["x"]["x"] == want
    assert expr.derivative(at, "x", order=2) == want


@pytest.mark.parametrize(
    ("x", "want"),
    [
        ([0.0, 2.0, 3.0], [[0.0, 3.0, 2.0], [3.0, 0.0, 0.0], [2.0, 0.0, 0.0]]),
        ([0.0, 2.0, 0.0], [[0.0, 0.0, 2.0], [0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]),
        ([0.0, 0.0, 0.0], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),
    ],
    ids=["one zero", "two zeros", "all zero"],
)
def test_prod_hessian_with_zeros(x: list[float], want: list[list[float]]) -> None:
    # ∂²(x1·x2·x3)/∂xi∂xj = the remaining factor (i ≠ j), 0 on the diagonal.
    np.testing.assert_array_equal(gradcli.compile("prod(x)").hessian({"x": x})["x"]["x"], np.asarray(want))


def test_pow_constant_exponents() -> None:
    # Negative bases with integer exponents: textbook n·x^(n-1) and n(n-1)·x^(n-2).
    for n in (2, 3, -1, -2):
        expr = gradcli.compile(f"x ^ ({n})")
        for x in (-2.5, -0.5, 0.75, 3.0):
            for mode in MODES:
                np.testing.assert_allclose(expr.gradient({"x": x}, mode=mode)["x"], n * x ** (n - 1), rtol=1e-14)
            np.testing.assert_allclose(expr.hessian({"x": x})["x"]["x"], n * (n - 1) * x ** (n - 2), rtol=1e-14)


@pytest.mark.parametrize("y", [0.0, 1.0, 2.0, -1.0])
@pytest.mark.parametrize("x", [0.5, 2.0, 3.7])
def test_pow_hessian_at_integer_exponents(x: float, y: float) -> None:
    # Textbook: ∂²(x^y)/∂x² = y(y-1)x^(y-2), ∂²/∂x∂y = x^(y-1)(1 + y ln x), ∂²/∂y² = x^y ln²x — also at y = 0.
    h = gradcli.compile("x ^ y").hessian({"x": x, "y": y})
    lx = math.log(x)
    np.testing.assert_allclose(h["x"]["x"], y * (y - 1) * x ** (y - 2), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h["x"]["y"], x ** (y - 1) * (1 + y * lx), rtol=1e-13)
    np.testing.assert_allclose(h["y"]["x"], x ** (y - 1) * (1 + y * lx), rtol=1e-13)
    np.testing.assert_allclose(h["y"]["y"], x**y * lx * lx, rtol=1e-13)


# -- broadcasting ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_scalar_plus_vector_sums_the_gradient(mode: str) -> None:
    y = np.array([1.0, -2.0, 0.5, 4.0])
    g = gradcli.compile("x + y").gradient({"x": 0.3, "y": y}, mode=mode)
    np.testing.assert_array_equal(g["x"], 4.0)
    np.testing.assert_array_equal(g["y"], np.ones(4))
    g = gradcli.compile("x * y").gradient({"x": 0.3, "y": y}, mode=mode)
    np.testing.assert_allclose(g["x"], np.sum(y), rtol=1e-15)
    np.testing.assert_allclose(g["y"], np.full(4, 0.3), rtol=1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_row_and_column_broadcasting(mode: str) -> None:
    rng = np.random.default_rng(SEED)
    A, r, c = rng.normal(size=(2, 3)), rng.normal(size=(3,)), rng.normal(size=(2, 1))
    g = gradcli.compile("sum(A * r * c)").gradient({"A": A, "r": r, "c": c}, mode=mode)
    np.testing.assert_allclose(g["A"], np.broadcast_to(r * c, (2, 3)), rtol=1e-14)
    np.testing.assert_allclose(g["r"], np.sum(A * c, axis=0), rtol=1e-13)
    np.testing.assert_allclose(g["c"], np.sum(A * r, axis=1, keepdims=True), rtol=1e-13)


@pytest.mark.parametrize("mode", MODES)
def test_matvec_gradients(mode: str) -> None:
    rng = np.random.default_rng(SEED + 1)
    p = {"W": rng.normal(size=(3, 4)), "x": rng.normal(size=(4,))}
    g = gradcli.compile("W @ x").gradient(p, mode=mode)
    for v in ("W", "x"):
        np.testing.assert_allclose(g[v], central_grad(lambda W, x: W @ x, p, v), rtol=1e-8, atol=1e-9)
    # d(Σ Wx)/dW = 1 xᵀ, d/dx = Wᵀ 1
    np.testing.assert_allclose(g["W"], np.outer(np.ones(3), p["x"]), rtol=1e-14)
    np.testing.assert_allclose(g["x"], p["W"].T @ np.ones(3), rtol=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_least_squares_gradient(mode: str) -> None:
    rng = np.random.default_rng(SEED + 2)
    W, x, y = rng.normal(size=(3, 2)), rng.normal(size=(2,)), rng.normal(size=(3,))
    expr = gradcli.compile("sum((y - W @ x)^2)")
    g = expr.gradient({"W": W, "x": x, "y": y}, mode=mode)
    r = y - W @ x
    np.testing.assert_allclose(g["W"], -2 * np.outer(r, x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g["x"], -2 * W.T @ r, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g["y"], 2 * r, rtol=1e-12, atol=1e-14)


def test_least_squares_hessian() -> None:
    # ∂²/∂W_ij∂W_kl = 2 δ_ik x_j x_l, ∂²/∂x∂x = 2 WᵀW
    W = np.array([[1.0, 2.0], [3.0, 4.0], [-1.0, 0.5]])
    x, y = np.array([0.5, -1.5]), np.array([0.0, 1.0, 2.0])
    h = gradcli.compile("sum((y - W @ x)^2)").hessian({"W": W, "x": x, "y": y}, wrt=["W", "x"])
    np.testing.assert_allclose(h["W"]["W"], 2 * np.einsum("ik,jl->ijkl", np.eye(3), np.outer(x, x)), rtol=1e-14)
    np.testing.assert_allclose(h["x"]["x"], 2 * W.T @ W, rtol=1e-14)


@pytest.mark.parametrize("name", sorted(n for n, p in PRIMITIVES.items() if p.elementwise))
def test_elementwise_primitives_return_fresh_arrays(name: str) -> None:
    """evaluate.Plan lets a later step overwrite an elementwise result in place; that is only safe
    if the result never shares memory with an argument (no views, no argument handed back)."""
    prim = PRIMITIVES[name]
    arity = prim.arity if prim.arity >= 0 else 2
    args = [np.linspace(0.25 + k, 0.75 + k, 5) for k in range(arity)]
    param = 1 if prim.uses_param else None
    with np.errstate(all="ignore"):
        out = prim.apply(args, param)
    assert isinstance(out, np.ndarray) and out.shape == (5,)
    assert not any(np.shares_memory(out, a) for a in args)


def test_in_place_evaluation_keeps_inputs_and_shared_values_intact() -> None:
    """Big batches reuse dead temporaries as output buffers; inputs, constants and values still read later stay as they were."""
    from gradcli.engine import evaluate

    f = gradcli.compile("a = x*x; b = a + 2*x; c = exp(-b) * b + a; c + sum(a)")
    x = np.linspace(-1.0, 1.0, 4096)
    kept = x.copy()
    point = f.bind({"x": x})
    tape, refs = f.gradient_tape(point, ("x",), 0)
    outs = [f.lowered.outputs[0], *refs]
    assert any(step[-1] >= 0 for step in evaluate.plan(tape, outs).steps)  # some step does reuse a buffer
    value, grad = evaluate.run(tape, point, outs)
    a = x * x
    b = a + 2 * x
    want = np.exp(-b) * b + a + a.sum()
    dwant = (np.exp(-b) * (1 - b)) * (2 * x + 2) + 2 * x + 2 * x * x.size
    np.testing.assert_allclose(value, want, rtol=1e-12)
    np.testing.assert_allclose(grad, dwant, rtol=1e-10)
    assert np.array_equal(x, kept)
    again = evaluate.run(tape, point, outs)  # constants on the tape must not have been overwritten either
    np.testing.assert_array_equal(again[0], value)
