"""`gradcli graph`: DOT that Graphviz accepts, Mermaid and tree structure, shared nodes drawn once,
values and the gradient's flow with --at, images through `dot`, and a clear error without Graphviz."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import gradcli
from gradcli.cli.app import app
from gradcli.tools.graph import Graph, build, compact, render, to_dot, to_mermaid, tree_lines

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
runner = CliRunner()
DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(DOT is None, reason="Graphviz's dot program is not installed")

SHARED = "a = sin(x); a*a + a"
BIG = " + ".join(f"a{i}*b{i}" for i in range(50))  # 100 inputs, 50 products, 49 sums: 199 nodes
BIG_AT = ",".join(f"a{i}={i / 7:.15g},b{i}={math.pi * (i + 1):.15g}" for i in range(50))

# (expression, --at items or none): text programs, samples, arrays, constants.
EXPRESSIONS: list[tuple[str, list[str]]] = [
    (SHARED, []),
    (SHARED, ["x=1"]),
    ("log(x1) + x1*x2 - sin(x2)", ["x1=2,x2=5"]),
    (f"@{SAMPLES / 'add_mul_graph.grad'}", ["x=1,w=2,b=3"]),
    (f"@{SAMPLES / 'rosenbrock.grad'}", []),
    (f"@{SAMPLES / 'logistic_loss.grad'}", ["x=[1,2]", "w=[0.5,-0.25]", "b=0", "y=1"]),
    (f"@{SAMPLES / 'neuron.grad'}", ["x1=2,x2=0,w1=-3,w2=1,b=6.881373587019543"]),
    ("x^2 + pi*x", ["x=0.5"]),
    ("sum(x^2)", ["x=[1,2,3,4,5,6,7,8,9,10,11,12,13]"]),
    ("where(x > 0, x, -x) + max(x, y)/hypot(x, y)", ["x=-0.5,y=2"]),
    # several outputs: every one a root
    ("x*y, x+y", []),
    ("x*y, x+y", ["x=1,y=2"]),
    ("a = sin(x); a*a, a + y, x", ["x=0.7,y=0.3"]),
    ("x, x", []),
    ("x, x, x*y", ["x=1,y=2"]),
    ("2, x*y, x*y", ["x=1,y=3"]),
]

EXPRESSION_IDS = [f"{Path(src).stem if src.startswith('@') else src}{'-at' if at else ''}" for src, at in EXPRESSIONS]


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def at_args(at: list[str]) -> list[str]:
    return [a for item in at for a in ("--at", item)]


def graph_of(source: str, point: dict[str, Any] | None = None) -> Graph:
    expr = gradcli.compile(source)
    return build(expr, expr.bind(point) if point is not None else None)


DOT_NODE = re.compile(r'^  (n\d+) \[label="((?:[^"\\]|\\.)*)", shape=(\w+)(?:, style="bold")?\];$')
DOT_EDGE = re.compile(r"^  (n\d+) -> (n\d+);$")
DOT_GRAD = re.compile(r'^  (n\d+) -> (n\d+) \[style=dashed, .*label="((?:[^"\\]|\\.)*)"\];$')
MERMAID_NODE = re.compile(r'^  (n\d+)(\[|\(\(|\[/)"(.*)"(\]|\)\)|/\])$')
MERMAID_EDGE = re.compile(r"^  (n\d+) --> (n\d+)$")
MERMAID_GRAD = re.compile(r'^  (n\d+) -\. "(.*)" \.-> (n\d+)$')
MERMAID_CLASS = re.compile(r"^  class ((?:n\d+,)*n\d+) output$")


def parse_dot(text: str) -> tuple[dict[str, str], list[tuple[str, str]], list[tuple[str, str, str]]]:
    """Nodes (id → label), forward edges and gradient edges; fails on any line it doesn't know."""
    lines = text.splitlines()
    assert lines[0] == "digraph gradcli {" and lines[-1] == "}"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    grads: list[tuple[str, str, str]] = []
    for line in lines[1:-1]:
        if m := DOT_NODE.match(line):
            nodes[m[1]] = m[2]
        elif m := DOT_EDGE.match(line):
            edges.append((m[1], m[2]))
        elif m := DOT_GRAD.match(line):
            grads.append((m[1], m[2], m[3]))
        else:
            assert line.startswith(("  rankdir", "  node [", "  edge [")), line
    return nodes, edges, grads


