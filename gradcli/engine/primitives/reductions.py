"""Reductions over all elements (sum, mean, prod, norm, logsumexp): a JVP/VJP pair each."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from ..refs import Ref, op
from . import series
from .core import (
    Primitive,
    scalar,
)


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
    """∂/∂x_k = ∏_{j≠k} x_j: ans/x_k, except at a zero x_k, where ans/x_k is 0/0.

    There it is Q·∏(the other zeros), Q the product of the nonzero elements. With one zero that is Q; with
    two, Q·(the other zero) = Q·(Σ zeros − x_k), 0 in value but with the right derivative; with more, 0
    (exact for the gradient and the Hessian at any point; derivatives of order ≥ 3 at ≥ 3 zeros are not).
    """
    zero = op.eq(x, 0.0)
    count = op.sum(zero)
    others = op.where(op.eq(count, 1.0), 1.0, op.where(op.eq(count, 2.0), op.sum(op.where(zero, x, 0.0)) - x, 0.0))
    return op.where(zero, op.prod(op.where(zero, 1.0, x)) * others, ans / x)


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
            taylor=series.sum_rule,
        ),
        P(
            "mean",
            1,
            lambda x: np.asarray(np.mean(x)),
            jvp=lambda args, ans, t, p: op.mean(t[0]),
            vjp=_mean_vjp,
            shape=scalar,
            syntax="mean",
            taylor=series.mean_rule,
        ),
        P(
            "prod",
            1,
            lambda x: np.asarray(np.prod(x)),
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
            taylor=series.norm_rule,
            **_reduction(_norm_partial),
        ),
        P("logsumexp", 1, _logsumexp, shape=scalar, syntax="logsumexp", taylor=series.logsumexp_rule, **_reduction(_lse_partial)),
    ]
