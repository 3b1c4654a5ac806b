"""Section 1, startup: whole-process wall time of one derivative at one point, round-robin."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from common import PYTHON, Run, fmt_ratio, gradcli_script, have, heading, run_measured, say, skip_note, table

EXPR = "x**2+2*x+1"


@dataclass
class Contender:
    key: str
    name: str
    cmd: list[str]
    expect: str | None = "8"  # text the output must contain (the derivative at x=3)
    samples: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    error: str | None = None


def contenders() -> tuple[list[Contender], list[str]]:
    py = [PYTHON, "-c"]
    items = [
        Contender("python", "python -c pass", py + ["pass"], expect=None),
        Contender("numpy", "import numpy", py + ["import numpy"], expect=None),
        Contender("deps", "import numpy, lark, typer, rich", py + ["import numpy, lark, typer, rich"], expect=None),
        Contender("gradcli", f'gradcli diff "{EXPR}" --at x=3', [str(gradcli_script()), "diff", EXPR, "--at", "x=3"]),
    ]
    notes = []
    one_liners = {
        "autograd": "from autograd import grad; print(grad(lambda x: x**2 + 2*x + 1)(3.0))",
        "sympy": "import sympy as sp; x = sp.Symbol('x'); print(sp.diff(x**2 + 2*x + 1, x).subs(x, 3))",
        "jax": "import jax; print(jax.grad(lambda x: x**2 + 2*x + 1)(3.0))",
        "torch": (
            "import torch; x = torch.tensor(3.0, dtype=torch.float64, requires_grad=True); "
            "(x**2 + 2*x + 1).backward(); print(x.grad.item())"
        ),
    }
    labels = {
        "autograd": "HIPS autograd one-liner",
        "sympy": "SymPy one-liner",
        "jax": "JAX one-liner",
        "torch": "PyTorch one-liner",
    }
    for mod, src in one_liners.items():
        if have(mod):
            items.append(Contender(mod, labels[mod], py + [src]))
        else:
            notes.append(skip_note(mod, "startup"))
    return items, notes


def importtime_top(n: int = 10) -> list[tuple[int, int, str]]:
    """Top imports by cumulative time for the gradcli command, from `python -X importtime`."""
    run = run_measured([PYTHON, "-X", "importtime", str(gradcli_script()), "diff", EXPR, "--at", "x=3"], timeout=60)
    rows = []
    for line in run.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if m:
            rows.append((int(m.group(2)), int(m.group(1)), m.group(3)[1:] + m.group(4)))
    rows.sort(key=lambda r: -r[0])
    return rows[:n]


def run(quick: bool) -> dict[str, object]:
    heading("1. startup: one derivative, whole process (wall time, round-robin)")
    rounds = 7 if quick else 15
    items, notes = contenders()
    for note in notes:
        say(note)
    # Warm-up (page cache, .pyc files) and a correctness check of each command's output.
    for c in items:
        r = run_measured(c.cmd, timeout=120)
        if not r.ok:
            c.error = r.describe_failure()
        elif c.expect is not None and c.expect not in r.stdout:
            c.error = f"unexpected output {r.stdout.strip()[:60]!r}"
    live = [c for c in items if c.error is None]
    for _ in range(rounds):
        for c in live:  # alternate: every command once per round, so drift hits all of them alike
            r: Run = run_measured(c.cmd, timeout=120)
            if r.ok:
                c.samples.append(r.wall)
                c.rss.append(r.maxrss_kb)
    base = next((c for c in items if c.key == "numpy" and c.samples), None)
    base_ms = statistics.median(base.samples) * 1e3 if base else None
    rows = []
    result: dict[str, object] = {}
    for c in items:
        if not c.samples:
            rows.append([c.name, "failed", "—", "—", c.error or "no successful run"])
            continue
        ms = statistics.median(c.samples) * 1e3
        result[c.key] = ms
        ratio = ms / base_ms if base_ms else None
        spread = f"{min(c.samples) * 1e3:.0f}–{max(c.samples) * 1e3:.0f}"
        rows.append([c.name, f"{ms:.0f}", fmt_ratio(ratio), spread, f"{statistics.median(c.rss) / 1024:.0f}"])
    say(f"median of {rounds} alternating runs each; ratio = median / median of `python -c 'import numpy'`")
    say(table(["command", "median ms", "vs import numpy", "min–max ms", "peak RSS MB"], rows))
    say()
    say("python -X importtime, gradcli diff command: top 10 by cumulative time (one run)")
    top = importtime_top()
    say(table(["module", "cumulative ms", "self ms"], [[m, f"{c / 1e3:.1f}", f"{s / 1e3:.1f}"] for c, s, m in top]))
    return result
