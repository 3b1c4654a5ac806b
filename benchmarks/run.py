"""gradcli benchmarks: one command, all sections measured in one run on this machine.

    python benchmarks/run.py [--quick] [--only startup|batch|huge|pipeline|taylor]

Peers that are not installed (HIPS autograd, PyTorch, JAX, SymPy) are skipped with a note.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_batch  # noqa: E402
import bench_huge  # noqa: E402
import bench_pipeline  # noqa: E402
import bench_startup  # noqa: E402
import bench_taylor  # noqa: E402
import numpy as np  # noqa: E402
from common import PEERS, fmt_mb, fmt_rate, fmt_ratio, fmt_time, gradcli_script, have, peer_version, say  # noqa: E402

SECTIONS = {
    "startup": bench_startup.run,
    "batch": bench_batch.run,
    "huge": bench_huge.run,
    "pipeline": bench_pipeline.run,
    "taylor": bench_taylor.run,
}


def environment() -> None:
    import gradcli

    say(f"gradcli {gradcli.__version__} ({Path(gradcli.__file__).parent}), console script {gradcli_script()}")
    say(f"Python {platform.python_version()} ({sys.executable}), numpy {np.__version__}, {platform.platform()}")
    say(f"CPU: {os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    found = [f"{PEERS[m]} {peer_version(m)}" for m in PEERS if have(m)]
    missing = [PEERS[m] for m in PEERS if not have(m)]
    say(f"peers installed: {', '.join(found) or 'none'}; not installed (skipped): {', '.join(missing) or 'none'}")


def _cell(d: Any, key: str) -> float | None:
    if isinstance(d, dict):
        v = d.get(key)
        return v if isinstance(v, (int, float)) else None
    return None


def summary(results: dict[str, dict[str, Any]]) -> None:
    """A compact markdown table for the main README."""
    say()
    say("== summary (markdown) " + "=" * 56)
    say()
    lines = ["| benchmark | gradcli | baseline | PyTorch | HIPS autograd | JAX |", "|---|---|---|---|---|---|"]

    def peer(d: dict[str, Any], key: str, fmt: Any) -> str:
        v = _cell(d, key)
        if v is not None:
            return fmt(v)
        return "not installed" if key in PEERS and not have(key) else "—"

    st = results.get("startup")
    if st:
        numpy_ms = st.get("numpy")
        g = st.get("gradcli")
        if g and numpy_ms:

            def ms(v: float) -> str:
                return f"{v:.0f} ms"

            lines.append(
                f"| startup: `gradcli diff` one point (process wall) | {g:.0f} ms ({fmt_ratio(g / numpy_ms)} `import numpy`) "
                f"| `import numpy` {numpy_ms:.0f} ms "
                f"| {peer(st, 'torch', ms)} | {peer(st, 'autograd', ms)} | {peer(st, 'jax', ms)} |"
            )
    ba = results.get("batch")
    if ba:
        for key in ("E1@1000000", "E3@1000000", "E5@1000000", "E3@1000"):
            d = ba.get(key)
            if not isinstance(d, dict) or not d.get("numpy"):
                continue
            base = d["numpy"]

            def rel(v: float, base: float = base) -> str:
                return f"{fmt_ratio(v / base)}"

            e, n = key.split("@")
            g = d.get("gradcli")
            lines.append(
                f"| batch: {e}, N={int(n):,}, value + gradient (× hand-written numpy) | {rel(g) if g else '—'} "
                f"| numpy {fmt_time(base)} | {peer(d, 'torch', rel)} | {peer(d, 'autograd', rel)} | {peer(d, 'jax', rel)} |"
            )
    hu = results.get("huge")
    if hu:
        for key in [k for k in hu if k.startswith("gradcli@")][-1:]:
            g = hu[key]
            ops = int(key.split("@")[1])

            def tm(v: float) -> str:
                return fmt_time(v)

            tp = hu.get(f"torch@{ops}", {})
            ta = hu.get(f"autograd@{ops}", {})
            lines.append(
                f"| huge: {ops:,}-operation expression, compile + gradient | {fmt_time(g['total'])}, {fmt_mb(g['maxrss_kb'])} "
                f"| Lark parse alone {fmt_time(g['parse'])} ({fmt_ratio(g['total'] / g['parse'])}) "
                f"| {peer(tp, 'total', tm) if have('torch') else 'not installed'} "
                f"| {peer(ta, 'total', tm) if have('autograd') else 'not installed'} | — |"
            )
    pi = results.get("pipeline")
    if pi:
        for key in bench_pipeline.PIPELINE_EXPRS:
            g, n, t = pi.get(f"{key}:gradcli"), pi.get(f"{key}:numpy"), pi.get(f"{key}:torch")
            if not isinstance(g, dict):
                continue
            ncell = f"numpy script {fmt_rate(n['rows_per_s'])}, {fmt_mb(n['maxrss_kb'])}" if isinstance(n, dict) else "—"
            tcell = f"{fmt_rate(t['rows_per_s'])}, {fmt_mb(t['maxrss_kb'])}" if isinstance(t, dict) else "—"
            lines.append(
                f"| pipeline: {key}, 1M CSV rows → CSV (rows/s, peak RSS) "
                f"| {fmt_rate(g['rows_per_s'])}, {fmt_mb(g['maxrss_kb'])} "
                f"| {ncell} | {tcell} | — | — |"
            )
        big = pi.get("big")
        if isinstance(big, dict):
            lines.append(
                f"| pipeline: {big['rows']:,} rows, {bench_pipeline.BIG_EXPR}, peak RSS < {bench_pipeline.RSS_LIMIT_MB} MB "
                f"| {fmt_mb(big['maxrss_kb'])} {big['verdict']} | | | | |"
            )
    ta = results.get("taylor")
    if ta:
        for key in ("T1@10", "T1@20", "T1@100", "T2@100"):
            d = ta.get(key)
            if not isinstance(d, dict) or not isinstance(d.get("gradcli"), dict):
                continue
            g, s = d["gradcli"], d.get("sympy")
            scell = fmt_time(s["time"]) if isinstance(s, dict) else (s or "not installed")
            e, n = key.split("@")
            j = d.get("jax")
            jcell = fmt_time(j["time"]) if isinstance(j, dict) else ("not installed" if not have("jax") else "—")
            lines.append(
                f"| taylor: {bench_taylor.EXPRS[e][0]}, N = {n}, in-process | {fmt_time(g['time'])} "
                f"| SymPy diff+evalf {scell} | — | — | {jcell} |"
            )
    say("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats and a 2e6-row memory test (a few minutes)")
    ap.add_argument("--only", choices=list(SECTIONS), action="append", help="run only this section (repeatable)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    environment()
    results: dict[str, dict[str, Any]] = {}
    for name in args.only or list(SECTIONS):
        results[name] = SECTIONS[name](args.quick)
    summary(results)
    say()
    say(f"total benchmark time: {time.perf_counter() - t0:.0f} s{' (--quick)' if args.quick else ''}")
    big = results.get("pipeline", {}).get("big")
    return 1 if isinstance(big, dict) and big.get("verdict") == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
