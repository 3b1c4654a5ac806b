"""Linear algebra: matmul and dot, inv, solve, det, logdet, trace, diag, outer, tensordot, kron,
convolve/correlate, with the internal primitives their VJPs emit.

Matrix functions take one 2-d matrix (no stacks of matrices). A singular matrix is a domain error
(condition number beyond 1/eps), so inv(A) names itself instead of returning inf or garbage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable

import numpy as np

from ...numfmt import format_number
from ..refs import Ref, op
from ..shapes import Shape
from .core import Domain, Primitive, _linear_jvp, _unbroadcast, rule, rule_from


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


# -- matrix functions ----------------------------------------------------------------------


def _square(s: Shape, param: Hashable = None) -> Shape:
    if len(s) != 2 or s[0] != s[1]:
        raise ValueError("needs a square matrix")  # the shape itself: said once, by infer_shape
    return s


def _square_to_scalar(s: Shape, param: Hashable = None) -> Shape:
    _square(s)
    return ()


def _condition(a: np.ndarray) -> float:
    a = np.real(np.asarray(a))
    if a.size == 0:
        return 1.0
    if not np.all(np.isfinite(a)):
        return float("nan")
    s = np.linalg.svd(a, compute_uv=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else float("inf")


def _is_singular(a: np.ndarray, *rest: np.ndarray) -> np.ndarray:
    c = _condition(a)
    return np.asarray(not c * np.finfo(float).eps < 1.0)


SINGULAR = Domain(
    _is_singular,
    lambda a, *rest: f"its matrix is singular (condition number {_condition(a):.3g})",
)


def _safe(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """numpy raises on an exactly singular matrix; the domain rule reports it, so the value is just nan
    (of the last argument's shape: inv(A)'s, solve(A, b)'s)."""

    def f(*xs: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(fn(*xs))
        except np.linalg.LinAlgError:
            return np.full(np.shape(xs[-1]), np.nan)

    return f


def _T(x: Ref) -> Ref:
    return op.transpose(x)


def _solve_shape(a: Shape, b: Shape, param: Hashable = None) -> Shape:
    if len(a) != 2 or a[0] != a[1]:
        raise ValueError("solve(A, b) needs A to be a square matrix")
    if len(b) not in (1, 2) or b[0] != a[0]:
        raise ValueError(f"solve(A, b) needs b of length {a[0]} (a vector) or {a[0]} rows (a matrix)")
    return b


def _solve_jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref | None:
    a, b = args
    if t[0] is None and t[1] is None:
        return None
    rhs = t[1] if t[1] is not None else None
    if t[0] is not None:
        moved = t[0] @ ans
        rhs = -moved if rhs is None else rhs - moved
    return op.solve(a, rhs)


def _solve_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref, Ref]:
    a, b = args
    gb = op.solve(_T(a), g)
    ga = -(op.outer(gb, ans) if len(b.shape) == 1 else gb @ _T(ans))
    return ga, gb


def _cofactor(a: np.ndarray) -> np.ndarray:
    """The cofactor matrix det(A)·A⁻ᵀ, also where A is singular (from the SVD: products of the other
    singular values), so det's gradient exists everywhere."""
    a = np.asarray(a)
    n = a.shape[0]
    if n == 1:
        return np.ones_like(a)
    u, s, vh = np.linalg.svd(a)
    others = np.array([np.prod(np.delete(s, i)) for i in range(n)])
    return np.linalg.det(u) * np.linalg.det(vh) * (u * others) @ vh


def _complex_cofactor(a: np.ndarray) -> np.ndarray:
    return np.linalg.det(a) * np.linalg.inv(a).T


def _cofactor_jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref | None:
    # C = det(A)·A⁻ᵀ: dC = tr(A⁻¹dA)·C − C·dAᵀ·A⁻ᵀ needs A invertible; small A by interpolation instead.
    (a,) = args
    if t[0] is None:
        return None
    n = a.shape[-1] if a.tape.shapes is not None else None
    if n is not None and n <= 6:
        # cof(A + s·T) is a polynomial of degree n − 1 in s, so its slope at 0 is exact from n values (Lagrange
        # weights L_j'(0) at nodes symmetric about 0): no A⁻¹, so singular A too (the Hessian of det there).
        if n == 1:
            return None
        nodes = [j - (n - 1) / 2 for j in range(n)]
        total = None
        for j, tj in enumerate(nodes):
            others = [tm for m, tm in enumerate(nodes) if m != j]
            w = sum(
                math.prod(-tk / (tj - tk) for tk in others if tk != tm) / (tj - tm) for tm in others
            )
            if w != 0:
                term = w * op.cofactor(a + tj * t[0])
                total = term if total is None else total + term
        return total
    inv_t = _T(op.inv(a))
    return op.sum(inv_t * t[0]) * ans - ans @ _T(t[0]) @ inv_t


def _logdet(a: np.ndarray) -> np.ndarray:
    sign, ld = np.linalg.slogdet(a)
    if np.iscomplexobj(a):
        return np.asarray(np.log(sign) + ld)
    return np.asarray(ld if sign > 0 else np.nan)


def _det_not_positive(a: np.ndarray) -> np.ndarray:
    return np.asarray(not np.linalg.slogdet(np.real(a))[0] > 0)


NONPOSITIVE_DET = Domain(
    _det_not_positive,
    lambda a: f"its determinant is {format_number(float(np.linalg.det(a)))}, outside (0, inf)",
)


def _trace_shape(s: Shape, param: Hashable = None) -> Shape:
    if len(s) != 2:
        raise ValueError("trace needs a matrix")
    return ()


def _trace_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref]:
    (a,) = args
    return (g * np.eye(*a.shape),)


