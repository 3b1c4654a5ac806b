"""Shape plumbing: vector literals, row indexing, and the broadcasting a derivative needs."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from ..refs import Ref, op
from ..shapes import Shape
from .core import (
    Primitive,
    _linear_jvp,
    _or_zero,
    _unbroadcast,
    _zero,
    _zeros,
    scalar,
)


def _stack_shape(*shapes: Shape, param: Hashable = None) -> Shape:
    if len(set(shapes)) > 1:  # as numpy: [[1, 2], [3]] is ragged, not broadcast
        raise ValueError("the items of a vector literal must all have the same shape")
    return (len(shapes), *shapes[0]) if shapes else (0,)


def _stack(*xs: np.ndarray) -> np.ndarray:
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


def table() -> list[Primitive]:
    P = Primitive
    return [
        P("stack", -1, _stack, jvp=_stack_jvp, vjp=_stack_vjp, shape=_stack_shape, doc="a vector literal [a, b, …]"),
        P(
            "unbroadcast",
            2,
            _unbroadcast,
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
            jvp=_linear_jvp("broadcast_like", (0,)),
            vjp=lambda args, ans, g, p: (op.unbroadcast(g, args[0]), None),
            shape=lambda h, ref, param=None: ref,
            internal=True,
        ),
        P("size_of", 1, lambda x: np.asarray(float(np.size(x))), _zero(1), shape=scalar, internal=True),
        P(
            "index",
            1,
            lambda x, k: x[k],
            jvp=_linear_jvp("index", (0,)),
            vjp=_index_vjp,
            shape=_index_shape,
            uses_param=True,
            internal=True,
        ),
    ]
