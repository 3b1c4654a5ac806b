"""The computational graph as Graphviz DOT, Mermaid or a tree, from the tape.

Nodes are tape instructions, so a shared sub-expression appears once. With a
point, nodes carry values and adjoints; forward edges are solid and the
gradient's flow (back along each edge, labelled with what it carries) is dashed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import evaluate
from .api import Expression
from .numfmt import format_value
from .primitives import PRIMITIVES
from .printing import const_text, var_text


@dataclass
class Node:
    id: str
    label: str  # the operation: "sin", "+", an input's name, a constant
    kind: str  # "input", "const" or "op"
    value: str | None = None
    adjoint: str | None = None


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[tuple[str, str, str | None]]  # (from, to, gradient carried back along it)
    output: str


def build(expr: Expression, point: Mapping[str, np.ndarray] | None = None, output: int = -1) -> Graph:
    out_index = range(len(expr.output_names))[output]
    out = expr.lowered.outputs[out_index]
    rows = None
    if point is not None:
        from .trace import trace

        rows = {r.index: r for r in trace(expr, point, "reverse", output=out_index).rows}
    tape = expr.tape
    live = evaluate.needed(tape, [out])
    nodes: list[Node] = []
    ids: dict[int, str] = {}
    k = 0
    for i, op in enumerate(tape.ops[: out + 1]):
        if not live[i]:
            continue
        if op == "var":
            node = Node(f"n{i}", var_text(tape.params[i]), "input")
        elif op == "const":
            node = Node(f"n{i}", const_text(tape.params[i]), "const")
        else:
            k += 1
            prim = PRIMITIVES[op]
            node = Node(f"n{i}", prim.infix or prim.syntax or op, "op")
            node.label = f"v{k} {node.label}" if point is None else node.label
        if rows is not None and i in rows:
            node.value = compact(rows[i].value)
            node.adjoint = compact(rows[i].adjoint)
        ids[i] = node.id
        nodes.append(node)
    edges: list[tuple[str, str, str | None]] = []
    for i in range(out + 1):
        if not live[i] or tape.ops[i] in ("var", "const"):
            continue
        for a in tape.args[i]:
            carried = None
            if rows is not None and i in rows and a in rows[i].carried:
                carried = compact(rows[i].carried[a])
            edges.append((ids[a], ids[i], carried))
    return Graph(nodes, edges, ids[out])


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
    for n in g.nodes:
        shape = {"input": "box", "const": "plaintext", "op": "ellipse"}[n.kind]
        parts = [n.label]
        if n.value is not None:
            parts.append(f"value {n.value}")
        if n.adjoint is not None and n.kind != "const":
            parts.append(f"grad {n.adjoint}")
        label = "\\n".join(_dot_escape(p) for p in parts)
        style = ', style="bold"' if n.id == g.output else ""
        lines.append(f'  {n.id} [label="{label}", shape={shape}{style}];')
    for a, b, carried in g.edges:
        lines.append(f"  {a} -> {b};")
        if carried is not None:
            lines.append(
                f'  {b} -> {a} [style=dashed, color="firebrick", fontcolor="firebrick", constraint=false,'
                f' label="{_dot_escape(carried)}"];'
            )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(g: Graph) -> str:
    lines = ["flowchart BT"]
    for n in g.nodes:
        label = n.label
        if n.value is not None:
            label += f"<br/>value {n.value}"
        if n.adjoint is not None and n.kind != "const":
            label += f"<br/>grad {n.adjoint}"
        open_, close = {"input": ("[", "]"), "const": ("[/", "/]"), "op": ("((", "))")}[n.kind]
        lines.append(f'  {n.id}{open_}"{_mermaid_text(label)}"{close}')
    for a, b, carried in g.edges:
        lines.append(f"  {a} --> {b}")
        if carried is not None:
            lines.append(f'  {b} -. "{_mermaid_text(carried)}" .-> {a}')
    return "\n".join(lines) + "\n"


def tree_lines(g: Graph) -> list[tuple[int, str]]:
    """(depth, text) from the output down; a node reached again is shown once and then referenced."""
    by_id = {n.id: n for n in g.nodes}
    children: dict[str, list[str]] = {}
    for a, b, _ in g.edges:
        children.setdefault(b, []).append(a)
    seen: set[str] = set()
    out: list[tuple[int, str]] = []
    stack = [(g.output, 0)]
    while stack:
        nid, depth = stack.pop()
        n = by_id[nid]
        text = n.label
        if n.value is not None:
            text += f"  = {n.value}"
        if n.adjoint is not None and n.kind != "const":
            text += f"  grad {n.adjoint}"
        if nid in seen and children.get(nid):
            out.append((depth, f"{text}  (shared, shown above)"))
            continue
        seen.add(nid)
        out.append((depth, text))
        for c in reversed(children.get(nid, [])):
            stack.append((c, depth + 1))
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

    from .errors import UsageError

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
