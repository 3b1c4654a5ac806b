"""Reductions (sum, mean, prod, norm, logsumexp, amax/amin) over all elements or along one axis, and
softmax/logsoftmax: a JVP/VJP pair each.

An axis is an integer constant (`sum(W, 0)`), so it is the instruction's param (an `Ints`) and the
result's shape is known before evaluation; the axis variants share their partials with the full ones.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from ..refs import Ref, op
from ..shapes import Shape
from .core import Primitive, _linear_jvp, rule, rule_from, scalar


def _logsumexp(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.size == 0:
        return np.asarray(-np.inf)
    m = np.max(np.real(x))
    if not np.isfinite(m):
        return np.asarray(np.log(np.sum(np.exp(x))))
    return np.asarray(m + np.log(np.sum(np.exp(x - m))))


def _sum_jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref:
    return op.sum(t[0])


def _mean_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref]:
    (x,) = args
    return (op.broadcast_like(g, x) / op.size_of(x),)


def _prod_partial(x: Ref, ans: Ref) -> Ref:
    """∂/∂x_k = ∏_{j≠k} x_j, the products before and after x_k: no division, so zeros need no special case and
    every higher derivative (the JVP of this, and so on) is exact too."""
    return _others(x, None)


def _others(x: Ref, axis: int | None) -> Ref:
    """∏ of the other elements along the axis (None: of all elements, in C order), for each element: the exclusive
    running product from the start times the one from the end, two `scan`s (running products) of shifted x."""
    ax = None if axis is None else axis % len(x.shape)
    first, last = _one_hot(x.shape, ax, 0), _one_hot(x.shape, ax, -1)
    before = op.scan(op.shift(x, param=(ax, 1)), Ref(x.tape, x.tape.const(first)), param=(ax, 0))
    after = op.scan(op.shift(x, param=(ax, -1)), Ref(x.tape, x.tape.const(last)), param=(ax, 1))
    return before * after


def _one_hot(shape: Shape, axis: int | None, at: int) -> np.ndarray:
    """Ones at position `at` along the axis (the whole array flattened when None), zeros elsewhere."""
    out = np.zeros(shape)
    if out.size:
        if axis is None:
            out.reshape(-1)[at] = 1.0
        else:
            out[(slice(None),) * axis + (at,)] = 1.0
    return out


# -- scan and shift: running products, and the shifts their derivatives need ------------------


def _axis_first(x: np.ndarray, axis: int | None) -> np.ndarray:
    """x with the scanned axis first (every element on one axis, in C order, when `axis` is None)."""
    x = np.asarray(x)
    return x.reshape(-1) if axis is None else np.moveaxis(x, axis, 0)


def _axis_back(y: np.ndarray, shape: Shape, axis: int | None) -> np.ndarray:
    return y.reshape(shape) if axis is None else np.moveaxis(y, 0, axis)


def _shift(x: np.ndarray, param: Hashable) -> np.ndarray:
    """y_i = x_{i−k} along the axis, zeros shifted in (k = ±1)."""
    axis, k = param  # type: ignore[misc]
    xs = _axis_first(x, axis)
    out = np.zeros(xs.shape, dtype=np.result_type(xs, float))
    if k > 0:
        out[k:] = xs[: xs.shape[0] - k]
    else:
        out[: xs.shape[0] + k] = xs[-k:]
    return _axis_back(out, np.shape(x), axis)


def _scan(a: np.ndarray, b: np.ndarray, param: Hashable) -> np.ndarray:
    """The linear recurrence y_0 = b_0, y_i = a_i·y_{i−1} + b_i along the axis (from its end when reversed).

    Products only, in order (a_0 is never used). When b is zero past the first slice, y is a running product
    b_0·a_1·…·a_i: numpy's cumprod; otherwise a loop over the axis (vectorised over the other axes).
    """
    axis, reverse = param  # type: ignore[misc]
    shape = np.shape(a)
    xs, cs = _axis_first(a, axis), _axis_first(np.broadcast_to(b, shape), axis)
    if reverse:
        xs, cs = xs[::-1], cs[::-1]
    n = xs.shape[0]
    if n and not np.any(cs[1:]):
        y = np.cumprod(np.concatenate([cs[:1], xs[1:]]), axis=0)
    else:
        y = np.empty(xs.shape, dtype=np.result_type(xs, cs, float))
        for i in range(n):
            y[i] = cs[i] if i == 0 else xs[i] * y[i - 1] + cs[i]
    if reverse:
        y = y[::-1]
    return _axis_back(y, shape, axis)


def _scan_shape(a: Shape, b: Shape, param: Hashable = None) -> Shape:
    if a != b:
        raise ValueError("scan's arguments differ in shape")
    return a


def _step(param: Hashable) -> int:
    """The shift that moves y_{i−1} (in the scan's direction) to position i."""
    return -1 if param[1] else 1  # type: ignore[index]


def _scan_jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref | None:
    # dy_i = a_i·dy_{i−1} + (da_i·y_{i−1} + db_i): the same recurrence, driven by the tangents.
    ta, tb = t
    drive = tb
    if ta is not None:
        term = ta * op.shift(ans, param=(param[0], _step(param)))  # type: ignore[index]
        drive = term if drive is None else drive + term
    return None if drive is None else op.scan(args[0], drive, param=param)


def _scan_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref, Ref]:
    # y = L·b with L lower triangular (L_ij = a_{j+1}···a_i): the cotangent of b is Lᵀg, the recurrence run the
    # other way, z_j = g_j + a_{j+1}·z_{j+1}; that of a_i is z_i·y_{i−1}.
    axis, reverse = param  # type: ignore[misc]
    s = _step(param)
    z = op.scan(op.shift(args[0], param=(axis, -s)), g, param=(axis, 1 - reverse))
    return (z * op.shift(ans, param=(axis, s)), z)


