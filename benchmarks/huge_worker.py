"""Subprocess worker for section 3 (huge): one tool, one size, results as one JSON line.

    python benchmarks/huge_worker.py TOOL TERMS REPEATS

TOOL is gradcli, export, torch, autograd, ast or sympy. Running each in its own process gives its own
peak RSS (ru_maxrss of this process, reported with the results).
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))

from exprs import huge_source  # noqa: E402

X, Y = 0.5, 2.0


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    samples, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), out


def expected(terms: int) -> tuple[float, float, float]:
    import math

    v = sum(math.sin(k * X + Y) for k in range(1, terms + 1))
    dx = sum(k * math.cos(k * X + Y) for k in range(1, terms + 1))
    dy = sum(math.cos(k * X + Y) for k in range(1, terms + 1))
    return v, dx, dy


def check(got: tuple[float, float, float], terms: int) -> None:
    want = expected(terms)
    for g, w in zip(got, want):
        if abs(g - w) > 1e-8 * max(1.0, abs(w)):
            raise AssertionError(f"wrong result {got} != {want}")


def gradcli_tool(terms: int, repeats: int) -> dict[str, Any]:
    from lark import Lark

    import gradcli

    src = huge_source(terms)
    grammar = (Path(__file__).resolve().parent.parent / "grammars" / "gradcli.lark").read_text(encoding="utf-8")
    parser = Lark(grammar, parser="lalr", start="program", maybe_placeholders=True)  # no transformer
    t_parse, _ = timed(lambda: parser.parse(src), repeats)
    gradcli.compile("x + y").value_and_gradient({"x": X, "y": Y})  # warm: gradcli's own parser, lazy imports
    t_compile, _ = timed(lambda: gradcli.compile(src), repeats)

    def total() -> Any:
        f = gradcli.compile(src)
        return f.value_and_gradient({"x": X, "y": Y})

    t_total, (value, grad) = timed(total, repeats)
    check((float(value), float(grad["x"]), float(grad["y"])), terms)
    return {"parse": t_parse, "compile": t_compile, "total": t_total}


def torch_tool(terms: int, repeats: int) -> dict[str, Any]:
    import torch

    def go() -> tuple[float, float, float]:
        x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
        y = torch.tensor(Y, dtype=torch.float64, requires_grad=True)
        acc = torch.sin(1 * x + y)
        for k in range(2, terms + 1):
            acc = acc + torch.sin(k * x + y)
        acc.backward()
        return acc.item(), x.grad.item(), y.grad.item()  # type: ignore[union-attr]

    go()
    t, out = timed(go, repeats)
    check(out, terms)
    return {"total": t}


def autograd_tool(terms: int, repeats: int) -> dict[str, Any]:
    import autograd.numpy as anp
    from autograd import value_and_grad

    def f(x: Any, y: Any) -> Any:
        acc = anp.sin(1 * x + y)
        for k in range(2, terms + 1):
            acc = acc + anp.sin(k * x + y)
        return acc

    vg = value_and_grad(f, argnum=(0, 1))

    def go() -> tuple[float, float, float]:
        v, (dx, dy) = vg(X, Y)
        return float(v), float(dx), float(dy)

    go()
    t, out = timed(go, repeats)
    check(out, terms)
    return {"total": t}


def ast_tool(terms: int, repeats: int) -> dict[str, Any]:
    """Python's own parser and compiler on the same text (sin from math): what happens."""
    import ast
    import math

    src = huge_source(terms)
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    try:
        tree = ast.parse(src, mode="eval")
    except (RecursionError, MemoryError, SyntaxError) as exc:
        out["outcome"] = f"ast.parse: {type(exc).__name__}: {exc}"
        return out
    out["parse"] = time.perf_counter() - t0
    try:
        code = compile(tree, "<huge>", "eval")
        value = eval(code, {"sin": math.sin, "x": X, "y": Y})  # our own generated text, not user input
    except (RecursionError, MemoryError, SyntaxError) as exc:
        out["outcome"] = f"ast.parse ok in {out['parse']:.3f} s; compile: {type(exc).__name__}: {exc}"
        return out
    out["outcome"] = f"ast.parse + compile + eval ok ({value:.6g}), {time.perf_counter() - t0:.3f} s (value only, no derivative)"
    return out


def sympy_tool(terms: int, repeats: int) -> dict[str, Any]:
    import sympy as sp

    src = huge_source(terms)
    t0 = time.perf_counter()
    try:
        expr = sp.sympify(src)
        x, y = sp.Symbol("x"), sp.Symbol("y")
        dx, dy = sp.diff(expr, x), sp.diff(expr, y)
        vals = [float(e.evalf(subs={x: X, y: Y})) for e in (expr, dx, dy)]
    except (RecursionError, MemoryError, SyntaxError, ValueError, TypeError) as exc:
        return {"outcome": f"{type(exc).__name__}: {str(exc)[:120]}"}
    check((vals[0], vals[1], vals[2]), terms)
    t = time.perf_counter() - t0
    return {"total": t, "outcome": f"ok, sympify + diff + evalf in {t:.2f} s"}


def export_tool(terms: int, repeats: int) -> dict[str, Any]:
    """gradcli export --grad --lang python of the huge expression, then compile() of its text; the function is run."""
    import gradcli
    from gradcli.tools.export import emit

    src = huge_source(terms)
    t0 = time.perf_counter()
    text = emit(gradcli.compile(src), "python", "grad")
    t1 = time.perf_counter()
    code = compile(text, "<export>", "exec")
    t2 = time.perf_counter()
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - gradcli's generated code, from the benchmark's own text
    value, (dx, dy) = namespace["f_and_grad"](X, Y)
    check((value, dx, dy), terms)
    return {"export": t1 - t0, "py_compile": t2 - t1, "total": t2 - t0, "lines": text.count("\n")}


TOOLS = {
    "export": export_tool,
    "gradcli": gradcli_tool,
    "torch": torch_tool,
    "autograd": autograd_tool,
    "ast": ast_tool,
    "sympy": sympy_tool,
}


def main() -> None:
    tool, terms, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    result = TOOLS[tool](terms, repeats)
    result["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))


if __name__ == "__main__":
    main()
