"""Section 2, batch: value + full gradient at N points in one call, against hand-written numpy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from common import fmt_ratio, fmt_time, have, heading, median_times, peer_version, say, skip_note, table
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


def jax_vmap_runner(e: Expr, point: dict[str, np.ndarray]) -> Runner:
    """JAX as its users write per-point gradients: jit(vmap(value_and_grad(f))) over scalar points."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    arrays = [jnp.asarray(point[v]) for v in e.variables]
    n = len(arrays)

    def fun(*args: Any) -> Any:
        return e.generic(jnp, args[0], args[1] if n > 1 else None)

    vg = jax.jit(jax.vmap(jax.value_and_grad(fun, argnums=tuple(range(n)))))

    def go() -> Result:
        value, grads = vg(*arrays)
        value.block_until_ready()
        return np.asarray(value), [np.asarray(g) for g in grads]

    return go


# numexpr: the hand-written formulas as numexpr strings (one fused, threaded loop per string).
_NUMEXPR = {
    "E1": ["x**2 + 2*x + 1", "2*x + 2"],
    "E2": ["log(x) + x*y - sin(y)", "1/x + y", "x - cos(y)"],
    "E3": ["exp(-x*x)*cos(3*x) + tanh(x*y)", "exp(-x*x)*(-2*x*cos(3*x) - 3*sin(3*x)) + y*(1 - tanh(x*y)**2)",
           "x*(1 - tanh(x*y)**2)"],
    "E4": ["sqrt(x*x + y*y) + 1/(1 + exp(-x))", "x/sqrt(x*x + y*y) + exp(-x)/(1 + exp(-x))**2", "y/sqrt(x*x + y*y)"],
    "E5": [" + ".join(f"sin({k}*x + y)/{k}" for k in range(1, 51)), " + ".join(f"cos({k}*x + y)" for k in range(1, 51)),
           " + ".join(f"cos({k}*x + y)/{k}" for k in range(1, 51))],
}  # fmt: skip


def numexpr_runner(e: Expr, point: dict[str, np.ndarray]) -> Runner:
    import numexpr

    formulas = _NUMEXPR[e.key]

    def go() -> Result:
        out = [numexpr.evaluate(f, local_dict=point) for f in formulas]
        return out[0], out[1:]

    return go


def sympy_runner(e: Expr, point: dict[str, np.ndarray]) -> Runner:
    """SymPy: the benchmark's own text parsed, differentiated, and lambdified to numpy with cse=True."""
    import sympy

    symbols = sympy.symbols(e.variables)
    local = dict(zip(e.variables, symbols))
    f = sympy.sympify(e.source.replace("^", "**"), locals=local)  # our benchmark text, never user input
    fn = sympy.lambdify(symbols, [f, *(sympy.diff(f, s) for s in symbols)], modules="numpy", cse=True)
    arrays = [point[v] for v in e.variables]

    def go() -> Result:
        out = fn(*arrays)
        return np.asarray(out[0]), [np.broadcast_to(o, arrays[0].shape) for o in out[1:]]

    return go


JIT_COMPILE: dict[str, float] = {}  # E key → seconds of the first compile (fresh cache)
JIT_SETUP: dict[str, float] = {}  # one-time costs before the first compiles (llvmlite, the target machine)
JIT_BACKEND: dict[str, str] = {}  # E key → what compiled its main loop: LLVM directly, or numba


def gradcli_jit_runner(e: Expr, point: dict[str, np.ndarray]) -> Runner:
    """gradcli --jit: the compiled kernel (tools/jit.py) on the whole batch; its compile is timed apart."""
    import time

    import gradcli
    from gradcli.tools import jit

    f = gradcli.compile(e.source)
    if not JIT_SETUP:  # once per process: llvmlite's import and the target machine, with a compile of x + 1
        t0 = time.perf_counter()
        jit.kernel(gradcli.compile("x + 1"), "diff")
        JIT_SETUP["first kernel"] = time.perf_counter() - t0
    if e.key not in JIT_COMPILE:
        t0 = time.perf_counter()
        k = jit.kernel(f, "diff")
        k.run({v: np.full(jit.PARALLEL_FROM, 1.0) for v in e.variables})  # and once on threads
        JIT_COMPILE[e.key] = time.perf_counter() - t0
        JIT_BACKEND[e.key] = "LLVM" if k.native else "numba"
    k = jit.kernel(f, "diff")
    arrays = {v: point[v] for v in e.variables}

    def go() -> Result:
        out, _ = k.run(arrays)
        return out[0], list(out[1:])

    return go


