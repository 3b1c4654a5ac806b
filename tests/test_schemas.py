"""SPEC §3: each command's JSON is described by a JSON Schema shipped in the package (gradcli/schemas/),
and real output is validated against it.

The schemas are loaded the way a user of the installed package would: through importlib.resources
from the `gradcli` package, with their relative `$ref`s (to common.schema.json) resolved by a
referencing.Registry built from the same directory, never from the network. Every command that
prints JSON runs through the real CLI (Typer's CliRunner) on a table of cases — one output and
several, scalar and array variables and outputs, nan/inf values, --points/--grid rows — and each
document must validate. Negative tests mutate real documents (a dropped or renamed key, a value of
the wrong type) and show the schemas reject them, so a change to the JSON fails here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from typer.testing import CliRunner

from gradcli.cli.app import app

runner = CliRunner()  # Typer's: newer Typers ship without Click, so no Click import here

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = ("eval", "diff", "hessian", "jacobian", "check", "verify", "trace")
ROWS = ("eval", "diff", "hessian", "jacobian", "check")
EXPECTED_FILES = {
    "common.schema.json",
    *(f"{c}.schema.json" for c in COMMANDS),
    *(f"{c}.row.schema.json" for c in ROWS),
}


# -- loading ---------------------------------------------------------------------------------------


def schema_dir() -> Any:
    return resources.files("gradcli").joinpath("schemas")


@cache
def schemas() -> dict[str, dict[str, Any]]:
    """Every *.schema.json shipped in the package, by file name."""
    found = {}
    for entry in schema_dir().iterdir():
        if entry.name.endswith(".schema.json"):
            found[entry.name] = json.loads(entry.read_text(encoding="utf-8"))
    return found


@cache
def registry() -> Registry:
    resources_ = [(s["$id"], Resource.from_contents(s, default_specification=DRAFT202012)) for s in schemas().values()]
    return Registry().with_resources(resources_)


@cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schemas()[f"{name}.schema.json"], registry=registry())


def errors(name: str, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator(name).iter_errors(doc)]


def assert_valid(name: str, doc: Any) -> None:
    found = errors(name, doc)
    assert not found, f"{name}: {json.dumps(doc)[:600]}\n" + "\n".join(found)


def assert_invalid(name: str, doc: Any) -> None:
    with pytest.raises(ValidationError):
        validator(name).validate(doc)


# -- running the CLI -------------------------------------------------------------------------------


def run(args: list[str], input: str | None = None, code: int = 0) -> str:
    return _run(tuple(args), input, code)


@cache
def _run(args: tuple[str, ...], input: str | None, code: int) -> str:
    result = runner.invoke(app, [*args, "--format", "json"], input=input)
    assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
    return result.stdout


def one(args: list[str], code: int = 0) -> dict[str, Any]:
    return json.loads(run(args, code=code))


def rows(args: list[str], input: str | None = None, code: int = 0) -> list[dict[str, Any]]:
    lines = [line for line in run(args, input, code).splitlines() if line.strip()]
    assert lines, args
    return [json.loads(line) for line in lines]


def consistent(doc: dict[str, Any]) -> None:
    """What a schema can't say: with several outputs every per-output map has exactly the labels of
    "outputs", in order (no output dropped or merged); an N-th derivative tensor is N levels deep."""
    outputs = doc.get("outputs")
    if doc.get("mode") in ("reverse", "forward") and "rows" in doc:  # trace
        trace_consistent(doc)
        return
    if outputs is not None:
        if len(outputs) > 1 and "value" in doc:
            assert list(doc["value"]) == outputs, doc
        if "output" in doc:  # verify: the failing output, if any
            assert doc["output"] is None or doc["output"] in outputs, doc
        for key in ("jacobian", "hessian", "derivative"):
            if key in doc:
                assert list(doc[key]) == outputs, (key, doc)
    if "order" in doc and "derivative" in doc:
        tensors = doc["derivative"].values() if outputs else [doc["derivative"]]
        for t in tensors:
            if len(t) > 1:
                depth, node = 0, t
                while isinstance(node, dict):
                    depth, node = depth + 1, next(iter(node.values()))
                assert depth == doc["order"], doc


def trace_consistent(doc: dict[str, Any]) -> None:
    """trace: row names are unique and every partial is by an earlier row; every row's tangents are
    along exactly the seeds; with several outputs every output is exactly one row (one row may be
    several, `x, x`; rows are in tape order, inputs first, so not in output order), and each row's
    adjoints and the gradients are keyed by every label of "outputs", in order."""
    outputs = doc.get("outputs")
    rows_ = doc["rows"]
    names = [r["name"] for r in rows_]
    assert len(set(names)) == len(names), names
    for k, r in enumerate(rows_):
        assert {p["wrt"] for p in r["partials"]} <= set(names[:k]), (k, r)
        if doc["mode"] == "forward":
            assert list(r["tangents"]) == list(doc["seeds"]), r
        elif outputs:
            assert list(r["adjoint"]) == outputs, r
    if outputs:
        assert sorted(label for r in rows_ for label in r["outputs"]) == sorted(outputs), doc
        if doc["mode"] == "reverse":
            assert list(doc["gradient"]) == outputs, doc


# -- the schemas themselves ------------------------------------------------------------------------


def test_schemas_ship_in_the_package() -> None:
    assert schema_dir().is_dir()
    assert EXPECTED_FILES <= set(schemas()), sorted(EXPECTED_FILES - set(schemas()))


def test_schemas_are_in_the_wheel() -> None:
    wheel = pytest.importorskip("hatchling.builders.wheel")
    included = {f.distribution_path for f in wheel.WheelBuilder(str(ROOT)).recurse_included_files()}
    assert {f"gradcli/schemas/{name}" for name in EXPECTED_FILES} <= included


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES | set(schemas())))
def test_each_file_is_a_draft_2020_12_schema(name: str) -> None:
    schema = schemas()[name]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/schemas/{name}")
    assert schema["title"] and schema["description"]


def _properties(node: Any, path: str = "") -> list[tuple[str, Any]]:
    found = []
    if isinstance(node, dict):
        for key, sub in node.items():
            if key == "properties" and isinstance(sub, dict):
                found += [(f"{path}/properties/{p}", s) for p, s in sub.items()]
            found += _properties(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for k, sub in enumerate(node):
            found += _properties(sub, f"{path}/{k}")
    return found


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES | set(schemas())))
def test_every_property_says_what_it_means(name: str) -> None:
    schema = schemas()[name]
    # Branches of if/then/else only narrow a property described where it is declared.
    narrowing = ("/then/", "/else/", "/if/")
    missing = [p for p, s in _properties(schema) if not any(n in p for n in narrowing) and not s.get("description")]
    assert not missing, missing


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if isinstance(node.get("$ref"), str) else []) + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES | set(schemas())))
def test_every_ref_resolves_from_the_package(name: str) -> None:
    schema = schemas()[name]
    resolver = registry().resolver(base_uri=schema["$id"])
    for ref in _refs(schema):
        resolver.lookup(ref)  # raises on a ref to anything not shipped


# -- real output, one point ------------------------------------------------------------------------

A = "--at"
CASES: list[tuple[str, list[str], int]] = [
    # eval
    ("eval", ["eval", "x**2 + 2*x + 1", A, "x=3"], 0),
    ("eval", ["eval", "x, x", A, "x=1"], 0),
    ("eval", ["eval", "x^2", A, "x=[1,2]"], 0),
    ("eval", ["eval", "x, [x, 2*x]", A, "x=1"], 0),
    ("eval", ["eval", "a = x^2; b = 3*x; a, b", A, "x=1"], 0),
    ("eval", ["eval", "exp(x)", A, "x=1000"], 0),  # "inf"
    ("eval", ["eval", "2"], 0),
    # diff: gradient
    ("diff", ["diff", "x*y + sin(y)", A, "x=2,y=0"], 0),
    ("diff", ["diff", "sqrt(x)", A, "x=0"], 0),  # gradient "inf"
    ("diff", ["diff", "x^2", A, "x=[[1,2],[3,4]]"], 0),
    ("diff", ["diff", "sum((y - W @ x)^2)", A, "W=[[1,2],[3,4]]", A, "x=[1,1]", A, "y=[0,1]", "--wrt", "W"], 0),
    ("diff", ["diff", "x*y", A, "x=1,y=2", "--mode", "forward"], 0),
    ("diff", ["diff", "2"], 0),
    # diff: several outputs
    ("diff", ["diff", "x*y, x+y", A, "x=1,y=2"], 0),
    ("diff", ["diff", "x, x", A, "x=1"], 0),
    ("diff", ["diff", "[x, x^2], sqrt(y)", A, "x=2,y=0"], 0),
    # diff: Hessian
    ("diff", ["diff", "x^2*y", A, "x=1,y=2", "--order", "2"], 0),
    ("diff", ["diff", "x^2*y, x*y", A, "x=1,y=2", "--order", "2"], 0),
    ("diff", ["diff", "x^3*y", A, "x=[1,2]", A, "y=1", "--order", "2"], 0),
    # diff: N-th derivative
    ("diff", ["diff", "x^2*y", A, "x=1,y=2", "--order", "3"], 0),
    ("diff", ["diff", "sin(x), cos(x)", A, "x=1", "--order", "3"], 0),
    ("diff", ["diff", "x^2*y, x*y", A, "x=1,y=2", "--order", "3"], 0),
    ("diff", ["diff", "x^3", A, "x=1", "--order", "2"], 0),
    ("diff", ["diff", "x^3", A, "x=1", "--order", "3", "--mode", "forward"], 0),
    ("diff", ["diff", "pi", "--order", "3"], 0),
    # diff: formulas
    ("diff", ["diff", "x*y", "--symbolic"], 0),
    ("diff", ["diff", "sin(x*y)*exp(x*y)", "--symbolic"], 0),
    ("diff", ["diff", "x*y", "--symbolic", "--wrt", "x"], 0),
    ("diff", ["diff", "sin(x*y), cos(x*y)", "--symbolic"], 0),
    # hessian
    ("hessian", ["hessian", "cos(x*y)", A, "x=1,y=2"], 0),
    ("hessian", ["hessian", "cos(x*y), sin(x*y)", A, "x=1,y=2"], 0),
    ("hessian", ["hessian", "x^3, x^2", A, "x=1"], 0),
    ("hessian", ["hessian", "sum(z^3)", A, "z=[1,2,3]"], 0),
    ("hessian", ["hessian", "sqrt(x)", A, "x=0"], 0),  # "-inf"
    ("hessian", ["hessian", "2"], 0),
    # jacobian
    ("jacobian", ["jacobian", "exp(z)/sum(exp(z))", A, "z=[1,2,3]"], 0),
    ("jacobian", ["jacobian", "[x, x^2], x*y", A, "x=2,y=3"], 0),
    ("jacobian", ["jacobian", "x*y", A, "x=2,y=3"], 0),
    ("jacobian", ["jacobian", "x*y, x", A, "x=1,y=2", "--wrt", "y"], 0),
    ("jacobian", ["jacobian", "W@x", A, "W=[[1,2],[3,4]]", A, "x=[1,1]"], 0),
    ("jacobian", ["jacobian", "sum(W@x), W@x", A, "W=[[1,2],[3,4]]", A, "x=[1,1]", "--mode", "reverse"], 0),
    ("jacobian", ["jacobian", "sqrt(x)", A, "x=0"], 0),  # "inf"
    ("jacobian", ["jacobian", "2"], 0),
    # check
    ("check", ["check", "x^2", A, "x=3"], 0),
    ("check", ["check", "x^3*y", A, "x=1.5,y=2", "--order", "2"], 0),
    ("check", ["check", "x*y, x+y", A, "x=1,y=2"], 0),
    ("check", ["check", "sin(x*y)", A, "x=1,y=2", "--method", "complex"], 0),  # error_estimate null
    ("check", ["check", "sum(z^2)", A, "z=[1,2]", "--method", "richardson"], 0),
    ("check", ["check", "abs(x)", A, "x=0"], 0),  # a kink
    ("check", ["check", "sqrt(x)", A, "x=0"], 0),  # inf, and a one-sided slope nan
    ("check", ["check", "1/x", A, "x=1e-9"], 1),  # a failure
    ("check", ["check", "2"], 0),
    ("check", ["check", "sum(z^2)", A, "z=[" + ",".join(map(str, range(1, 1002))) + "]"], 0),  # projection_seed
    # verify
    ("verify", ["verify", "x**2+2*x+1", "--claim", "2*x+2", "--wrt", "x"], 0),
    ("verify", ["verify", "x**2+2*x+1", "--claim", "2*x", "--wrt", "x"], 1),
    ("verify", ["verify", "x*y", "--claim", "x=y", A, "x=1,y=2"], 0),
    ("verify", ["verify", "x*y", "--claim", "x,y=1", "--order", "2"], 0),
    ("verify", ["verify", "sqrt(x)", "--claim", "0.5/sqrt(x)"], 0),  # skipped points
    ("verify", ["verify", "sum(W@x)", "--claim", "W=[[1,1],[1,1]]", A, "W=[[1,2],[3,4]]", A, "x=[1,1]", "--wrt", "W"], 0),
    ("verify", ["verify", "sum(W@x)", "--claim", "W=[[1,0],[1,1]]", A, "W=[[1,2],[3,4]]", A, "x=[1,1]", "--wrt", "W"], 1),
    ("verify", ["verify", "x, x^2", "--claim", "1, 2*x"], 0),
    ("verify", ["verify", "x, x^2", "--claim", "1, x"], 1),
    # trace: reverse mode
    ("trace", ["trace", "x*y + sin(y)", A, "x=2,y=0"], 0),
    ("trace", ["trace", "x*y", A, "x=1,y=2", "--explain"], 0),
    ("trace", ["trace", "sum(x^2)", A, "x=[1,2]"], 0),
    ("trace", ["trace", "sum(W@x)", A, "W=[[1,2],[3,4]]", A, "x=[1,1]"], 0),  # partials not elementwise: []
    ("trace", ["trace", "x^2", A, "x=[]"], 0),
    ("trace", ["trace", "sqrt(x)", A, "x=0"], 0),  # "inf"
    ("trace", ["trace", "0*exp(x)", A, "x=1000"], 0),  # "inf" and "nan"
    ("trace", ["trace", "where(x>0, x, 0)", A, "x=1"], 0),
    ("trace", ["trace", "2"], 0),  # a constant output row, an empty gradient
    # trace: reverse mode, several outputs
    ("trace", ["trace", "x*y, x+y", A, "x=1,y=2"], 0),
    ("trace", ["trace", "x*y, x+y", A, "x=1,y=2", "--explain"], 0),
    ("trace", ["trace", "x, x", A, "x=1"], 0),  # one row, two outputs
    ("trace", ["trace", "x, [x, 2*x]", A, "x=1"], 0),
    ("trace", ["trace", "a = x^2; b = 3*x; a, b", A, "x=1"], 0),
    ("trace", ["trace", "2, 3"], 0),
    # trace: forward mode
    ("trace", ["trace", "x*y", A, "x=1,y=2", "--mode", "forward"], 0),
    ("trace", ["trace", "x*y", A, "x=1,y=2", "--mode", "forward", "--explain"], 0),
    ("trace", ["trace", "x*y", A, "x=1,y=2", "--mode", "forward", "--seed-dir", "x=1"], 0),
    ("trace", ["trace", "sum(x*y)", A, "x=[1,2]", A, "y=3", "--mode", "forward"], 0),
    ("trace", ["trace", "sqrt(x)", A, "x=0", "--mode", "forward"], 0),
    ("trace", ["trace", "2", "--mode", "forward"], 0),  # no seeds
    # trace: forward mode, several outputs
    ("trace", ["trace", "x*y, x", A, "x=1,y=2", "--mode", "forward", "--seed-dir", "x=1,y=0"], 0),
    ("trace", ["trace", "x*y, x", A, "x=1,y=2", "--mode", "forward", "--explain"], 0),
    ("trace", ["trace", "x, x", A, "x=1", "--mode", "forward"], 0),
]


@pytest.mark.parametrize(("name", "args", "code"), CASES, ids=[" ".join(a)[:60] for _, a, _ in CASES])
def test_real_output_validates(name: str, args: list[str], code: int) -> None:
    doc = one(args, code)
    assert_valid(name, doc)
    consistent(doc)


def test_nonfinite_numbers_are_the_strings() -> None:
    assert one(["diff", "sqrt(x)", A, "x=0"])["gradient"] == {"x": "inf"}
    assert one(["eval", "exp(x)", A, "x=1000"])["value"] == "inf"
    assert one(["check", "sqrt(x)", A, "x=0"])["kinks"][0]["one_sided"]["x"]["left"] == "nan"
    assert one(["trace", "sqrt(x)", A, "x=0"])["gradient"] == {"x": "inf"}


# -- real output, --points / --grid rows ------------------------------------------------------------

CSV = "x,y\n1,2\n3,4\n"
CSV_ID = "x,y,id\n1,2,a\n0,4,b\n"
CSV_DOMAIN = "x,y\n1,2\n-1,4\n"
CSV_BAD = "x,y\n1,2\nfoo,4\n1,2,3\n"
JSONL = '{"z": [1, 2, 3]}\n{"z": [0, 0, 0], "tag": "b", "n": [1, "a"]}\n'
JSONL_W = '{"W": [[1,2],[3,4]], "x": [1, 1], "y": [0, 1]}\n'
P = ("--points", "-")

ROW_CASES: list[tuple[str, list[str], str | None, int]] = [
    ("eval", ["eval", "x*y", *P], CSV, 0),
    ("eval", ["eval", "x*y, x+y", *P], CSV, 0),
    ("eval", ["eval", "log(x)*y", *P], CSV_DOMAIN, 0),  # nan, "undefined"
    ("eval", ["eval", "exp(z)/sum(exp(z))", *P], JSONL, 0),
    ("eval", ["eval", "sin(x)*y", "--grid", "x=0:1:3,y=1:2:2"], None, 0),
    ("eval", ["eval", "x*y", *P], CSV_BAD, 2),  # malformed rows keep their place
    ("diff", ["diff", "x*y", *P], CSV_ID, 0),  # passthrough columns
    ("diff", ["diff", "x*y, x+y", *P], CSV, 0),
    ("diff", ["diff", "sqrt(x)*y", *P], CSV_ID, 0),  # "inf"
    ("diff", ["diff", "log(x)*y", *P], CSV_DOMAIN, 0),
    ("diff", ["diff", "x*y", *P], CSV_BAD, 2),
    ("diff", ["diff", "x^2*y", "--order", "2", *P], CSV, 0),
    ("diff", ["diff", "x^3", "--order", "2", *P], CSV, 0),  # one scalar variable: order and derivative
    ("diff", ["diff", "x^3, x^2", "--order", "2", *P], CSV, 0),
    ("diff", ["diff", "x^2*y, x*y", "--order", "2", *P], CSV, 0),
    ("diff", ["diff", "sum((y - W @ x)^2)", "--wrt", "W", *P], JSONL_W, 0),
    ("diff", ["diff", "exp(z)/sum(exp(z))", *P], JSONL, 0),
    ("diff", ["diff", "x^2 + y", "--grid", "x=0:1:2", A, "y=3"], None, 0),
    ("hessian", ["hessian", "x^2*y", *P], CSV, 0),
    ("hessian", ["hessian", "x^2*y, x*y", *P], CSV, 0),
    ("hessian", ["hessian", "sum(z^3)", *P], JSONL, 0),
    ("hessian", ["hessian", "log(x)*y", *P], CSV_DOMAIN, 0),
    ("hessian", ["hessian", "x*y", "--grid", "x=0:1:2,y=0:1:2"], None, 0),
    ("jacobian", ["jacobian", "x*y", *P], CSV, 0),
    ("jacobian", ["jacobian", "x*y, x+y", *P], CSV, 0),
    ("jacobian", ["jacobian", "[x, x^2], x*y", *P], CSV, 0),
    ("jacobian", ["jacobian", "exp(z)/sum(exp(z))", *P], JSONL, 0),
    ("jacobian", ["jacobian", "sqrt(x)*y", *P], CSV_ID, 0),
    ("jacobian", ["jacobian", "x*y", "--grid", "x=0:1:2,y=0:1:2"], None, 0),
    ("check", ["check", "x*y", *P], CSV, 0),
    ("check", ["check", "x*y", "--order", "2", *P], CSV, 0),
    ("check", ["check", "x^3, x^2", *P], CSV, 0),
    ("check", ["check", "sum(z^3)", *P], JSONL, 0),
    ("check", ["check", "log(x)*y", *P], CSV_DOMAIN, 1),  # a row that can't be checked
    ("check", ["check", "x*y", *P], CSV_BAD, 2),
    ("check", ["check", "x*y", *P], CSV_ID, 0),  # passthrough columns
    ("check", ["check", "log(x)*y", *P], "x,y,id\n-1,2,a\n", 1),  # passthrough on a row not checked
]


@pytest.mark.parametrize(
    ("name", "args", "input", "code"), ROW_CASES, ids=[" ".join(a)[:60] + f" <{i}" for i, (_, a, _, _) in enumerate(ROW_CASES)]
)
def test_real_rows_validate(name: str, args: list[str], input: str | None, code: int) -> None:
    for doc in rows(args, input, code):
        assert_valid(f"{name}.row", doc)
        consistent(doc)


def test_verify_with_points_is_one_report() -> None:
    """verify --points checks every row and prints one verify object, not rows."""
    doc = json.loads(run(["verify", "x*y", "--claim", "x=y", "--claim", "y=x", *P], CSV))
    assert_valid("verify", doc)
    assert doc["samples"] == 2
    wrong = json.loads(run(["verify", "x*y, x+y", "--claim", "x=y, 2", *P], CSV, code=1))
    assert_valid("verify", wrong)
    consistent(wrong)
    assert wrong["output"] == "x+y" and wrong["counterexample"]["variable"] == "x"


def test_rows_cover_every_kind_of_row() -> None:
    """The optional row keys the schemas describe do occur: passthrough columns, undefined, malformed."""
    assert rows(["diff", "x*y", *P], CSV_ID)[0]["columns"] == {"id": "a"}
    assert rows(["diff", "log(x)*y", *P], CSV_DOMAIN)[1]["undefined"] is True
    bad = rows(["diff", "x*y", *P], CSV_BAD, code=2)
    assert [r.get("line") for r in bad] == [None, 3, 4] and bad[1]["error"]
    checked = rows(["check", "log(x)*y", *P], CSV_DOMAIN, code=1)
    assert checked[0]["ok"] is True and checked[1]["ok"] is False and "error" in checked[1]


# -- the schemas reject wrong documents ------------------------------------------------------------


def _doc(args: list[str], code: int = 0) -> Callable[[], dict[str, Any]]:
    return lambda: one(args, code)


def _row(args: list[str], input: str) -> Callable[[], dict[str, Any]]:
    return lambda: rows(args, input)[0]


def _del(*path: Any) -> Callable[[Any], None]:
    def go(doc: Any) -> None:
        for p in path[:-1]:
            doc = doc[p]
        del doc[path[-1]]

    return go


def _set(value: Any, *path: Any) -> Callable[[Any], None]:
    def go(doc: Any) -> None:
        for p in path[:-1]:
            doc = doc[p]
        doc[path[-1]] = value

    return go


def _rename(old: str, new: str) -> Callable[[Any], None]:
    def go(doc: Any) -> None:
        doc[new] = doc.pop(old)

    return go


def _rename_in(old: str, new: str, *path: Any) -> Callable[[Any], None]:
    def go(doc: Any) -> None:
        for p in path:
            doc = doc[p]
        doc[new] = doc.pop(old)

    return go


GRAD = ["diff", "x*y + sin(y)", A, "x=2,y=0"]
SEVERAL = ["diff", "x*y, x+y", A, "x=1,y=2"]
HESS2 = ["hessian", "cos(x*y), sin(x*y)", A, "x=1,y=2"]
JAC1 = ["jacobian", "x*y", A, "x=2,y=3"]
JAC2 = ["jacobian", "[x, x^2], x*y", A, "x=2,y=3"]
ORDER3 = ["diff", "x^2*y", A, "x=1,y=2", "--order", "3"]
SYMBOLIC = ["diff", "x*y", "--symbolic"]
CHECK = ["check", "abs(x)", A, "x=0"]
WRONG = ["verify", "x**2+2*x+1", "--claim", "2*x", "--wrt", "x"]
TRACE = ["trace", "x*y + sin(y)", A, "x=2,y=0"]
TRACE2 = ["trace", "x*y, x+y", A, "x=1,y=2"]
TRACE_FWD = ["trace", "x*y", A, "x=1,y=2", "--mode", "forward"]
TRACE_FWD2 = ["trace", "x*y, x", A, "x=1,y=2", "--mode", "forward", "--seed-dir", "x=1,y=0"]

NEGATIVE: list[tuple[str, str, Callable[[], dict[str, Any]], Callable[[Any], None]]] = [
    ("dropped gradient", "diff", _doc(GRAD), _del("gradient")),
    ("renamed gradient", "diff", _doc(GRAD), _rename("gradient", "grad")),
    ("value as text", "diff", _doc(GRAD), _set("0", "value")),
    ("value as bool", "eval", _doc(["eval", "x", A, "x=1"]), _set(True, "value")),
    ("NaN misspelt", "diff", _doc(GRAD), _set("NaN", "gradient", "x")),
    ("gradient entry null", "diff", _doc(GRAD), _set(None, "gradient", "y")),
    ("ragged array", "eval", _doc(["eval", "x^2", A, "x=[1,2]"]), _set([1, [2]], "value")),
    ("dropped expression", "eval", _doc(["eval", "x", A, "x=1"]), _del("expression")),
    ("extra key", "eval", _doc(["eval", "x", A, "x=1"]), _set({"x": 1}, "gradient")),
    ("several outputs without outputs", "diff", _doc(SEVERAL), _del("outputs")),
    ("several outputs, one gradient", "diff", _doc(SEVERAL), _rename("jacobian", "gradient")),
    ("outputs of one", "eval", _doc(["eval", "x, x", A, "x=1"]), _set(["x"], "outputs")),
    ("duplicate labels", "eval", _doc(["eval", "x, x", A, "x=1"]), _set(["x", "x"], "outputs")),
    ("Hessians unkeyed", "hessian", _doc(HESS2), _del("outputs")),
    ("Hessian entry an object", "hessian", _doc(["hessian", "x*y", A, "x=1,y=2"]), _set({"a": 1}, "hessian", "x", "y")),
    ("jacobian without mode", "jacobian", _doc(JAC1), _del("mode")),
    ("jacobian bad mode", "jacobian", _doc(JAC1), _set("auto", "mode")),
    ("jacobian unkeyed", "jacobian", _doc(JAC1), _set({"x": 3, "y": 2}, "jacobian")),
    ("jacobian one output keyed value", "jacobian", _doc(JAC1), _set({"x*y": 6}, "value")),
    ("jacobian several outputs bare value", "jacobian", _doc(JAC2), _set(6, "value")),
    ("jacobian without outputs", "jacobian", _doc(JAC2), _del("outputs")),
    ("order without derivative", "diff", _doc(ORDER3), _del("derivative")),
    ("order 1", "diff", _doc(ORDER3), _set(1, "order")),
    ("derivative entry text", "diff", _doc(ORDER3), _set("2", "derivative", "x", "x", "y")),
    ("symbolic with a point", "diff", _doc(SYMBOLIC), _set({"x": 1}, "point")),
    ("symbolic formula a number", "diff", _doc(SYMBOLIC), _set(1, "derivative", "x")),
    ("check without ok", "check", _doc(CHECK), _del("ok")),
    ("check unknown method", "check", _doc(CHECK), _set("secant", "method")),
    ("check row without numeric", "check", _doc(CHECK), _del("rows", 0, "numeric")),
    ("check row extra key", "check", _doc(CHECK), _set(1, "rows", 0, "bound")),
    ("check kink without one_sided", "check", _doc(CHECK), _del("kinks", 0, "one_sided")),
    ("check ok as text", "check", _doc(CHECK), _set("true", "ok")),
    ("verify without counterexample", "verify", _doc(WRONG, 1), _del("counterexample")),
    ("verify counterexample without claim", "verify", _doc(WRONG, 1), _del("counterexample", "claim")),
    ("verify samples as float", "verify", _doc(WRONG, 1), _set(100.5, "samples")),
    ("verify range of three", "verify", _doc(WRONG, 1), _set([-2, 0, 2], "range", "x")),
    ("verify outputs without output", "verify", _doc(WRONG, 1), _set(["f", "g"], "outputs")),
    ("trace without gradient", "trace", _doc(TRACE), _del("gradient")),
    ("trace without rows", "trace", _doc(TRACE), _del("rows")),
    ("trace unknown mode", "trace", _doc(TRACE), _set("auto", "mode")),
    ("trace reverse with seeds", "trace", _doc(TRACE), _set({"x": {"x": 1}}, "seeds")),
    ("trace one output, keyed adjoint", "trace", _doc(TRACE), _set({"x*y + sin(y)": 1}, "rows", 2, "adjoint")),
    ("trace one output, row outputs", "trace", _doc(TRACE), _set([], "rows", 0, "outputs")),
    ("trace row extra key", "trace", _doc(TRACE), _set(1, "rows", 0, "tangent")),
    ("trace row without partials", "trace", _doc(TRACE), _del("rows", 2, "partials")),
    ("trace partial extra key", "trace", _doc(TRACE), _set("x", "rows", 2, "partials", 0, "of")),
    ("trace input with a source", "trace", _doc(TRACE), _set("x", "rows", 0, "source")),
    ("trace several, bare adjoint", "trace", _doc(TRACE2), _set(2, "rows", 0, "adjoint")),
    ("trace several, row without outputs", "trace", _doc(TRACE2), _del("rows", 2, "outputs")),
    ("trace several, gradient unkeyed", "trace", _doc(TRACE2), _set({"x": 2, "y": 1}, "gradient")),
    ("trace several without outputs", "trace", _doc(TRACE2), _del("outputs")),
    ("trace forward without seeds", "trace", _doc(TRACE_FWD), _del("seeds")),
    ("trace forward with gradient", "trace", _doc(TRACE_FWD), _set({"x": 2, "y": 1}, "gradient")),
    ("trace forward with adjoint", "trace", _doc(TRACE_FWD), _rename_in("tangents", "adjoint", "rows", 0)),
    ("trace forward, bare tangent", "trace", _doc(TRACE_FWD), _set(1, "rows", 0, "tangents")),
    ("trace forward several, row without outputs", "trace", _doc(TRACE_FWD2), _del("rows", 1, "outputs")),
    ("trace forward several, seeds unkeyed", "trace", _doc(TRACE_FWD2), _set({"x": 1, "y": 0}, "seeds")),
    ("row without point", "diff.row", _row(["diff", "x*y", *P], CSV), _del("point")),
    ("row without gradient", "diff.row", _row(["diff", "x*y", *P], CSV), _del("gradient")),
    ("row with expression", "diff.row", _row(["diff", "x*y", *P], CSV), _set("x*y", "expression")),
    ("row undefined false", "eval.row", _row(["eval", "x*y", *P], CSV), _set(False, "undefined")),
    ("row line without error", "eval.row", _row(["eval", "x*y", *P], CSV), _set(3, "line")),
    ("row Hessians unkeyed", "hessian.row", _row(["hessian", "x^2*y, x*y", *P], CSV), _del("outputs")),
    ("row jacobian with gradient", "jacobian.row", _row(["jacobian", "x*y", *P], CSV), _rename("jacobian", "gradient")),
    ("check row without rows", "check.row", _row(["check", "x*y", *P], CSV), _del("rows")),
    ("check row with kink", "check.row", _row(["check", "x*y", *P], CSV), _set(False, "rows", 0, "kink")),
]


@pytest.mark.parametrize(("what", "name", "make", "mutate"), NEGATIVE, ids=[n[0] for n in NEGATIVE])
def test_schema_rejects_a_wrong_document(
    what: str, name: str, make: Callable[[], dict[str, Any]], mutate: Callable[[Any], None]
) -> None:
    doc = make()
    assert_valid(name, doc)  # the real document passes ...
    wrong = copy.deepcopy(doc)
    mutate(wrong)
    assert json.dumps(wrong, sort_keys=True) != json.dumps(doc, sort_keys=True)
    assert_invalid(name, wrong)  # ... and the mutated one does not
