"""Taylor rules: how a primitive maps truncated Taylor series of its arguments to its own (engine/taylor.py).

A value carries d + 1 coefficients, stacked on a leading axis: x(t) = Σ x_k t^k, an array of shape (d+1, *shape)
(with a direction axis after it when many directions travel in one pass). A rule is called once per tape
instruction, `rule(args, out, param, ctx)`, with the coefficient arrays of its arguments and its own (still
empty) one, and returns a stepper: `step(k)` gives coefficient k, reading only coefficients 0..k of the
arguments and 0..k−1 of the output. That one form serves the tape (arguments complete, k = 0..d in turn)
and the partials a rule is derived from (engine/taylor.py advances those one coefficient behind), so every
rule is O(d) per coefficient, O(d²) in all. Elementwise rules get their arguments aligned to the output's
number of axes, so coefficient k of each broadcasts against the others.

Rules here are the explicit ones: the table entries name them (`taylor=`). Elementwise primitives without
one get theirs from their partials (the ODE recurrence, engine/taylor.py); a primitive with neither has no
Taylor rule, and derivatives of high order fall back to nesting the first-order transform.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .core import NoTaylorRule

__all__ = ["Context", "NoTaylorRule", "Stepper"]  # NoTaylorRule lives in core (start-up path), raised here

Stepper = Callable[[int], np.ndarray]


@dataclass(frozen=True)
class Context:
    """What a rule may need besides its arguments: the degree, the direction axes, which arguments are constant."""

    degree: int
    lead: int  # direction axes after the coefficient axis (0 or 1)
    constant: tuple[bool, ...]  # argument i has no terms beyond its value (its coefficients 1..d are 0)
    op: str = ""


def dot0(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ_j a[j]·b[j] over the leading (coefficient) axis."""
    if a.ndim == 1 and b.ndim == 1:
        return np.dot(a, b)
    return np.sum(a * b, axis=0)


