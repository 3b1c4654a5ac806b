"""Special functions users test with: Bessel functions (besselj0 … besselk(n, x)), regularized incomplete gamma and beta, erfinv,
mod/fmod. All elementwise, scipy.special imported on first use (start-up time matters).

Derivatives in x are the textbook closed forms (recurrences for Bessel functions, the integrand for the
incomplete integrals); an order or shape parameter has none in closed form, so differentiating in it is
an error naming the argument (`Primitive.nondiff`), never a silent zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ...numfmt import format_number
from ..refs import Ref, op
from .core import Domain, Primitive, _special, interval, rule_from

_HALF_SQRT_PI = math.sqrt(math.pi) / 2.0


def _order(name: str) -> Callable[..., Any]:
    """scipy's jv/yv/iv/kv at a fixed order (j0 = jv(0, ·)), for complex steps: j0 itself is real only."""
    return lambda n: lambda x: _special(name)(n, x)


_POSITIVE_X = interval(0.0, math.inf, True, True)
_POSITIVE_X1 = interval(0.0, math.inf, True, True, arg=1)


def _negative_needs_integer_order() -> Domain:
    return Domain(
        lambda n, x: (x < 0) & (n != np.floor(n)),
        lambda n, x: f"a negative argument ({format_number(x)}) needs an integer order, got {format_number(n)}",
        code="({1} < 0) & ({0} != floor({0}))",
    )


def _trunc(q: Ref) -> Ref:
    return op.sign(q) * op.floor(op.abs(q))