def parse_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str]], list[tuple[str, str, str]]]:
    lines = text.splitlines()
    assert lines[0].startswith("flowchart")
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    grads: list[tuple[str, str, str]] = []
    for line in lines[1:]:
        if m := MERMAID_NODE.match(line):
            nodes[m[1]] = m[3]
        elif m := MERMAID_EDGE.match(line):
            edges.append((m[1], m[2]))
        elif m := MERMAID_GRAD.match(line):
            grads.append((m[1], m[3], m[2]))
        elif line == "  classDef output stroke-width:3px" or MERMAID_CLASS.match(line):
            pass  # several outputs: the output nodes drawn bold
        else:
            raise AssertionError(f"unexpected Mermaid line {line!r}")
    return nodes, edges, grads


# -- DOT --------------------------------------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize(("source", "at"), EXPRESSIONS, ids=EXPRESSION_IDS)
def test_dot_output_parses_with_graphviz(source: str, at: list[str]) -> None:
    result = run("graph", source, *at_args(at), "--format", "dot")
    assert result.exit_code == 0, result.output
    done = subprocess.run([DOT, "-Tsvg"], input=result.stdout.encode("utf-8"), capture_output=True, timeout=60)  # type: ignore[list-item]
    assert done.returncode == 0, done.stderr.decode()
    assert b"<svg" in done.stdout


@pytest.mark.parametrize(("source", "at"), EXPRESSIONS, ids=EXPRESSION_IDS)
def test_dot_and_mermaid_have_the_same_structure(source: str, at: list[str]) -> None:
    dot = run("graph", source, *at_args(at), "--format", "dot")
    mermaid = run("graph", source, *at_args(at), "--format", "mermaid")
    assert dot.exit_code == 0 and mermaid.exit_code == 0, dot.output + mermaid.output
    dn, de, dg = parse_dot(dot.stdout)
    mn, me, mg = parse_mermaid(mermaid.stdout)
    assert list(dn) == list(mn)
    assert de == me
    assert [(a, b) for a, b, _ in dg] == [(a, b) for a, b, _ in mg]
    for a, b in de:
        assert a in dn and b in dn
    assert bool(dg) == bool(at)  # gradient edges only with a point


def test_shared_subexpression_is_one_node() -> None:
    for fmt in ("dot", "mermaid"):
        result = run("graph", SHARED, "--format", fmt)
        assert result.exit_code == 0, result.output
        nodes, edges, _ = (parse_dot if fmt == "dot" else parse_mermaid)(result.stdout)
        labels = sorted(nodes.values())
        assert labels == ["v1 sin", "v2 *", "v3 +", "x"], fmt
        (sin,) = [n for n, label in nodes.items() if label.endswith("sin")]
        assert sum(a == sin for a, _ in edges) == 3  # twice into the product, once into the sum
    g = graph_of(SHARED)
    assert len(g.nodes) == 4 and len(g.edges) == 5  # sin → * twice


def test_repeated_text_is_computed_once() -> None:
    """The same sub-expression written twice is one tape instruction, so one node."""
    g = graph_of("sin(x)*sin(x) + cos(x)")
    assert [n.label.split()[-1] for n in g.nodes].count("sin") == 1