def _norm_partial(x: Ref, ans: Ref) -> Ref:
    # Subgradient 0 at the origin, as PyTorch.
    return op.where(op.eq(ans, 0.0), 0.0, x / ans)


def _lse_partial(x: Ref, ans: Ref) -> Ref:
    return op.exp(x - ans)


def _reduction(partial: Callable[[Ref, Ref], Ref]) -> dict[str, Any]:
    """JVP and VJP of a full reduction y = r(x) with elementwise ∂y/∂x = partial(x, y)."""

    def jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref:
        return op.sum(t[0] * partial(args[0], ans))

    def vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref]:
        return (op.broadcast_like(g, args[0]) * partial(args[0], ans),)

    return {"jvp": jvp, "vjp": vjp}


# -- along an axis (param: Ints((axis,))), or over everything (param None) ----------------------


def _ax(param: Hashable) -> int | None:
    return None if param is None else param[0]  # type: ignore[index]


def _reduced_shape(s: Shape, param: Hashable = None) -> Shape:
    if param is None:
        return ()
    ax = _ax(param)
    assert ax is not None
    if not -len(s) <= ax < len(s):
        raise ValueError(f"axis {ax} is out of range for {'a scalar' if not s else f'a {len(s)}-d array'}")
    ax %= len(s)
    return s[:ax] + s[ax + 1 :]


def _reduce(t: Ref, param: Hashable) -> Ref:
    """Σ over what the reduction with this param reduces."""
    return op.sum(t) if param is None else op.sum_axis(t, param=param)


def _expand(g: Ref, like: Ref, param: Hashable) -> Ref:
    """A reduced value (or cotangent) spread back over the elements it came from."""
    return op.broadcast_like(g, like) if param is None else op.expand_axis(g, like, param=param)


def _expand_axis(g: np.ndarray, like: np.ndarray, param: Hashable) -> np.ndarray:
    ax = _ax(param) % np.ndim(like)  # type: ignore[operator]
    g = np.asarray(g)
    if g.ndim == np.ndim(like) - 1:
        g = np.expand_dims(g, ax)
    return np.broadcast_to(g, np.shape(like))


def _along(fn: Callable[..., Any]) -> Callable[..., np.ndarray]:
    return lambda x, param: np.asarray(fn(x, axis=_ax(param)))


def _axis_reduction(partial: Callable[[Ref, Ref, Hashable], Ref]) -> dict[str, Any]:
    """JVP and VJP of y = r(x) over all elements (param None) or along an axis, with
    ∂y/∂x = partial(x, y spread back over what was reduced, param)."""

    def jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref:
        x = args[0]
        return _reduce(t[0] * partial(x, _expand(ans, x, param), param), param)

    def vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref]:
        x = args[0]
        return (_expand(g, x, param) * partial(x, _expand(ans, x, param), param),)

    return {"jvp": jvp, "vjp": vjp, "shape": _reduced_shape, "uses_param": True, "static_from": 1}


def _count(x: Ref, param: Hashable) -> float:
    n = x.shape
    return float(np.prod(n)) if param is None else float(n[_ax(param)])  # type: ignore[index]


