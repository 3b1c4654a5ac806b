"""The evaluation trace (Wengert list) of a program at a point, from the tape that computes it.

Reverse mode gives, for each instruction, its value, the local partial
derivative with respect to each input (formula and number) and its adjoint
v̄ = ∂output/∂v from the backward sweep; forward mode gives tangents v̇ for a
seed direction. Rows come from the same tape and the same rules as `diff`,
so the explanation can't disagree with the answer.

A program with several outputs is traced whole: the rows are every
instruction any output depends on (a shared one once), and reverse mode runs
one backward sweep per output, so each row has one adjoint per output
(keyed by the output's label) and each output its own gradient. Forward mode
needs nothing more: a tangent sweep carries every output along at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..api import Expression
from ..engine import derivatives, evaluate
from ..engine.primitives import PRIMITIVES
from ..engine.printing import apply_text, formula, row_names
from ..engine.tape import Ref
from ..errors import UsageError
from ..numfmt import format_number


@dataclass
class Partial:
    wrt: str  # the input's row name
    formula: str
    value: np.ndarray | None


@dataclass
class TraceRow:
    index: int  # the tape instruction
    name: str  # v1, v2, … or the input's own name (a constant output: its value)
    op: str  # the primitive's name ("input" for inputs, "const" for a constant that is an output)
    expression: str  # the right-hand side in math, over row names
    source: str | None  # the user's text this instruction came from
    value: np.ndarray
    partials: list[Partial] = field(default_factory=list)
    adjoints: dict[str, np.ndarray] = field(default_factory=dict)  # reverse: output label → ∂output/∂this, every output
    carried: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)  # reverse: label → argument index → cotangent
    tangents: dict[str, np.ndarray] = field(default_factory=dict)  # forward mode: seed label → tangent
    outputs: list[str] = field(default_factory=list)  # the labels of the outputs this row is (x, x: one row, two)
    feeds: list[str] = field(default_factory=list)  # the labels of the outputs that depend on this row

    @property
    def adjoint(self) -> np.ndarray | None:
        """∂output/∂this for a single-output trace (None in forward mode); several outputs: `adjoints`."""
        if not self.adjoints:
            return None
        if len(self.adjoints) != 1:
            raise ValueError(f"the trace has {len(self.adjoints)} outputs: use adjoints[label]")
        return next(iter(self.adjoints.values()))


SHORT = 24  # an output label longer than this is called #k (its place in the program) in headers and annotations


def short_labels(labels: Sequence[str]) -> list[str]:
    """What a column header or a graph annotation calls each output: its label, or `#k` when the label
    is long (a 10,000-term output must not widen every row). `#` starts a comment, so no label is `#k`."""
    return [label if len(label) <= SHORT else f"#{k}" for k, label in enumerate(labels, 1)]


@dataclass
class Trace:
    mode: str
    outputs: tuple[str, ...]  # every traced output's label, in program order
    output_rows: tuple[str, ...]  # the name of each output's row, in the same order
    rows: list[TraceRow]
    seeds: dict[str, dict[str, np.ndarray]]  # seed label → direction per input (forward mode)
    gradients: dict[str, dict[str, np.ndarray]]  # reverse mode: output label → variable → gradient

    @property
    def output(self) -> str:
        """The label of the only output (several outputs: `outputs`)."""
        if len(self.outputs) != 1:
            raise ValueError(f"the trace has {len(self.outputs)} outputs: use outputs")
        return self.outputs[0]

    @property
    def gradient(self) -> dict[str, np.ndarray]:
        """The gradient of the only output (several outputs: `gradients[label]`); empty in forward mode."""
        if not self.gradients:
            return {}
        if len(self.gradients) != 1:
            raise ValueError(f"the trace has {len(self.gradients)} outputs: use gradients[label]")
        return next(iter(self.gradients.values()))


def trace(
    expr: Expression,
    point: Mapping[str, np.ndarray],
    mode: str = "reverse",
    seeds: dict[str, dict[str, np.ndarray]] | None = None,
    outputs: Sequence[int] | None = None,
) -> Trace:
    """Rows for every instruction the outputs (default: all of them) depend on, in tape order, each once."""
    if mode not in ("reverse", "forward"):
        raise UsageError(f"unknown mode {mode!r}: use reverse or forward")
    n_out = len(expr.output_names)
    which = list(range(n_out)) if outputs is None else [range(n_out)[k] for k in outputs]
    labels = tuple(expr.output_names[k] for k in which)
    outs = [expr.lowered.outputs[k] for k in which]
    evaluate.run(expr.specialised(point), point, outs)  # domain errors first, naming the user's sub-expression
    shapes = {v: np.shape(point[v]) for v in expr.variables}
    tape = derivatives.prepare(expr.specialised(point), shapes)
    n_primal = max(outs) + 1
    live = evaluate.needed(tape, outs)  # nothing from n_primal on is needed
    feeds = [evaluate.needed(tape, [o]) for o in outs]  # one backward marking loop per output
    is_output = set(outs)
    names = row_names(tape, live)
    leaves = {i: names[i] for i in range(n_primal) if live[i]}
    var_index = {v: tape._index[("var", v)] for v in expr.variables if ("var", v) in tape._index}
    shown = [live[i] and (tape.ops[i] != "const" or i in is_output) for i in range(n_primal)]

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

    wanted: list[int] = [i for i in range(n_primal) if shown[i]]
    for pairs in partial_refs.values():
        wanted += [p for _, p in pairs if isinstance(p, int)]
    adjoint_of: dict[str, dict[int, int]] = {}  # output label → instruction → its adjoint's instruction
    carried_of: dict[str, dict[int, dict[int, int]]] = {}  # output label → instruction → argument → cotangent
    grads: dict[str, list[int | None]] = {}
    tangent_of: dict[str, list[int | None]] = {}
    seeds = seeds or {}
    if mode == "reverse":
        for label, out in zip(labels, outs):
            record: dict[int, int] = {}
            edges: dict[tuple[int, int], int] = {}
            grads[label] = derivatives.grad(tape, out, list(var_index.values()), record=record, edges=edges)
            by_row: dict[int, dict[int, int]] = {}
            for (j, a), c in edges.items():
                by_row.setdefault(j, {})[a] = c
            adjoint_of[label], carried_of[label] = record, by_row
            wanted += list(record.values()) + list(edges.values())
    else:
        if not seeds:
            seeds = {v: {v: np.ones(shapes[v])} for v in expr.variables}
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
        if not shown[i]:
            continue
        op = tape.ops[i]
        if op in ("var", "const"):
            expression, source = names[i], None
        else:
            arg_texts = [(names[a], 9) for a in tape.args[i]]
            expression = apply_text(op, arg_texts, tape.params[i])[0]
            source = tape.text(i) if tape.spans[i] is not None else None
        row = TraceRow(i, names[i], {"var": "input"}.get(op, op), expression, source, values[i])
        row.outputs = [label for label, o in zip(labels, outs) if o == i]
        row.feeds = [label for label, f in zip(labels, feeds) if f[i]]
        for a, p in partial_refs.get(i, []):
            if p is None:
                row.partials.append(Partial(names[a], "0", np.zeros(())))
            elif isinstance(p, int):
                row.partials.append(Partial(names[a], formula(tape, p, leaves), values[p]))
            else:
                row.partials.append(Partial(names[a], format_number(p), np.asarray(p)))
        shape = np.shape(values[i])
        for label in adjoint_of:
            g = adjoint_of[label].get(i)
            if g is not None:
                row.adjoints[label] = np.broadcast_to(values[g], shape)
            else:  # not reached by this sweep; but an output that is a constant is still its own seed, 1
                row.adjoints[label] = np.full(shape, 1.0 if label in row.outputs else 0.0)
            row.carried[label] = {a: values[c] for a, c in carried_of[label].get(i, {}).items()}
        for label, tangents in tangent_of.items():
            t = tangents[i]
            row.tangents[label] = np.zeros(shape) if t is None else values[t]
        rows.append(row)
    rows.sort(key=lambda r: r.op != "input")  # inputs first, as the classic trace tables list them
    gradients = {
        # The sweep is seeded with a scalar 1, so a gradient may come out as a scalar: it has its variable's shape.
        label: {
            v: np.zeros(shapes[v]) if g is None else np.broadcast_to(values[g], shapes[v])
            for v, g in zip(var_index, grads[label])
        }
        for label in grads
    }
    return Trace(mode, labels, tuple(names[o] for o in outs), rows, seeds, gradients)


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
    """The chain-rule steps in words, one per row, from the same rows.

    Reverse mode: one backward sweep per output (adjoints, last row first), each over the rows that
    output depends on; forward mode: one sweep per seed, ending, with several outputs, in each output's tangent.
    """
    from ..numfmt import format_value

    lines: list[str] = []
    several = len(t.outputs) > 1
    if t.mode == "reverse":
        consumers: dict[str, list[tuple[TraceRow, Partial]]] = {}
        for row in t.rows:
            for p in row.partials:
                consumers.setdefault(p.wrt, []).append((row, p))
        for label, name, out_row in zip(t.outputs, short_labels(t.outputs), t.output_rows):
            spelled = label if name == label else f"{name} = {label}"
            sweep = f"Backward sweep for output {spelled}" if several else "Backward sweep"
            start = f"the output is {out_row}; start from {out_row}̄ = 1"
            lines.append(f"{sweep}: {start} and walk the rows from the last to the first.")
            for row in reversed(t.rows):
                if label not in row.feeds:
                    continue
                uses = [(r, p) for r, p in consumers.get(row.name, []) if label in r.feeds]
                if not uses:
                    continue
                terms = " + ".join(f"{r.name}̄·∂{r.name}/∂{row.name}" for r, _ in uses)
                numbers = " + ".join(f"{format_value(r.adjoints[label])}·{format_value(p.value)}" for r, p in uses)
                rules = sorted({RULES.get(r.op, f"chain rule through {r.op}") for r, _ in uses})
                lines.append(
                    f"{row.name}̄ = {terms} = {numbers} = {format_value(row.adjoints[label])}   ({', '.join(rules)};"
                    f" ∂{uses[0][0].name}/∂{row.name} = {uses[0][1].formula})"
                )
            gradient = t.gradients.get(label, {})
            if several:
                parts = ", ".join(f"∂({name})/∂{v} = {format_value(g)}" for v, g in gradient.items())
                lines.append(f"The adjoints of the inputs in this sweep are the gradient of {name}: {parts}")
            else:
                parts = ", ".join(f"∂f/∂{v} = {format_value(g)}" for v, g in gradient.items())
                lines.append(f"The adjoints of the inputs are the gradient of f = {label}: {parts}")
    else:
        by_name = {r.name: r for r in t.rows}
        for label in t.seeds:
            lines.append(f"Forward sweep with seed {label}: carry the tangent along with each value.")
            for row in t.rows:
                if row.op in ("input", "const"):
                    continue
                terms = " + ".join(f"∂{row.name}/∂{p.wrt}·{p.wrt}̇" for p in row.partials) or "its own rule"
                rule = RULES.get(row.op, f"chain rule through {row.op}")
                lines.append(f"{row.name}̇ = {terms} = {format_value(row.tangents[label])}   ({rule})")
            if several:
                ends = "; ".join(
                    f"{out} is {name}, {name}̇ = {format_value(by_name[name].tangents[label])}"
                    for out, name in zip(short_labels(t.outputs), t.output_rows)
                )
                lines.append(f"The outputs' tangents along {label}: {ends}")
    return lines