def test_values_and_grads_with_at() -> None:
    result = run("graph", SHARED, "--at", "x=1", "--format", "dot")
    assert result.exit_code == 0, result.output
    nodes, edges, grads = parse_dot(result.stdout)
    s, c = math.sin(1), math.cos(1)
    expected = {
        "x": (1.0, (2 * s + 1) * c),
        "sin": (s, 2 * s + 1),
        "*": (s * s, 1.0),
        "+": (s * s + s, 1.0),
    }
    seen = set()
    for label in nodes.values():
        op, value, grad = label.split("\\n")
        assert value == f"value {compact(np.asarray(expected[op][0]))}"
        assert grad == f"grad {compact(np.asarray(expected[op][1]))}"
        assert float(value.split()[1]) == pytest.approx(expected[op][0], rel=1e-5)
        assert float(grad.split()[1]) == pytest.approx(expected[op][1], rel=1e-5)
        seen.add(op)
    assert seen == set(expected)
    # Every forward edge has a dashed edge back, carrying consumer-adjoint × local partial.
    assert sorted((b, a) for a, b in edges) == sorted((a, b) for a, b, _ in grads)
    assert "style=dashed" in result.stdout
    carried = sorted(float(label) for _, _, label in grads)
    assert carried == pytest.approx(sorted([(2 * s + 1) * c, s, s, 1.0, 1.0]), rel=1e-5)
    assert "\n  n1 -> n0 [style=dashed" in result.stdout  # sin → x, against the forward edge


def test_mermaid_gradient_edges_are_dotted() -> None:
    result = run("graph", SHARED, "--at", "x=1", "--format", "mermaid")
    assert result.exit_code == 0, result.output
    nodes, edges, grads = parse_mermaid(result.stdout)
    assert result.stdout.count(" -. ") == len(edges) == len(grads) == 5
    assert all("<br/>value " in label and "<br/>grad " in label for label in nodes.values())
    no_point = run("graph", SHARED, "--format", "mermaid").stdout
    assert "-." not in no_point and "value" not in no_point and "grad" not in no_point


def test_gradient_edges_through_reductions() -> None:
    result = run("graph", "sum(x^2)", "--at", "x=[1,2]", "--format", "dot")
    nodes, edges, grads = parse_dot(result.stdout)
    consts = {n for n, label in nodes.items() if not label.count("\\n")}
    assert sorted((b, a) for a, b in edges if a not in consts) == sorted((a, b) for a, b, _ in grads)


@pytest.mark.parametrize(
    ("source", "nodes", "edges"),
    [
        ("x", 1, 0),
        ("x + y", 3, 2),
        ("x^2 + pi*x", 6, 6),  # x, 2, ^, pi, *, +: x drawn once, used twice
        (SHARED, 4, 5),  # sin feeds * twice and + once
        ("log(x1) + x1*x2 - sin(x2)", 7, 8),
        (BIG, 199, 198),
    ],
)
def test_mermaid_structure(source: str, nodes: int, edges: int) -> None:
    result = run("graph", source, "--format", "mermaid")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("flowchart")
    n, e, g = parse_mermaid(result.stdout)
    assert (len(n), len(e), len(g)) == (nodes, edges, 0)
    assert result.stdout.count(" --> ") == edges


# -- tree -------------------------------------------------------------------------------------------------


def test_tree_lists_output_first_and_marks_shared() -> None:
    result = run("graph", SHARED, "--format", "tree")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "v3 +",
        "  v2 *",
        "    v1 sin",
        "      x",
        "    v1 sin  (shared, shown above)",
        "  v1 sin  (shared, shown above)",
    ]
    assert result.stdout.endswith("\n")


