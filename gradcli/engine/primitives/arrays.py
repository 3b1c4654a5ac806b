"""Array plumbing users call: transpose, reshape, flatten, concat, cumsum, sort, flip, tril/triu — each a linear map
(a permutation, a copy, a running sum), so its VJP is the adjoint map and its JVP the map itself.

Axis and size arguments are integer constants (`Primitive.static_from`): `Ints` params, so every
shape is known before evaluation.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from ..refs import Ref, op
from ..shapes import Shape
from .core import Ints, Primitive, _linear_jvp, _or_zero, rule, rule_from

MAX_PARTS = 10  # concat(a, b, …) and stack(a, b, …) take up to this many arrays (nest calls for more)


def _axis(ndim: int, param: Hashable, name: str) -> int:
    """The one axis in `param` (an Ints), made nonnegative; None means the last axis."""
    ax = -1 if param is None else param[0]  # type: ignore[index]
    if not -ndim <= ax < ndim:
        raise ValueError(f"axis {ax} is out of range for {_dims(ndim)} ({name})")
    return ax % ndim


def _dims(ndim: int) -> str:
    return "a scalar" if ndim == 0 else f"a {ndim}-d array"


# -- transpose ---------------------------------------------------------------------------------


def _perm(ndim: int, param: Hashable) -> tuple[int, ...]:
    if param is None:
        return tuple(range(ndim - 1, -1, -1))
    given = tuple(param)  # type: ignore[arg-type]
    axes = tuple(a % ndim for a in given if -ndim <= a < ndim)
    if len(axes) != len(given) or sorted(axes) != list(range(ndim)):
        raise ValueError(f"the axes {tuple(param)} are not a permutation of a {ndim}-d array's axes")  # type: ignore[arg-type]
    return axes


def _transpose_shape(s: Shape, param: Hashable = None) -> Shape:
    return tuple(s[a] for a in _perm(len(s), param))


def _transpose_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref]:
    if param is None:
        return (op.transpose(g),)
    perm = _perm(len(args[0].shape), param)
    return (op.transpose(g, param=Ints(int(k) for k in np.argsort(perm))),)


# -- reshape -----------------------------------------------------------------------------------


def _reshape_shape(s: Shape, param: Hashable = None) -> Shape:
    dims = tuple(param)  # type: ignore[arg-type]
    size = int(np.prod(s))
    free = [k for k, d in enumerate(dims) if d == -1]
    if len(free) > 1 or any(d < -1 for d in dims):
        raise ValueError("sizes must be nonnegative, with at most one -1 (inferred)")
    known = int(np.prod([d for d in dims if d != -1]))
    if free:
        if known == 0 or size % known:
            raise ValueError(f"{size} elements can't be reshaped to {_shape_text(dims)}")
        dims = tuple(size // known if d == -1 else d for d in dims)
    if int(np.prod(dims)) != size:
        raise ValueError(f"{size} elements can't be reshaped to {_shape_text(dims)}")
    return dims


def _shape_text(dims: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, dims)) + (",)" if len(dims) == 1 else ")")


def _back_to(g: Ref, like: Ref) -> Ref:
    return op.reshape(g, param=Ints(like.shape))


# -- concat --------------------------------------------------------------------------------------


def _concat_shape(*shapes: Shape, param: Hashable = None) -> Shape:
    if any(len(s) == 0 for s in shapes):
        raise ValueError("concat joins arrays along their first axis; scalars have none (use [a, b])")
    if len({s[1:] for s in shapes}) > 1:
        raise ValueError("the arrays differ in shape beyond their first axis")
    return (sum(s[0] for s in shapes), *shapes[0][1:])


def _concat_jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref | None:
    if all(x is None for x in t):
        return None
    return op.concat(*(_or_zero(x, a) for x, a in zip(t, args)))


def _concat_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref, ...]:
    out, start = [], 0
    for a in args:
        out.append(op.rows(g, param=Ints((start, start + a.shape[0]))))
        start += a.shape[0]
    return tuple(out)


def _rows_shape(s: Shape, param: Hashable = None) -> Shape:
    start, stop = param  # type: ignore[misc]
    return (stop - start, *s[1:])


# -- cumsum ------------------------------------------------------------------------------------


def _cumsum(x: np.ndarray, param: Hashable) -> np.ndarray:
    return np.cumsum(x) if param is None else np.cumsum(x, axis=param[0])  # type: ignore[index]


def _cumsum_shape(s: Shape, param: Hashable = None) -> Shape:
    if param is None:
        return (int(np.prod(s)),)  # as numpy: flattened
    _axis(len(s), param, "cumsum")
    return s


def _rcumsum(g: np.ndarray, param: Hashable) -> np.ndarray:
    """Σ_{j ≥ i} g_j along the axis: the adjoint of a running sum."""
    ax = param[0]  # type: ignore[index]
    return np.flip(np.cumsum(np.flip(g, ax), axis=ax), ax)


def _cumsum_vjp(args: tuple[Ref, ...], ans: Ref, g: Ref, param: Hashable) -> tuple[Ref]:
    (x,) = args
    if param is None:
        back = op.rcumsum(g, param=Ints((0,)))
        return (back if len(x.shape) == 1 else _back_to(back, x),)
    return (op.rcumsum(g, param=param),)


# -- sort ----------------------------------------------------------------------------------------


def _sort_axis(param: Hashable) -> int:
    return -1 if param is None else param[0]  # type: ignore[index]


def _sort(x: np.ndarray, param: Hashable) -> np.ndarray:
    return np.take_along_axis(x, _order(x, param), axis=_sort_axis(param))


def _order(x: np.ndarray, param: Hashable) -> np.ndarray:
    # Stable, by the real part: the one permutation a value and all its derivatives agree on.
    return np.argsort(np.real(x), axis=_sort_axis(param), kind="stable")


def _sort_shape(s: Shape, param: Hashable = None) -> Shape:
    if not s:
        raise ValueError("sort needs an array")
    _axis(len(s), param, "sort")
    return s


def _sort_like(t: np.ndarray, x: np.ndarray, param: Hashable) -> np.ndarray:
    """t permuted as sorting x permutes x."""
    return np.take_along_axis(np.broadcast_to(t, np.shape(x)), _order(x, param), axis=_sort_axis(param))


def _unsort(g: np.ndarray, x: np.ndarray, param: Hashable) -> np.ndarray:
    """The inverse permutation: g's entries put back where sorting x took them from."""
    out = np.zeros(np.shape(x), dtype=np.result_type(g, x))
    np.put_along_axis(out, _order(x, param), np.broadcast_to(g, np.shape(x)), axis=_sort_axis(param))
    return out