def conv(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """Coefficient k of a product of series: Σ_{j=0..k} a_j b_{k−j}."""
    return dot0(a[: k + 1], b[k::-1])


def _weights(k: int, like: np.ndarray) -> np.ndarray:
    return np.arange(1.0, k + 1.0).reshape((k,) + (1,) * (like.ndim - 1))


def ode_term(u: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    """Coefficient k of y where y' = g·u' and y_0 is known: (1/k) Σ_{j=1..k} j·u_j·g_{k−j}."""
    return dot0(_weights(k, u) * u[1 : k + 1], g[k - 1 :: -1] if k > 1 else g[:1]) / k


# -- rules -------------------------------------------------------------------------------------------


def linear(fn: Callable[..., Any]) -> Callable[..., Stepper]:
    """A primitive linear in all its arguments together (add, sub, neg): coefficient k is fn of the arguments' k-th."""

    def rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
        return lambda k: fn(*(a[k] for a in args))

    return rule


def mul_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    a, b = args
    ca, cb = ctx.constant
    if ca:
        return lambda k: a[0] * b[k]
    if cb:
        return lambda k: a[k] * b[0]
    return lambda k: conv(a, b, k)


def div_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """y = a/b: b·y = a, so y_k = (a_k − Σ_{j=1..k} b_j y_{k−j}) / b_0."""
    a, b = args
    if ctx.constant[1]:
        return lambda k: a[k] / b[0]

    def step(k: int) -> np.ndarray:
        if k == 0:
            return a[0] / b[0]
        return (a[k] - dot0(b[1 : k + 1], out[k - 1 :: -1] if k > 1 else out[:1])) / b[0]

    return step


def trig_pair(
    first: Callable[..., Any], second: Callable[..., Any], sign: float, sign_out: float = 1.0
) -> Callable[..., Stepper]:
    """sin/cos and sinh/cosh: y' = sign_out·w·u' and w' = sign·y·u' for the companion w, carried together."""

    def rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
        (u,) = args
        other = np.empty_like(out)

        def step(k: int) -> np.ndarray:
            if k == 0:
                other[0] = second(u[0])
                return first(u[0])
            other[k] = sign * ode_term(u, out, k)
            return sign_out * ode_term(u, other, k)

        return step

    return rule


def pow_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """x^c for a constant c: x·y' = c·y·x', so y_k = (1/(k x_0)) Σ_{j=0..k−1} (c(k−j) − j) x_{k−j} y_j.
    At x_0 = 0 only a nonnegative integer c (by repeated products); x^y with y moving: exp(y·log x)."""
    x, c = args
    if not ctx.constant[1]:
        return _pow_varying(x, c, out, ctx)
    c0 = c[0]
    state: dict[str, Any] = {}

    def step(k: int) -> np.ndarray:
        if k == 0:
            x0 = x[0]
            with np.errstate(all="ignore"):
                value = np.power(x0, c0)
            zero = np.asarray(x0 == 0)
            if np.any(zero):
                cs = np.unique(np.asarray(c0, dtype=float))
                if cs.size != 1 or not (cs[0] >= 0 and cs[0] == math.floor(cs[0]) and cs[0] <= 64):
                    raise NoTaylorRule("pow", "a base of 0 with a non-integer or negative exponent")
                state["power"] = int(cs[0])
            return value
        n = state.get("power")
        if n == 2 or (n is None and np.ndim(c0) == 0 and float(c0) == 2.0):
            return conv(x, x, k)
        if n is not None:
            return _integer_power(x, n, k)
        j = np.arange(k, dtype=float).reshape((k,) + (1,) * (x.ndim - 1))
        y_k = dot0((c0 * (k - j) - j) * x[k:0:-1], out[:k]) / (k * x[0])
        if k == 1:
            with np.errstate(all="ignore"):
                state["tiny"] = (x[0] != 0) & (np.abs(x[0]) < 1) & (np.abs(out[0]) < 1e-200)
        if np.any(state["tiny"]):
            y_k = np.where(state["tiny"], _scaled_power(x, c0, k, state), y_k)
        return y_k

    return step


def _scaled_power(x: np.ndarray, c: Any, k: int, state: dict[str, Any]) -> np.ndarray:
    """Coefficient k of x^c where x_0^c underflows (y_0 = 0 would zero every y_k of the recurrence).

    With t = x_0·τ, x = x_0·(1 + Σ ŵ_j τ^j), ŵ_j = x_j·x_0^(j−1): z = (1 + ŵ)^c has O(1) coefficients by the
    same recurrence (base 1), and y_k = x_0^(c−k)·z_k, one power that is representable when y_k is."""
    with np.errstate(all="ignore"):
        x0 = np.where(state["tiny"], x[0], 1.0)
        if "z" not in state:  # filled a coefficient at a time: inside a partial's tape x runs one step ahead only
            w = np.zeros(x.shape[:1] + np.shape(x0))
            state["z"] = (w, np.zeros_like(w))
            w[0] = state["z"][1][0] = 1.0
        w, zs = state["z"]
        w[k] = x[k] * x0 ** (k - 1)
        j = np.arange(k, dtype=float).reshape((k,) + (1,) * (w.ndim - 1))
        zs[k] = dot0((c * (k - j) - j) * w[k:0:-1], zs[:k]) / k
        return np.power(x0, c - k) * zs[k]


def _integer_power(x: np.ndarray, n: int, k: int) -> np.ndarray:
    """Coefficient k of x^n by repeated products (x_0 may be 0): recomputed from scratch, O(n·k²); n ≤ 64."""
    if n == 0:
        return np.zeros_like(x[0])
    acc = x[: k + 1].copy()
    for _ in range(n - 1):
        acc = np.stack([conv(acc, x, m) for m in range(k + 1)])
    return acc[k]


def _pow_varying(x: np.ndarray, c: np.ndarray, out: np.ndarray, ctx: Context) -> Stepper:
    log_x = np.empty(np.broadcast_shapes(x.shape, c.shape))
    z = np.empty_like(log_x)

    def step(k: int) -> np.ndarray:
        if k == 0:
            if np.any(x[0] <= 0):
                raise NoTaylorRule("pow", "x^y with a moving exponent needs a positive base")
            log_x[0] = np.log(x[0])
            z[0] = c[0] * log_x[0]
            return np.power(x[0], c[0])
        # log x: x·(log x)' = x', so (log x)_k = (x_k − (1/k) Σ_{j=1..k−1} j (log x)_j x_{k−j}) / x_0
        inner = dot0(_weights(k - 1, log_x) * log_x[1:k], x[k - 1 : 0 : -1]) / k if k > 1 else 0.0
        log_x[k] = (x[k] - inner) / x[0]
        z[k] = conv(c, log_x, k)
        return ode_term(z, out, k)

    return step


def where_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """The branch taken at the point, coefficient by coefficient (the condition is piecewise constant)."""
    c, a, b = args
    return lambda k: np.where(np.real(c[0]) != 0, a[k], b[k])


def known_derivatives(derivative: Callable[[int, np.ndarray, Hashable], np.ndarray]) -> Callable[..., Stepper]:
    """y = f(u) from f's derivatives at u_0 (the polygamma family): y = Σ_j f^(j)(u_0)/j! (u − u_0)^j,
    the powers of u − u_0 carried along; O(d³), for functions whose derivatives form no finite recurrence."""

    def rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
        (u,) = args
        powers: list[np.ndarray] = []  # powers[j-1][k]: coefficient k of (u − u_0)^j
        taylor: list[np.ndarray] = []  # f^(j)(u_0)/j!

        def step(k: int) -> np.ndarray:
            if k == 0:
                return derivative(0, u[0], param)
            taylor.append(derivative(k, u[0], param) / math.factorial(k))
            powers.append(np.zeros((ctx.degree + 1, *np.broadcast_shapes(u.shape[1:], out.shape[1:]))))
            for j in range(1, k + 1):  # (u−u_0)^j has its first term at t^j
                p = powers[j - 1]
                p[k] = u[k] if j == 1 else dot0(u[1 : k - j + 2], powers[j - 2][k - 1 : j - 2 : -1])
            return sum(taylor[j - 1] * powers[j - 1][k] for j in range(1, k + 1))

        return step

    return rule


def polygamma_derivative(j: int, x: np.ndarray, n: Hashable) -> np.ndarray:
    """The j-th derivative of polygamma(n) (digamma: n = None, i.e. 0) at x."""
    import scipy.special

    return scipy.special.polygamma((n or 0) + j, x)


def polygamma_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """digamma and polygamma(n): from their derivatives at the point."""
    return known_derivatives(polygamma_derivative)(args, out, param, ctx)


# -- arrays: reductions, linear algebra, shapes ------------------------------------------------------


def _axes(x: np.ndarray, lead: int) -> tuple[int, ...]:
    return tuple(range(lead, x.ndim))


def sum_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    (x,) = args
    return lambda k: np.sum(x[k], axis=_axes(x[k], ctx.lead))


def mean_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    (x,) = args
    return lambda k: np.mean(x[k], axis=_axes(x[k], ctx.lead))


def norm_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """√(Σ x²) (over all elements, or along an axis): s = Σ x² by products, then y² = s:
    y_k = (s_k − Σ_{j=1..k−1} y_j y_{k−j}) / (2 y_0)."""
    (x,) = args
    s = np.empty_like(out)

    def step(k: int) -> np.ndarray:
        s[k] = np.sum(conv(x, x, k), axis=_reduced(x[k], ctx.lead, param))
        if k == 0:
            if np.any(s[0] == 0):
                raise NoTaylorRule(ctx.op, "norm at the origin")
            return np.sqrt(s[0])
        inner = dot0(out[1:k], out[k - 1 : 0 : -1]) if k > 1 else 0.0
        return (s[k] - inner) / (2.0 * out[0])

    return step


def _lse_steps(x: np.ndarray, lead: int, param: Hashable) -> tuple[np.ndarray, Stepper]:
    """y = log Σ exp(x) with the reduced axes kept: with e = exp(x − y_0) (a series per element) and s = Σ e,
    y = y_0 + log s, s_0 = 1. Returns y's coefficients (filled as the stepper runs) and the stepper."""
    e = np.empty(x.shape)
    axes = _reduced(x[0], lead, param)
    kept = x.shape[:1] + tuple(1 if i in axes else n for i, n in enumerate(x.shape[1:]))
    s = np.empty(kept)
    logs = np.empty(kept)

    def step(k: int) -> np.ndarray:
        if k == 0:
            x0 = x[0]
            m = np.max(x0, axis=axes, keepdims=True)
            m = np.where(np.isfinite(m), m, 0.0)
            logs[0] = m + np.log(np.sum(np.exp(x0 - m), axis=axes, keepdims=True))
            e[0] = np.exp(x0 - logs[0])
            s[0] = np.sum(e[0], axis=axes, keepdims=True)
            return logs[0]
        e[k] = ode_term(x, e, k)
        s[k] = np.sum(e[k], axis=axes, keepdims=True)
        inner = dot0(_weights(k - 1, logs) * logs[1:k], s[k - 1 : 0 : -1]) / k if k > 1 else 0.0
        logs[k] = (s[k] - inner) / s[0]
        return logs[k]

    return logs, step


def logsumexp_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    (x,) = args
    _, step = _lse_steps(x, ctx.lead, param)
    axes = _reduced(x[0], ctx.lead, param)
    return lambda k: np.squeeze(step(k), axis=axes)


def logsoftmax_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """x − logsumexp(x), coefficient by coefficient."""
    (x,) = args
    _, step = _lse_steps(x, ctx.lead, param)
    return lambda k: x[k] - step(k)


def softmax_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """exp(logsoftmax(x)): y' = y·l', the exp recurrence on l's series."""
    (x,) = args
    _, lse = _lse_steps(x, ctx.lead, param)
    ls = np.empty(x.shape)

    def step(k: int) -> np.ndarray:
        ls[k] = x[k] - lse(k)
        return np.exp(ls[0]) if k == 0 else ode_term(ls, out, k)

    return step


def prod_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """Π x over all elements or along an axis, as running products of series: p_i = p_{i−1}·x_i, O(n) series
    products per coefficient (zeros are no special case)."""
    (x,) = args
    axes = _reduced(x[0], ctx.lead, param)
    # the reduced axes last, flattened: element i of the product is xs[..., i]
    moved = np.moveaxis(x, [a + 1 for a in axes], list(range(-len(axes), 0)))
    xs = moved.reshape(moved.shape[: moved.ndim - len(axes)] + (-1,))
    n = xs.shape[-1]
    run = np.zeros(xs.shape)  # run[..., i]: the product of elements 0..i

    def step(k: int) -> np.ndarray:
        if n == 0:
            return np.ones(out.shape[1:]) if k == 0 else np.zeros(out.shape[1:])
        run[k, ..., 0] = xs[k, ..., 0]
        for i in range(1, n):
            run[k, ..., i] = conv(run[..., i - 1], xs[..., i], k)
        return run[k, ..., n - 1]

    return step


def scan_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """y_i = a_i·y_{i−1} + b_i (prod's running products): coefficient k is the same recurrence with a's value,
    driven by b_k + Σ_{j=1..k} a_j·y_{i−1,k−j}, so zeros are no special case here either."""
    a, b = args
    scan, shift = _forward("scan"), _forward("shift")
    back = (param[0], -1 if param[1] else 1)  # type: ignore[index]

    def step(k: int) -> np.ndarray:
        drive = b[k]
        if not ctx.constant[0]:
            for j in range(1, k + 1):
                drive = drive + a[j] * _per_direction(shift, [out[k - j]], back, ctx.lead)
        return _per_direction(scan, [a[0], drive], param, ctx.lead)

    return step


def _einsum_spec(ndim_a: int, ndim_b: int, lead: int, dot: bool) -> str:
    """matmul (or dot) of the arrays' own axes, broadcasting over the direction axis: einsum with an ellipsis."""
    na, nb = ndim_a - lead, ndim_b - lead
    if dot:
        return "...i,...i->..."
    a = "...i" if na == 1 else "...mi"
    b = "...i" if nb == 1 else "...ip"
    out = "..." + ("m" if na > 1 else "") + ("p" if nb > 1 else "")
    return f"{a},{b}->{out}"


def bilinear(dot: bool) -> Callable[..., Stepper]:
    """matmul and dot: c_k = Σ_j a_j @ b_{k−j} (one product when a side is constant)."""

    def rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
        a, b = args
        if ctx.lead == 0 and not dot:
            mm: Callable[..., np.ndarray] = np.matmul
        elif ctx.lead == 0:
            mm = np.dot
        else:
            spec = _einsum_spec(a.ndim - 1, b.ndim - 1, ctx.lead, dot)
            if (a.ndim - 1 - ctx.lead) > 2 or (b.ndim - 1 - ctx.lead) > 2:
                raise NoTaylorRule(ctx.op, "stacked matrices in several directions at once")

            def mm(p: np.ndarray, q: np.ndarray) -> np.ndarray:
                return np.einsum(spec, p, q)

        ca, cb = ctx.constant

        def step(k: int) -> np.ndarray:
            if ca:
                return mm(a[0], b[k])
            if cb:
                return mm(a[k], b[0])
            total = mm(a[0], b[k])
            for j in range(1, k + 1):
                total = total + mm(a[j], b[k - j])
            return total

        return step

    return rule


def stack_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    def step(k: int) -> np.ndarray:
        items = [a[k] for a in args]
        if ctx.lead:
            shape = np.broadcast_shapes(*(i.shape for i in items))
            items = [np.broadcast_to(i, shape) for i in items]
        return np.stack(items, axis=ctx.lead) if items else np.zeros((0,))

    return step


def index_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    (x,) = args
    where = (slice(None),) * ctx.lead + (param,)
    return lambda k: x[k][where]


# -- linear and bilinear maps, by the primitive's own forward function ----------------------------


def _forward(op: str) -> Callable[[list[np.ndarray], Hashable], np.ndarray]:
    """The primitive's forward function, looked up when a rule first runs (the table imports this module)."""
    from . import PRIMITIVES

    prim = PRIMITIVES[op]
    return lambda values, param: np.asarray(prim.apply(values, param))


def _per_direction(
    fn: Callable[[list[np.ndarray], Hashable], np.ndarray], values: list[np.ndarray], param: Hashable, lead: int
) -> np.ndarray:
    """fn of the arrays' own axes; with a direction axis first, once per direction (a size-1 axis broadcasts)."""
    if not lead:
        return fn(values, param)
    n = max(v.shape[0] for v in values)
    return np.stack([fn([v[b if v.shape[0] > 1 else 0] for v in values], param) for b in range(n)])


def linear_in(*positions: int, shape_only: tuple[int, ...] = ()) -> Callable[..., Stepper]:
    """A primitive linear in the arguments at `positions` together (a slice, a transpose, concat, a sum along an
    axis): coefficient k is the primitive applied to their k-th coefficients. Arguments in `shape_only` give a
    shape or an order only (their value at the point serves); any other argument must be constant."""

    def rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
        fn = _forward(ctx.op)
        lin = set(range(len(args))) if not positions else set(positions)
        for i, c in enumerate(ctx.constant):
            if i not in lin and i not in shape_only and not c:
                raise NoTaylorRule(ctx.op, "an argument it is not linear in varies")
        return lambda k: _per_direction(fn, [a[k] if i in lin else a[0] for i, a in enumerate(args)], param, ctx.lead)

    return rule


def bilinear_in(first: int = 0, second: int = 1) -> Callable[..., Stepper]:
    """A primitive linear in each of two arguments separately (outer, kron, tensordot, convolve): the Cauchy
    product c_k = Σ_j f(a_j, b_{k−j}), one term when a side is constant; other arguments give shapes only."""

    def rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
        fn = _forward(ctx.op)
        ca, cb = ctx.constant[first], ctx.constant[second]

        def term(i: int, j: int) -> np.ndarray:
            values = [a[i] if n == first else a[j] if n == second else a[0] for n, a in enumerate(args)]
            return _per_direction(fn, values, param, ctx.lead)

        def step(k: int) -> np.ndarray:
            if ca:
                return term(0, k)
            if cb:
                return term(k, 0)
            return sum((term(j, k - j) for j in range(1, k + 1)), term(0, k))

        return step

    return rule


def constant_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """A result that depends on shapes only (len, size_of): its value, then zeros."""
    fn = _forward(ctx.op)
    return lambda k: _per_direction(fn, [a[0] for a in args], param, ctx.lead) if k == 0 else np.zeros(out.shape[1:])


def sort_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """The permutation that sorts the value (stable, as the first-order rule) applied to every coefficient."""
    (x,) = args
    like = _forward("sort_like")
    return lambda k: _per_direction(like, [x[k], x[0]], param, ctx.lead)


def _reduced(x: np.ndarray, lead: int, param: Hashable) -> tuple[int, ...]:
    """The axes of a coefficient that a reduction with this param (None: all, else (axis,)) reduces."""
    if param is None:
        return _axes(x, lead)
    return (lead + param[0] % (x.ndim - lead),)  # type: ignore[index]


def extreme_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """amax/amin: the elements attaining it at the point, their coefficients averaged (ties share evenly, as the
    first-order rule does)."""
    (x,) = args
    pick = np.max if ctx.op == "amax" else np.min
    state: dict[str, np.ndarray] = {}

    def step(k: int) -> np.ndarray:
        axes = _reduced(x[0], ctx.lead, param)
        if k == 0:
            best = pick(x[0], axis=axes, keepdims=True)
            hit = (x[0] == best).astype(float)
            state["w"] = hit / np.sum(hit, axis=axes, keepdims=True)
            return np.squeeze(best, axis=axes)
        return np.sum(state["w"] * x[k], axis=axes)

    return step


# -- matrix functions: the inverse's series, and what follows from it -----------------------------


def _inverse_series(a: np.ndarray, op: str) -> tuple[np.ndarray, Stepper]:
    """Y = A⁻¹ as a series: A·Y = I, so Y_k = −A_0⁻¹ Σ_{j=1..k} A_j Y_{k−j} (matrices on the last two axes)."""
    y = np.zeros(a.shape[:1] + np.broadcast_shapes(a.shape[1:]))

    def step(k: int) -> np.ndarray:
        if k == 0:
            try:
                y[0] = np.linalg.inv(a[0])
            except np.linalg.LinAlgError:
                raise NoTaylorRule(op, "a singular matrix") from None
            return y[0]
        total = a[1] @ y[k - 1]
        for j in range(2, k + 1):
            total = total + a[j] @ y[k - j]
        y[k] = -(y[0] @ total)
        return y[k]

    return y, step


def inv_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    return _inverse_series(args[0], ctx.op)[1]


def solve_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """X = A⁻¹B: A·X = B, so X_k = A_0⁻¹ (B_k − Σ_{j=1..k} A_j X_{k−j}); a vector B as a one-column matrix."""
    a, b = args
    vector = out.ndim - 1 - ctx.lead == 1
    inv0: dict[str, np.ndarray] = {}

    def col(v: np.ndarray) -> np.ndarray:
        return v[..., None] if vector else v

    def back(v: np.ndarray) -> np.ndarray:
        return v[..., 0] if vector else v

    def step(k: int) -> np.ndarray:
        if k == 0:
            try:
                inv0["y"] = np.linalg.inv(a[0])
            except np.linalg.LinAlgError:
                raise NoTaylorRule(ctx.op, "a singular matrix") from None
        rhs = col(b[k])
        if not ctx.constant[0]:
            for j in range(1, k + 1):
                rhs = rhs - a[j] @ col(out[k - j])
        return back(inv0["y"] @ rhs)

    return step


def _logdet_series(a: np.ndarray, op: str) -> tuple[np.ndarray, Callable[[int], None]]:
    """(log det A)' = tr(A⁻¹ A'), so (log det A)_k = (1/k) Σ_{j=1..k} j·tr(Y_{k−j} A_j) for k ≥ 1 (its value is
    not needed: det and logdet give their own)."""
    y, inv_step = _inverse_series(a, op)
    ld = np.zeros(a.shape[:1] + a.shape[1:-2])

    def step(k: int) -> None:
        inv_step(k)
        if k:
            ld[k] = sum(j * np.trace(y[k - j] @ a[j], axis1=-2, axis2=-1) for j in range(1, k + 1)) / k

    return ld, step


def logdet_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    ld, advance = _logdet_series(args[0], ctx.op)
    fn = _forward(ctx.op)

    def step(k: int) -> np.ndarray:
        advance(k)
        return _per_direction(fn, [args[0][0]], param, ctx.lead) if k == 0 else ld[k]

    return step


def det_rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
    """det' = det·(log det)' for an invertible A (either sign), so det_k = (1/k) Σ j·ld_j·det_{k−j}; at a
    singular A, by interpolation: det(Σ_j A_j t^j) is a polynomial of degree ≤ n·d, so its values at n·d + 1
    roots of unity give its coefficients (one FFT), the first d + 1 being the series (the arguments are
    complete: det is never inside a partial's tape)."""
    a = args[0]
    nonzero = np.flatnonzero(np.any(a.reshape(a.shape[0], -1) != 0, axis=1))
    top = a.shape[-1] * int(nonzero[-1]) if nonzero.size else 0  # det of a polynomial of degree p: degree ≤ n·p
    if np.all(np.linalg.det(a[0]) != 0):
        ld, advance = _logdet_series(a, ctx.op)

        def step(k: int) -> np.ndarray:
            if k > top:  # exactly 0 (the recurrence would leave rounding noise)
                return np.zeros_like(out[k])
            advance(k)
            return np.linalg.det(a[0]) if k == 0 else ode_term(ld, out, k)

        return step
    n, d = a.shape[-1], ctx.degree
    m = n * d + 1
    t = np.exp(2j * np.pi * np.arange(m) / m)
    powers = t[:, None] ** np.arange(d + 1)[None, :]  # (m, d+1)
    values = np.linalg.det(np.tensordot(powers, a, axes=(1, 0)))  # det P(t) at each root: (m, ...)
    coefficients = np.real(np.fft.fft(values, axis=0)[: d + 1]) / m
    coefficients[0] = np.linalg.det(a[0])
    coefficients[top + 1 :] = 0.0
    return lambda k: coefficients[k]


def bessel_rule(kind: str, order: float | None = None) -> Callable[..., Stepper]:
    """A Bessel function from its derivatives at the point (scipy's jvp/yvp/ivp/kvp: J0' = −J1 and its kin
    close on no finite set of series): `order` fixed (j0, k1), or the constant first argument (jv(n, x))."""
    name = {"j": "jvp", "y": "yvp", "i": "ivp", "k": "kvp"}[kind]

    def rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
        import scipy.special

        fn = getattr(scipy.special, name)
        if order is None:
            if not ctx.constant[0]:
                raise NoTaylorRule(ctx.op, "a varying order")
            n, x, constant = args[0][0], args[1], ctx.constant[1:]
        else:
            n, x, constant = np.asarray(order), args[0], ctx.constant
        inner = known_derivatives(lambda j, at, p: fn(n, at, j))
        return inner((x,), out, param, Context(ctx.degree, ctx.lead, constant, ctx.op))

    return rule
