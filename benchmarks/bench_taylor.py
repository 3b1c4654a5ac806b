"""Section 5, taylor: derivatives of order N = 1 … 100, gradcli's Taylor mode against SymPy diff + evalf and JAX.

In-process: the median time and the peak traced memory (tracemalloc) of one N-th derivative at one point,
each contender in its own child process with a timeout (SymPy's expression swell makes high orders slow);
whole-process: the issue's `gradcli diff --order N` rows and the targets, wall time and peak RSS.
"""

from __future__ import annotations

import json
import os
from typing import Any

from common import _CHILD_ENV, PYTHON, ROOT, fmt_mb, fmt_time, have, heading, run_measured, say, skip_note, table

ORDERS = (1, 2, 5, 10, 20, 50, 100)
# name → (gradcli text, SymPy text, JAX lambda body, point)
EXPRS: dict[str, tuple[str, str, str, float]] = {
    "T1": ("sin(x)*exp(x)/(1+x^2)", "sin(x)*exp(x)/(1+x**2)", "jnp.sin(x)*jnp.exp(x)/(1+x**2)", 0.5),
    "T2": ("sin(x)", "sin(x)", "jnp.sin(x)", 1.0),
    "T3": ("log(1 + x^2)*atan(x) + tanh(x)", "log(1 + x**2)*atan(x) + tanh(x)", "jnp.log(1+x**2)*jnp.arctan(x)+jnp.tanh(x)", 0.3),
}

_GRADCLI = """
import json, sys, time, tracemalloc
import gradcli
src, x0, n, repeats = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    v = float(gradcli.compile(src).derivative({"x": x0}, "x", n))
    times.append(time.perf_counter() - t0)
tracemalloc.start()
gradcli.compile(src).derivative({"x": x0}, "x", n)
peak = tracemalloc.get_traced_memory()[1]
times.sort()
print(json.dumps({"time": times[len(times) // 2], "peak": peak, "value": v}))
"""

_SYMPY = """
import json, sys, time, tracemalloc
import sympy as sp
src, x0, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
x = sp.Symbol("x")
tracemalloc.start()
t0 = time.perf_counter()
v = sp.diff(sp.sympify(src), x, n).subs(x, sp.nsimplify(x0)).evalf(30)
t = time.perf_counter() - t0
print(json.dumps({"time": t, "peak": tracemalloc.get_traced_memory()[1], "value": float(v)}))
"""

_JAX = """
import json, sys, time
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
from jax.experimental import jet
body, x0, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
f = eval("lambda x: " + body)
def nth(x):
    # jet: the series along direction 1 to order n; its n-th term is f^(n)(x) (jet's terms are derivatives)
    _, terms = jet.jet(f, (x,), ((1.0,) + (0.0,) * (n - 1),))
    return terms[-1]
t0 = time.perf_counter()
v = float(nth(x0))
t = time.perf_counter() - t0
print(json.dumps({"time": t, "peak": None, "value": v}))
"""


def _child(script: str, args: list[str], timeout: float) -> dict[str, Any] | str:
    env = dict(_CHILD_ENV, PYTHONPATH=str(ROOT) + os.pathsep + _CHILD_ENV.get("PYTHONPATH", ""))
    run = run_measured([PYTHON, "-c", script, *args], timeout=timeout, env=env, cwd=ROOT)
    if not run.ok:
        errors = [line for line in run.stderr.splitlines() if "Error" in line and not line.startswith(" ")]
        return errors[-1][:60] if errors and not run.timed_out else run.describe_failure()
    out = json.loads(run.stdout.strip().splitlines()[-1])
    out["maxrss_kb"] = run.maxrss_kb
    return out


def _cell(r: dict[str, Any] | str | None) -> str:
    if r is None:
        return "—"
    if isinstance(r, str):
        return r if len(r) < 28 else r[:25] + "…"
    peak = f", {r['peak'] / 1024:.0f} KiB" if r.get("peak") is not None else ""
    return f"{fmt_time(r['time'])}{peak}"