def _diag_shape(s: Shape, param: Hashable = None) -> Shape:
    if len(s) == 1:
        return (s[0], s[0])
    if len(s) == 2:
        return (min(s),)
    raise ValueError("diag takes a vector (→ a diagonal matrix) or a matrix (→ its diagonal)")


def _diag_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref]:
    (x,) = args
    if len(x.shape) == 1 or x.shape[0] == x.shape[1]:
        return (op.diag(g),)
    m, n = x.shape
    k = min(m, n)  # diag(g) padded with zero rows or columns to x's shape
    return (op.matmul(op.matmul(np.eye(m, k), op.diag(g)), np.eye(k, n)),)


def _outer_shape(a: Shape, b: Shape, param: Hashable = None) -> Shape:
    if len(a) != 1 or len(b) != 1:
        raise ValueError("outer takes two vectors")
    return (a[0], b[0])


# -- tensordot and kron --------------------------------------------------------------------------


def _tensordot_shape(a: Shape, b: Shape, param: Hashable = None) -> Shape:
    k = param[0]  # type: ignore[index]
    if k < 0:
        raise ValueError(f"tensordot(a, b, k) contracts k axes, so k must be ≥ 0, not {k}")
    if k > len(a) or k > len(b):
        raise ValueError(f"tensordot(a, b, {k}) contracts {k} axes, but a has {len(a)} and b {len(b)}")
    if a[len(a) - k :] != b[:k]:
        raise ValueError(f"tensordot(a, b, {k}) needs the last {k} axes of a to match the first {k} of b")
    return a[: len(a) - k] + b[k:]


def _tensordot(a: np.ndarray, b: np.ndarray, param: Hashable) -> np.ndarray:
    return np.asarray(np.tensordot(a, b, axes=param[0]))  # type: ignore[index]


def _tensordot_grad_a(g: np.ndarray, a: np.ndarray, b: np.ndarray, param: Hashable) -> np.ndarray:
    k = param[0]  # type: ignore[index]
    g = np.broadcast_to(g, np.shape(a)[: np.ndim(a) - k] + np.shape(b)[k:])
    free = np.ndim(a) - k
    return np.asarray(np.tensordot(g, b, axes=(list(range(free, g.ndim)), list(range(k, np.ndim(b))))))


def _tensordot_grad_b(g: np.ndarray, a: np.ndarray, b: np.ndarray, param: Hashable) -> np.ndarray:
    k = param[0]  # type: ignore[index]
    g = np.broadcast_to(g, np.shape(a)[: np.ndim(a) - k] + np.shape(b)[k:])
    free = np.ndim(a) - k
    return np.asarray(np.tensordot(a, g, axes=(list(range(free)), list(range(free)))))


