"""Reverse mode (grad) and forward mode (jvp) as tape → tape transforms.

Both are single loops over the tape; both append ordinary instructions to a
copy of it, so a derivative can be evaluated, printed and differentiated again
(Hessian = forward over reverse). Elementwise primitives are differentiated
through their local partials; the rest through their own JVP/VJP rules.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from ..errors import NotDifferentiableError
from .primitives import PRIMITIVES
from .refs import Ref
from .shapes import Shape
from .tape import Tape, specialise


def prepare(tape: Tape, input_shapes: dict[Hashable, Shape]) -> Tape:
    """A copy with shapes known and derivative simplification on, ready to append to."""
    t = tape if tape.shapes is not None else specialise(tape, input_shapes)
    t = t.copy()
    t.simplify = True
    return t


def _active(tape: Tape, seeds: Sequence[int], upto: int) -> list[bool]:
    """Which instructions depend on the seed inputs (the rest have zero derivative)."""
    active = [False] * upto
    for s in seeds:
        if s < upto:
            active[s] = True
    for i in range(upto):
        if not active[i] and any(active[a] for a in tape.args[i]):
            active[i] = True
    return active


def below_where(tape: Tape, upto: int) -> list[bool] | None:
    """Which instructions feed a branch of a `where` (None when there is no where: the common case).

    The branch not taken gets a zero cotangent (and its tangents are dropped), but its partials may be
    infinite there (expm1(x) at x = 10⁴); multiplying by `mul0` below a where keeps 0·inf at 0, so the
    gradient really flows only into the branch taken, in every mode and order (JAX's `where` trap).
    """
    ops = tape.ops
    if "where" not in ops[:upto]:
        return None
    below = [False] * upto
    for i in range(upto - 1, -1, -1):
        if ops[i] == "where":
            for a in tape.args[i][1:]:
                below[a] = True
        if below[i]:
            for a in tape.args[i]:
                below[a] = True
    return below


def _fit(t: Ref, like: Ref) -> Ref:
    """Broadcast a tangent up to the shape of the value it belongs to."""
    return t if t.shape == like.shape else Ref(t.tape, t.tape.emit("broadcast_like", (t.i, like.i)))


def _unbroadcast(g: Ref, like: Ref, ans: Ref) -> Ref:
    """The cotangent `g` of an elementwise result `ans`, summed down to the shape of the argument `like`.

    A cotangent may be smaller than the value it belongs to (the scalar seed stands for ones of the
    output's shape), so a batch of points isn't multiplied by an array of ones; where the argument is
    smaller than the result, the cotangent is first made full so the sum counts every element.
    """
    shapes = g.tape.shapes
    if shapes is not None and shapes[ans.i] == shapes[like.i]:  # (Ref.shape without the property calls)
        return g
    full = _fit(g, ans)
    return Ref(g.tape, g.tape.emit("unbroadcast", (full.i, like.i)))


def grad(
    tape: Tape,
    output: int,
    wrt: Sequence[int],
    seed: int | None = None,
    record: dict[int, int] | None = None,
    edges: dict[tuple[int, int], int] | None = None,
    zero_wins: bool = False,
) -> list[int | None]:
    """Append the reverse sweep for `output` to `tape` (already prepared).

    `zero_wins`: every cotangent·partial is a `mul0`, for sweeps seeded along a basis direction (a
    Jacobian row), where a zero cotangent means "this output element isn't asked about".

    Returns, for each index in `wrt`, the instruction holding ∂(Σ output)/∂wrt,
    or None where the derivative is structurally zero; it may be smaller than
    wrt's shape and broadcast to it. `seed` is the output cotangent (default a
    scalar 1: the gradient of the sum of the output's elements). `record`, when given,
    receives every instruction's final adjoint, and `edges` what each edge
    (instruction, argument) carries back (for the trace and graph views).
    """
    n = output + 1
    active = _active(tape, wrt, n)
    if not active[output]:
        return [None] * len(wrt)
    assert tape.shapes is not None
    if seed is None:
        seed = tape.const(1.0)  # Σ output: a scalar 1 broadcasts over the output's elements
    adjoint: dict[int, int] = {output: seed}
    wanted = set(wrt)
    guarded = [True] * n if zero_wins else below_where(tape, n)
    result: dict[int, int] = {}
    for i in range(output, -1, -1):
        g_i = adjoint.pop(i, None)
        if g_i is None:
            continue
        if i in wanted:
            result[i] = g_i
        if record is not None:
            record[i] = g_i
        if tape.ops[i] in ("var", "const"):
            continue
        args = tape.args[i]
        needed = [active[args[0]], active[args[1]]] if len(args) == 2 else [active[a] for a in args]
        contributions = vjp(tape, i, g_i, needed, guarded is not None and guarded[i])
        for a, c in zip(args, contributions):
            if c is None or not active[a]:
                continue
            if edges is not None:
                edges[(i, a)] = c
            adjoint[a] = c if a not in adjoint else tape.emit("add", (adjoint[a], c))
    return [result.get(w) for w in wrt]


def _times(g: Ref, d: Any, zero_wins: bool = False) -> Ref:
    """g·d, with the partials ±1 of sums and differences passed straight through (what simplify would do);
    `zero_wins`: 0·inf = 0 (see below_where)."""
    if type(d) is float:
        if d == 1.0:
            return g
        if d == -1.0:
            return -g
        if zero_wins and d == d and abs(d) != float("inf"):
            return g * d  # a finite constant partial can't make 0·inf
    return g.apply("mul0", d) if zero_wins else g * d


def _refuse(tape: Tape, i: int, prim: Any, active: Sequence[bool]) -> None:
    """An argument that has no derivative depends on a variable being differentiated: say which."""
    for k, role in prim.nondiff:
        if active[k]:
            arg = tape.text(tape.args[i][k])
            raise NotDifferentiableError(
                f"{tape.text(i)} is not differentiable in its {role} ({arg}): differentiate only with respect to "
                f"variables it doesn't depend on (--wrt), or make it a constant"
            )


def vjp(tape: Tape, i: int, g_i: int, needed: Sequence[bool], guarded: bool = False) -> list[int | None]:
    prim = PRIMITIVES[tape.ops[i]]
    if prim.nondiff:
        _refuse(tape, i, prim, needed)
    targs = tape.args[i]
    n = len(targs)
    args = (Ref(tape, targs[0]),) if n == 1 else _pair(tape, targs) if n == 2 else tuple([Ref(tape, a) for a in targs])
    ans, g = Ref(tape, i), Ref(tape, g_i)
    if prim.vjp is not None:
        g = _fit(g, ans)  # rules of reductions and matmul expect the full cotangent
        out = prim.vjp(args, ans, g, tape.params[i])
        return [None if (c is None or not need) else c.i for c, need in zip(out, needed)]
    assert prim.partials is not None, prim.name
    partials = prim.partials(*args, ans)
    zero_wins = guarded or prim.zero_wins
    contributions: list[int | None] = []
    for x, d, need in zip(args, partials, needed):
        if d is None or not need:
            contributions.append(None)
        else:
            contributions.append(_unbroadcast(_times(g, d, zero_wins), x, ans).i)
    return contributions


def _pair(tape: Tape, args: tuple[int, ...]) -> tuple[Ref, Ref]:
    a, b = args
    return Ref(tape, a), Ref(tape, b)


def jvp(tape: Tape, seeds: dict[int, int], upto: int | None = None, zero_wins: bool = False) -> list[int | None]:
    """Append the tangent sweep to `tape` (prepared): tangent[i] for every i < upto.

    `seeds` maps input instructions to their tangent instructions. `zero_wins`: every tangent·partial
    is a `mul0`, for tapes evaluated along basis directions, where a zero tangent means "this input
    doesn't move" even through an infinite partial (√x at 0 must not spoil ∂/∂y).
    """
    n = len(tape) if upto is None else upto
    tangent: list[int | None] = [None] * n
    guarded = [True] * n if zero_wins else below_where(tape, n)
    for i in range(n):
        if i in seeds:
            tangent[i] = seeds[i]
            continue
        args = tape.args[i]
        if not args or all(tangent[a] is None for a in args):
            continue
        tangent[i] = jvp_step(tape, i, [tangent[a] for a in args], guarded is not None and guarded[i])
    return tangent


def jvp_step(tape: Tape, i: int, arg_tangents: Sequence[int | None], guarded: bool = False) -> int | None:
    prim = PRIMITIVES[tape.ops[i]]
    if prim.nondiff:
        _refuse(tape, i, prim, [t is not None for t in arg_tangents])
    args = tuple(Ref(tape, a) for a in tape.args[i])
    ans = Ref(tape, i)
    ts = tuple(None if t is None else Ref(tape, t) for t in arg_tangents)
    if prim.jvp is not None:
        out = prim.jvp(args, ans, ts, tape.params[i])
        return None if out is None else _fit(out, ans).i
    assert prim.partials is not None, prim.name
    partials = prim.partials(*args, ans)
    zero_wins = guarded or prim.zero_wins
    total: Ref | None = None
    for d, t in zip(partials, ts):
        if d is None or t is None:
            continue
        term = _times(t, d, zero_wins)
        total = term if total is None else total + term
    return None if total is None else _fit(total, ans).i