def _mean_axis_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref]:
    return (_expand(g, args[0], param) / _count(args[0], param),)


def _prod_axis_partial(x: Ref, ans: Ref, param: Hashable) -> Ref:
    """_prod_partial along an axis: the products before and after each element in its slice."""
    return _others(x, _ax(param))


def _extreme_partial(x: Ref, ans: Ref, param: Hashable) -> Ref:
    """1/k on each of the k elements equal to the max (min) of their slice: ties share evenly, as torch.amax."""
    hit = op.eq(x, ans)
    return hit / _expand(_reduce(hit, param), x, param)


def _extreme_ties(fn: Callable[..., Any]) -> Callable[..., np.ndarray]:
    def singular(x: np.ndarray, param: Hashable) -> np.ndarray:
        x = np.real(np.asarray(x))
        if x.size == 0:
            return np.asarray(False)
        ax = _ax(param)
        hit = x == (fn(x) if ax is None else np.expand_dims(fn(x, axis=ax), ax))
        return np.asarray(np.any(np.sum(hit, axis=ax) > 1))

    return singular


def _extreme(name: str, fn: Callable[..., Any]) -> Primitive:
    def shape(s: Shape, param: Hashable = None) -> Shape:
        if 0 in s:
            raise ValueError(f"{name} of an empty array has no value")
        return _reduced_shape(s, param)

    word = "largest" if name == "amax" else "smallest"
    rules = {**_axis_reduction(_extreme_partial), "shape": shape}
    return Primitive(
        name,
        -1,
        lambda x, param: np.asarray(fn(x, axis=_ax(param))),
        syntax=name,
        call_arities=(1, 2),
        kink=f"an even split of the gradient among elements tied for the {word} (as torch.{name})",
        singular=_extreme_ties(fn),
        taylor=rule("extreme_rule"),
        doc=f"the {word} element ({name}(x)), or along an axis ({name}(x, axis)); {name[1:]}(x) is {name}(x)",
        **rules,
    )


def _softmax(x: np.ndarray, param: Hashable) -> np.ndarray:
    ax = _ax(param)
    m = np.max(np.real(x), axis=ax, keepdims=True) if np.size(x) else 0.0
    e = np.exp(x - np.where(np.isfinite(m), m, 0.0))
    return e / np.sum(e, axis=ax, keepdims=True)


def _logsoftmax(x: np.ndarray, param: Hashable) -> np.ndarray:
    ax = _ax(param)
    m = np.max(np.real(x), axis=ax, keepdims=True) if np.size(x) else 0.0
    z = x - np.where(np.isfinite(m), m, 0.0)
    return z - np.log(np.sum(np.exp(z), axis=ax, keepdims=True))


def _same_shape(s: Shape, param: Hashable = None) -> Shape:
    _reduced_shape(s, param)
    return s


def _softmax_rules() -> dict[str, Any]:
    # s = softmax(x): ds = s·(dx − Σ s·dx), and the VJP is the same map (its Jacobian is symmetric).
    def jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref:
        return ans * (t[0] - _expand(_reduce(ans * t[0], param), ans, param))

    def vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref]:
        return (ans * (g - _expand(_reduce(ans * g, param), ans, param)),)

    return {"jvp": jvp, "vjp": vjp}


def _logsoftmax_rules() -> dict[str, Any]:
    # l = x − logsumexp(x): dl = dx − Σ softmax·dx; the VJP is g − softmax·Σ g.
    def jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref:
        return t[0] - _expand(_reduce(op.exp(ans) * t[0], param), ans, param)

    def vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref]:
        return (g - op.exp(ans) * _expand(_reduce(g, param), ans, param),)

    return {"jvp": jvp, "vjp": vjp}


