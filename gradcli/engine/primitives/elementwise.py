"""Elementwise primitives: operators, comparisons, functions, where/clip and the internal ones derivative rules emit.

Each gives one local partial per argument, written as tape operations on Refs (`tanh: 1 - ans*ans`);
forward and reverse mode are both derived from it in derivatives.py, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from ...numfmt import format_number
from ..refs import Ref, op
from .core import (
    NONPOSITIVE_INTEGERS,
    Domain,
    Primitive,
    _fit_down,
    _linear_jvp,
    _or_zero,
    _special,
    _zero,
    interval,
    rule,
    rule_from,
)


def _indicator(fn: Callable[..., Any]) -> Callable[..., np.ndarray]:
    # Compare real parts, so a complex-step evaluation takes the same branch as the real one.
    return lambda a, b: np.asarray(fn(np.real(a), np.real(b)), dtype=float)


def _ties(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(a == b)


def _by_real(pick_first: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    """min/max continued off the real line: choose an argument by its real part."""
    return lambda a, b: np.where(pick_first(np.real(a), np.real(b)), a, b)


def _complex_atan2(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    quadrant = np.where(np.real(x) < 0, np.where(np.real(y) >= 0, np.pi, -np.pi), 0.0)
    return np.arctan(y / x) + quadrant


def _complex_cbrt(x: np.ndarray) -> np.ndarray:
    return np.where(np.real(x) < 0, -((-x) ** (1 / 3)), x ** (1 / 3))


def _complex_softplus(x: np.ndarray) -> np.ndarray:
    return np.where(np.real(x) > 30, x + np.log1p(np.exp(-x)), np.log1p(np.exp(np.minimum(np.real(x), 30) + 1j * np.imag(x))))


def _complex_logaddexp(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    m = np.maximum(np.real(a), np.real(b))
    return m + np.log(np.exp(a - m) + np.exp(b - m))


def _complex_gamma(z: np.ndarray) -> np.ndarray:
    import scipy.special

    # scipy's complex gamma is inaccurate just off the negative real axis: use the reflection formula there.
    left = np.real(z) < 0.5
    return np.where(left, np.pi / (np.sin(np.pi * z) * scipy.special.gamma(1 - z)), scipy.special.gamma(z))


def _complex_lgamma(z: np.ndarray) -> np.ndarray:
    import scipy.special

    # log|Γ| continued analytically, real on the real line. Left of 1/2 by reflection,
    # log|Γ(z)| = log π − log|sin πz| − log Γ(1 − z), with the sign of sin πz taken from the real point.
    z = np.asarray(z, dtype=complex)
    sin = np.sin(np.pi * z)
    reflected = np.log(np.pi) - np.log(np.sign(np.sin(np.pi * np.real(z))) * sin) - scipy.special.loggamma(1 - z)
    return np.where(np.real(z) < 0.5, reflected, scipy.special.loggamma(z))


def _integer(x: np.ndarray) -> np.ndarray:
    return np.asarray(x == np.floor(x))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))


def _mul0(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a·b, but 0 where either factor is 0 (even against inf or nan); the check runs only when needed."""
    out = np.multiply(a, b)
    if np.all(np.isfinite(out)):
        return out
    return np.where((np.asarray(a) == 0) | (np.asarray(b) == 0), 0.0, out)


def _mul0_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref, Ref]:
    a, b = args
    return tuple(_fit_down(op.mul0(g, other), x) for x, other in ((a, b), (b, a)))  # type: ignore[return-value]


def _xlogy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    return np.where(a == 0, 0.0, a * np.log(np.where(a == 0, 1.0, b)))


def _where_jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref | None:
    c, a, b = args
    if t[1] is None and t[2] is None:
        return None
    return op.where(c, _or_zero(t[1], a), _or_zero(t[2], b))


def _where_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref | None, ...]:
    # where(c, g, 0) rather than g·[c]: an inf or nan cotangent doesn't leak into the branch not taken.
    c, a, b = args
    zero = Ref(g.tape, g.tape.const(0.0))
    return (None, _fit_down(op.where(c, g, zero), a), _fit_down(op.where(c, zero, g), b))  # a branch may be broadcast


