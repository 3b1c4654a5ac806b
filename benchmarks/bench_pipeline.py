"""Section 4, pipeline: `gradcli diff EXPR --points file.csv > out.csv` on 1e6 rows, and a 1e7-row memory test."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from common import (
    HERE,
    PYTHON,
    fmt_mb,
    fmt_rate,
    fmt_ratio,
    gradcli_script,
    have,
    heading,
    run_measured,
    say,
    skip_note,
    table,
)
from exprs import BY_KEY

RSS_LIMIT_MB = 300
PIPELINE_EXPRS = ["E1", "E2", "E3"]
BIG_EXPR = "E3"


def write_points(path: Path, rows: int, seed: int = 0, chunk: int = 500_000) -> int:
    """x,y rows in the domain of every expression, written in chunks (never all in memory)."""
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="ascii") as fh:
        fh.write("x,y\n")
        done = 0
        while done < rows:
            n = min(chunk, rows - done)
            block = np.column_stack([rng.uniform(0.5, 2.0, n), rng.uniform(-2.0, 2.0, n)])
            np.savetxt(fh, block, fmt="%.17g", delimiter=",")
            done += n
    return path.stat().st_size


def count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 24):
            count += block.count(b"\n")
    return count


def outputs_agree(a: Path, b: Path, rows: int = 2000) -> bool:
    """The first rows of two outputs hold the same numbers (to 1e-10 relative)."""
    with a.open() as fa, b.open() as fb:
        if fa.readline().strip() != fb.readline().strip():
            return False
        x = np.loadtxt(fa, delimiter=",", max_rows=rows, ndmin=2)
        y = np.loadtxt(fb, delimiter=",", max_rows=rows, ndmin=2)
    return x.shape == y.shape and bool(np.allclose(x, y, rtol=1e-10, atol=1e-12))


def run(quick: bool, keep_big: bool = False) -> dict[str, object]:
    heading("4. pipeline: CSV points in, CSV value + gradient out (whole process)")
    rows_n = 1_000_000
    big_n = 2_000_000 if quick else 10_000_000
    tools: list[tuple[str, str]] = [("gradcli", "gradcli --points"), ("numpy", "numpy script (loadtxt + hand-written + savetxt)")]
    if have("torch"):
        tools.append(("torch", "PyTorch script (loadtxt + autograd + savetxt)"))
    else:
        say(skip_note("torch", "pipeline"))
    results: dict[str, object] = {}
    tmp = Path(tempfile.mkdtemp(prefix="gradcli-bench-"))
    try:
        points = tmp / "points.csv"
        size = write_points(points, rows_n)
        say(f"input: {rows_n:,} rows, {size / 1e6:.0f} MB, x in [0.5, 2], y in [-2, 2], written with %.17g")
        say("gradcli writes shortest round-trip numbers; the scripts write %.17g (output sizes differ a little)")
        table_rows = []
        for key in PIPELINE_EXPRS:
            e = BY_KEY[key]
            rates: dict[str, float | None] = {}
            outs: dict[str, Path] = {}
            cells = [f"{key} {e.short}"]
            for tool, _label in tools:
                out = tmp / f"out-{key}-{tool}.csv"
                if tool == "gradcli":
                    cmd = [str(gradcli_script()), "diff", e.source, "--points", str(points)]
                else:
                    cmd = [PYTHON, str(HERE / "pipeline_peer.py"), tool, key, str(points)]
                with out.open("wb") as fh:
                    r = run_measured(cmd, timeout=600, stdout=fh)
                lines = count_lines(out) if r.ok else 0
                if not r.ok or lines != rows_n + 1:
                    why = r.describe_failure() if not r.ok else f"{lines} lines written"
                    cells.append(f"failed ({why})")
                    rates[tool] = None
                    say(f"  {tool} on {key}: {why}")
                    continue
                outs[tool] = out
                rates[tool] = rows_n / r.wall
                cells.append(f"{r.wall:.2f} s  {fmt_rate(rates[tool])}  {fmt_mb(r.maxrss_kb)}")
                results[f"{key}:{tool}"] = {"wall": r.wall, "rows_per_s": rates[tool], "maxrss_kb": r.maxrss_kb}
            for tool in outs:
                if tool != "gradcli" and "gradcli" in outs and not outputs_agree(outs["gradcli"], outs[tool]):
                    say(f"  WARNING: {tool} output differs from gradcli's on {key}")
            g, n = rates.get("gradcli"), rates.get("numpy")
            cells.append(fmt_ratio(g / n) if g and n else "—")
            table_rows.append(cells)
            for p in outs.values():
                p.unlink()
        say()
        say(f"{rows_n:,} rows; cell = wall time, rows/s, peak RSS; last column = gradcli rows/s ÷ numpy script rows/s")
        say(table(["expression"] + [t for t, _ in tools] + ["gradcli/numpy speed"], table_rows))
        points.unlink()

        # The streaming memory bound: a big file through gradcli alone.
        e = BY_KEY[BIG_EXPR]
        big = tmp / "big.csv"
        say()
        say(f"generating {big_n:,} rows (streamed) ...")
        size = write_points(big, big_n, seed=1)
        out = tmp / "big-out.csv"
        with out.open("wb") as fh:
            r = run_measured([str(gradcli_script()), "diff", e.source, "--points", str(big)], timeout=1200, stdout=fh)
        lines = count_lines(out) if r.ok else 0
        ok = r.ok and lines == big_n + 1
        rss_mb = r.maxrss_kb / 1024
        verdict = "PASS" if ok and rss_mb < RSS_LIMIT_MB else "FAIL"
        detail = "" if ok else f" ({r.describe_failure() if not r.ok else f'{lines} lines written'})"
        say(
            table(
                ["input", "expression", "wall", "rows/s", "peak RSS", f"< {RSS_LIMIT_MB} MB"],
                [
                    [
                        f"{big_n:,} rows, {size / 1e6:.0f} MB",
                        f"{BIG_EXPR} {e.short}",
                        f"{r.wall:.1f} s",
                        fmt_rate(big_n / r.wall) if ok else "—",
                        fmt_mb(r.maxrss_kb),
                        verdict + detail,
                    ]
                ],
            )
        )
        results["big"] = {"rows": big_n, "wall": r.wall, "maxrss_kb": r.maxrss_kb, "verdict": verdict}
    finally:
        if not keep_big:
            shutil.rmtree(tmp, ignore_errors=True)
    return results
