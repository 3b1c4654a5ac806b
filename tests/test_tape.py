"""The tape's invariants: flat SSA, hash-consed, kept by every transform."""

from __future__ import annotations

import numpy as np
import pytest

import gradcli
from gradcli.engine import derivatives
from gradcli.engine.tape import specialise

EXPRESSIONS = [
    "x**2 + 2*x + 1",
    "sin(x*y) + exp(-x^2) * log(1 + y^2)",
    "a = x + w; y = a * b",
    "sum((y - W @ v)^2)",
    "where(x > 0, x, -x) + max(x, y) + clip(x, -1, 1)",
    "[x, 2*x, x*y]",
    "x^y + atan2(y, x) + hypot(x, y)",
]


def _point(expr: gradcli.Expression) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    shapes = {"W": (2, 3), "v": (3,), "y": (2,)} if "W" in expr.variables else {}
    return {v: rng.uniform(0.5, 1.5, shapes.get(v, ())) for v in expr.variables}


@pytest.mark.parametrize("source", EXPRESSIONS)
def test_transforms_keep_invariants(source: str) -> None:
    expr = gradcli.compile(source)
    expr.tape.verify()
    point = _point(expr)
    shapes = {v: np.shape(p) for v, p in point.items()}
    tape = derivatives.prepare(expr.tape, shapes)
    out = expr.lowered.outputs[-1]
    wrt = [tape._index[("var", v)] for v in expr.variables]
    grads = derivatives.grad(tape, out, wrt)
    tape.verify()
    seeds = {w: tape.var(("tangent", 1, k), shape=tape.shapes[w]) for k, w in enumerate(wrt)}  # type: ignore[index]
    tangents = derivatives.jvp(tape, seeds)
    tape.verify()
    assert any(g is not None for g in grads)
    assert any(tangents[g] is not None for g in grads if g is not None) or source.startswith("where")


def test_hash_consing_shares_repeated_subexpressions() -> None:
    expr = gradcli.compile("x*y + x*y + y*x")
    assert expr.tape.ops.count("mul") == 1
    assert expr.tape.ops.count("add") == 2


def test_derivative_tape_folds_identities() -> None:
    # d/dx (x + 3) is the seed itself: no multiplication by 1 or addition of 0 is emitted.
    expr = gradcli.compile("x + 3")
    tape = derivatives.prepare(expr.tape, {"x": ()})
    before = len(tape)
    (g,) = derivatives.grad(tape, expr.lowered.outputs[0], [tape._index[("var", "x")]])
    assert g is not None and tape.ops[g] == "const"
    assert len(tape) == before + 1  # only the seed constant


def test_specialise_raises_shape_error_naming_the_subexpression() -> None:
    expr = gradcli.compile("sin(u) + v")
    with pytest.raises(gradcli.ShapeError, match=r"sin\(u\) \+ v"):
        specialise(expr.tape, {"u": (2,), "v": (3,)})


def test_constants_hash_cons_by_value_but_keep_signed_zeros_apart() -> None:
    from gradcli.engine.tape import Tape

    t = Tape()
    one = t.const(1.0)
    assert t.const(np.float64(1.0)) == one and t.const(np.asarray(1.0)) == one and t.const(1) == one
    zero, minus_zero = t.const(0.0), t.const(-0.0)
    assert zero != minus_zero
    assert np.signbit(t.params[minus_zero]) and not np.signbit(t.params[zero])
    assert t.const(np.asarray(-0.0)) == minus_zero
    assert t.const(np.array([1.0, 2.0])) not in (one, zero)
    assert t.const(float("nan")) == t.const(np.asarray(float("nan")))  # the same bits, one instruction


def test_minus_zero_survives_into_values() -> None:
    """atan2(±0, -1) = ±π: merging the literal -0.0 with 0.0 on the tape would make this ±2π."""
    f = gradcli.compile("atan2(-0.0, -1) + atan2(0.0, -1) + x")
    assert f.value({"x": 0.5}) == 0.5


def test_gc_paused_restores_the_collector_also_on_errors() -> None:
    import gc

    from gradcli.gcpause import gc_paused

    seen = []

    @gc_paused
    def inner() -> None:
        seen.append(gc.isenabled())

    @gc_paused
    def outer(fail: bool) -> None:
        inner()
        seen.append(gc.isenabled())
        if fail:
            raise ValueError("boom")

    assert gc.isenabled()
    outer(False)
    with pytest.raises(ValueError):
        outer(True)
    assert seen == [False, False, False, False] and gc.isenabled()


def test_chain_rule_through_a_norm_becomes_x_over_r() -> None:
    """0.5/r · 2x is emitted as x/r: one live instruction per partial, and the value is the exact quotient."""
    from gradcli.engine import evaluate

    f = gradcli.compile("sqrt(x^2 + y^2)")
    x, y = np.array([3.0, 1e-3, 7.5]), np.array([4.0, 2e-3, -1.25])
    point = f.bind({"x": x, "y": y})
    tape, refs = f.gradient_tape(point, ("x", "y"), 0)
    for ref, v in zip(refs, ("x", "y")):
        assert tape.ops[ref] == "div" and tape.params[tape.args[ref][0]] == v
    gx, gy = evaluate.run(tape, point, refs)
    r = np.sqrt(x * x + y * y)
    assert np.array_equal(gx, x / r) and np.array_equal(gy, y / r)
    live = [s for s in evaluate.plan(tape, [f.lowered.outputs[0], *refs]).steps if s[1] not in ("const", "var")]
    assert len(live) == 6  # x², y², +, sqrt, x/r, y/r


def test_a_long_literal_of_constants_gets_no_cotangent_per_element() -> None:
    """[0, 1, …, n−1, x]: the reverse sweep indexes only the element that varies (was one index per element)."""
    import numpy as _np

    import gradcli as _gradcli

    n = 20_000
    expr = _gradcli.compile("sum([" + ",".join(str(i) for i in range(n)) + ", x] * x)")
    tape, _ = expr.gradient_tape({"x": _np.asarray(2.0)}, ("x",), 0)
    assert tape.ops.count("index") <= 2
    got = float(expr.gradient({"x": 2.0})["x"])
    assert got == sum(range(n)) + 2 * 2.0  # d/dx Σ cᵢx + x² = Σcᵢ + 2x
