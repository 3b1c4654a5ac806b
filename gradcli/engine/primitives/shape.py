"""Shape plumbing: vector literals, indexing and slicing, and the broadcasting a derivative needs."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from ..refs import Ref, op
from ..shapes import Shape
from .core import MAX_AXES, Primitive, TooManyAxes, _linear_jvp, _or_zero, _unbroadcast, _zero, _zeros, rule, rule_from, scalar


def _too_many_axes(ndim: int) -> TooManyAxes:
    return TooManyAxes(f"arrays have at most {MAX_AXES} axes, and this vector literal nests deeper ({ndim} or more levels)")


def _stack_shape(*shapes: Shape, param: Hashable = None) -> Shape:
    if len(set(shapes)) > 1:  # as numpy: [[1, 2], [3]] is ragged, not broadcast
        raise ValueError("the items must all have the same shape")  # [a, b] or stack(a, b)
    if shapes and len(shapes[0]) >= MAX_AXES:
        raise _too_many_axes(len(shapes[0]) + 1)
    return (len(shapes), *shapes[0]) if shapes else (0,)


def _stack(*xs: np.ndarray) -> np.ndarray:
    if xs and np.ndim(xs[0]) >= MAX_AXES:
        raise _too_many_axes(np.ndim(xs[0]) + 1)
    return np.stack(xs) if xs else np.zeros(0)


def _index_shape(s: Shape, param: Hashable = None) -> Shape:
    return s[1:]


def _stack_jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref | None:
    if all(x is None for x in t):
        return None
    return op.stack(*(_or_zero(x, a) for x, a in zip(t, args)))


def _stack_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref | None, ...]:
    # A constant element gets no cotangent: a literal of 10⁶ numbers and one x costs one index, not 10⁶.
    return tuple(
        None if a.tape.ops[a.i] == "const" else op.unbroadcast(op.index(g, param=k), a) for k, a in enumerate(args)
    )


def _index_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref]:
    """x[k]'s cotangent back into x: g at row k, zeros elsewhere (a vector literal of rows)."""
    (x,) = args
    zero = _zeros(ans)
    return (op.stack(*(g if j == param else zero for j in range(x.shape[0]))),)


# -- indexing and slicing (numpy basic indexing) ------------------------------------------------------
# The param is one entry per indexed axis: an int k (negative from the end), or a (start, stop, step)
# triple with None for numpy's defaults. It is hashable, so x[1:] written twice is one instruction.

Subscript = tuple[int | tuple[int | None, int | None, int | None], ...]


def subscript_key(param: Subscript) -> tuple[int | slice, ...]:
    return tuple(k if isinstance(k, int) else slice(*k) for k in param)


def subscript_text(param: Subscript) -> str:
    """`1:`, `:, 0`, `::2`: the subscript as it would be typed."""
    parts = []
    for k in param:
        if isinstance(k, int):
            parts.append(str(k))
            continue
        a, b, c = ("" if v is None else str(v) for v in k)
        parts.append(f"{a}:{b}" + (f":{c}" if c else ""))
    return ", ".join(parts)


def _getitem_shape(s: Shape, param: Subscript = ()) -> Shape:
    """The shape x[param] has, checked before anything is evaluated (IndexError: out of range)."""
    if len(param) > len(s):
        axes = f"{len(s)} ax{'i' if len(s) == 1 else 'e'}s" if s else "no axes (a scalar)"
        raise IndexError(f"too many indices: {len(param)} for a value with {axes}")
    out: list[int] = []
    for axis, (k, n) in enumerate(zip(param, s)):
        if isinstance(k, int):
            if not -n <= k < n:
                raise IndexError(f"index {k} is out of range for axis {axis} of size {n} (valid: {-n} to {n - 1})")
        else:
            out.append(len(range(n)[slice(*k)]))
    return (*out, *s[len(param) :])


def _getitem(x: np.ndarray, param: Subscript) -> np.ndarray:
    return np.asarray(x)[subscript_key(param)]


def _scatter(g: np.ndarray, like: np.ndarray, param: Subscript) -> np.ndarray:
    """zeros like `like` with g placed at [param]: the transpose of x[param] (basic indexing never repeats
    an element, so placing is adding)."""
    out = np.zeros(np.shape(like), dtype=np.result_type(g, like, float))
    out[subscript_key(param)] = g
    return out


def _len(x: np.ndarray) -> np.ndarray:
    return np.asarray(float(np.shape(x)[0]))


def _len_shape(s: Shape, param: Hashable = None) -> Shape:
    if not s:
        raise IndexError("len() of a scalar: it has no axes")
    return ()


def table() -> list[Primitive]:
    P = Primitive
    return [
        P(
            "stack",
            -1,
            _stack,
            jvp=_stack_jvp,
            vjp=_stack_vjp,
            shape=_stack_shape,
            syntax="stack",
            call_arities=tuple(range(1, 11)),
            doc="a vector literal [a, b, …], or stack(a, b, …)",
            taylor=rule("stack_rule"),
        ),
        P(
            "unbroadcast",
            2,
            _unbroadcast,
            taylor=rule_from("linear_in", 0, shape_only=(1,)),
            jvp=_linear_jvp("unbroadcast", (0,)),
            vjp=lambda args, ans, g, p: (op.broadcast_like(g, args[0]), None),
            shape=lambda g, ref, param=None: ref,
            internal=True,
            doc="sum over broadcast axes to the shape of arg 2",
        ),
        P(
            "broadcast_like",
            2,
            lambda h, ref: np.broadcast_to(h, np.shape(ref)),
            taylor=rule_from("linear_in", 0, shape_only=(1,)),
            jvp=_linear_jvp("broadcast_like", (0,)),
            vjp=lambda args, ans, g, p: (op.unbroadcast(g, args[0]), None),
            shape=lambda h, ref, param=None: ref,
            internal=True,
        ),
        P(
            "size_of",
            1,
            lambda x: np.asarray(float(np.size(x))),
            _zero(1),
            shape=scalar,
            internal=True,
            taylor=rule("constant_rule"),
        ),
        P(
            "index",
            1,
            lambda x, k: x[k],
            jvp=_linear_jvp("index", (0,)),
            vjp=_index_vjp,
            shape=_index_shape,
            taylor=rule("index_rule"),
            uses_param=True,
            internal=True,
        ),
        P(
            "getitem",
            1,
            _getitem,
            taylor=rule_from("linear_in", 0),
            jvp=lambda args, ans, t, p: op.getitem(t[0], param=p),
            vjp=lambda args, ans, g, p: (op.scatter(g, args[0], param=p),),
            shape=_getitem_shape,
            uses_param=True,
            doc="x[i, a:b:c]: numpy basic indexing with constant integers",
        ),
        P(
            "scatter",
            2,
            _scatter,
            taylor=rule_from("linear_in", 0, shape_only=(1,)),
            jvp=lambda args, ans, t, p: None if t[0] is None else op.scatter(t[0], args[1], param=p),
            vjp=lambda args, ans, g, p: (op.getitem(g, param=p), None),
            shape=lambda g, like, param=None: like,
            uses_param=True,
            internal=True,
            doc="zeros shaped like arg 2 with arg 1 at [param]: the transpose of getitem",
        ),
        P(
            "len",
            1,
            _len,
            _zero(1),
            shape=_len_shape,
            syntax="len",
            taylor=rule("constant_rule"),
            doc="the length of the first axis",
        ),
    ]