def _power(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x^y, with numpy's fast paths for the common constant exponents (x² is a square, not a pow)."""
    if np.ndim(y) == 0 and not np.iscomplexobj(y):
        e = float(y)
        if e == 2.0:
            return np.square(x)
        if e == 1.0:
            return np.asarray(x) * 1.0
        if e == 0.5:
            return np.sqrt(x)
        if e == -1.0:
            return np.reciprocal(np.asarray(x, dtype=np.result_type(x, 1.0)))
    return np.power(x, y)


def _pow_partials(x: Ref, y: Ref, ans: Ref) -> tuple[Any, Any]:
    c = y.const_value()
    if c is not None and c.shape == ():
        # x^c: c·x^(c-1); zero for c = 0 so that 0^0 has derivative 0, as PyTorch.
        dx = None if c == 0 else 1.0 if c == 1 else c * x ** float(c - 1)
    else:
        # 0 only at x = y = 0 (where y·x^(y-1) is 0·inf): elsewhere y·x^(y-1) is already 0 at y = 0, and
        # masking it there would also drop its ∂/∂y, making the Hessian's ∂²/∂x∂y wrong (1/x at y = 0).
        dx = op.where(op.eq(y, 0.0) * op.eq(x, 0.0), 0.0, y * x ** (y - 1.0))
    # ∂/∂y = x^y·log x, taken as 0 where x^y = 0 (x = 0, y > 0): right at x = 0.
    return dx, op.xlogy(ans, x)


def _pow_domain() -> tuple[Domain, ...]:
    negative = Domain(
        lambda x, y: (x < 0) & (y != np.floor(y)) & np.isfinite(y),
        lambda x, y: f"a negative base ({format_number(x)}) needs an integer exponent, got {format_number(y)}",
        lambda x, y: y is None or bool(np.any((y != np.floor(y)) & np.isfinite(y))),
        code="({0} < 0) & ({1} != floor({1})) & isfinite({1})",
    )
    pole = Domain(
        lambda x, y: (x == 0) & (y < 0),
        lambda x, y: f"0 is raised to the negative power {format_number(y)}",
        lambda x, y: y is None or bool(np.any(y < 0)),
        code="({0} == 0) & ({1} < 0)",
    )
    return negative, pole


_DIVISOR = Domain(
    lambda a, b: b == 0, lambda a, b: "its divisor is 0", lambda a, b: b is None or bool(np.any(b == 0)), (1, "nonzero"),
    code="{1} == 0",
)


_SQRT_PI = 2.0 / math.sqrt(math.pi)


_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _comparison(name: str, fn: Callable[..., Any], infix: str, commutative: bool = False) -> Primitive:
    """1.0 where the comparison holds, else 0.0; derivative 0, with a kink where the sides tie."""
    return Primitive(
        name,
        2,
        _indicator(fn),
        _zero(2),
        infix=infix,
        precedence=0,
        commutative=commutative,
        singular=_ties,
        kink="a comparison jumps where its sides are equal; derivative 0",
        code=f"where({{0}} {infix} {{1}}, 1.0, 0.0)",
    )


def table() -> list[Primitive]:
    P = Primitive
    pos = interval(0.0, math.inf, True, True)
    return [
        # -- operators -----------------------------------------------------------
        P(
            "add",
            2,
            np.add,
            lambda a, b, ans: (1.0, 1.0),
            infix="+",
            precedence=1,
            commutative=True,
            taylor=rule_from("linear", np.add),
        ),
        P("sub", 2, np.subtract, lambda a, b, ans: (1.0, -1.0), infix="-", precedence=1, taylor=rule_from("linear", np.subtract)),
        P("mul", 2, np.multiply, lambda a, b, ans: (b, a), infix="*", precedence=2, commutative=True, taylor=rule("mul_rule")),
        P(
            "div",
            2,
            np.divide,
            lambda a, b, ans: (1.0 / b, -ans / b),
            infix="/",
            precedence=2,
            domain=(_DIVISOR,),
            taylor=rule("div_rule"),
        ),
        P("neg", 1, np.negative, lambda x, ans: (-1.0,), infix="-", precedence=3, taylor=rule_from("linear", np.negative)),
        P(
            "pow",
            2,
            _power,
            _pow_partials,
            syntax="pow",
            code="power({0}, {1})",
            infix="^",
            precedence=4,
            domain=_pow_domain(),
            kink="x^y: ∂/∂x is 0 at x = y = 0; ∂/∂y is 0 where x^y = 0",
            singular=lambda x, y: (x == 0) & ((y != np.floor(y)) | (y <= 0)),
            taylor=rule("pow_rule"),
        ),
        # comparisons (only inside where): 1.0 or 0.0, derivative 0
        _comparison("lt", np.less, "<"),
        _comparison("le", np.less_equal, "<="),
        _comparison("gt", np.greater, ">"),
        _comparison("ge", np.greater_equal, ">="),
        _comparison("eq", np.equal, "==", commutative=True),
        _comparison("ne", np.not_equal, "!=", commutative=True),
        # -- elementwise functions ---------------------------------------------
        P("exp", 1, np.exp, lambda x, ans: (ans,), syntax="exp", sign="positive"),
        P("expm1", 1, np.expm1, lambda x, ans: (ans + 1.0,), syntax="expm1"),
        P("log", 1, np.log, lambda x, ans: (1.0 / x,), syntax="log", domain=(pos,)),
        P(
            "log1p",
            1,
            np.log1p,
            lambda x, ans: (1.0 / (1.0 + x),),
            syntax="log1p",
            domain=(interval(-1.0, math.inf, True, True),),
        ),
        P("log2", 1, np.log2, lambda x, ans: (1.0 / (x * _LN2),), syntax="log2", domain=(pos,)),
        P("log10", 1, np.log10, lambda x, ans: (1.0 / (x * _LN10),), syntax="log10", domain=(pos,)),
        P(
            "log_base",
            2,
            lambda x, b: np.log(x) / np.log(b),
            lambda x, b, ans: (1.0 / (x * op.log(b)), -ans / (b * op.log(b))),
            syntax="log",
            code="log({0}) / log({1})",
            domain=(
                pos,
                interval(0.0, math.inf, True, True, arg=1, role="base"),
                Domain(lambda x, b: b == 1, lambda x, b: "its base is 1", code="{1} == 1"),
            ),
        ),
        P(
            "sqrt",
            1,
            np.sqrt,
            lambda x, ans: (0.5 / ans,),
            syntax="sqrt",
            sign="nonnegative",
            domain=(interval(0.0, math.inf, False, True),),
            singular=lambda x: x == 0,
            kink="sqrt'(0) = inf, the one-sided slope",
        ),
        P(
            "cbrt",
            1,
            np.cbrt,
            lambda x, ans: (1.0 / (3.0 * ans * ans),),
            syntax="cbrt",
            singular=lambda x: x == 0,
            complex_impl=_complex_cbrt,
            kink="cbrt'(0) = inf",
        ),
        P("sin", 1, np.sin, lambda x, ans: (op.cos(x),), syntax="sin", taylor=rule_from("trig_pair", np.sin, np.cos, -1.0)),
        P("cos", 1, np.cos, lambda x, ans: (-op.sin(x),), syntax="cos", taylor=rule_from("trig_pair", np.cos, np.sin, 1.0, -1.0)),
        P("tan", 1, np.tan, lambda x, ans: (1.0 + ans * ans,), syntax="tan"),
        P(
            "asin",
            1,
            np.arcsin,
            lambda x, ans: (1.0 / op.sqrt(1.0 - x * x),),
            syntax="asin",
            domain=(interval(-1.0, 1.0, False, False),),
            singular=lambda x: np.abs(x) == 1,
        ),
        P(
            "acos",
            1,
            np.arccos,
            lambda x, ans: (-1.0 / op.sqrt(1.0 - x * x),),
            syntax="acos",
            domain=(interval(-1.0, 1.0, False, False),),
            singular=lambda x: np.abs(x) == 1,
        ),
        P("atan", 1, np.arctan, lambda x, ans: (1.0 / (1.0 + x * x),), syntax="atan"),
        P("sinh", 1, np.sinh, lambda x, ans: (op.cosh(x),), syntax="sinh", taylor=rule_from("trig_pair", np.sinh, np.cosh, 1.0)),
        P(
            "cosh",
            1,
            np.cosh,
            lambda x, ans: (op.sinh(x),),
            syntax="cosh",
            sign="positive",
            taylor=rule_from("trig_pair", np.cosh, np.sinh, 1.0),
        ),
        P("tanh", 1, np.tanh, lambda x, ans: (1.0 - ans * ans,), syntax="tanh"),
        P("asinh", 1, np.arcsinh, lambda x, ans: (1.0 / op.sqrt(x * x + 1.0),), syntax="asinh"),
        P(
            "acosh",
            1,
            np.arccosh,
            lambda x, ans: (1.0 / op.sqrt(x * x - 1.0),),
            syntax="acosh",
            domain=(interval(1.0, math.inf, False, True),),
            singular=lambda x: x == 1,
        ),
        P(
            "atanh",
            1,
            np.arctanh,
            lambda x, ans: (1.0 / (1.0 - x * x),),
            syntax="atanh",
            domain=(interval(-1.0, 1.0, True, True),),
        ),
        P(
            "abs",
            1,
            np.abs,
            lambda x, ans: (op.sign(x),),
            syntax="abs",
            sign="nonnegative",
            kink="abs'(0) = 0",
            singular=lambda x: x == 0,
            complex_impl=lambda x: np.where(np.real(x) < 0, -x, x),
        ),
        P(
            "sign",
            1,
            np.sign,
            _zero(1),
            syntax="sign",
            kink="derivative 0 everywhere",
            singular=lambda x: x == 0,
            complex_impl=lambda x: np.sign(np.real(x)),
        ),
        P(
            "floor",
            1,
            np.floor,
            _zero(1),
            syntax="floor",
            kink="derivative 0 everywhere",
            singular=_integer,
            complex_impl=lambda x: np.floor(np.real(x)),
        ),
        P(
            "ceil",
            1,
            np.ceil,
            _zero(1),
            syntax="ceil",
            kink="derivative 0 everywhere",
            singular=_integer,
            complex_impl=lambda x: np.ceil(np.real(x)),
        ),
        P(
            "round",
            1,
            np.round,
            _zero(1),
            syntax="round",
            code="rint({0})",
            kink="derivative 0 everywhere; halves round to even",
            singular=lambda x: (x - np.floor(x)) == 0.5,
            complex_impl=lambda x: np.round(np.real(x)),
        ),
        P(
            "relu",
            1,
            lambda x: np.maximum(x, 0.0),
            lambda x, ans: (op.gt(x, 0.0),),
            syntax="relu",
            code="maximum({0}, 0.0)",
            sign="nonnegative",
            kink="relu'(0) = 0",
            singular=lambda x: x == 0,
            complex_impl=lambda x: np.where(np.real(x) > 0, x, 0.0),
        ),
        P(
            "sigmoid",
            1,
            _sigmoid,
            lambda x, ans: (ans * (1.0 - ans),),
            syntax="sigmoid",
            code="exp(-logaddexp(0.0, -{0}))",
            sign="nonnegative",
            complex_impl=lambda x: 1 / (1 + np.exp(-x)),
        ),
        P(
            "softplus",
            1,
            lambda x: np.logaddexp(0.0, x),
            lambda x, ans: (op.sigmoid(x),),
            syntax="softplus",
            code="logaddexp(0.0, {0})",
            sign="nonnegative",
            complex_impl=_complex_softplus,
        ),
        P("erf", 1, _special("erf"), lambda x, ans: (_SQRT_PI * op.exp(-(x * x)),), syntax="erf", code="erf({0})"),
        P(
            "erfc",
            1,
            _special("erfc"),
            lambda x, ans: (-_SQRT_PI * op.exp(-(x * x)),),
            syntax="erfc",
            sign="nonnegative",
            code="erfc({0})",
        ),
        P(
            "gamma",
            1,
            _special("gamma"),
            lambda x, ans: (ans * op.digamma(x),),
            syntax="gamma",
            code="gamma({0})",
            domain=(NONPOSITIVE_INTEGERS,),
            complex_impl=_complex_gamma,
        ),
        P(
            "lgamma",
            1,
            _special("gammaln"),
            lambda x, ans: (op.digamma(x),),
            syntax="lgamma",
            code="gammaln({0})",
            domain=(NONPOSITIVE_INTEGERS,),
            complex_impl=_complex_lgamma,
            doc="log |Γ(x)|",
        ),
        P(
            "atan2",
            2,
            np.arctan2,
            lambda y, x, ans: (x / (x * x + y * y), -y / (x * x + y * y)),
            syntax="atan2",
            singular=lambda y, x: (y == 0) & (x <= 0),
            kink="atan2 jumps by 2π across the negative x axis and is undefined in slope at the origin",
            complex_impl=_complex_atan2,
        ),
        P(
            "hypot",
            2,
            np.hypot,
            lambda a, b, ans: (a / ans, b / ans),
            syntax="hypot",
            sign="nonnegative",
            commutative=True,
            singular=lambda a, b: (a == 0) & (b == 0),
            complex_impl=lambda a, b: np.sqrt(a * a + b * b),
        ),
        P(
            "min",
            2,
            np.minimum,
            lambda a, b, ans: (op.lt(a, b) + 0.5 * op.eq(a, b), op.lt(b, a) + 0.5 * op.eq(a, b)),
            syntax="min",
            commutative=True,
            kink="min(a, a) splits the gradient evenly",
            singular=_ties,
            complex_impl=_by_real(np.less_equal),
        ),
        P(
            "max",
            2,
            np.maximum,
            lambda a, b, ans: (op.gt(a, b) + 0.5 * op.eq(a, b), op.gt(b, a) + 0.5 * op.eq(a, b)),
            syntax="max",
            commutative=True,
            kink="max(a, a) splits the gradient evenly",
            singular=_ties,
            complex_impl=_by_real(np.greater_equal),
        ),
        P(
            "logaddexp",
            2,
            np.logaddexp,
            lambda a, b, ans: (op.exp(a - ans), op.exp(b - ans)),
            syntax="logaddexp",
            commutative=True,
            complex_impl=_complex_logaddexp,
        ),
        P(
            "where",
            3,
            lambda c, a, b: np.where(np.real(c) != 0, a, b),
            jvp=_where_jvp,
            vjp=_where_vjp,
            syntax="where",
            code="where({0} != 0, {1}, {2})",
            kink="the gradient flows only into the branch taken",
            taylor=rule("where_rule"),
        ),
        P(
            "clip",
            3,
            lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
            lambda x, lo, hi, ans: (op.ge(x, lo) * op.le(x, hi), op.lt(x, lo), op.gt(x, hi)),
            syntax="clip",
            code="minimum(maximum({0}, {1}), {2})",
            kink="at a bound the gradient goes to x, as PyTorch's clamp",
            singular=lambda x, lo, hi: (x == lo) | (x == hi),
            complex_impl=lambda x, lo, hi: np.where(np.real(x) < np.real(lo), lo, np.where(np.real(x) > np.real(hi), hi, x)),
        ),
        # -- internal: emitted by derivative rules --------------------------------
        P(
            "xlogy",
            2,
            _xlogy,
            lambda a, b, ans: (op.log(b), a / b),
            internal=True,
            code="where({0} == 0, 0.0, {0} * log({1}))",
            zero_wins=True,  # d/dy of 0^y is xlogy(0^y, 0): its own derivative is log(0)·0, taken as 0
            doc="a·log b, 0 where a = 0",
        ),
        P(
            "mul0",
            2,
            _mul0,
            jvp=_linear_jvp("mul0", (0, 1)),
            vjp=_mul0_vjp,
            code="where(({0} == 0) | ({1} == 0), 0.0, {0} * {1})",
            infix="*",
            precedence=2,
            commutative=True,
            internal=True,
            doc="a·b with 0·inf = 0: a zero (co)tangent stays zero through an infinite partial",
        ),
        P(
            "digamma",
            1,
            _special("psi"),
            lambda x, ans: (op.polygamma(x, param=1),),
            syntax="digamma",
            doc="Γ'(x)/Γ(x)",
            taylor=rule("polygamma_rule"),
            code="psi({0})",
        ),
        P(
            "polygamma",
            1,
            lambda x, n: _special("polygamma")(n, x),
            jvp=lambda args, ans, t, n: t[0] * op.polygamma(args[0], param=n + 1),
            vjp=lambda args, ans, g, n: (g * op.polygamma(args[0], param=n + 1),),
            uses_param=True,
            internal=True,
            taylor=rule("polygamma_rule"),
            code="polygamma({p}, {0})",
        ),
    ]
