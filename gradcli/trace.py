"""The evaluation trace (Wengert list) of a program at a point, from the tape that computes it.

Reverse mode gives, for each instruction, its value, the local partial
derivative with respect to each input (formula and number) and its adjoint
v̄ = ∂output/∂v from the backward sweep; forward mode gives tangents v̇ for a
seed direction. Rows come from the same tape and the same rules as `diff`,
so the explanation can't disagree with the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from . import derivatives, evaluate
from .api import Expression
from .errors import UsageError
from .numfmt import format_number
from .primitives import PRIMITIVES
from .printing import apply_text, formula, row_names, var_text
from .tape import Ref


@dataclass
class Partial:
    wrt: str  # the input's row name
    formula: str
    value: np.ndarray | None


@dataclass
class TraceRow:
    index: int  # the tape instruction
    name: str  # v1, v2, … or the input's own name
    op: str  # the primitive's name ("input" for inputs)
    expression: str  # the right-hand side in math, over row names
    source: str | None  # the user's text this instruction came from
    value: np.ndarray
    partials: list[Partial] = field(default_factory=list)
    adjoint: np.ndarray | None = None  # reverse mode: ∂output/∂this
    carried: dict[int, np.ndarray] = field(default_factory=dict)  # reverse: argument index → cotangent sent to it
    tangents: dict[str, np.ndarray] = field(default_factory=dict)  # forward mode: seed label → tangent


@dataclass
class Trace:
    mode: str
    output: str
    rows: list[TraceRow]
    seeds: dict[str, dict[str, np.ndarray]]  # seed label → direction per input (forward mode)
    gradient: dict[str, np.ndarray]


def trace(
    expr: Expression,
    point: Mapping[str, np.ndarray],
    mode: str = "reverse",
    seeds: dict[str, dict[str, np.ndarray]] | None = None,
    output: int = -1,
) -> Trace:
    """Rows for every instruction the output depends on, in tape order."""
    if mode not in ("reverse", "forward"):
        raise UsageError(f"unknown mode {mode!r}: use reverse or forward")
    out_index = range(len(expr.output_names))[output]
    expr.evaluate(point, out_index)  # domain errors first, naming the user's sub-expression
    shapes = {v: np.shape(point[v]) for v in expr.variables}
    tape = derivatives.prepare(expr.specialised(point), shapes)
    out = expr.lowered.outputs[out_index]
    n_primal = out + 1
    live = evaluate.needed(tape, [out])[:n_primal]
    names = row_names(tape, live)
    leaves = {i: names[i] for i in range(n_primal) if live[i]}
    var_index = {v: tape._index[("var", v)] for v in expr.variables if ("var", v) in tape._index}

    partial_refs: dict[int, list[tuple[int, int | float | None]]] = {}
    for i in range(n_primal):
        if not live[i] or tape.ops[i] in ("var", "const"):
            continue
        prim = PRIMITIVES[tape.ops[i]]
        if prim.partials is None:
            continue
        args = tuple(Ref(tape, a) for a in tape.args[i])
        parts = prim.partials(*args, Ref(tape, i))
        partial_refs[i] = [(a, p.i if isinstance(p, Ref) else p) for a, p in zip(tape.args[i], parts) if tape.ops[a] != "const"]

    wanted: list[int] = [i for i in range(n_primal) if live[i]]
    for pairs in partial_refs.values():
        wanted += [p for _, p in pairs if isinstance(p, int)]
    adjoint_of: dict[int, int] = {}
    edge_of: dict[tuple[int, int], int] = {}
    tangent_of: dict[str, list[int | None]] = {}
    seeds = seeds or {}
    if mode == "reverse":
        grads = derivatives.grad(tape, out, list(var_index.values()), record=adjoint_of, edges=edge_of)
        wanted += list(adjoint_of.values()) + list(edge_of.values())
    else:
        if not seeds:
            seeds = {v: {v: np.ones(shapes[v])} for v in expr.variables}
        grads = []
        for label, direction in seeds.items():
            seed_refs = {}
            for v, i in var_index.items():
                if v in direction:
                    seed_refs[i] = tape.var(("tangent", 0, f"{label}:{v}"), shape=tape.shapes[i])  # type: ignore[index]
            tangent_of[label] = derivatives.jvp(tape, seed_refs, n_primal)
            wanted += [t for t in tangent_of[label] if t is not None]
    inputs: dict = dict(point)
    for label, direction in seeds.items():
        for v in expr.variables:
            inputs[("tangent", 0, f"{label}:{v}")] = np.broadcast_to(np.asarray(direction.get(v, 0.0), dtype=float), shapes[v])
    values = evaluate.run(tape, inputs, sorted(set(wanted)), keep_all=True)

    rows: list[TraceRow] = []
    for i in range(n_primal):
        if not live[i] or tape.ops[i] == "const":
            continue
        op = tape.ops[i]
        if op == "var":
            expression, source = var_text(tape.params[i]), None
        else:
            arg_texts = [(names[a], 9) for a in tape.args[i]]
            expression = apply_text(op, arg_texts, tape.params[i])[0]
            source = tape.text(i) if tape.spans[i] is not None else None
        row = TraceRow(i, names[i], "input" if op == "var" else op, expression, source, values[i])
        for a, p in partial_refs.get(i, []):
            if p is None:
                row.partials.append(Partial(names[a], "0", np.zeros(())))
            elif isinstance(p, int):
                row.partials.append(Partial(names[a], formula(tape, p, leaves), values[p]))
            else:
                row.partials.append(Partial(names[a], format_number(p), np.asarray(p)))
        if mode == "reverse":
            g = adjoint_of.get(i)
            row.adjoint = np.zeros(np.shape(values[i])) if g is None else np.broadcast_to(values[g], np.shape(values[i]))
            row.carried = {a: values[c] for (j, a), c in edge_of.items() if j == i}
        else:
            for label, tangents in tangent_of.items():
                t = tangents[i]
                row.tangents[label] = np.zeros(np.shape(values[i])) if t is None else values[t]
        rows.append(row)
    rows.sort(key=lambda r: r.op != "input")  # inputs first, as the classic trace tables list them
    gradient = {}
    if mode == "reverse":
        for v, g in zip(var_index, grads):
            gradient[v] = np.zeros(shapes[v]) if g is None else values[g]
    return Trace(mode, expr.output_names[out_index], rows, seeds, gradient)


RULES = {
    "add": "sum rule",
    "sub": "difference rule",
    "mul": "product rule",
    "div": "quotient rule",
    "pow": "power rule",
    "neg": "constant multiple",
    "matmul": "matrix product rule",
}


def explain(t: Trace) -> list[str]:
    """The chain-rule steps in words, one per row, from the same rows (reverse: adjoints, last row first)."""
    from .numfmt import format_value

    lines: list[str] = []
    last = t.rows[-1].name if t.rows else "f"
    if t.mode == "reverse":
        lines.append(f"Backward sweep: the output is {last}; start from {last}̄ = 1 and walk the rows from the last to the first.")
        consumers: dict[str, list[tuple[TraceRow, Partial]]] = {}
        for row in t.rows:
            for p in row.partials:
                consumers.setdefault(p.wrt, []).append((row, p))
        for row in reversed(t.rows):
            uses = consumers.get(row.name, [])
            if not uses:
                continue
            terms = " + ".join(f"{r.name}̄·∂{r.name}/∂{row.name}" for r, _ in uses)
            numbers = " + ".join(f"{format_value(r.adjoint)}·{format_value(p.value)}" for r, p in uses)
            rules = sorted({RULES.get(r.op, f"chain rule through {r.op}") for r, _ in uses})
            lines.append(
                f"{row.name}̄ = {terms} = {numbers} = {format_value(row.adjoint)}   ({', '.join(rules)};"
                f" ∂{uses[0][0].name}/∂{row.name} = {uses[0][1].formula})"
            )
        gradient = ", ".join(f"∂f/∂{v} = {format_value(g)}" for v, g in t.gradient.items())
        lines.append(f"The adjoints of the inputs are the gradient of f = {t.output}: {gradient}")
    else:
        for label in t.seeds:
            lines.append(f"Forward sweep with seed {label}: carry the tangent along with each value.")
            for row in t.rows:
                if row.op == "input":
                    continue
                terms = " + ".join(f"∂{row.name}/∂{p.wrt}·{p.wrt}̇" for p in row.partials) or "its own rule"
                rule = RULES.get(row.op, f"chain rule through {row.op}")
                lines.append(f"{row.name}̇ = {terms} = {format_value(row.tangents[label])}   ({rule})")
    return lines
