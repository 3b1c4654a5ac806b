"""Linear algebra: matmul and dot, with the internal primitives their VJPs emit."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from ..refs import Ref, op
from ..shapes import Shape
from . import series
from .core import (
    Primitive,
    _linear_jvp,
    _unbroadcast,
)


def _matmul_shape(a: Shape, b: Shape, param: Hashable = None) -> Shape:
    if not a or not b:
        raise ValueError("@ needs arrays, not scalars; use * for scalars")
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ValueError(f"inner dimensions {a2[-1]} and {b2[-2]} differ")
    batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    out = (*batch, a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return tuple(out)


def _as_matrices(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = np.asarray(g)
    if a.ndim == 1:
        g2 = np.expand_dims(g2, -2 if b.ndim > 1 else 0)
    if b.ndim == 1:
        g2 = np.expand_dims(g2, -1)
    return g2, a2, b2


def _matmul_grad_a(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    g2, a2, b2 = _as_matrices(g, a, b)
    return _unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2).reshape(a.shape)


def _matmul_grad_b(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    g2, a2, b2 = _as_matrices(g, a, b)
    return _unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2).reshape(b.shape)


def _dot_shape(a: Shape, b: Shape, param: Hashable = None) -> Shape:
    if len(a) != 1 or len(b) != 1 or a != b:
        raise ValueError("dot takes two vectors of the same length; use @ for matrices")
    return ()


def _matmul_jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref | None:
    a, b = args
    terms = [x for x in ((t[0] @ b) if t[0] is not None else None, (a @ t[1]) if t[1] is not None else None) if x is not None]
    return None if not terms else terms[0] if len(terms) == 1 else terms[0] + terms[1]


def _matmul_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref, Ref]:
    a, b = args
    return op.matmul_grad_a(g, a, b), op.matmul_grad_b(g, a, b)


def _dot_jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref | None:
    a, b = args
    terms = [op.dot(t[0], b) if t[0] is not None else None, op.dot(a, t[1]) if t[1] is not None else None]
    live = [x for x in terms if x is not None]
    return None if not live else live[0] if len(live) == 1 else live[0] + live[1]


def _dot_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref, Ref]:
    a, b = args
    return g * b, g * a


def table() -> list[Primitive]:
    P = Primitive
    return [
        P(
            "matmul",
            2,
            np.matmul,
            jvp=_matmul_jvp,
            vjp=_matmul_vjp,
            shape=_matmul_shape,
            infix="@",
            precedence=2,
            taylor=series.bilinear(dot=False),
        ),
        P(
            "dot",
            2,
            lambda a, b: np.asarray(np.dot(a, b)),
            jvp=_dot_jvp,
            vjp=_dot_vjp,
            shape=_dot_shape,
            syntax="dot",
            taylor=series.bilinear(dot=True),
        ),
        P(
            "matmul_grad_a",
            3,
            _matmul_grad_a,
            jvp=_linear_jvp("matmul_grad_a", (0, 2)),
            shape=lambda g, a, b, param=None: a,
            internal=True,
        ),
        P(
            "matmul_grad_b",
            3,
            _matmul_grad_b,
            jvp=_linear_jvp("matmul_grad_b", (0, 1)),
            shape=lambda g, a, b, param=None: b,
            internal=True,
        ),
    ]