def test_tree_with_values() -> None:
    result = run("graph", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2,x2=5")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "-  = 11.6521  grad 1"
    assert "  sin  = -0.958924  grad -1" in lines
    assert [ln.strip() for ln in lines].count("x1  = 2  grad 5.5") == 2  # a leaf is repeated, not marked
    assert "(shared" not in result.stdout
    depths = [(len(ln) - len(ln.lstrip())) // 2 for ln in lines]
    assert depths[0] == 0 and all(d >= 1 for d in depths[1:])


def test_tree_lines_depths() -> None:
    lines = tree_lines(graph_of("(x + w)*b"))
    assert lines == [(0, "v2 *"), (1, "v1 +"), (2, "x"), (2, "w"), (1, "b")]


# -- files and images -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["dot", "mermaid", "tree"])
def test_output_file(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"g.{fmt}"
    result = run("graph", SHARED, "--at", "x=1", "--format", fmt, "-o", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"wrote {target}" in result.stderr
    assert target.read_text(encoding="utf-8") == run("graph", SHARED, "--at", "x=1", "--format", fmt).stdout


def test_output_file_unwritable(tmp_path: Path) -> None:
    result = run("graph", SHARED, "--format", "dot", "-o", str(tmp_path / "missing" / "g.dot"))
    assert result.exit_code == 2
    assert "can't write" in result.stderr
    assert "Traceback" not in result.output


@needs_dot
def test_svg_file(tmp_path: Path) -> None:
    target = tmp_path / "g.svg"
    result = run("graph", SHARED, "--at", "x=1", "--format", "svg", "-o", str(target))
    assert result.exit_code == 0, result.output
    root = ET.fromstring(target.read_bytes())
    assert root.tag.endswith("svg")
    assert "sin" in target.read_text(encoding="utf-8")


@needs_dot
def test_png_file(tmp_path: Path) -> None:
    target = tmp_path / "g.png"
    result = run("graph", SHARED, "--at", "x=1", "--format", "png", "-o", str(target))
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 100


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_image_without_graphviz(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fmt: str) -> None:
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    target = tmp_path / f"g.{fmt}"
    result = run("graph", SHARED, "--format", fmt, "-o", str(target))
    assert result.exit_code == 2
    assert "Graphviz" in result.stderr
    assert "install graphviz" in result.stderr.lower()  # how to get it
    assert "--format dot" in result.stderr  # and what works without it
    assert "Traceback" not in result.output
    assert not target.exists()
    # The text formats don't need it.
    assert run("graph", SHARED, "--format", "dot").exit_code == 0


# -- a large graph ----------------------------------------------------------------------------------------


LABEL_LIMIT = 60


@pytest.mark.parametrize("fmt", ["tree", "dot", "mermaid", "svg", "png"])
@pytest.mark.parametrize("with_point", [False, True], ids=["no_point", "at"])
def test_large_graph_renders_with_short_labels(tmp_path: Path, fmt: str, with_point: bool) -> None:
    if fmt in ("svg", "png") and DOT is None:
        pytest.skip("Graphviz's dot program is not installed")
    if fmt == "png" and with_point:
        pytest.skip("one large PNG is enough: dot takes seconds to lay out the 198 labelled gradient edges")
    at = ["--at", BIG_AT] if with_point else []
    target = tmp_path / f"big.{fmt}"
    result = run("graph", BIG, *at, "--format", fmt, "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0
    expr = gradcli.compile(BIG)
    g = build(expr, expr.bind(dict(part.split("=") for part in BIG_AT.split(","))) if with_point else None)
    assert len(g.nodes) == 199
    for n in g.nodes:
        for text in (n.label, n.value or "", *n.adjoints.values()):
            assert len(text) <= LABEL_LIMIT
    if fmt == "dot":
        nodes, _, grads = parse_dot(target.read_text(encoding="utf-8"))
        assert len(nodes) == 199 and len(grads) == (198 if with_point else 0)
        assert max(len(label) for label in nodes.values()) <= LABEL_LIMIT
    if fmt == "mermaid":
        nodes, _, _ = parse_mermaid(target.read_text(encoding="utf-8"))
        assert max(len(label.replace("<br/>", "\n")) for label in nodes.values()) <= LABEL_LIMIT
    if fmt == "tree":
        assert max(len(line.strip()) for line in target.read_text(encoding="utf-8").splitlines()) <= LABEL_LIMIT


def test_array_values_stay_short() -> None:
    g = graph_of("sum(x^2)", {"x": list(range(100))})
    labels = [(n.label, n.value, n.adjoints.get("sum(x^2)")) for n in g.nodes]
    assert ("x", "<100 array>", "<100 array>") in labels
    assert all(len(v or "") <= 32 for _, v, _ in labels)
    assert "value 328350" in to_dot(g)  # the sum of squares 0..99
    assert "<100 array>" in to_mermaid(g)


def test_render_text_formats_are_str() -> None:
    g = graph_of(SHARED)
    for fmt in ("dot", "mermaid", "tree"):
        assert isinstance(render(g, fmt), str)


def test_partial_point_is_not_an_internal_error() -> None:
    result = run("graph", "x*y", "--at", "x=1")
    assert "internal error" not in result.stderr
    assert result.exit_code in (0, 2, 3)


# -- several outputs --------------------------------------------------------------------------------------


def test_multi_tree_has_every_output_as_a_root() -> None:
    result = run("graph", "x*y, x+y", "--format", "tree")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "v1 *  [output x*y]",
        "  x",
        "  y",
        "v2 +  [output x+y]",
        "  x",
        "  y",
    ]


def test_multi_tree_shares_nodes_across_outputs() -> None:
    lines = tree_lines(graph_of("a = sin(x); a*a, a + y, x"))
    assert lines == [
        (0, "v2 *  [output a*a]"),
        (1, "v1 sin"),
        (2, "x"),
        (1, "v1 sin  (shared, shown above)"),
        (0, "v3 +  [output a + y]"),
        (1, "v1 sin  (shared, shown above)"),
        (1, "y"),
        (0, "x  [output x]"),
    ]


def test_multi_tree_with_values_gives_each_outputs_gradient() -> None:
    result = run("graph", "x*y, x+y", "--at", "x=1,y=2")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "*  = 2  grad 1 (x*y)  [output x*y]",
        "  x  = 1  grad 2 (x*y), 1 (x+y)",
        "  y  = 2  grad 1 (x*y), 1 (x+y)",
        "+  = 3  grad 1 (x+y)  [output x+y]",
        "  x  = 1  grad 2 (x*y), 1 (x+y)",
        "  y  = 2  grad 1 (x*y), 1 (x+y)",
    ]


def test_duplicate_outputs_stay_two() -> None:
    g = graph_of("x, x")
    assert g.outputs == [("x", "n0"), ("x#2", "n0")]
    assert tree_lines(g) == [(0, "x  [output x]"), (0, "x  [output x#2]")]
    nodes, _, _ = parse_dot(to_dot(g))
    assert nodes == {"n0": "x\\noutputs x, x#2"}
    assert '  n0 [label="x\\noutputs x, x#2", shape=box, style="bold"];' in to_dot(g)
    g = graph_of("x*y, x*y", {"x": 2, "y": 3})
    (node,) = [n for n in g.nodes if n.kind == "op"]
    assert node.outputs == ["x*y", "x*y#2"]
    assert node.adjoints == {"x*y": "1", "x*y#2": "1"}
    assert [text for _, text in tree_lines(g) if "[output" in text] == [
        "*  = 6  grad 1 (x*y), 1 (x*y#2)  [output x*y]",
        "*  = 6  grad 1 (x*y), 1 (x*y#2)  [output x*y#2]  (shared, shown above)",
    ]


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
def test_multi_every_output_node_is_marked(fmt: str) -> None:
    result = run("graph", "a = sin(x); a*a, a + y", "--format", fmt)
    assert result.exit_code == 0, result.output
    nodes, edges, grads = (parse_dot if fmt == "dot" else parse_mermaid)(result.stdout)
    sep = "\\n" if fmt == "dot" else "<br/>"
    assert sorted(nodes.values()) == sorted(["x", "y", "v1 sin", f"v2 *{sep}output a*a", f"v3 +{sep}output a + y"])
    assert len(edges) == 5 and not grads  # sin feeds * twice and + once: one node
    ids = {label.split(sep)[0]: n for n, label in nodes.items()}
    if fmt == "dot":
        assert f'  {ids["v2 *"]} [label="v2 *\\noutput a*a", shape=ellipse, style="bold"];' in result.stdout
        assert f'  {ids["v3 +"]} [label="v3 +\\noutput a + y", shape=ellipse, style="bold"];' in result.stdout
        assert result.stdout.count('style="bold"') == 2
    else:
        assert result.stdout.endswith(f"  classDef output stroke-width:3px\n  class {ids['v2 *']},{ids['v3 +']} output\n")


def test_single_output_is_not_marked() -> None:
    for fmt in ("dot", "mermaid", "tree"):
        text = run("graph", SHARED, "--at", "x=1", "--format", fmt).stdout
        assert "output" not in text and "classDef" not in text
    assert run("graph", SHARED, "--format", "dot").stdout.count('style="bold"') == 1


MULTI_POINTS = [
    ("x*y, x+y", {"x": 1.0, "y": 2.0}),
    ("a = sin(x); a*a, a + y, x", {"x": 0.7, "y": 0.3}),
    ("log(x1) + x1*x2 - sin(x2), x1*x2, x2", {"x1": 2.0, "x2": 5.0}),
]


@pytest.mark.parametrize(("source", "point"), MULTI_POINTS, ids=[s for s, _ in MULTI_POINTS])
def test_multi_adjoints_are_each_outputs_gradient(source: str, point: dict[str, float]) -> None:
    """Each input node carries, per output, what Expression.gradient(point, output=k) gives alone."""
    g = graph_of(source, point)
    expr = gradcli.compile(source)
    labels = list(expr.output_names)
    assert [label for label, _ in g.outputs] == labels
    inputs = {n.label: n for n in g.nodes if n.kind == "input"}
    for k, label in enumerate(labels):
        for v, grad in gradcli.compile(source).gradient(point, output=k).items():
            if v in inputs and label in inputs[v].adjoints:
                assert inputs[v].adjoints[label] == compact(np.asarray(grad)), (label, v)
            else:  # the output doesn't depend on v
                assert float(grad) == 0.0, (label, v)
    by_id = {n.id: n for n in g.nodes}
    for label, nid in g.outputs:
        assert by_id[nid].adjoints[label] == "1"  # each sweep's seed
        assert label in by_id[nid].outputs
    # What each edge carries back for output k sums, into each input, to that input's adjoint for k.
    for label in labels:
        into: dict[str, float] = {}
        for a, _, carried in g.edges:
            if by_id[a].kind == "input" and label in carried:
                into[a] = into.get(a, 0.0) + float(carried[label])
        for nid, total in into.items():
            assert total == pytest.approx(float(by_id[nid].adjoints[label]), rel=1e-5)


def test_multi_gradient_edges_carry_one_number_per_output() -> None:
    result = run("graph", "x*y, x+y", "--at", "x=1,y=2", "--format", "dot")
    assert result.exit_code == 0, result.output
    nodes, edges, grads = parse_dot(result.stdout)
    assert sorted((b, a) for a, b in edges) == sorted((a, b) for a, b, _ in grads)
    assert sorted(label for _, _, label in grads) == ["1 (x*y)", "1 (x+y)", "1 (x+y)", "2 (x*y)"]
    assert nodes["n0"] == "x\\nvalue 1\\ngrad 2 (x*y)\\ngrad 1 (x+y)"
    # An edge that carries something back for two outputs lists both.
    g = graph_of("a = x*y; a, a + x", {"x": 1, "y": 2})
    (mul,) = [n.id for n in g.nodes if n.label == "*"]
    carried = {(a, b): c for a, b, c in g.edges}
    assert carried[("n0", mul)] == {"a": "2", "a + x": "2"}
    mermaid = to_mermaid(g)
    assert f'  {mul} -. "2 (a)<br/>2 (a + x)" .-> n0' in mermaid


def test_multi_long_labels_are_numbered() -> None:
    long = " + ".join(f"x*{k}" for k in range(1, 12))
    g = graph_of(f"x*y, {long}", {"x": 1, "y": 2})
    dot = to_dot(g)
    assert "grad 66 (#2)" in dot and "grad 2 (x*y)" in dot
    assert "output #2: x*1 + x*2 + x*3 + x*4 + x*5 + x*6 + x*7…" in dot
    assert long not in dot


def test_deep_multi_output_graph() -> None:
    """10,000 levels of nesting beside a second output: build and every text format, no recursion."""
    depth = 10_000
    deep = "(" * depth + "x" + "+y)" * depth
    expr = gradcli.compile(f"{deep}, x*y")
    for point in (None, expr.bind({"x": 0.5, "y": 2.0})):
        g = build(expr, point)
        assert len(g.nodes) == depth + 3 and len(g.outputs) == 2
        assert render(g, "dot").count('style="bold"') == 2
        assert "class " in render(g, "mermaid")
        roots = [text for depth_, text in tree_lines(g) if depth_ == 0]
        assert len(roots) == 2 and roots[0].endswith(f"[output #1: {'(' * 39}…]") and roots[1].endswith("[output x*y]")