def _ties_along(x: np.ndarray, param: Hashable) -> np.ndarray:
    s = np.sort(np.real(x), axis=_sort_axis(param))
    return np.asarray(np.any(np.diff(s, axis=_sort_axis(param)) == 0))


# -- flip, tril, triu --------------------------------------------------------------------------


def _flip(x: np.ndarray, param: Hashable) -> np.ndarray:
    return np.flip(x, axis=None if param is None else param[0])  # type: ignore[index]


def _flip_shape(s: Shape, param: Hashable = None) -> Shape:
    if param is not None:
        _axis(len(s), param, "flip")
    return s


def _triangle(keep: str) -> Primitive:
    """tril(M, k) / triu(M, k): a fixed 0/1 mask, so the map is its own adjoint."""
    fn = np.tril if keep == "tril" else np.triu

    def shape(s: Shape, param: Hashable = None) -> Shape:
        if len(s) != 2:
            raise ValueError(f"{keep} needs a matrix")
        return s

    return Primitive(
        keep,
        -1,
        lambda x, p: fn(x, 0 if p is None else p[0]),
        jvp=lambda args, ans, t, p: getattr(op, keep)(t[0], param=p),
        vjp=lambda args, ans, g, p: (getattr(op, keep)(g, param=p),),
        shape=shape,
        syntax=keep,
        uses_param=True,
        static_from=1,
        call_arities=(1, 2),
        taylor=rule_from("linear_in", 0),
        doc=f"{keep}(M) or {keep}(M, k): the {'lower' if keep == 'tril' else 'upper'} triangle from diagonal k, as numpy",
    )