WHOLE = [
    ("T1", 10),
    ("T1", 12),
    ("T2", 20),
    ("T2", 60),
    ("T1", 50),
    ("T1", 100),
]


def run(quick: bool) -> dict[str, Any]:
    heading("5. taylor: the N-th derivative at a point, N = 1 … 100")
    timeout = 30.0 if quick else 120.0
    results: dict[str, Any] = {}
    jax_ok = have("jax")
    if not jax_ok:
        say(skip_note("jax", "taylor"))
    if not have("sympy"):
        say(skip_note("sympy", "taylor"))
    rows = []
    for key, (g_src, s_src, j_src, x0) in EXPRS.items():
        sympy_dead = jax_dead = False
        for n in ORDERS:
            g = _child(_GRADCLI, [g_src, repr(x0), str(n), "7" if quick else "15"], timeout)
            s = None
            if have("sympy") and not sympy_dead:
                s = _child(_SYMPY, [s_src, repr(x0), str(n)], timeout)
                sympy_dead = isinstance(s, str)
            elif sympy_dead:
                s = "skipped (lower N timed out)"
            j = None
            if jax_ok and not jax_dead:
                j = _child(_JAX, [j_src, repr(x0), str(n)], timeout)
                jax_dead = isinstance(j, str)
            agree = ""
            if isinstance(g, dict) and isinstance(s, dict):
                scale = max(abs(s["value"]), 1e-300)
                agree = f"{abs(g['value'] - s['value']) / scale:.1e}"
            ratio = ""
            if isinstance(g, dict) and isinstance(s, dict):
                ratio = f"{s['time'] / g['time']:.0f}×"
            results[f"{key}@{n}"] = {"gradcli": g, "sympy": s, "jax": j}
            rows.append(
                [f"{key} `{g_src}` x={x0}", str(n), _cell(g), _cell(s), ratio, agree, _cell(j) if jax_ok else "not installed"]
            )
    headers = ["expression", "N", "gradcli (time, peak)", "SymPy diff+evalf", "SymPy/gradcli", "rel. diff", "JAX jet (1st)"]
    say(table(headers, rows))
    say()
    say("whole process (wall, peak RSS), the issue's rows and the targets:")
    env = dict(_CHILD_ENV, PYTHONPATH=str(ROOT) + os.pathsep + _CHILD_ENV.get("PYTHONPATH", ""))
    whole_rows = []
    poly = " + ".join(
        [f"{i + 1}*x{i}^3*x{(i + 1) % 10}" for i in range(10)] + [f"x{i}*x{(i + 3) % 10}*x{(i + 5) % 10}" for i in range(10)]
    )
    poly_at = ",".join(f"x{i}={0.1 * i:g}" for i in range(10))
    cases = [("x^2", "x=1", 1)] + [(EXPRS[k][0], f"x={EXPRS[k][3]}", n) for k, n in WHOLE] + [(poly, poly_at, 3)]
    for src, at, n in cases:
        walls, rss = [], 0
        for _ in range(3 if quick else 5):
            r = run_measured(
                [PYTHON, "-m", "gradcli", "diff", src, "--at", at, "--order", str(n)], timeout=timeout, env=env, cwd=ROOT
            )
            if not r.ok:
                break
            walls.append(r.wall)
            rss = max(rss, r.maxrss_kb)
        walls.sort()
        shown = src if len(src) < 40 else "10-variable polynomial (20 terms)"
        cell = fmt_time(walls[len(walls) // 2]) if walls else "failed"
        whole_rows.append([f'`gradcli diff "{shown}" --order {n}`', cell, fmt_mb(rss) if rss else ""])
        results[f"whole:{shown}@{n}"] = {"wall": walls[len(walls) // 2] if walls else None, "maxrss_kb": rss}
    say(table(["command", "wall (median)", "peak RSS"], whole_rows))
    say("(the first row, an order-1 derivative, is the start-up cost on this machine at this load: compare against it)")
    return results
