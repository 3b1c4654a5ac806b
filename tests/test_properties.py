"""Property tests: random expressions, differentiated by gradcli, checked against independent oracles.

The oracles are reverse mode against forward mode, finite differences, and SymPy's symbolic
derivatives of the same text. Nothing here is a number gradcli produced.

The expressions are generated as gradcli source text over x, y and a few constants. Every
function whose domain is not the whole real line gets an argument that is positive (or inside
(-1, 1)) by construction -- `log(1 + u^2)`, `sqrt(1 + u^2)`, `asin(0.5*tanh(u))`, division by
`1 + u^2` -- so any point is in the domain; points where the value overflows or is huge are
skipped with `assume`. Kinked functions (abs, relu, min, max, floor, where, clip) appear only in
the forward-vs-reverse and array-of-points properties: at a kink neither finite differences nor
SymPy is an oracle, but the two AD modes share each primitive's convention and must agree.

SymPy reads the generated text through `sympy.parse_expr` with `^` replaced by `**` and a
`local_dict` for the names. That is safe only because the text comes from the strategy below,
never from a user.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import gradcli

# -- the generator ----------------------------------------------------------------

VARS = ("x", "y")

_ATOM = re.compile(r"^(?:[A-Za-z_]\w*|\d+(?:\.\d+)?)$")


def _p(s: str) -> str:
    """Parenthesise unless atomic, so operator precedence never decides what the text means."""
    return s if _ATOM.match(s) else f"({s})"


# One-argument templates; `{u}` is already parenthesised when needed.
UNARY: tuple[str, ...] = (
    "-{u}",
    "{u}^2",
    "{u}**3",
    "(1 + {u}^2)^-1",
    "(1 + {u}^2)^1.5",
    "(1 + {u}^2)^0.5",
    "sin({u})",
    "cos({u})",
    "tan(sin({u}))",
    "exp({u})",
    "exp(-{u}^2)",
    "expm1({u})",
    "log(1 + {u}^2)",
    "log(2 + sin({u}))",
    "log1p({u}^2)",
    "log2(1 + {u}^2)",
    "log10(2 + cos({u}))",
    "sqrt(1 + {u}^2)",
    "cbrt(1 + {u}^2)",
    "tanh({u})",
    "sigmoid({u})",
    "softplus({u})",
    "atan({u})",
    "sinh({u})",
    "cosh({u})",
    "asinh({u})",
    "acosh(2 + {u}^2)",
    "asin(0.5*tanh({u}))",
    "acos(0.5*tanh({u}))",
    "atanh(0.5*tanh({u}))",
    "erf({u})",
    "erfc({u})",
    "lgamma(1 + {u}^2)",
    "gamma(1 + sigmoid({u}))",
)

# Two-argument templates.
BINARY: tuple[str, ...] = (
    "{a} + {b}",
    "{a} - {b}",
    "{a} * {b}",
    "{a} / (1 + {b}^2)",
    "{a} / (2 + cos({b}))",
    "(1 + {a}^2)^sin({b})",
    "hypot(1 + {a}^2, {b})",
    "atan2({a}, 1 + {b}^2)",
    "atan2(1 + {a}^2, {b})",
    "logaddexp({a}, {b})",
    "log(1 + {a}^2, 2 + {b}^2)",
    "pow(1 + {a}^2, {b})",
)

# Reductions of vector literals: smooth, but not elementwise over an array of points.
REDUCTIONS: tuple[str, ...] = (
    "sum([{a}, {b}])",
    "mean([{a}, {b}, 1])",
    "prod([{a}, {b}])",
    "norm([{a}, {b}, 1])",
    "logsumexp([{a}, {b}])",
    "dot([{a}, {b}], [{b}, 2])",
    # subscripts (issue 13): SymPy reads them as Python list indexing of the same vector literal
    "[{a}, {b}][0]",
    "[{a}, {b}, 1][-2]",
    "sum([{a}, {b}, 2][1:])",
    "dot([{a}, {b}, 1][::2], [{b}, 3])",
    "[[{a}, {b}], [1, {b}]][1][0] * [{a}, {b}][-1]",
    "len([{a}, {b}, 1]) * {a}",
)

# Kinked or piecewise templates: no symbolic or finite-difference oracle at the kink, but the
# two AD modes must still agree (they share one derivative rule per primitive, and its convention).
KINKED: tuple[str, ...] = (
    "abs({u})",
    "relu({u})",
    "sign({u}) * {u}",
    "floor({u}) + {u}",
    "max({a}, {b})",
    "min({a}, {b}, 0.5)",
    "clip({a}, -1, 1)",
    "where({a} > {b}, {a}, {b}^2)",
)

NUMBERS = ("0.5", "1", "2", "3", "1.5", "0.25", "pi", "e")


def _apply(templates: tuple[str, ...], children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(templates), children, children).map(
        lambda t: t[0].format(u=_p(t[1]), a=_p(t[1]), b=_p(t[2]))
    )


def expressions(
    max_leaves: int = 6, variables: tuple[str, ...] = VARS, kinks: bool = False, reductions: bool = True
) -> st.SearchStrategy[str]:
    """Random gradcli source over the variables that is defined (if perhaps overflowing) at every real point.

    `kinks` adds the piecewise templates; `reductions=False` keeps the expression elementwise.
    """
    leaves = st.one_of(st.sampled_from(variables), st.sampled_from(variables), st.sampled_from(NUMBERS))
    groups = [UNARY, BINARY] + ([REDUCTIONS] if reductions else []) + ([KINKED] if kinks else [])

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(*(_apply(g, children) for g in groups))

    return st.recursive(leaves, extend, max_leaves=max_leaves)


COORD = st.floats(min_value=-2.0, max_value=2.0, allow_nan=False, allow_infinity=False)
POINTS = st.fixed_dictionaries({"x": COORD, "y": COORD})

# -- the SymPy side ---------------------------------------------------------------

X, Y = sympy.symbols("x y", real=True)


def _sigmoid(u: sympy.Expr) -> sympy.Expr:
    return 1 / (1 + sympy.exp(-u))


SYMPY_NAMES: dict[str, Any] = {
    "x": X,
    "y": Y,
    "pi": sympy.pi,
    "e": sympy.E,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "exp": sympy.exp,
    "expm1": lambda u: sympy.exp(u) - 1,
    "log": lambda u, base=None: sympy.log(u) if base is None else sympy.log(u) / sympy.log(base),
    "log1p": lambda u: sympy.log(1 + u),
    "log2": lambda u: sympy.log(u) / sympy.log(2),
    "log10": lambda u: sympy.log(u) / sympy.log(10),
    "sqrt": sympy.sqrt,
    "cbrt": lambda u: u ** sympy.Rational(1, 3),  # only ever given a positive argument
    "tanh": sympy.tanh,
    "sigmoid": _sigmoid,
    "softplus": lambda u: sympy.log(1 + sympy.exp(u)),
    "atan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "asinh": sympy.asinh,
    "acosh": sympy.acosh,
    "asin": sympy.asin,
    "acos": sympy.acos,
    "atanh": sympy.atanh,
    "erf": sympy.erf,
    "erfc": sympy.erfc,
    "lgamma": sympy.loggamma,
    "gamma": sympy.gamma,
    "hypot": lambda a, b: sympy.sqrt(a**2 + b**2),
    "atan2": sympy.atan2,
    "logaddexp": lambda a, b: sympy.log(sympy.exp(a) + sympy.exp(b)),
    "pow": lambda a, b: a**b,
    # reductions: the argument is a Python list of SymPy expressions (a vector literal)
    "sum": lambda v: sympy.Add(*v),
    "mean": lambda v: sympy.Add(*v) / len(v),
    "prod": lambda v: sympy.Mul(*v),
    "norm": lambda v: sympy.sqrt(sympy.Add(*(t**2 for t in v))),
    "logsumexp": lambda v: sympy.log(sympy.Add(*(sympy.exp(t) for t in v))),
    "dot": lambda u, v: sympy.Add(*(a * b for a, b in zip(u, v))),
}


@lru_cache(maxsize=512)
def to_sympy(text: str) -> sympy.Expr:
    """The generated gradcli text as a SymPy expression (test-generated text only, never user input)."""
    return sympy.parse_expr(text.replace("^", "**"), local_dict=dict(SYMPY_NAMES))


def sympy_at(expr: sympy.Expr, point: dict[str, float]) -> float:
    """Evaluate to 30 digits at the exact binary values of the point, then round to a float."""
    val = sympy.N(expr, 30, subs={X: sympy.Float(point["x"], 30), Y: sympy.Float(point["y"], 30)})
    re_part, im_part = val.as_real_imag()
    assert abs(complex(im_part)) <= 1e-20 * (1 + abs(complex(re_part))), f"complex value {val}"
    return float(re_part)


# -- helpers ----------------------------------------------------------------------

LIMIT = 1e6  # skip points where the value or a derivative is larger than this


def value_at(f: gradcli.Expression, point: dict[str, float]) -> float:
    with np.errstate(all="ignore"):
        return float(f.value(point))


def gradient(f: gradcli.Expression, point: dict[str, float], mode: str = "reverse") -> dict[str, float]:
    with np.errstate(all="ignore"):
        return {k: float(v) for k, v in f.gradient(point, wrt=VARS, mode=mode).items()}


def moderate(*values: float) -> bool:
    return all(math.isfinite(v) and abs(v) < LIMIT for v in values)


def close(got: float, want: float, rtol: float, atol: float) -> bool:
    return abs(got - want) <= atol + rtol * abs(want)


def deterministic(max_examples: int) -> settings:
    """The same examples on every run (no example database, seed from the test): safe for CI."""
    return settings(
        derandomize=True,
        database=None,
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


# -- first derivatives ------------------------------------------------------------


@deterministic(300)
@given(src=expressions(kinks=True), point=POINTS)
def test_reverse_mode_equals_forward_mode(src: str, point: dict[str, float]) -> None:
    f = gradcli.compile(src)
    assume(moderate(value_at(f, point)))
    rev = gradient(f, point, "reverse")
    fwd = gradient(f, point, "forward")
    assume(moderate(*rev.values()))
    scale = 1.0 + max(abs(v) for v in rev.values())
    for name in VARS:
        assert close(fwd[name], rev[name], rtol=1e-10, atol=1e-12 * scale), (src, point, name, rev, fwd)


@deterministic(60)
@given(src=expressions(kinks=True, reductions=False), xs=st.lists(COORD, min_size=3, max_size=3), y=COORD)
def test_gradient_on_an_array_of_points_is_the_gradient_at_each(src: str, xs: list[float], y: float) -> None:
    """An elementwise expression on an array of x gives the slope at each x (and summed ∂/∂y for a scalar y)."""
    f = gradcli.compile(src)
    points = [{"x": x, "y": y} for x in xs]
    each = [gradient(f, p) for p in points]
    assume(all(moderate(value_at(f, p), *g.values()) for p, g in zip(points, each)))
    with np.errstate(all="ignore"):
        vec = f.gradient({"x": np.array(xs), "y": y}, wrt=VARS)
    assert vec["x"].shape == (3,) and np.shape(vec["y"]) == ()
    for k, g in enumerate(each):
        assert close(float(vec["x"][k]), g["x"], rtol=1e-12, atol=1e-14), (src, xs, y)
    # The derivative of an array output is that of the sum of its elements; an output that
    # doesn't depend on x stays a scalar, counted once.
    with np.errstate(all="ignore"):
        copies = np.size(f.value({"x": np.array(xs), "y": y}))
    want_y = sum(g["y"] for g in each) if copies == 3 else each[0]["y"]
    assert close(float(vec["y"]), want_y, rtol=1e-10, atol=1e-12 * (1 + sum(abs(g["y"]) for g in each))), (src, xs, y)


def _finite_difference(f: gradcli.Expression, point: dict[str, float], name: str, h: float) -> float:
    """Fourth-order central difference (one point at a time: a reduction is not elementwise)."""
    fm2, fm1, fp1, fp2 = (value_at(f, {**point, name: point[name] + k * h}) for k in (-2.0, -1.0, 1.0, 2.0))
    return float((fm2 - 8.0 * fm1 + 8.0 * fp1 - fp2) / (12.0 * h))


@deterministic(250)
@given(src=expressions(), point=POINTS)
def test_gradient_matches_finite_differences(src: str, point: dict[str, float]) -> None:
    f = gradcli.compile(src)
    value = value_at(f, point)
    assume(moderate(value) and abs(value) < 1e3)
    grad = gradient(f, point)
    assume(moderate(*grad.values()) and all(abs(v) < 1e3 for v in grad.values()))
    h = 1e-3
    for name in VARS:
        fd = _finite_difference(f, point, name, h)
        assume(math.isfinite(fd))
        # Truncation error ~ h^4 f^(5), rounding ~ eps |f| / h: loose, but a wrong rule is off by O(1).
        assert close(grad[name], fd, rtol=1e-4, atol=1e-5 * (1 + abs(value))), (src, point, name, grad[name], fd)


@deterministic(200)
@given(src=expressions(), point=POINTS)
def test_gradient_matches_sympy(src: str, point: dict[str, float]) -> None:
    f = gradcli.compile(src)
    value = value_at(f, point)
    assume(moderate(value))
    grad = gradient(f, point)
    assume(moderate(*grad.values()))
    expr = to_sympy(src)
    assert close(value, sympy_at(expr, point), rtol=1e-9, atol=1e-12), (src, point)
    for name, sym in (("x", X), ("y", Y)):
        want = sympy_at(sympy.diff(expr, sym), point)
        assume(moderate(want))
        assert close(grad[name], want, rtol=1e-7, atol=1e-9 * (1 + abs(value))), (src, point, name, grad[name], want)


def _with_template(template: str) -> st.SearchStrategy[str]:
    """The template applied to small random sub-expressions: every primitive is exercised, whatever the draw."""
    sub = expressions(max_leaves=3)
    return st.tuples(sub, sub).map(lambda ab: template.format(u=_p(ab[0]), a=_p(ab[0]), b=_p(ab[1])))


@pytest.mark.parametrize("template", UNARY + BINARY + REDUCTIONS)
def test_each_template_matches_sympy(template: str) -> None:
    """Gradient and Hessian of each template over random sub-expressions against SymPy."""

    @deterministic(6)
    @given(src=_with_template(template), point=POINTS)
    def check(src: str, point: dict[str, float]) -> None:
        f = gradcli.compile(src)
        value = value_at(f, point)
        assume(moderate(value))
        grad = gradient(f, point)
        with np.errstate(all="ignore"):
            hess = f.hessian(point, wrt=VARS)
        assume(moderate(*grad.values(), *(float(hess[a][b]) for a in VARS for b in VARS)))
        expr = to_sympy(src)
        syms = {"x": X, "y": Y}
        for a in VARS:
            want = sympy_at(sympy.diff(expr, syms[a]), point)
            assert close(grad[a], want, rtol=1e-7, atol=1e-9 * (1 + abs(value))), (src, point, a, grad[a], want)
            for b in VARS:
                got = float(hess[a][b])
                want = sympy_at(sympy.diff(expr, syms[a], syms[b]), point)
                assert close(got, want, rtol=1e-6, atol=1e-8 * (1 + abs(want))), (src, point, (a, b), got, want)

    check()


# -- second and higher derivatives -------------------------------------------------


@deterministic(60)
@given(src=expressions(max_leaves=4), point=POINTS)
@example(src="x^y", point={"x": 2.0, "y": 0.0})  # a zero exponent away from x = 0: smooth, no kink
@example(src="prod([x, x, y])", point={"x": 0.0, "y": 1.0})  # a product with two zero factors
@example(src="prod([x, 3])", point={"x": 1e-9, "y": 0.0})  # ans/x left a Hessian of -4.8e-7 here
@example(src="prod([x, y])", point={"x": 1e-200, "y": 1e-200})  # the product underflows, its derivatives don't
@example(src="prod([x * y, x])", point={"x": 1e-9, "y": 2.0})
def test_hessian_matches_sympy(src: str, point: dict[str, float]) -> None:
    f = gradcli.compile(src)
    value = value_at(f, point)
    assume(moderate(value))
    with np.errstate(all="ignore"):
        hess = f.hessian(point, wrt=VARS)
    got = {(a, b): float(hess[a][b]) for a in VARS for b in VARS}
    assume(moderate(*got.values()))
    expr = to_sympy(src)
    syms = {"x": X, "y": Y}
    scale = 1.0 + max(abs(v) for v in got.values())
    for (a, b), g in got.items():
        want = sympy_at(sympy.diff(expr, syms[a], syms[b]), point)
        assert close(g, want, rtol=1e-6, atol=1e-8 * scale), (src, point, (a, b), g, want)
    # Symmetry of forward-over-reverse is not structural, so it is a property too.
    assert close(got["x", "y"], got["y", "x"], rtol=1e-9, atol=1e-11 * scale), (src, point, got)


@deterministic(40)
@given(src=expressions(max_leaves=3, variables=("x",)), x=COORD, order=st.integers(min_value=2, max_value=3))
@example(src="(1 + x^2)^sin(x)", x=0.0, order=3)
def test_nth_derivative_matches_sympy(src: str, x: float, order: int) -> None:
    point = {"x": x}
    f = gradcli.compile(src)
    assume(moderate(value_at(f, point)))
    with np.errstate(all="ignore"):
        got = float(f.derivative(point, wrt="x", order=order))
    assume(moderate(got))
    want = sympy_at(sympy.diff(to_sympy(src), X, order), {"x": x, "y": 0.0})
    assert close(got, want, rtol=1e-6, atol=1e-8 * (1 + abs(want))), (src, x, order, got, want)


# -- textbook functions with known gradients ----------------------------------------

GradFn = Callable[[float, float], tuple[float, float]]

TEXTBOOK: dict[str, tuple[str, GradFn]] = {
    "rosenbrock": (
        "(1 - x)^2 + 100*(y - x^2)^2",
        lambda x, y: (-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)),
    ),
    "himmelblau": (
        "(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        lambda x, y: (
            4 * x * (x**2 + y - 11) + 2 * (x + y**2 - 7),
            2 * (x**2 + y - 11) + 4 * y * (x + y**2 - 7),
        ),
    ),
    "booth": (
        "(x + 2y - 7)^2 + (2x + y - 5)^2",
        lambda x, y: (10 * x + 8 * y - 34, 8 * x + 10 * y - 38),
    ),
    "gaussian": (
        "exp(-(x^2 + y^2)/2)",
        lambda x, y: (-x * math.exp(-(x * x + y * y) / 2), -y * math.exp(-(x * x + y * y) / 2)),
    ),
    "logistic": (
        "log(1 + exp(-y*x))",
        lambda x, y: (-y / (1 + math.exp(y * x)), -x / (1 + math.exp(y * x))),
    ),
    "radius": (
        "sqrt(x^2 + y^2 + 1)",
        lambda x, y: (x / math.sqrt(x * x + y * y + 1), y / math.sqrt(x * x + y * y + 1)),
    ),
}


@deterministic(50)
@given(name=st.sampled_from(sorted(TEXTBOOK)), point=POINTS, mode=st.sampled_from(("reverse", "forward")))
def test_textbook_gradients(name: str, point: dict[str, float], mode: str) -> None:
    src, closed_form = TEXTBOOK[name]
    got = gradient(gradcli.compile(src), point, mode)
    want = closed_form(point["x"], point["y"])
    for var, w in zip(VARS, want):
        assert close(got[var], w, rtol=1e-12, atol=1e-12), (name, point, var, got[var], w)


@deterministic(30)
@given(point=POINTS)
def test_rosenbrock_hessian(point: dict[str, float]) -> None:
    x, y = point["x"], point["y"]
    hess = gradcli.compile(TEXTBOOK["rosenbrock"][0]).hessian(point)
    want = {
        ("x", "x"): 2 - 400 * (y - x * x) + 800 * x * x,
        ("x", "y"): -400 * x,
        ("y", "x"): -400 * x,
        ("y", "y"): 200.0,
    }
    for (a, b), w in want.items():
        assert close(float(hess[a][b]), w, rtol=1e-12, atol=1e-10), (point, a, b)


# -- user functions ---------------------------------------------------------------


def _substitute(src: str, names: dict[str, str]) -> str:
    """The text with each variable replaced (what inlining a call must amount to)."""
    return re.sub(r"\b[xy]\b", lambda m: names[m[0]], src)


@deterministic(80)
@given(src=expressions(max_leaves=4), point=POINTS)
def test_user_function_calls_equal_their_inlined_text(src: str, point: dict[str, float]) -> None:
    """g(x, y) = E; g(y, x) * g(x, 0.5) + g(x, y) has the value, gradient and Hessian of E(y, x)·E(x, 0.5) + E
    written out, and both agree with SymPy's derivative of the written-out text."""
    program = f"g(x, y) = {src}\ng(y, x) * g(x, 0.5) + g(x, y)"
    written = f"{_p(_substitute(src, {'x': 'y', 'y': 'x'}))} * {_p(_substitute(src, {'x': 'x', 'y': '(0.5)'}))} + {_p(src)}"
    f, g = gradcli.compile(program), gradcli.compile(written)
    value = value_at(f, point)
    assume(moderate(value))
    assert value == value_at(g, point) or close(value, value_at(g, point), rtol=1e-14, atol=1e-300), (program, written)
    got = {k: gradient(f, point, mode) for k, mode in (("r", "reverse"), ("f", "forward"))}
    want = gradient(g, point)
    assume(moderate(*want.values()))
    expr = to_sympy(written)
    scale = 1.0 + max(abs(v) for v in want.values())
    for name, sym in (("x", X), ("y", Y)):
        exact = sympy_at(sympy.diff(expr, sym), point)
        for k in ("r", "f"):
            assert close(got[k][name], want[name], rtol=1e-12, atol=1e-13 * scale), (program, name, k)
            assert close(got[k][name], exact, rtol=1e-8, atol=1e-9 * scale), (program, name, k, exact)
