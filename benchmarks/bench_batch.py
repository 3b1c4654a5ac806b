"""Section 2, batch: value + full gradient at N points in one call, against hand-written numpy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from common import fmt_ratio, fmt_time, have, heading, median_time, peer_version, say, skip_note, table
from exprs import EXPRS, Expr, close

Result = tuple[np.ndarray, list[np.ndarray]]
Runner = Callable[[], Result]


def gradcli_runner(e: Expr, point: dict[str, np.ndarray]) -> Runner:
    import gradcli

    f = gradcli.compile(e.source)  # compiled once, outside the timing

    def go() -> Result:
        value, grad = f.value_and_gradient(point)
        return value, [grad[v] for v in e.variables]

    return go


def numpy_runner(e: Expr, point: dict[str, np.ndarray]) -> Runner:
    x, y = point["x"], point.get("y")
    return lambda: e.numpy(x, y)


def torch_runner(e: Expr, point: dict[str, np.ndarray]) -> Runner:
    import torch

    arrays = [point[v] for v in e.variables]

    def go() -> Result:
        leaves = [torch.from_numpy(a).requires_grad_(True) for a in arrays]
        x = leaves[0]
        y = leaves[1] if len(leaves) > 1 else None
        out = e.generic(torch, x, y)
        out.sum().backward()
        return out.detach().numpy(), [t.grad.numpy() for t in leaves]  # type: ignore[union-attr]

    return go


def autograd_runner(e: Expr, point: dict[str, np.ndarray]) -> Runner:
    import autograd.numpy as anp
    from autograd import make_vjp

    arrays = [point[v] for v in e.variables]
    n = len(arrays)

    def fun(*args: Any) -> Any:
        return e.generic(anp, args[0], args[1] if n > 1 else None)

    vjp_maker = make_vjp(fun, argnum=tuple(range(n)) if n > 1 else 0)
    ones = np.ones_like(arrays[0])

    def go() -> Result:
        vjp, value = vjp_maker(*arrays)  # forward pass, recording the graph
        grads = vjp(ones)  # reverse pass with cotangent 1 at every point = gradient of the sum
        return value, list(grads) if n > 1 else [grads]

    return go


def jax_runner(e: Expr, point: dict[str, np.ndarray]) -> Runner:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    arrays = [jnp.asarray(point[v]) for v in e.variables]
    n = len(arrays)

    def fun(*args: Any) -> Any:
        return e.generic(jnp, args[0], args[1] if n > 1 else None)

    @jax.jit
    def vg(*args: Any) -> Any:
        value, vjp = jax.vjp(fun, *args)
        return value, vjp(jnp.ones_like(value))

    def go() -> Result:
        value, grads = vg(*arrays)
        value.block_until_ready()
        return np.asarray(value), [np.asarray(g) for g in grads]

    return go


PEER_RUNNERS: list[tuple[str, str, Callable[[Expr, dict[str, np.ndarray]], Runner]]] = [
    ("torch", "PyTorch eager", torch_runner),
    ("autograd", "HIPS autograd", autograd_runner),
    ("jax", "JAX jit", jax_runner),
]


def run(quick: bool) -> dict[str, object]:
    heading("2. batch: value + full gradient at N points, float64 (median per call)")
    peers = []
    for mod, label, runner in PEER_RUNNERS:
        if have(mod):
            peers.append((mod, label, runner))
            say(f"{label}: {mod} {peer_version(mod)}")
        else:
            say(skip_note(mod, "batch"))
    if any(m == "torch" for m, _, _ in peers):
        import torch

        say(f"PyTorch uses {torch.get_num_threads()} intra-op threads; numpy, gradcli and autograd run on one core")
    say("gradcli: f = gradcli.compile(src) once, then f.value_and_gradient({'x': X, 'y': Y}) is timed")
    say("every result is checked against the hand-written numpy formulas (rtol 1e-10) before timing")
    sizes = [1_000, 1_000_000]
    results: dict[str, object] = {}
    for n in sizes:
        repeats = (7 if quick else 15) if n <= 10_000 else (3 if quick else 7)
        min_batch = 0.05 if n <= 10_000 else 0.0
        columns = ["gradcli"] + [label for _, label, _ in peers]
        rows = []
        for e in EXPRS:
            point = e.sample(n)
            ref_value, ref_grads = e.numpy(point["x"], point.get("y"))
            t_numpy = median_time(numpy_runner(e, point), repeats, min_batch)
            row = [f"{e.key} {e.short}", fmt_time(t_numpy)]
            times: dict[str, float | None] = {"numpy": t_numpy}
            for key, label, make in [("gradcli", "gradcli", gradcli_runner)] + peers:
                try:
                    go = make(e, point)
                    value, grads = go()
                    bad = [
                        name
                        for name, a, b in [("value", value, ref_value)] + list(zip(e.variables, grads, ref_grads))
                        if not close(a, b)
                    ]
                    if bad:
                        raise AssertionError(f"{label} disagrees with the hand-written numpy formulas on {', '.join(bad)}")
                    t = median_time(go, repeats, min_batch)
                    times[key] = t
                    row.append(f"{fmt_time(t)} {fmt_ratio(t / t_numpy)}")
                except AssertionError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a failing peer is reported, not fatal
                    times[key] = None
                    row.append(f"error: {type(exc).__name__}")
                    say(f"  {label} on {e.key}, N={n}: {type(exc).__name__}: {exc}")
            rows.append(row)
            results[f"{e.key}@{n}"] = times
        say()
        say(f"N = {n:,} points; repeats = {repeats}; cell = median time per call and ratio to hand-written numpy")
        say(table(["expression", "numpy (hand)"] + columns, rows))
    return results
