"""Taylor mode: truncated univariate Taylor series carried through the tape (Griewank & Walther, ch. 13).

Seeding x(t) = x_0 + v·t and pushing d + 1 coefficients through every instruction gives the output's series
f(x_0 + v t) = Σ y_k t^k, so y_k = D^k f[v, …, v] / k!: the k-th directional derivative of any order in one
pass, O(d²) per instruction, where nesting the first-order transform grows the tape exponentially in d.
Many directions (or, for an elementwise program on an array of points, one direction per point) travel
in one pass as an extra axis.

Each primitive's rule is in its table entry (`taylor`, see primitives/series.py); an elementwise primitive
without one gets it from its partials, which are expressions in the arguments u and the result y: with
y' = Σ_i g_i(u, y)·u_i', y_k = (1/k) Σ_i Σ_{j=1..k} j·u_{i,j}·g_{i,k−j}, where the series of g_i is itself
propagated, one coefficient behind, through a small tape of the partial (so tanh' = 1 − y² and sqrt' =
0.5/y close on themselves). A primitive with neither raises NoTaylorRule, and the caller nests instead.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from .primitives import PRIMITIVES
from .primitives.core import Primitive
from .primitives.series import Context, NoTaylorRule, Stepper, ode_term
from .refs import Ref
from .tape import Tape

__all__ = ["NoTaylorRule", "propagate", "rule_for", "missing_rules"]

_PARTIAL_TAPES: dict[str, tuple[Tape, tuple[int | None, ...]]] = {}
_DERIVING: set[str] = set()


def _partial_tape(prim: Primitive) -> tuple[Tape, tuple[int | None, ...]]:
    """The primitive's partials as a small tape over vars ("u", i) and "ans", built once."""
    found = _PARTIAL_TAPES.get(prim.name)
    if found is None:
        tape = Tape()
        us = [Ref(tape, tape.var(("u", i))) for i in range(prim.arity)]
        ans = Ref(tape, tape.var("ans"))
        partials = prim.partials(*us, ans)  # type: ignore[misc]
        idx = tuple(None if g is None else g.i if isinstance(g, Ref) else tape.const(g) for g in partials)
        found = _PARTIAL_TAPES[prim.name] = (tape, idx)
    return found


def rule_for(prim: Primitive) -> Any:
    """The primitive's Taylor rule: its own, or the ODE recurrence from its partials; NoTaylorRule if neither."""
    if prim.taylor is not None:
        return prim.taylor
    if prim.partials is not None and prim.elementwise and prim.arity > 0:
        return _ode_rule(prim)
    raise NoTaylorRule(prim.name)


def missing_rules() -> list[str]:
    """Primitives that have no Taylor rule at all (their derivatives of high order nest instead)."""
    out = []
    for p in PRIMITIVES.values():
        try:
            rule_for(p)
        except NoTaylorRule:
            out.append(p.name)
    return out


def _ode_rule(prim: Primitive) -> Any:
    def rule(args: tuple[np.ndarray, ...], out: np.ndarray, param: Hashable, ctx: Context) -> Stepper:
        if prim.name in _DERIVING:
            raise NoTaylorRule(prim.name, "its partial needs its own Taylor series")
        tape, partial_of = _partial_tape(prim)
        _DERIVING.add(prim.name)
        try:
            arrays, steppers = _subtape(tape, args, out, ctx)
        finally:
            _DERIVING.discard(prim.name)
        live = [(args[i], arrays[g], tape.ops[g] == "const") for i, g in enumerate(partial_of) if g is not None]

        def step(k: int) -> np.ndarray:
            if k == 0:
                return np.asarray(prim.apply([a[0] for a in args], param))
            for j, st in steppers:  # the partials, one coefficient behind
                arrays[j][k - 1] = st(k - 1)
            if k == 1 and live and not all(np.all(np.isfinite(g[0])) for _, g, _ in live):
                raise NoTaylorRule(prim.name, "an infinite slope at the point")
            total: Any = 0.0
            for u, g, const in live:
                total = total + (u[k] * g[0] if const else ode_term(u, g, k))
            return np.broadcast_to(total, out.shape[1:]) if np.ndim(total) < out.ndim - 1 else total

        return step

    return rule