def _lse_axis(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    m = np.max(np.real(x), axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def table() -> list[Primitive]:
    P = Primitive
    return [
        # -- reductions over all elements ---------------------------------------
        P(
            "sum",
            1,
            lambda x: np.asarray(np.sum(x)),
            jvp=_sum_jvp,
            vjp=lambda args, ans, g, p: (op.broadcast_like(g, args[0]),),
            shape=scalar,
            syntax="sum",
            taylor=rule("sum_rule"),
        ),
        P(
            "mean",
            1,
            lambda x: np.asarray(np.mean(x)),
            jvp=lambda args, ans, t, p: op.mean(t[0]),
            vjp=_mean_vjp,
            shape=scalar,
            syntax="mean",
            taylor=rule("mean_rule"),
        ),
        P(
            "prod",
            1,
            lambda x: np.asarray(np.prod(x)),
            taylor=rule("prod_rule"),
            shape=scalar,
            syntax="prod",
            **_reduction(_prod_partial),
        ),
        P(
            "norm",
            1,
            lambda x: np.asarray(np.sqrt(np.sum(np.square(x)))),
            shape=scalar,
            syntax="norm",
            sign="nonnegative",
            kink="norm'(0) = 0",
            singular=lambda x: np.asarray(np.all(x == 0)),
            taylor=rule("norm_rule"),
            **_reduction(_norm_partial),
        ),
        P(
            "logsumexp",
            1,
            _logsumexp,
            shape=scalar,
            syntax="logsumexp",
            taylor=rule("logsumexp_rule"),
            **_reduction(_lse_partial),
        ),
        # -- along an axis: sum(W, 0) ---------------------------------------------------------------
        P(
            "sum_axis",
            2,
            _along(np.sum),
            taylor=rule_from("linear_in", 0),
            jvp=lambda args, ans, t, p: op.sum_axis(t[0], param=p),
            vjp=lambda args, ans, g, p: (op.expand_axis(g, args[0], param=p),),
            shape=_reduced_shape,
            syntax="sum",
            uses_param=True,
            static_from=1,
        ),
        P(
            "mean_axis",
            2,
            _along(np.mean),
            taylor=rule_from("linear_in", 0),
            jvp=lambda args, ans, t, p: op.mean_axis(t[0], param=p),
            vjp=_mean_axis_vjp,
            shape=_reduced_shape,
            syntax="mean",
            uses_param=True,
            static_from=1,
        ),
        P("prod_axis", 2, _along(np.prod), syntax="prod", taylor=rule("prod_rule"), **_axis_reduction(_prod_axis_partial)),
        P(
            "norm_axis",
            2,
            _along(lambda x, axis: np.sqrt(np.sum(np.square(x), axis=axis))),
            taylor=rule("norm_rule"),
            syntax="norm",
            sign="nonnegative",
            kink="norm'(0) = 0",
            singular=lambda x, p: np.asarray(np.any(np.all(x == 0, axis=_ax(p)))),
            **_axis_reduction(lambda x, ans, p: _norm_partial(x, ans)),
        ),
        P(
            "logsumexp_axis",
            2,
            _along(_lse_axis),
            syntax="logsumexp",
            taylor=rule("logsumexp_rule"),
            **_axis_reduction(lambda x, ans, p: _lse_partial(x, ans)),
        ),
        P(
            "scan",
            2,
            _scan,
            taylor=rule("scan_rule"),
            jvp=_scan_jvp,
            vjp=_scan_vjp,
            shape=_scan_shape,
            uses_param=True,
            internal=True,
            doc="y_i = a_i·y_(i−1) + b_i along an axis (param (axis or None for all, reversed)): prod's running products",
        ),
        P(
            "shift",
            1,
            _shift,
            taylor=rule_from("linear_in", 0),
            jvp=lambda args, ans, t, p: op.shift(t[0], param=p),
            vjp=lambda args, ans, g, p: (op.shift(g, param=(p[0], -p[1])),),
            shape=lambda s, param=None: s,
            uses_param=True,
            internal=True,
            doc="x moved one place along an axis (param (axis or None for all, ±1)), a zero shifted in",
        ),
        P(
            "expand_axis",
            2,
            _expand_axis,
            taylor=rule_from("linear_in", 0, shape_only=(1,)),
            jvp=_linear_jvp("expand_axis", (0,)),
            vjp=lambda args, ans, g, p: (op.sum_axis(g, param=p), None),
            shape=lambda g, like, param=None: like,
            uses_param=True,
            internal=True,
            doc="a value reduced along an axis, repeated back along it",
        ),
        _extreme("amax", np.max),
        _extreme("amin", np.min),
        P(
            "softmax",
            -1,
            _softmax,
            taylor=rule("softmax_rule"),
            shape=_same_shape,
            syntax="softmax",
            uses_param=True,
            static_from=1,
            call_arities=(1, 2),
            doc="exp(x)/Σ exp(x) over all elements, or along an axis",
            **_softmax_rules(),
        ),
        P(
            "logsoftmax",
            -1,
            _logsoftmax,
            taylor=rule("logsoftmax_rule"),
            shape=_same_shape,
            syntax="logsoftmax",
            uses_param=True,
            static_from=1,
            call_arities=(1, 2),
            doc="x − logsumexp(x) over all elements, or along an axis",
            **_logsoftmax_rules(),
        ),
    ]
