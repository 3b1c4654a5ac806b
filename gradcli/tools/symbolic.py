"""`diff --symbolic`: the derivative tape printed as a formula.

The derivative is the tape reverse mode built (constants folded, `0·a`, `1·a`,
`a + 0` dropped while it was built); printing it is a loop over that tape.
Sub-expressions used more than once are bound once, `let`-style, when that
makes the whole shorter. The text is gradcli syntax, so it can be evaluated
and checked against the AD numbers.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..api import Expression
from ..engine import derivatives
from ..engine.primitives import PRIMITIVES
from ..engine.printing import ATOM, apply_text, const_text, var_text
from ..engine.tape import Tape
from ..errors import UsageError


@dataclass
class Formulas:
    bindings: list[tuple[str, str]]  # (name, formula) shared sub-expressions, in order
    derivatives: dict[str, Any]  # variable → formula; with several outputs, label → variable → formula
    outputs: tuple[str, ...] = ()  # the labels, when the program has several outputs (each differentiated)


def derivative_formulas(
    expr: Expression,
    point: Mapping[str, np.ndarray] | None,
    wrt: Sequence[str] | None,
    latex: bool = False,
    output: int | None = None,
) -> Formulas:
    """The gradient of one output (`output`), or of every output (None), sharing bindings between them."""
    names = tuple(wrt) if wrt else expr.variables
    shapes = {v: (np.shape(point[v]) if point and v in point else ()) for v in expr.variables}
    outs = list(range(len(expr.output_names))) if output is None else [range(len(expr.output_names))[output]]
    tape = derivatives.prepare(expr.specialised(shapes_point(shapes)), shapes)
    tape.tidy = True  # gather constants: a formula is read, not evaluated a million times
    idx = [tape._index.get(("var", n)) for n in names]
    present = [i for i in idx if i is not None]
    roots: dict[Hashable, int | None] = {}
    for k in outs:
        refs = dict(zip(present, derivatives.grad(tape, expr.lowered.outputs[k], present)))
        for n, i in zip(names, idx):
            roots[(k, n)] = refs.get(i) if i is not None else None
    printed = _print(tape, roots, latex)
    if len(outs) == 1:
        return Formulas(printed.bindings, {n: f for (_, n), f in printed.derivatives.items()})
    labels = tuple(expr.output_names[k] for k in outs)
    nested = {label: {n: printed.derivatives[(k, n)] for n in names} for k, label in zip(outs, labels)}
    return Formulas(printed.bindings, nested, labels)


def shapes_point(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """A stand-in point with the right shapes, for specialising the tape without values."""
    return {v: np.zeros(s) for v, s in shapes.items()}


def _print(tape: Tape, roots: Mapping[Any, int | None], latex: bool) -> Formulas:
    live = [r for r in roots.values() if r is not None]
    needed = set(live)
    uses: dict[int, int] = {}
    stack = list(live)
    while stack:  # the sub-DAG under the roots, with use counts
        i = stack.pop()
        for a in tape.args[i]:
            uses[a] = uses.get(a, 0) + 1
            if a not in needed:
                needed.add(a)
                stack.append(a)
    inline = _texts(tape, needed, {}, latex)
    shared = [i for i in sorted(needed) if uses.get(i, 0) > 1 and tape.ops[i] not in ("var", "const") and len(inline[i][0]) > 6]
    taken = {var_text(p) for op, p in zip(tape.ops, tape.params) if op == "var"}
    let_names: dict[int, str] = {}
    k = 0
    for i in shared:
        k += 1
        while f"t{k}" in taken:
            k += 1
        let_names[i] = f"t{k}"
    bound = _texts(tape, needed, let_names, latex)
    with_lets = sum(len(bound[i][0]) for i in shared) + sum(len(bound[r][0]) for r in live)
    without = sum(len(inline[r][0]) for r in live)
    zero = "0"
    if not shared or without <= with_lets:
        return Formulas([], {n: inline[r][0] if r is not None else zero for n, r in roots.items()})
    bindings = [(let_names[i], _texts_one(tape, i, bound, latex)) for i in shared]
    return Formulas(bindings, {n: bound[r][0] if r is not None else zero for n, r in roots.items()})


def _texts_one(tape: Tape, i: int, texts: dict[int, tuple[str, int]], latex: bool) -> str:
    """The definition of a bound name: its instruction over its arguments' (possibly bound) texts."""
    return _apply(tape.ops[i], [texts[a] for a in tape.args[i]], tape.params[i], latex)[0]