def _subtape(
    tape: Tape, args: tuple[np.ndarray, ...], out: np.ndarray, ctx: Context
) -> tuple[list[Any], list[tuple[int, Stepper]]]:
    """Coefficient arrays and steppers for a partial's tape: its vars are the arguments and the result."""
    arrays: list[Any] = []
    constant: list[bool] = []
    steppers: list[tuple[int, Stepper]] = []
    for i, op in enumerate(tape.ops):
        if op == "var":
            name = tape.params[i]
            if name == "ans":
                arrays.append(out)
                constant.append(False)
            else:
                arrays.append(args[name[1]])
                constant.append(ctx.constant[name[1]])
            continue
        if op == "const":
            arr = np.zeros((ctx.degree + 1, *(1,) * ctx.lead, *np.shape(tape.params[i])))
            arr[0] = tape.params[i]
            arrays.append(arr)
            constant.append(True)
            continue
        prim = PRIMITIVES[op]
        if not prim.elementwise:
            raise NoTaylorRule(op, "a partial that mixes elements")
        sub_args = _aligned(tuple(arrays[a] for a in tape.args[i]), ctx.lead)
        shape = np.broadcast_shapes(*(a.shape[1:] for a in sub_args))
        arr = np.zeros((ctx.degree + 1, *shape))
        c = tuple(constant[a] for a in tape.args[i])
        sub_ctx = Context(ctx.degree, ctx.lead, c, op)
        st = rule_for(prim)(sub_args, arr, tape.params[i], sub_ctx)
        arrays.append(arr)
        constant.append(all(c))
        steppers.append((i, st))
    return arrays, steppers


def propagate(
    tape: Tape,
    inputs: Mapping[Hashable, np.ndarray],
    seeds: Mapping[Hashable, np.ndarray],
    degree: int,
    outputs: Sequence[int],
    directions: int | None = None,
) -> list[np.ndarray]:
    """Taylor coefficients 0..degree of each output along x(t) = x + seed·t (variables without a seed stay put).

    `tape` is specialised (shapes known). With `directions` = B, each seed has shape (B, *shape) and every
    result (degree+1, B, *shape); otherwise seeds have the variable's shape and results (degree+1, *shape).
    Raises NoTaylorRule when a needed primitive has none (or not at this point).
    """
    assert tape.shapes is not None
    lead = 0 if directions is None else 1
    d = degree
    needed = _needed(tape, outputs)
    last_use = {a: i for i in range(len(tape)) if needed[i] for a in tape.args[i]}  # arrays are freed after it
    keep = set(outputs)
    arrays: list[Any] = [None] * len(tape)
    constant = [True] * len(tape)
    values: list[Any] = [None] * len(tape)  # the plain values of constant instructions
    with np.errstate(all="ignore"):
        for i, op in enumerate(tape.ops):
            if not needed[i]:
                continue
            shape = tuple(tape.shapes[i])
            if op == "const" or (op == "var" and tape.params[i] not in seeds):
                values[i] = np.asarray(tape.params[i] if op == "const" else inputs[tape.params[i]], dtype=float)
                continue
            if op == "var":
                name = tape.params[i]
                seed = np.asarray(seeds[name], dtype=float)
                x = np.asarray(inputs[name], dtype=float)
                arr = np.zeros((d + 1, *np.broadcast_shapes(seed.shape, ((1,) * lead) + x.shape)))
                arr[0] = x
                if d >= 1:
                    arr[1] = seed
                arrays[i], constant[i] = arr, False
                continue
            prim = PRIMITIVES[op]
            argv = tape.args[i]
            c = tuple(constant[a] for a in argv)
            if all(c):
                values[i] = np.asarray(prim.apply([values[a] for a in argv], tape.params[i]), dtype=float)
                continue
            args = tuple(_as_series(arrays[a], values[a], d, lead) for a in argv)
            if prim.elementwise:
                args = _aligned(args, lead)
                out_shape = np.broadcast_shapes(*(a.shape[1:] for a in args))
            else:
                batch = max((a.shape[1] for a in args), default=1) if lead else None
                out_shape = (batch, *shape) if lead else shape
            out = np.zeros((d + 1, *out_shape))
            step = rule_for(prim)(args, out, tape.params[i], Context(d, lead, c, op))
            for k in range(d + 1):
                out[k] = step(k)
            arrays[i], constant[i] = out, False
            for a in argv:
                if last_use.get(a) == i and a not in keep:
                    arrays[a] = None
    return [_as_series(arrays[o], values[o], d, lead) for o in outputs]


def _aligned(args: tuple[np.ndarray, ...], lead: int) -> tuple[np.ndarray, ...]:
    """Elementwise arguments with as many axes each, the new ones of size 1 put after the coefficient and
    direction axes (where numpy's broadcasting would put them on the value's own axes)."""
    ndim = max(a.ndim for a in args)
    cut = 1 + lead
    return tuple(a if a.ndim == ndim else a.reshape(a.shape[:cut] + (1,) * (ndim - a.ndim) + a.shape[cut:]) for a in args)


def _as_series(arr: Any, value: Any, d: int, lead: int) -> np.ndarray:
    if arr is not None:
        return arr
    out = np.zeros((d + 1, *((1,) * lead), *np.shape(value)))
    out[0] = value
    return out


def _needed(tape: Tape, outputs: Sequence[int]) -> list[bool]:
    need = [False] * len(tape)
    for o in outputs:
        need[o] = True
    for i in range(len(tape) - 1, -1, -1):
        if need[i]:
            for a in tape.args[i]:
                need[a] = True
    return need