def _integer_ratio(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        q = np.asarray(x) / np.asarray(y)
    return np.asarray(q == np.floor(q))


def _nonzero_integer_ratio(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _integer_ratio(x, y) & (np.asarray(x) != 0)  # fmod is continuous through x = 0


_NONZERO_DIVISOR = Domain(lambda x, y: y == 0, lambda x, y: "its divisor is 0", safe_if=(1, "nonzero"), code="{1} == 0")


def _gammainc_density(a: Ref, x: Ref) -> Ref:
    """∂P(a, x)/∂x = x^(a−1)·e^(−x)/Γ(a), as exp of logs (xlogy: 0 at a = 1, x = 0)."""
    return op.exp(op.xlogy(a - 1.0, x) - x - op.lgamma(a))


def _betainc_density(a: Ref, b: Ref, x: Ref) -> Ref:
    """∂I_x(a, b)/∂x = x^(a−1)(1 − x)^(b−1)/B(a, b)."""
    log_beta = op.lgamma(a) + op.lgamma(b) - op.lgamma(a + b)
    return op.exp(op.xlogy(a - 1.0, x) + op.xlogy(b - 1.0, 1.0 - x) - log_beta)


def _real_only(name: str) -> Callable[..., Any]:
    """scipy's complex J and Y lose the tiny imaginary part a complex step needs: refuse complex input,
    so `check --method complex` falls back to central differences instead of reporting a false mismatch."""
    f = _special(name)

    def real(*xs: Any) -> Any:
        if any(np.iscomplexobj(x) for x in xs):
            raise TypeError(f"{name} has no accurate complex continuation in scipy")
        return f(*xs)

    return real


# The language's names: scipy's own (j0, y1, iv, …) are everyday variable names, and a function name
# can't be a variable, so the Bessel functions are called as in MATLAB and Julia (besselj(n, x)).
SYNTAX = {"j0": "besselj0", "j1": "besselj1", "y0": "bessely0", "y1": "bessely1", "i0": "besseli0", "i1": "besseli1",
          "k0": "besselk0", "k1": "besselk1", "jv": "besselj", "yv": "bessely", "iv": "besseli", "kv": "besselk"}  # fmt: skip


def _bessel(
    name: str, partial: Callable[..., tuple[Any, ...]], positive: bool, continuation: Callable[..., Any] | None
) -> Primitive:
    return Primitive(
        name,
        1,
        _special(name) if continuation is not None else _real_only(name),
        partial,
        syntax=SYNTAX[name],
        domain=(_POSITIVE_X,) if positive else (),
        complex_impl=continuation,
        code=f"{name}({{0}})",
        taylor=rule_from("bessel_rule", name[0], float(name[1])),
    )


def _order_bessel(name: str, partial: Callable[..., tuple[Any, ...]], positive: bool) -> Primitive:
    return Primitive(
        name,
        2,
        _special(name) if name in ("iv", "kv") else _real_only(name),
        partial,
        syntax=SYNTAX[name],
        domain=(_POSITIVE_X1,) if positive else (_negative_needs_integer_order(),),
        nondiff=((0, "order"),),
        code=f"{name}({{0}}, {{1}})",
        taylor=rule_from("bessel_rule", name[0]),
        doc=f"{SYNTAX[name]}(n, x), scipy's {name}: derivative in x by the recurrence; the order n must not vary",
    )


def table() -> list[Primitive]:
    P = Primitive
    iv, kv = _order("iv"), _order("kv")
    return [
        # -- Bessel functions of orders 0 and 1: J, Y (x > 0), modified I, K (x > 0) --------------------
        _bessel("j0", lambda x, ans: (-op.j1(x),), False, None),
        _bessel("j1", lambda x, ans: (0.5 * (op.j0(x) - op.jv(2.0, x)),), False, None),
        _bessel("y0", lambda x, ans: (-op.y1(x),), True, None),
        _bessel("y1", lambda x, ans: (0.5 * (op.y0(x) - op.yv(2.0, x)),), True, None),
        _bessel("i0", lambda x, ans: (op.i1(x),), False, iv(0)),
        _bessel("i1", lambda x, ans: (0.5 * (op.i0(x) + op.iv(2.0, x)),), False, iv(1)),
        _bessel("k0", lambda x, ans: (-op.k1(x),), True, kv(0)),
        _bessel("k1", lambda x, ans: (-0.5 * (op.k0(x) + op.kv(2.0, x)),), True, kv(1)),
        # -- any real order n (constant): d/dx by the recurrences ----------------------------------------
        _order_bessel("jv", lambda n, x, ans: (None, 0.5 * (op.jv(n - 1.0, x) - op.jv(n + 1.0, x))), False),
        _order_bessel("yv", lambda n, x, ans: (None, 0.5 * (op.yv(n - 1.0, x) - op.yv(n + 1.0, x))), True),
        _order_bessel("iv", lambda n, x, ans: (None, 0.5 * (op.iv(n - 1.0, x) + op.iv(n + 1.0, x))), False),
        _order_bessel("kv", lambda n, x, ans: (None, -0.5 * (op.kv(n - 1.0, x) + op.kv(n + 1.0, x))), True),
        # -- regularized incomplete gamma and beta: derivative in x only ----------------------------------
        P(
            "gammainc",
            2,
            _special("gammainc"),
            lambda a, x, ans: (None, _gammainc_density(a, x)),
            syntax="gammainc",
            code="gammainc({0}, {1})",
            domain=(interval(0.0, math.inf, True, True, role="shape a"), interval(0.0, math.inf, False, True, arg=1)),
            nondiff=((0, "shape parameter"),),
            singular=lambda a, x: (x == 0) & (a < 1),
            kink="∂/∂x = inf at x = 0 when a < 1",
            doc="P(a, x), the regularized lower incomplete gamma function",
        ),
        P(
            "gammaincc",
            2,
            _special("gammaincc"),
            lambda a, x, ans: (None, -_gammainc_density(a, x)),
            syntax="gammaincc",
            code="gammaincc({0}, {1})",
            domain=(interval(0.0, math.inf, True, True, role="shape a"), interval(0.0, math.inf, False, True, arg=1)),
            nondiff=((0, "shape parameter"),),
            singular=lambda a, x: (x == 0) & (a < 1),
            kink="∂/∂x = inf at x = 0 when a < 1",
            doc="Q(a, x) = 1 − P(a, x)",
        ),
        P(
            "betainc",
            3,
            _special("betainc"),
            lambda a, b, x, ans: (None, None, _betainc_density(a, b, x)),
            syntax="betainc",
            code="betainc({0}, {1}, {2})",
            domain=(
                interval(0.0, math.inf, True, True, role="parameter a"),
                interval(0.0, math.inf, True, True, arg=1, role="parameter b"),
                interval(0.0, 1.0, False, False, arg=2),
            ),
            nondiff=((0, "parameter a"), (1, "parameter b")),
            singular=lambda a, b, x: ((x == 0) & (a < 1)) | ((x == 1) & (b < 1)),
            kink="∂/∂x = inf at x = 0 when a < 1 and at x = 1 when b < 1",
            doc="I_x(a, b), the regularized incomplete beta function",
        ),
        # -- inverse error functions ----------------------------------------------------------------------
        P(
            "erfinv",
            1,
            _special("erfinv"),
            lambda x, ans: (_HALF_SQRT_PI * op.exp(ans * ans),),
            syntax="erfinv",
            code="erfinv({0})",
            domain=(interval(-1.0, 1.0, False, False),),
            singular=lambda x: np.abs(x) == 1,
            kink="erfinv'(±1) = inf",
        ),
        P(
            "erfcinv",
            1,
            _special("erfcinv"),
            lambda x, ans: (-_HALF_SQRT_PI * op.exp(ans * ans),),
            syntax="erfcinv",
            code="erfcinv({0})",
            domain=(interval(0.0, 2.0, False, False),),
            singular=lambda x: (x == 0) | (x == 2),
            kink="erfcinv'(0) = erfcinv'(2) = -inf",
        ),
        # -- remainders: jumps where x/y is an integer ----------------------------------------------------
        P(
            "mod",
            2,
            np.mod,
            lambda x, y, ans: (1.0, -op.floor(x / y)),
            syntax="mod",
            domain=(_NONZERO_DIVISOR,),
            singular=_integer_ratio,
            kink=(
                "∂/∂x = 1, ∂/∂y = -floor(x/y) (mod jumps where x/y is an integer; there, the slope on the side "
                "where x/y is just above it)"
            ),
            complex_impl=lambda x, y: x - y * np.floor(np.real(x / y)),
            doc="x - y·floor(x/y): the sign of y, as numpy.mod and Python's %",
        ),
        P(
            "fmod",
            2,
            np.fmod,
            lambda x, y, ans: (1.0, -_trunc(x / y)),
            syntax="fmod",
            domain=(_NONZERO_DIVISOR,),
            singular=_nonzero_integer_ratio,
            kink=(
                "∂/∂x = 1, ∂/∂y = -trunc(x/y) (fmod jumps where x/y is a nonzero integer; there, the slope on the "
                "side where |x/y| is just above it)"
            ),
            complex_impl=lambda x, y: x - y * np.trunc(np.real(x / y)),
            doc="x - y·trunc(x/y): the sign of x, as C's fmod",
        ),
    ]