def table() -> list[Primitive]:
    P = Primitive
    upto = lambda k: tuple(range(k, MAX_PARTS + 1))  # noqa: E731
    return [
        P(
            "transpose",
            -1,
            lambda x, p: np.transpose(x, None if p is None else tuple(p)),
            taylor=rule_from("linear_in", 0),
            jvp=lambda args, ans, t, p: op.transpose(t[0], param=p),
            vjp=_transpose_vjp,
            shape=_transpose_shape,
            syntax="transpose",
            uses_param=True,
            static_from=1,
            call_arities=(1, 2, 3, 4, 5, 6),
            doc="transpose(W) reverses the axes; transpose(T, 1, 0, 2) permutes them",
        ),
        P(
            "reshape",
            -1,
            lambda x, p: np.reshape(x, tuple(p)),
            taylor=rule_from("linear_in", 0),
            jvp=lambda args, ans, t, p: op.reshape(t[0], param=p),
            vjp=lambda args, ans, g, p: (_back_to(g, args[0]),),
            shape=_reshape_shape,
            syntax="reshape",
            uses_param=True,
            static_from=1,
            call_arities=(2, 3, 4, 5, 6, 7),
            doc="reshape(x, m, n): row-major, as numpy; one size may be -1",
        ),
        P(
            "flatten",
            1,
            lambda x: np.reshape(x, -1),
            taylor=rule_from("linear_in", 0),
            jvp=lambda args, ans, t, p: op.flatten(t[0]),
            vjp=lambda args, ans, g, p: (_back_to(g, args[0]),),
            shape=lambda s, param=None: (int(np.prod(s)),),
            syntax="flatten",
        ),
        P(
            "concat",
            -1,
            lambda *xs: np.concatenate(xs),
            taylor=rule_from("linear_in"),
            jvp=_concat_jvp,
            vjp=_concat_vjp,
            shape=_concat_shape,
            syntax="concat",
            call_arities=upto(1),
            doc="concat(a, b, …) joins arrays along their first axis",
        ),
        P(
            "rows",
            1,
            lambda g, p: g[p[0] : p[1]],
            taylor=rule_from("linear_in", 0),
            jvp=_linear_jvp("rows", (0,)),
            shape=_rows_shape,
            uses_param=True,
            internal=True,
            doc="rows start to stop of the first axis: a concat's cotangent for one part",
        ),
        P(
            "cumsum",
            -1,
            _cumsum,
            taylor=rule_from("linear_in", 0),
            jvp=lambda args, ans, t, p: op.cumsum(t[0], param=p),
            vjp=_cumsum_vjp,
            shape=_cumsum_shape,
            syntax="cumsum",
            uses_param=True,
            static_from=1,
            call_arities=(1, 2),
            doc="running sum, flattened as numpy's unless an axis is given",
        ),
        P(
            "rcumsum",
            1,
            _rcumsum,
            taylor=rule_from("linear_in", 0),
            jvp=_linear_jvp("rcumsum", (0,)),
            shape=lambda s, param=None: s,
            uses_param=True,
            internal=True,
            doc="running sum from the end: cumsum's adjoint",
        ),
        P(
            "sort",
            -1,
            _sort,
            taylor=rule("sort_rule"),
            jvp=lambda args, ans, t, p: op.sort_like(t[0], args[0], param=p),
            vjp=lambda args, ans, g, p: (op.unsort(g, args[0], param=p),),
            shape=_sort_shape,
            syntax="sort",
            uses_param=True,
            static_from=1,
            call_arities=(1, 2),
            kink="the permutation of a stable sort (tied elements keep their order)",
            singular=_ties_along,
            doc="ascending along the last axis (or the axis given)",
        ),
        P(
            "flip",
            -1,
            _flip,
            taylor=rule_from("linear_in", 0),
            jvp=lambda args, ans, t, p: op.flip(t[0], param=p),
            vjp=lambda args, ans, g, p: (op.flip(g, param=p),),
            shape=_flip_shape,
            syntax="flip",
            uses_param=True,
            static_from=1,
            call_arities=(1, 2),
            doc="reversed along every axis, or along the axis given",
        ),
        _triangle("tril"),
        _triangle("triu"),
        P(
            "sort_like",
            2,
            _sort_like,
            taylor=rule_from("linear_in", 0, shape_only=(1,)),
            jvp=_linear_jvp("sort_like", (0,)),
            shape=lambda t, x, param=None: x,
            uses_param=True,
            internal=True,
        ),
        P(
            "unsort",
            2,
            _unsort,
            taylor=rule_from("linear_in", 0, shape_only=(1,)),
            jvp=_linear_jvp("unsort", (0,)),
            shape=lambda g, x, param=None: x,
            uses_param=True,
            internal=True,
        ),
    ]