def _texts(tape: Tape, needed: set[int], names: dict[int, str], latex: bool) -> dict[int, tuple[str, int]]:
    texts: dict[int, tuple[str, int]] = {}
    for i in sorted(needed):
        if i in names:
            texts[i] = (names[i], ATOM)
        elif tape.ops[i] == "const":
            text = const_text(tape.params[i])
            if latex and text == "pi":
                text = "\\pi"
            texts[i] = (text, 3 if text.startswith("-") else ATOM)
        elif tape.ops[i] == "var":
            texts[i] = (var_text(tape.params[i]), ATOM)
        else:
            texts[i] = _apply(tape.ops[i], [texts[a] for a in tape.args[i]], tape.params[i], latex)
    return texts


def _apply(op: str, args: list[tuple[str, int]], param: Hashable, latex: bool) -> tuple[str, int]:
    if op == "xlogy":  # a·log b: the 0-at-0 convention is an evaluation detail, not part of the formula
        log = latex_text("log", [args[1]]) if latex else apply_text("log", [args[1]])
        op, args = "mul", [args[0], log]
    elif op == "polygamma":
        raise UsageError("this derivative needs polygamma, which gradcli's language can't write; use diff without --symbolic")
    if op == "scatter":
        raise UsageError(
            "--symbolic can't write the derivative of a subscript: x[k] puts its cotangent back into an array of"
            " zeros, which the language has no way to write; use diff without --symbolic"
        )
    if op in ("unbroadcast", "broadcast_like", "index", "size_of", "matmul_grad_a", "matmul_grad_b"):
        raise UsageError("--symbolic prints derivatives of scalar programs; this one reshapes arrays")
    return latex_text(op, args) if latex else apply_text(op, args, param)


_LATEX_FUNCS = {
    "sin": "\\sin", "cos": "\\cos", "tan": "\\tan", "exp": "\\exp", "log": "\\ln", "sinh": "\\sinh",
    "cosh": "\\cosh", "tanh": "\\tanh", "asin": "\\arcsin", "acos": "\\arccos", "atan": "\\arctan",
}  # fmt: skip


def latex_text(op: str, args: list[tuple[str, int]]) -> tuple[str, int]:
    """The LaTeX form of one application, for teaching."""
    prim = PRIMITIVES[op]
    paren = lambda t: f"\\left({t}\\right)"  # noqa: E731
    if op == "div":
        return f"\\frac{{{args[0][0]}}}{{{args[1][0]}}}", ATOM
    if op == "pow":
        (a, pa), (b, _) = args
        return f"{a if pa == ATOM else paren(a)}^{{{b}}}", 4
    if op == "mul":
        (a, pa), (b, pb) = args
        a = a if pa >= 2 else paren(a)
        b = b if pb > 2 or (pb == 2 and not b.startswith("\\frac")) else paren(b)
        return f"{a} \\cdot {b}", 2
    if op in ("add", "sub"):
        (a, pa), (b, pb) = args
        b = b if pb > 1 or (op == "add" and pb == 1) else paren(b)
        return f"{a} {prim.infix} {b}", 1
    if op == "neg":
        a, pa = args[0]
        return f"-{a if pa > 3 else paren(a)}", 3
    if op == "sqrt":
        return f"\\sqrt{{{args[0][0]}}}", ATOM
    if op == "abs":
        return f"\\left|{args[0][0]}\\right|", ATOM
    name = _LATEX_FUNCS.get(op, f"\\operatorname{{{prim.syntax or op}}}")
    return f"{name}{paren(', '.join(a for a, _ in args))}", ATOM