def _kron_shape(a: Shape, b: Shape, param: Hashable = None) -> Shape:
    if len(a) != len(b) or len(a) not in (1, 2):
        raise ValueError("kron takes two vectors or two matrices")
    return tuple(x * y for x, y in zip(a, b))


def _kron_blocks(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """g as blocks: G[i·p + k, j·q + l] → G4[i, k, j, l] (vectors as one-row matrices)."""
    a2, b2 = np.atleast_2d(a), np.atleast_2d(b)
    (m, n), (p, q) = a2.shape, b2.shape
    return np.broadcast_to(g, (m * p, n * q) if np.ndim(a) == 2 else (n * q,)).reshape(m, p, n, q)


def _kron_grad_a(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.einsum("ikjl,kl->ij", _kron_blocks(g, a, b), np.atleast_2d(b))
    return out.reshape(np.shape(a))


def _kron_grad_b(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.einsum("ikjl,ij->kl", _kron_blocks(g, a, b), np.atleast_2d(a))
    return out.reshape(np.shape(b))


# -- convolution -------------------------------------------------------------------------------


def _convolve_shape(a: Shape, b: Shape, param: Hashable = None) -> Shape:
    if len(a) != 1 or len(b) != 1 or not a[0] or not b[0]:
        raise ValueError("convolve takes two nonempty vectors")
    return (a[0] + b[0] - 1,)


def _correlate_shape(a: Shape, v: Shape, param: Hashable = None) -> Shape:
    if len(a) != 1 or len(v) != 1 or not v[0] or v[0] > a[0]:
        raise ValueError("correlate(a, v) takes two vectors, v nonempty and no longer than a")
    return (a[0] - v[0] + 1,)


def _correlate(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.correlate(a, v, "valid")  # real inputs (complex steps: no conjugation wanted)


def _complex_correlate(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    n = len(v)
    return np.array([np.sum(a[k : k + n] * v) for k in range(len(a) - n + 1)])


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
            taylor=rule_from("bilinear", dot=False),
        ),
        P(
            "dot",
            2,
            lambda a, b: np.asarray(np.dot(a, b)),
            jvp=_dot_jvp,
            vjp=_dot_vjp,
            shape=_dot_shape,
            syntax="dot",
            taylor=rule_from("bilinear", dot=True),
        ),
        P(
            "matmul_grad_a",
            3,
            _matmul_grad_a,
            jvp=_linear_jvp("matmul_grad_a", (0, 2)),
            taylor=rule_from("bilinear_in", 0, 2),
            shape=lambda g, a, b, param=None: a,
            internal=True,
        ),
        P(
            "matmul_grad_b",
            3,
            _matmul_grad_b,
            jvp=_linear_jvp("matmul_grad_b", (0, 1)),
            taylor=rule_from("bilinear_in", 0, 1),
            shape=lambda g, a, b, param=None: b,
            internal=True,
        ),
        # -- matrix functions --------------------------------------------------------------------
        P(
            "inv",
            1,
            _safe(np.linalg.inv),
            taylor=rule("inv_rule"),
            jvp=lambda args, ans, t, p: -(ans @ t[0] @ ans),
            vjp=lambda args, ans, g, p: (-(_T(ans) @ g @ _T(ans)),),
            shape=_square,
            domain=(SINGULAR,),
            syntax="inv",
        ),
        P(
            "solve",
            2,
            _safe(np.linalg.solve),
            taylor=rule("solve_rule"),
            jvp=_solve_jvp,
            vjp=_solve_vjp,
            shape=_solve_shape,
            domain=(SINGULAR,),
            syntax="solve",
        ),
        P(
            "det",
            1,
            lambda a: np.asarray(np.linalg.det(a)),
            taylor=rule("det_rule"),
            jvp=lambda args, ans, t, p: op.sum(op.cofactor(args[0]) * t[0]),
            vjp=lambda args, ans, g, p: (g * op.cofactor(args[0]),),
            shape=_square_to_scalar,
            syntax="det",
        ),
        P(
            "cofactor",
            1,
            _cofactor,
            jvp=_cofactor_jvp,
            shape=_square,
            complex_impl=_complex_cofactor,
            internal=True,
            doc="det(A)·inv(A)ᵀ, det's gradient (defined for singular A too)",
        ),
        P(
            "logdet",
            1,
            _logdet,
            taylor=rule("logdet_rule"),
            jvp=lambda args, ans, t, p: op.sum(_T(op.inv(args[0])) * t[0]),
            vjp=lambda args, ans, g, p: (g * _T(op.inv(args[0])),),
            shape=_square_to_scalar,
            domain=(NONPOSITIVE_DET,),
            syntax="logdet",
            doc="log det(A), for det(A) > 0 (as torch.logdet); gradient inv(A)ᵀ",
        ),
        P(
            "trace",
            1,
            lambda a: np.asarray(np.trace(a)),
            taylor=rule_from("linear_in", 0),
            jvp=lambda args, ans, t, p: op.trace(t[0]),
            vjp=_trace_vjp,
            shape=_trace_shape,
            syntax="trace",
        ),
        P(
            "diag",
            1,
            np.diag,
            jvp=lambda args, ans, t, p: op.diag(t[0]),
            vjp=_diag_vjp,
            shape=_diag_shape,
            syntax="diag",
            taylor=rule_from("linear_in", 0),
        ),
        P(
            "outer",
            2,
            np.outer,
            taylor=rule_from("bilinear_in"),
            jvp=_linear_jvp("outer", (0, 1)),
            vjp=lambda args, ans, g, p: (g @ args[1], args[0] @ g),
            shape=_outer_shape,
            syntax="outer",
        ),
        P(
            "tensordot",
            3,
            _tensordot,
            taylor=rule_from("bilinear_in"),
            jvp=_linear_jvp("tensordot", (0, 1)),
            vjp=lambda args, ans, g, p: (op.tensordot_grad_a(g, *args, param=p), op.tensordot_grad_b(g, *args, param=p)),
            shape=_tensordot_shape,
            syntax="tensordot",
            uses_param=True,
            static_from=2,
            doc="tensordot(a, b, k): contracts the last k axes of a with the first k of b",
        ),
        P(
            "tensordot_grad_a",
            3,
            _tensordot_grad_a,
            taylor=rule_from("bilinear_in", 0, 2),
            jvp=_linear_jvp("tensordot_grad_a", (0, 2)),
            shape=lambda g, a, b, param=None: a,
            uses_param=True,
            internal=True,
        ),
        P(
            "tensordot_grad_b",
            3,
            _tensordot_grad_b,
            taylor=rule_from("bilinear_in", 0, 1),
            jvp=_linear_jvp("tensordot_grad_b", (0, 1)),
            shape=lambda g, a, b, param=None: b,
            uses_param=True,
            internal=True,
        ),
        P(
            "kron",
            2,
            np.kron,
            taylor=rule_from("bilinear_in"),
            jvp=_linear_jvp("kron", (0, 1)),
            vjp=lambda args, ans, g, p: (op.kron_grad_a(g, *args), op.kron_grad_b(g, *args)),
            shape=_kron_shape,
            syntax="kron",
        ),
        P(
            "kron_grad_a",
            3,
            _kron_grad_a,
            taylor=rule_from("bilinear_in", 0, 2),
            jvp=_linear_jvp("kron_grad_a", (0, 2)),
            shape=lambda g, a, b, param=None: a,
            internal=True,
        ),
        P(
            "kron_grad_b",
            3,
            _kron_grad_b,
            taylor=rule_from("bilinear_in", 0, 1),
            jvp=_linear_jvp("kron_grad_b", (0, 1)),
            shape=lambda g, a, b, param=None: b,
            internal=True,
        ),
        P(
            "convolve",
            2,
            np.convolve,
            taylor=rule_from("bilinear_in"),
            jvp=_linear_jvp("convolve", (0, 1)),
            vjp=lambda args, ans, g, p: (op.correlate(g, args[1]), op.correlate(g, args[0])),
            shape=_convolve_shape,
            syntax="convolve",
            doc="full discrete convolution, as numpy.convolve",
        ),
        P(
            "correlate",
            2,
            _correlate,
            taylor=rule_from("bilinear_in"),
            jvp=_linear_jvp("correlate", (0, 1)),
            vjp=lambda args, ans, g, p: (op.convolve(g, args[1]), op.correlate(args[0], g)),
            shape=_correlate_shape,
            syntax="correlate",
            complex_impl=_complex_correlate,
            doc="valid-mode cross-correlation, as numpy.correlate (convolve's adjoint)",
        ),
    ]
