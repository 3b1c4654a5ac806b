"""Section 3, huge: one expression of up to 1e5 operations at one point; growth with size."""

from __future__ import annotations

import json
from typing import Any

from common import HERE, PYTHON, fmt_mb, fmt_ratio, fmt_time, have, heading, run_measured, say, skip_note, table
from exprs import huge_ops

WORKER = HERE / "huge_worker.py"


def measure(tool: str, terms: int, repeats: int, timeout: float) -> dict[str, Any]:
    r = run_measured([PYTHON, str(WORKER), tool, str(terms), str(repeats)], timeout=timeout)
    if not r.ok:
        return {"outcome": r.describe_failure(), "maxrss_kb": r.maxrss_kb}
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"outcome": f"unreadable worker output {r.stdout[-80:]!r}"}


def run(quick: bool) -> dict[str, object]:
    heading("3. huge: sum_{k=1..n} sin(k*x + y), one point, sizes 1e3 / 1e4 / 1e5 operations")
    say("operations = 4 per term (*, +, sin, and the + joining terms); each cell from its own subprocess")
    say("parse = lark.Lark(grammars/gradcli.lark, parser='lalr') .parse() alone, no transformer;")
    say("compile = gradcli.compile (parse + AST + lowering to a tape); total = compile + value_and_gradient")
    sizes = [250, 2_500, 25_000]
    peers = []
    for mod in ("torch", "autograd"):
        if have(mod):
            peers.append(mod)
        else:
            say(skip_note(mod, "huge"))
    timeout = 300.0 if quick else 900.0
    rows, growth_rows, peer_rows, fail_rows = [], [], [], []
    results: dict[str, object] = {}
    for terms in sizes:
        ops = huge_ops(terms)
        repeats = 1 if (quick and terms >= 25_000) else (3 if terms >= 25_000 else 5)
        g = measure("gradcli", terms, repeats, timeout)
        if "total" not in g:
            rows.append([f"{ops:,}", "failed", "", "", "", g.get("outcome", "?")])
            continue
        results[f"gradcli@{ops}"] = g
        rows.append(
            [
                f"{ops:,}",
                fmt_time(g["parse"]),
                fmt_time(g["compile"]),
                fmt_time(g["total"]),
                fmt_ratio(g["total"] / g["parse"]),
                fmt_mb(g["maxrss_kb"]),
            ]
        )
        growth_rows.append(
            [
                f"{ops:,}",
                f"{g['parse'] / ops * 1e6:.1f}",
                f"{g['compile'] / ops * 1e6:.1f}",
                f"{g['total'] / ops * 1e6:.1f}",
            ]
        )
        cells = [f"{ops:,}", f"{fmt_time(g['total'])} / {fmt_mb(g['maxrss_kb'])}"]
        for mod in peers:
            p = measure(mod, terms, repeats, timeout)
            results[f"{mod}@{ops}"] = p
            if "total" in p:
                cells.append(f"{fmt_time(p['total'])} / {fmt_mb(p['maxrss_kb'])} ({fmt_ratio(g['total'] / p['total'])})")
            else:
                cells.append(p.get("outcome", "failed"))
        peer_rows.append(cells)
        for tool in ("ast", "sympy"):
            if tool == "sympy" and not have("sympy"):
                continue
            p = measure(tool, terms, 1, 60.0 if quick else 180.0)
            fail_rows.append([f"{ops:,}", {"ast": "Python ast.parse/compile", "sympy": "SymPy"}[tool], p.get("outcome", "?")])
    say()
    say(table(["operations", "lark parse", "gradcli compile", "compile + value&grad", "total / parse", "peak RSS"], rows))
    say()
    say("growth: µs per operation (flat = linear)")
    say(table(["operations", "parse", "compile", "total"], growth_rows))
    if peers:
        say()
        say("same graph built in Python, forward + backward (time / peak RSS; ratio = gradcli total / peer)")
        say(
            table(
                ["operations", "gradcli"] + [{"torch": "PyTorch eager", "autograd": "HIPS autograd"}[m] for m in peers], peer_rows
            )
        )
    ex = measure("export", sizes[-1], 1, timeout)
    results["export"] = ex
    say()
    if "total" in ex:
        say(f"gradcli export --grad --lang python at {huge_ops(sizes[-1]):,} operations (parse + tape + code, then compile()):")
        say(f"  export {fmt_time(ex['export'])}, compile() {fmt_time(ex['py_compile'])}, together {fmt_time(ex['total'])} "
            f"({ex['lines']:,} lines), peak RSS {fmt_mb(ex['maxrss_kb'])}; the function's result checked")  # fmt: skip
    else:
        say(f"gradcli export at {huge_ops(sizes[-1]):,} operations: {ex.get('outcome', 'failed')}")
    say()
    say("Python's own parser and SymPy on the same text (what happens):")
    say(table(["operations", "tool", "outcome"], fail_rows, align="lll"))
    return results