PEER_RUNNERS: list[tuple[str, str, Callable[[Expr, dict[str, np.ndarray]], Runner]]] = [
    ("gradcli-jit", "gradcli --jit", gradcli_jit_runner),
    ("numexpr", "numexpr (hand formulas)", numexpr_runner),
    ("torch", "PyTorch eager", torch_runner),
    ("autograd", "HIPS autograd", autograd_runner),
    ("jax", "JAX jit(vjp)", jax_runner),
    ("jax-vmap", "JAX jit(vmap(value_and_grad))", jax_vmap_runner),
    ("sympy", "SymPy lambdify(cse=True)", sympy_runner),
]


_MODULE = {"gradcli-jit": "numba", "jax-vmap": "jax"}  # a peer's key → the module it needs


def jit_load_times(exprs: list[Expr]) -> dict[str, float]:
    """A cached kernel's load time in a fresh process, after a first kernel (x + 1) that pays the one-time costs."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, time\nimport gradcli\nfrom gradcli.tools import jit\nout = {}\n"
        "t = time.perf_counter()\njit.kernel(gradcli.compile('x + 1'), 'diff')\nout['first kernel'] = time.perf_counter() - t\n"
        "for key, src in json.loads(sys.argv[1]).items():\n"
        "    f = gradcli.compile(src)\n    t = time.perf_counter()\n    jit.kernel(f, 'diff')\n"
        "    out[key] = time.perf_counter() - t\nout['numba imported'] = 'numba' in sys.modules\nprint(json.dumps(out))\n"
    )
    arg = json.dumps({e.key: e.source for e in exprs})
    r = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def run(quick: bool) -> dict[str, object]:
    heading("2. batch: value + full gradient at N points, float64 (median per call)")
    peers = []
    for key, label, runner in PEER_RUNNERS:
        mod = _MODULE.get(key, key)
        if have(mod):
            peers.append((key, label, runner))
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
    import os
    import tempfile

    jit_cache = tempfile.mkdtemp(prefix="gradcli-jit-bench-")  # a fresh cache: the first compile is a real one
    saved_cache = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = jit_cache
    if any(m == "gradcli-jit" for m, _, _ in peers):
        say("gradcli --jit: tools/jit.kernel(f, 'diff').run(columns), the loop --jit runs; compile timed apart, below")
    for n in sizes:
        repeats = (7 if quick else 15) if n <= 10_000 else (3 if quick else 7)
        min_batch = 0.05 if n <= 10_000 else 0.0
        columns = ["gradcli"] + [label for _, label, _ in peers]
        rows = []
        for e in EXPRS:
            point = e.sample(n)
            ref_value, ref_grads = e.numpy(point["x"], point.get("y"))
            row = [f"{e.key} {e.short}"]
            times: dict[str, float | None] = {}
            ready: dict[str, Runner] = {"numpy": numpy_runner(e, point)}
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
                    ready[key] = go
                except AssertionError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a failing peer is reported, not fatal
                    times[key] = None
                    say(f"  {label} on {e.key}, N={n}: {type(exc).__name__}: {exc}")
            times.update(median_times(ready, repeats, min_batch))  # round-robin: drift falls on every peer alike
            t_numpy = times["numpy"]
            assert t_numpy is not None
            row.append(fmt_time(t_numpy))
            for key, _label, _make in [("gradcli", "gradcli", gradcli_runner)] + peers:
                t = times.get(key)
                row.append("error" if t is None else f"{fmt_time(t)} {fmt_ratio(t / t_numpy)}")
            rows.append(row)
            results[f"{e.key}@{n}"] = times
        say()
        say(f"N = {n:,} points; repeats = {repeats}, round-robin over the columns; cell = median time per call and ratio to"
        " hand-written numpy")
        say(table(["expression", "numpy (hand)"] + columns, rows))
    if JIT_COMPILE:
        loads = jit_load_times(EXPRS)
        say()
        say("gradcli --jit: first compile (fresh cache) and a cached kernel's load in a new process")
        rows = [[e.key, JIT_BACKEND[e.key], fmt_time(JIT_COMPILE[e.key]), fmt_time(loads[e.key])] for e in EXPRS
                if e.key in JIT_COMPILE]  # fmt: skip
        say(table(["expression", "main loop by", "first compile", "cached load"], rows))
        say(f"(before these, once per process: llvmlite's import and the target machine, with a compile of x + 1: "
            f"{fmt_time(JIT_SETUP['first kernel'])}; {fmt_time(loads['first kernel'])} in the new process, where numba "
            f"was {'' if loads['numba imported'] else 'never '}imported)")  # fmt: skip
        results["jit_compile"] = dict(JIT_COMPILE)
        results["jit_setup"] = dict(JIT_SETUP)
        results["jit_backend"] = dict(JIT_BACKEND)
        results["jit_load"] = loads
    if saved_cache is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved_cache
    import shutil

    shutil.rmtree(jit_cache, ignore_errors=True)
    return results
