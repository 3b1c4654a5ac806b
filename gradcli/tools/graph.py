"""The computational graph as Graphviz DOT, Mermaid or a tree, from the tape.

Nodes are tape instructions, so a shared sub-expression appears once. With a
point, nodes carry values and adjoints; forward edges are solid and the
gradient's flow (back along each edge, labelled with what it carries) is dashed.

A program with several outputs is one graph with every output a root: each
output node is drawn bold and says which output it is, the tree view shows
each output's tree in turn, and with a point every adjoint and every dashed
edge's label gives one number per output, `2 (x*y)`, for the outputs that
depend on it (an output that doesn't has adjoint 0 there, left out).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..api import Expression
from ..engine import evaluate
from ..engine.primitives import PRIMITIVES
from ..engine.primitives.shape import subscript_text
from ..engine.printing import const_text, var_text
from ..numfmt import format_value


@dataclass
class Node:
    id: str
    label: str  # the operation: "sin", "+", an input's name, a constant
    kind: str  # "input", "const" or "op"
    value: str | None = None
    adjoints: dict[str, str] = field(default_factory=dict)  # output label → ∂output/∂node, for the outputs it feeds
    outputs: list[str] = field(default_factory=list)  # the labels of the outputs this node is


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[tuple[str, str, dict[str, str]]]  # (from, to, output label → gradient carried back along it)
    outputs: list[tuple[str, str]]  # (label, node id) of every output, in program order

    def per_output(self, values: Mapping[str, str]) -> list[str]:
        """Numbers per output (an adjoint, what an edge carries back) as text, in program order: a
        single-output graph's number alone, as it always read; with several outputs, `number (label)`
        (a long label as #k, see trace.short_labels)."""
        if len(self.outputs) == 1:
            return list(values.values())
        short = self._short()
        return [f"{v} ({short[label]})" for label, v in values.items()]

    def output_mark(self, n: Node) -> str | None:
        """`output x*y` on a node that is an output of a multi-output graph (`outputs x, x#2` for a
        repeat; a long label as `#k: its first characters…`)."""
        if len(self.outputs) == 1 or not n.outputs:
            return None
        return f"output{'s' if len(n.outputs) > 1 else ''} {', '.join(self.output_name(label) for label in n.outputs)}"

    def output_name(self, label: str) -> str:
        """An output's label where its node is marked: whole, or when long `#k: its first characters…`."""
        short = self._short()[label]
        return label if short == label else f"{short}: {_cut(label)}"

    def _short(self) -> dict[str, str]:
        from .trace import short_labels

        labels = [label for label, _ in self.outputs]
        return dict(zip(labels, short_labels(labels)))


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build(expr: Expression, point: Mapping[str, np.ndarray] | None = None) -> Graph:
    """Every output's graph in one: a shared node once, every output a root (marked with its label).

    With a point, a node carries its value and its adjoint for each output that depends on it (an
    output that doesn't has adjoint 0 there, which is left out), and each edge what each output's
    backward sweep carries back along it; all of them are keyed by the output's label.
    """
    labels = list(expr.output_names)
    outs = list(expr.lowered.outputs)
    rows = None
    if point is not None:
        from .trace import trace

        rows = {r.index: r for r in trace(expr, point, "reverse").rows}
    tape = expr.tape
    live = evaluate.needed(tape, outs)
    n = max(outs) + 1
    nodes: list[Node] = []
    ids: dict[int, str] = {}
    k = 0
    for i, op in enumerate(tape.ops[:n]):
        if not live[i]:
            continue
        if op == "var":
            node = Node(f"n{i}", var_text(tape.params[i]), "input")
        elif op == "const":
            node = Node(f"n{i}", const_text(tape.params[i]), "const")
        else:
            k += 1
            prim = PRIMITIVES[op]
            text = f"[{subscript_text(tape.params[i])}]" if op == "getitem" else prim.infix or prim.syntax or op
            node = Node(f"n{i}", text, "op")
            node.label = f"v{k} {node.label}" if point is None else node.label
        node.outputs = [label for label, o in zip(labels, outs) if o == i]
        if rows is not None and i in rows:
            row = rows[i]
            node.value = compact(row.value)
            node.adjoints = {label: compact(row.adjoints[label]) for label in labels if label in row.feeds}
        ids[i] = node.id
        nodes.append(node)
    edges: list[tuple[str, str, dict[str, str]]] = []
    for i in range(n):
        if not live[i] or tape.ops[i] in ("var", "const"):
            continue
        for a in tape.args[i]:
            carried: dict[str, str] = {}
            if rows is not None and i in rows:
                for label in labels:
                    sent = rows[i].carried[label]
                    if a in sent:
                        carried[label] = compact(sent[a])
            edges.append((ids[a], ids[i], carried))
    return Graph(nodes, edges, [(label, ids[o]) for label, o in zip(labels, outs)])


def compact(v: np.ndarray | None) -> str:
    """Six significant digits, and arrays by shape when long: a graph must stay readable."""
    arr = np.asarray(v, dtype=float)
    if arr.ndim == 0:
        return format_value(float(f"{float(arr):.6g}")) if np.isfinite(arr) else format_value(arr)
    text = format_value(np.vectorize(lambda x: float(f"{x:.6g}") if np.isfinite(x) else x)(arr))
    return text if len(text) <= 32 else f"<{'×'.join(map(str, arr.shape))} array>"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(g: Graph) -> str:
    lines = [
        "digraph gradcli {",
        "  rankdir=BT;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    roots = {nid for _, nid in g.outputs}
    for n in g.nodes:
        shape = {"input": "box", "const": "plaintext", "op": "ellipse"}[n.kind]
        parts = [n.label]
        if n.value is not None:
            parts.append(f"value {n.value}")
        if n.kind != "const":
            parts += [f"grad {a}" for a in g.per_output(n.adjoints)]
        mark = g.output_mark(n)
        if mark is not None:
            parts.append(mark)
        label = "\\n".join(_dot_escape(p) for p in parts)
        style = ', style="bold"' if n.id in roots else ""
        lines.append(f'  {n.id} [label="{label}", shape={shape}{style}];')
    for a, b, carried in g.edges:
        lines.append(f"  {a} -> {b};")
        if carried:
            text = "\\n".join(_dot_escape(c) for c in g.per_output(carried))
            lines.append(
                f'  {b} -> {a} [style=dashed, color="firebrick", fontcolor="firebrick", constraint=false, label="{text}"];'
            )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(g: Graph) -> str:
    """A Mermaid flowchart; with several outputs, each output node says so and is drawn bold (class `output`)."""
    lines = ["flowchart BT"]
    for n in g.nodes:
        label = n.label
        if n.value is not None:
            label += f"<br/>value {n.value}"
        if n.kind != "const":
            label += "".join(f"<br/>grad {a}" for a in g.per_output(n.adjoints))
        mark = g.output_mark(n)
        if mark is not None:
            label += f"<br/>{mark}"
        open_, close = {"input": ("[", "]"), "const": ("[/", "/]"), "op": ("((", "))")}[n.kind]
        lines.append(f'  {n.id}{open_}"{_mermaid_text(label)}"{close}')
    for a, b, carried in g.edges:
        lines.append(f"  {a} --> {b}")
        if carried:
            lines.append(f'  {b} -. "{_mermaid_text("<br/>".join(g.per_output(carried)))}" .-> {a}')
    if len(g.outputs) > 1:
        lines.append("  classDef output stroke-width:3px")
        lines.append(f"  class {','.join(dict.fromkeys(nid for _, nid in g.outputs))} output")
    return "\n".join(lines) + "\n"


def tree_lines(g: Graph) -> list[tuple[int, str]]:
    """(depth, text): every output's tree in program order, each from its output down, the root marked
    `[output label]` when there are several; a node reached again is shown once and then referenced."""
    by_id = {n.id: n for n in g.nodes}
    children: dict[str, list[str]] = {}
    for a, b, _ in g.edges:
        children.setdefault(b, []).append(a)
    seen: set[str] = set()
    out: list[tuple[int, str]] = []
    several = len(g.outputs) > 1
    stack: list[tuple[str, int, str | None]] = [
        (nid, 0, g.output_name(label) if several else None) for label, nid in reversed(g.outputs)
    ]
    while stack:
        nid, depth, root_of = stack.pop()
        n = by_id[nid]
        text = n.label
        if n.value is not None:
            text += f"  = {n.value}"
        if n.adjoints and n.kind != "const":
            text += f"  grad {', '.join(g.per_output(n.adjoints))}"
        if root_of is not None:
            text += f"  [output {root_of}]"
        if nid in seen and children.get(nid):
            out.append((depth, f"{text}  (shared, shown above)"))
            continue
        seen.add(nid)
        out.append((depth, text))
        for c in reversed(children.get(nid, [])):
            stack.append((c, depth + 1, None))
    return out


def render(g: Graph, fmt: str) -> str | bytes:
    """The graph in a text format, or an image through Graphviz's `dot` program."""
    if fmt == "dot":
        return to_dot(g)
    if fmt == "mermaid":
        return to_mermaid(g)
    if fmt == "tree":
        return "".join("  " * depth + text + "\n" for depth, text in tree_lines(g))
    import shutil
    import subprocess

    from ..errors import UsageError

    dot = shutil.which("dot")
    if dot is None:
        raise UsageError(
            f"--format {fmt} needs Graphviz's dot program, which is not installed: install Graphviz"
            " (apt-get install graphviz, brew install graphviz, choco install graphviz) or use --format dot"
        )
    done = subprocess.run([dot, f"-T{fmt}"], input=to_dot(g).encode("utf-8"), capture_output=True, timeout=60)
    if done.returncode != 0:
        raise UsageError(f"Graphviz's dot failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout
