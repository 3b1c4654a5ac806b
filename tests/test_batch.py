"""Many points at once: `--points FILE` (CSV / JSON Lines) and `--grid` on eval, diff, hessian and jacobian.

Every batch result is checked against the single-point API (gradcli.compile(...).value_and_gradient /
hessian / jacobian at each row); bad rows keep their place (SPEC §3 and §4); output is streamed in chunks
(batch.CHUNK rows), so the chunk boundaries are tested with small chunks and with a file of CHUNK + 5 rows.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

import gradcli
from gradcli.batch import stream as batch
from gradcli.cli.app import app

runner = CliRunner()


# -- helpers -------------------------------------------------------------------------------------


def run(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.stdout
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def ok(*args: str, input: str | None = None) -> Result:
    result = run(*args, input=input)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.stderr
    return result


def csv_rows(text: str) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of CSV output; every row must be as wide as the header."""
    rows = list(csv.reader(io.StringIO(text)))
    assert rows, "no CSV output"
    header, body = rows[0], rows[1:]
    for row in body:
        assert len(row) == len(header), (header, row)
    return header, body


def csv_dicts(text: str) -> list[dict[str, str]]:
    header, body = csv_rows(text)
    assert len(set(header)) == len(header), f"duplicate columns in {header}"
    return [dict(zip(header, row)) for row in body]


def _no_constants(token: str) -> Any:
    raise AssertionError(f"not strict JSON: {token}")


def json_lines(text: str) -> list[dict[str, Any]]:
    """JSON Lines output, parsed strictly: NaN / Infinity tokens are an error."""
    return [json.loads(line, parse_constant=_no_constants) for line in text.splitlines() if line.strip()]


def num(v: Any) -> float:
    """A number from CSV text or a strict-JSON value ("nan", "inf", "-inf" as strings)."""
    return float(v)


def arr(v: Any) -> np.ndarray:
    return np.vectorize(float, otypes=[float])(np.asarray(v, dtype=object)) if isinstance(v, list) else np.asarray(float(v))


def close(a: Any, b: Any) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-12, atol=1e-300, equal_nan=True))


def api_cells(source: str, point: dict[str, Any], kind: str, wrt: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The single-point API's results at one point, under the batch output's column names."""
    e = gradcli.compile(source)
    p = {k: np.asarray(v, dtype=float) for k, v in point.items()}
    names = list(wrt) if wrt else list(e.variables)
    outs = e.output_names
    cells: dict[str, np.ndarray] = {}
    values = e.values(p)
    if len(outs) == 1:
        cells["value"] = values[0]
    else:
        cells.update({f"value_{k + 1}": v for k, v in enumerate(values)})
    if kind in ("diff", "jacobian"):
        if len(outs) == 1:
            value, grad = e.value_and_gradient(p, names)
            assert close(value, cells["value"])
            cells.update({f"d_{v}": grad[v] for v in names})
        else:
            jac = e.jacobian(p, names)
            for k, o in enumerate(outs):
                cells.update({f"d{k + 1}_{v}": jac[o][v] for v in names})
    elif kind == "hessian":
        h = e.hessian(p, names)
        cells.update({f"d2_{a}_{b}": h[a][b] for a in names for b in names})
    return cells


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def small_chunks(monkeypatch: pytest.MonkeyPatch, size: int = 3) -> None:
    """The readers' chunk size is a default bound at import, so patch the functions the CLI looks up."""
    monkeypatch.setattr(batch, "read_csv", functools.partial(batch.read_csv, chunk=size))
    monkeypatch.setattr(batch, "read_jsonl", functools.partial(batch.read_jsonl, chunk=size))
    monkeypatch.setattr(batch, "grid_chunks", functools.partial(batch.grid_chunks, chunk=size))


POINTS = [(1.0, 2.0), (0.5, -1.25), (3.0, 0.1), (-2.0, 4.0), (1e-3, 7.0)]


def points_csv(extra_first: bool = True) -> str:
    """Columns: id, y, x, note — the variables out of order, passthrough columns around them."""
    lines = ["id,y,x,note"] if extra_first else ["x,y,id,note"]
    for k, (x, y) in enumerate(POINTS):
        note = f'"row {k}, quoted"'
        lines.append(f"r{k},{y!r},{x!r},{note}" if extra_first else f"{x!r},{y!r},r{k},{note}")
    return "\n".join(lines) + "\n"


def points_jsonl() -> str:
    return "".join(json.dumps({"x": x, "y": y, "id": f"r{k}"}) + "\n" for k, (x, y) in enumerate(POINTS))


# -- CSV and JSON Lines: results equal the single-point API ----------------------------------------

SINGLE = ["x^2*y + sin(y)", "exp(x)*cos(y) - x/y", "hypot(x, y) + log1p(x^2) * tanh(y)"]


@pytest.mark.parametrize("source", SINGLE)
@pytest.mark.parametrize("kind", ["eval", "diff", "hessian"])
def test_csv_matches_single_point_api(tmp_path: Path, source: str, kind: str) -> None:
    path = write(tmp_path, "pts.csv", points_csv())
    result = ok(kind, source, "--points", path)
    header, body = csv_rows(result.stdout)
    e = gradcli.compile(source)
    expected0 = api_cells(source, {"x": 1.0, "y": 2.0}, kind)
    # The point's variables (expression order), the passthrough columns (file order), then the results.
    assert header == [*e.variables, "id", "note", *expected0]
    assert len(body) == len(POINTS)
    for k, ((x, y), row) in enumerate(zip(POINTS, body)):
        got = dict(zip(header, row))
        assert num(got["x"]) == x and num(got["y"]) == y
        assert got["id"] == f"r{k}" and got["note"] == f"row {k}, quoted"
        for name, want in api_cells(source, {"x": x, "y": y}, kind).items():
            assert close(num(got[name]), want), (k, name, got[name], want)


@pytest.mark.parametrize("source", SINGLE)
def test_jsonl_by_extension_matches_single_point_api(tmp_path: Path, source: str) -> None:
    path = write(tmp_path, "pts.jsonl", points_jsonl())
    result = ok("diff", source, "--points", path, "--format", "json")
    objs = json_lines(result.stdout)
    assert len(objs) == len(POINTS)
    for k, ((x, y), obj) in enumerate(zip(POINTS, objs)):
        assert obj["point"] == {"x": x, "y": y} or obj["point"] == {"y": y, "x": x}
        assert obj["columns"] == {"id": f"r{k}"}
        want = api_cells(source, {"x": x, "y": y}, "diff")
        assert close(num(obj["value"]), want["value"])
        assert set(obj["gradient"]) == {"x", "y"}
        for v in ("x", "y"):
            assert close(num(obj["gradient"][v]), want[f"d_{v}"])


@pytest.mark.parametrize("name", ["pts.ndjson", "pts.jsonl"])
def test_jsonl_extension_to_csv_output(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, points_jsonl())
    rows = csv_dicts(ok("diff", "x*y", "--points", path).stdout)
    assert [(num(r["x"]), num(r["y"]), r["id"]) for r in rows] == [(x, y, f"r{k}") for k, (x, y) in enumerate(POINTS)]
    assert [num(r["d_x"]) for r in rows] == [y for _, y in POINTS]


def test_format_detected_from_content_on_stdin() -> None:
    as_csv = ok("diff", "x*y", "--points", "-", input=points_csv(extra_first=False))
    as_json = ok("diff", "x*y", "--points", "-", input="\n" + points_jsonl())  # a blank first line too
    without_note = [{k: v for k, v in r.items() if k != "note"} for r in csv_dicts(as_csv.stdout)]
    assert without_note == csv_dicts(as_json.stdout)
    as_jsonl_out = json_lines(ok("diff", "x*y", "--points", "-", "--format", "json", input=points_jsonl()).stdout)
    assert [o["gradient"] for o in as_jsonl_out] == [{"x": y, "y": x} for x, y in POINTS]


def test_detected_from_content_for_an_unknown_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "points.data", points_jsonl())
    rows = csv_dicts(ok("eval", "x + y", "--points", path).stdout)
    assert [num(r["value"]) for r in rows] == [x + y for x, y in POINTS]


def test_passthrough_column_order_and_text_kept_verbatim(tmp_path: Path) -> None:
    text = 'b_note,x,a_id,z\n"hello, world",2,007,-\n"",3,008,\n'
    rows = ok("eval", "x^2", "--points", write(tmp_path, "p.csv", text)).stdout
    header, body = csv_rows(rows)
    assert header == ["x", "b_note", "a_id", "z", "value"]
    assert body == [["2", "hello, world", "007", "-", "4"], ["3", "", "008", "", "9"]]


MULTI = ["x*y, x + y", "a = x*y; sin(a), a^2, exp(x - y)"]


@pytest.mark.parametrize("source", MULTI)
@pytest.mark.parametrize("kind", ["eval", "jacobian", "diff"])
def test_multi_output_csv_matches_api(tmp_path: Path, source: str, kind: str) -> None:
    path = write(tmp_path, "pts.csv", points_csv(extra_first=False))
    result = ok(kind, source, "--points", path)
    header, body = csv_rows(result.stdout)
    nout = len(gradcli.compile(source).output_names)
    values = [f"value_{k + 1}" for k in range(nout)]
    grads = [] if kind == "eval" else [f"d{k + 1}_{v}" for k in range(nout) for v in ("x", "y")]
    assert header == ["x", "y", "id", "note", *values, *grads]
    for (x, y), row in zip(POINTS, body):
        got = dict(zip(header, row))
        for name, want in api_cells(source, {"x": x, "y": y}, kind).items():
            assert close(num(got[name]), want), (name, got[name], want)


def test_multi_output_jacobian_json(tmp_path: Path) -> None:
    path = write(tmp_path, "pts.jsonl", points_jsonl())
    result = run("jacobian", "x*y, x + y", "--points", path, "--format", "json")
    assert_no_traceback(result)
    assert result.exit_code == 0, result.stderr
    objs = json_lines(result.stdout)
    first, second = gradcli.compile("x*y, x + y").output_names  # the outputs are named by their text
    assert len(objs) == len(POINTS)
    for (x, y), obj in zip(POINTS, objs):
        assert obj["value"] == {first: x * y, second: x + y}
        assert obj["jacobian"] == {first: {"x": y, "y": x}, second: {"x": 1, "y": 1}}


def test_multi_output_eval_json(tmp_path: Path) -> None:
    path = write(tmp_path, "pts.jsonl", points_jsonl())
    objs = json_lines(ok("eval", "x*y, x + y", "--points", path, "--format", "json").stdout)
    outs = gradcli.compile("x*y, x + y").output_names
    assert len(objs) == len(POINTS)
    for (x, y), obj in zip(POINTS, objs):
        assert list(obj["value"]) == list(outs)
        assert close([num(obj["value"][o]) for o in outs], [x * y, x + y])


def test_hessian_json_values(tmp_path: Path) -> None:
    path = write(tmp_path, "pts.csv", points_csv())
    objs = json_lines(ok("hessian", "x^2*y + y^3", "--points", path, "--format", "json").stdout)
    assert len(objs) == len(POINTS)
    for (x, y), obj in zip(POINTS, objs):
        assert close(num(obj["value"]), x * x * y + y**3)
        h = obj["hessian"]
        assert close([[h["x"]["x"], h["x"]["y"]], [h["y"]["x"], h["y"]["y"]]], [[2 * y, 2 * x], [2 * x, 6 * y]])


def test_hessian_json_schema_has_no_jacobian_key(tmp_path: Path) -> None:
    path = write(tmp_path, "pts.csv", points_csv())
    obj = json_lines(ok("hessian", "x^2*y", "--points", path, "--format", "json").stdout)[0]
    assert set(obj) == {"point", "value", "hessian", "columns"}


def test_hessian_json_with_underscore_names() -> None:
    obj = json_lines(ok("hessian", "w_1^2*x", "--points", "-", "--format", "json", input="w_1,x\n1,2\n").stdout)[0]
    assert obj["hessian"] == {"w_1": {"w_1": 4, "x": 2}, "x": {"w_1": 2, "x": 0}}


def test_hessian_multi_output_csv_columns_line_up(tmp_path: Path) -> None:
    path = write(tmp_path, "pts.csv", points_csv(extra_first=False))
    header, body = csv_rows(ok("hessian", "x*y, x^2 + y", "--points", path).stdout)
    got = dict(zip(header, body[0]))
    # Every output's Hessian, as the single-point command gives: d2_<output>_<a>_<b>.
    assert [h for h in header if h.startswith("d2_")] == [f"d2_{k}_{a}_{b}" for k in (1, 2) for a in "xy" for b in "xy"]
    assert num(got["d2_1_x_y"]) == 1 and num(got["d2_1_x_x"]) == 0
    assert num(got["d2_2_x_x"]) == 2 and num(got["d2_2_x_y"]) == 0


def test_diff_order_2_equals_hessian(tmp_path: Path) -> None:
    path = write(tmp_path, "pts.csv", points_csv())
    a = ok("diff", "x^3*y - cos(x*y)", "--order", "2", "--points", path).stdout
    b = ok("hessian", "x^3*y - cos(x*y)", "--points", path).stdout
    assert a == b


def test_wrt_picks_gradient_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "pts.csv", points_csv(extra_first=False))
    header, body = csv_rows(ok("diff", "x^2*y", "--wrt", "y", "--points", path).stdout)
    assert header == ["x", "y", "id", "note", "value", "d_y"]
    assert [num(r[-1]) for r in body] == [x * x for x, _ in POINTS]


# -- chunks ------------------------------------------------------------------------------------------


def test_read_csv_in_chunks_of_3() -> None:
    text = "x,tag\n" + "".join(f"{i},t{i}\n" for i in range(10))
    chunks = list(batch.read_csv(io.StringIO(text), ["x"], False, batch.Stats(), chunk=3))
    assert [len(c.lines) for c in chunks] == [3, 3, 3, 1]
    assert [ln for c in chunks for ln in c.lines] == list(range(2, 12))
    assert np.concatenate([c.columns["x"] for c in chunks]).tolist() == list(range(10))
    assert [e["tag"] for c in chunks for e in c.extra] == [f"t{i}" for i in range(10)]


def test_read_jsonl_in_chunks_of_3() -> None:
    text = "".join(json.dumps({"x": i, "k": i * 10}) + "\n" for i in range(8))
    chunks = list(batch.read_jsonl(io.StringIO(text), ["x"], False, batch.Stats(), chunk=3))
    assert [len(c.lines) for c in chunks] == [3, 3, 2]
    assert [ln for c in chunks for ln in c.lines] == list(range(1, 9))
    assert np.concatenate([c.columns["x"] for c in chunks]).tolist() == list(range(8))
    assert [e for c in chunks for e in c.extra] == [{"k": i * 10} for i in range(8)]


def test_grid_chunks_of_4_cover_the_product_in_order() -> None:
    chunks = list(batch.grid_chunks({"x": (0.0, 1.0, 3), "y": (0.0, 2.0, 3)}, ["x", "y"], chunk=4))
    assert [len(c.lines) for c in chunks] == [4, 4, 1]
    xs = np.concatenate([c.columns["x"] for c in chunks]).tolist()
    ys = np.concatenate([c.columns["y"] for c in chunks]).tolist()
    assert list(zip(xs, ys)) == [(x, y) for x in (0.0, 0.5, 1.0) for y in (0.0, 1.0, 2.0)]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_cli_small_chunks_keep_order_and_rows(monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    small_chunks(monkeypatch, 3)
    n = 11
    csv_in = "x,i\n" + "".join(f"{k * 0.5!r},{k}\n" for k in range(n))
    json_in = "".join(json.dumps({"x": k * 0.5, "i": k}) + "\n" for k in range(n))
    for text in (csv_in, json_in):
        result = ok("diff", "x^2", "--points", "-", "--format", fmt, input=text)
        if fmt == "csv":
            rows = csv_dicts(result.stdout)
            got = [(r["i"], num(r["x"]), num(r["value"]), num(r["d_x"])) for r in rows]
            assert [g[0] for g in got] == [str(k) for k in range(n)]
        else:
            objs = json_lines(result.stdout)
            got = [(o["columns"]["i"], num(o["point"]["x"]), num(o["value"]), num(o["gradient"]["x"])) for o in objs]
            assert [g[0] for g in got] == (list(range(n)) if text is json_in else [str(k) for k in range(n)])
        assert [g[1:] for g in got] == [(k * 0.5, (k * 0.5) ** 2, k * 1.0) for k in range(n)]


def test_cli_small_chunks_with_bad_rows_at_the_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    small_chunks(monkeypatch, 3)
    # Data lines 2..12; the bad ones (a short row, a non-number, a long row, an undefined point)
    # sit at the ends and starts of chunks of 3.
    lines = ["x,i"] + [f"{k},{k}" for k in range(11)]
    lines[3] = "short"  # line 4: data row 2, last of the first chunk
    lines[5] = "q,4"  # line 6: first of the second chunk
    lines[7] = "1,2,3"  # line 8
    lines[10] = "-1,9"  # line 11: undefined for sqrt
    text = "\n".join(lines) + "\n"
    result = run("diff", "sqrt(x)", "--points", "-", input=text)
    assert_no_traceback(result)
    assert result.exit_code == 2
    assert "line 4" in result.stderr and "short" in result.stderr
    header, body = csv_rows(result.stdout)
    assert len(body) == 11
    bad = {2, 4, 6, 9}
    for k, row in enumerate(body):
        got = dict(zip(header, row))
        if k in bad:
            assert math.isnan(num(got["value"])) and math.isnan(num(got["d_x"])), (k, row)
        else:
            assert num(got["x"]) == k and got["i"] == str(k)
            assert close(num(got["value"]), math.sqrt(k)) and (k == 0 or close(num(got["d_x"]), 0.5 / math.sqrt(k)))

    skipped = ok("diff", "sqrt(x)", "--points", "-", "--skip-bad", input=text)
    rows = csv_dicts(skipped.stdout)
    assert [r["i"] for r in rows] == [str(k) for k in range(11) if k not in (2, 4, 6)]
    assert "skipped 3 malformed row(s)" in skipped.stderr
    assert "undefined on 1 row(s)" in skipped.stderr and "line 11" in skipped.stderr


def test_cli_more_than_one_chunk_of_rows(tmp_path: Path) -> None:
    n = batch.CHUNK + 5
    path = tmp_path / "big.csv"
    path.write_text("x,k\n" + "".join(f"{i},{i}\n" for i in range(n)), encoding="utf-8")
    result = ok("diff", "3*x + 1", "--points", str(path))
    lines = result.stdout.splitlines()
    assert lines[0] == "x,k,value,d_x"
    assert len(lines) == n + 1
    for i in [0, 1, batch.CHUNK - 2, batch.CHUNK - 1, batch.CHUNK, batch.CHUNK + 1, n - 1]:
        assert lines[i + 1] == f"{i},{i},{3 * i + 1},3"


def test_cli_grid_across_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    small_chunks(monkeypatch, 4)
    rows = csv_dicts(ok("eval", "x + 10*y", "--grid", "x=0:2:3,y=0:1:3").stdout)
    assert [(num(r["x"]), num(r["y"])) for r in rows] == [(x, y) for x in (0.0, 1.0, 2.0) for y in (0.0, 0.5, 1.0)]
    assert [num(r["value"]) for r in rows] == [x + 10 * y for x in (0.0, 1.0, 2.0) for y in (0.0, 0.5, 1.0)]


# -- undefined rows --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["eval", "diff", "hessian"])
def test_undefined_rows_are_nan_and_counted(kind: str) -> None:
    text = "x,y,id\n1,2,a\n-1,2,b\n3,0.5,c\n0,1,d\n-5,1,e\n"
    result = run(kind, "log(x)*y + y^2", "--points", "-", input=text)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.stderr
    header, body = csv_rows(result.stdout)
    assert [r[2] for r in body] == ["a", "b", "c", "d", "e"]  # no row shifted or lost
    results = header.index("value")
    for k, row in enumerate(body):
        if row[2] in ("b", "d", "e"):
            assert all(c == "nan" for c in row[results:]), row
            assert row[:3] == text.splitlines()[k + 1].split(",")  # the point and passthrough are kept
        else:
            assert "nan" not in row
    assert "undefined on 3 row(s)" in result.stderr
    assert "line 3, 5, 6" in result.stderr
    assert result.stderr.count("\n") == 1  # one warning, at the end


def test_undefined_rows_in_json_are_strict() -> None:
    result = ok("diff", "sqrt(x)", "--points", "-", "--format", "json", input='{"x": 4}\n{"x": -4}\n')
    objs = json_lines(result.stdout)
    assert objs[0]["value"] == 2 and objs[0]["gradient"] == {"x": 0.25}
    assert objs[1]["point"] == {"x": -4}
    assert objs[1]["value"] == "nan" and objs[1]["gradient"] == {"x": "nan"}
    assert "line 2" in result.stderr


def test_many_undefined_rows_name_a_few_lines() -> None:
    text = "x\n" + "-1\n" * 50
    result = ok("eval", "log(x)", "--points", "-", input=text)
    assert "undefined on 50 row(s)" in result.stderr
    assert "line 2, 3" in result.stderr and "…" in result.stderr
    assert "line 51" not in result.stderr


def test_undefined_in_a_later_output_is_nan_throughout_and_counted() -> None:
    result = ok("jacobian", "x, log(x)", "--points", "-", input="x\n1\n-1\n")
    header, body = csv_rows(result.stdout)
    assert body[0] == ["1", "1", "0", "1", "1"]
    assert body[1][1:] == ["nan"] * 4
    assert "undefined on 1 row(s)" in result.stderr


# -- malformed rows --------------------------------------------------------------------------------

# (points text, line number of the bad row, text the message quotes, index of the bad row in the output)
MALFORMED = [
    pytest.param("x,y\n1,2\n3\n5,6\n", 3, "has 1 columns", 1, id="csv-too-few-columns"),
    pytest.param("x,y\n1,2\n3,4,9\n5,6\n", 3, "3,4,9", 1, id="csv-too-many-columns"),
    pytest.param("x,y\n1,2\n5,6\nabc,4\n", 4, "abc", 2, id="csv-not-a-number"),
    pytest.param("x,y\n1,2\n,4\n5,6\n", 3, "not a number", 1, id="csv-empty-cell"),
    pytest.param('{"x": 1, "y": 2}\n{"x": 3, "y": \n{"x": 5, "y": 6}\n', 2, '{"x": 3, "y":', 1, id="json-bad-json"),
    pytest.param('{"x": 1, "y": 2}\n{"x": 5, "y": 6}\n{"x": 3}\n', 3, "no value for y", 2, id="json-missing-key"),
    pytest.param('{"x": 1, "y": 2}\n{"x": "abc", "y": 2}\n{"x": 5, "y": 6}\n', 2, "abc", 1, id="json-not-a-number"),
    pytest.param('{"x": "1", "y": 2}\n{"x": [1, "a"], "y": 2}\n{"x": 5, "y": 6}\n', 2, "not a number", 1, id="json-bad-array"),
    pytest.param('{"x": 1, "y": 2}\n[3, 4]\n{"x": 5, "y": 6}\n', 2, "[3, 4]", 1, id="json-not-an-object"),
]


@pytest.mark.parametrize(("text", "line", "words", "index"), MALFORMED)
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_malformed_row_keeps_its_place_and_exits_2(text: str, line: int, words: str, index: int, fmt: str) -> None:
    result = run("diff", "x*y", "--points", "-", "--format", fmt, input=text)
    assert_no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.startswith("gradcli: error: ")
    assert f"line {line} " in result.stderr and words in result.stderr
    good = [(1, 2), (5, 6)]
    if fmt == "csv":
        header, body = csv_rows(result.stdout)
        assert len(body) == 3
        assert all(c == "nan" for c in body[index][header.index("value") :])
        rest = [dict(zip(header, r)) for k, r in enumerate(body) if k != index]
        assert [(num(r["x"]), num(r["y"]), num(r["value"]), num(r["d_x"])) for r in rest] == [(x, y, x * y, y) for x, y in good]
    else:
        objs = json_lines(result.stdout)
        assert len(objs) == 3
        assert objs[index]["value"] == "nan" and objs[index]["gradient"] == {"x": "nan", "y": "nan"}
        assert objs[index].get("line") == line
        rest = [o for k, o in enumerate(objs) if k != index]
        assert [o["point"] for o in rest] == [{"x": x, "y": y} for x, y in good]
        assert [o["value"] for o in rest] == [x * y for x, y in good]


@pytest.mark.parametrize(("text", "line", "words", "index"), MALFORMED)
def test_skip_bad_drops_the_row_and_warns(text: str, line: int, words: str, index: int) -> None:
    result = ok("diff", "x*y", "--points", "-", "--skip-bad", input=text)
    rows = csv_dicts(result.stdout)
    assert [(num(r["x"]), num(r["y"]), num(r["value"])) for r in rows] == [(1, 2, 2), (5, 6, 30)]
    assert "skipped 1 malformed row(s)" in result.stderr and f"line {line} " in result.stderr


def test_several_malformed_rows_name_the_first() -> None:
    result = run("eval", "x", "--points", "-", input="x\n1\nfoo\n2\nbar\n3\n")
    assert result.exit_code == 2
    assert "line 3 " in result.stderr and "foo" in result.stderr and "1 more" in result.stderr
    assert [r["value"] for r in csv_dicts(result.stdout)] == ["1", "nan", "2", "nan", "3"]


@pytest.mark.parametrize("bad", ["null", "true"])
def test_json_null_or_bool_is_malformed(bad: str) -> None:
    result = run("eval", "x", "--points", "-", input=f'{{"x": 1}}\n{{"x": {bad}}}\n')
    assert result.exit_code == 2
    assert "line 2" in result.stderr


def test_passthrough_survives_a_malformed_first_json_row() -> None:
    result = run("eval", "x", "--points", "-", input='{"x": "?", "id": "a"}\n{"x": 2, "id": "b"}\n')
    assert result.exit_code == 2
    assert [r["id"] for r in csv_dicts(result.stdout)] == ["", "b"]


def test_csv_with_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfx,y\n1,2\n")
    assert csv_dicts(ok("eval", "x*y", "--points", str(path)).stdout) == [{"x": "1", "y": "2", "value": "2"}]


# -- grid ------------------------------------------------------------------------------------------


def test_grid_rows_corners_and_order() -> None:
    n, m = 5, 4
    rows = csv_dicts(ok("diff", "x^2*y", "--grid", f"x=-1:1:{n},y=0:3:{m}").stdout)
    assert len(rows) == n * m
    pts = [(num(r["x"]), num(r["y"])) for r in rows]
    assert pts == [(x, y) for x in np.linspace(-1, 1, n) for y in np.linspace(0, 3, m)]  # x slowest
    assert (pts[0], pts[m - 1], pts[-m], pts[-1]) == ((-1, 0), (-1, 3), (1, 0), (1, 3))
    for r in rows:
        x, y = num(r["x"]), num(r["y"])
        assert close(num(r["value"]), x * x * y) and close(num(r["d_x"]), 2 * x * y) and close(num(r["d_y"]), x * x)


def test_grid_json_and_single_point_grid() -> None:
    objs = json_lines(ok("hessian", "x^3", "--grid", "x=2:2:1", "--format", "json").stdout)
    assert objs == [{"point": {"x": 2}, "value": 8, "hessian": {"x": {"x": 12}}}] or (
        len(objs) == 1 and objs[0]["hessian"] == {"x": {"x": 12}}
    )


def test_grid_with_at() -> None:
    rows = csv_dicts(ok("diff", "a*x + b", "--grid", "x=0:1:3", "--at", "a=2,b=5").stdout)
    assert [(r["x"], r["a"], r["b"], r["value"], r["d_x"]) for r in rows] == [
        ("0", "2", "5", "5", "2"),
        ("0.5", "2", "5", "6", "2"),
        ("1", "2", "5", "7", "2"),
    ]


# -- arrays ----------------------------------------------------------------------------------------


def test_training_step_gradient_for_w() -> None:
    rng = np.random.default_rng(7)
    rows = [(rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=3)) for _ in range(4)]
    text = "".join(
        json.dumps({"W": W.tolist(), "x": x.tolist(), "y": y.tolist(), "step": k}) + "\n" for k, (W, x, y) in enumerate(rows)
    )
    objs = json_lines(ok("diff", "sum((y - W @ x)^2)", "--points", "-", "--format", "json", input=text).stdout)
    assert len(objs) == len(rows)
    for k, ((W, x, y), obj) in enumerate(zip(rows, objs)):
        r = y - W @ x
        assert obj["columns"] == {"step": k}
        assert close(arr(obj["value"]), r @ r)
        g = obj["gradient"]
        assert close(arr(g["W"]), -2 * np.outer(r, x))  # W's shape, (3, 2)
        assert close(arr(g["x"]), -2 * W.T @ r)
        assert close(arr(g["y"]), 2 * r)


def test_training_step_example_from_the_issue() -> None:
    text = '{"W": [[1,2],[3,4]], "x": [1,1], "y": [0,1]}\n'
    obj = json_lines(ok("diff", "sum((y - W @ x)^2)", "--wrt", "W", "--points", "-", "--format", "json", input=text).stdout)[0]
    assert obj["value"] == 45
    assert obj["gradient"] == {"W": [[6, 6], [12, 12]]}


def test_array_rows_match_single_point_api_with_broadcasting() -> None:
    source = "sum(w * x) + b * mean(x)"
    rows = [
        {"w": [1.0, 2.0, 3.0], "x": [0.5, -1.0, 2.0], "b": 2.0},
        {"w": [0.0, -1.0, 4.0], "x": [1.0, 1.0, 1.0], "b": -3.5},
    ]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    objs = json_lines(ok("diff", source, "--points", "-", "--format", "json", input=text).stdout)
    for row, obj in zip(rows, objs):
        want = api_cells(source, row, "diff")
        assert close(arr(obj["value"]), want["value"])
        for v in ("w", "x", "b"):
            assert close(arr(obj["gradient"][v]), want[f"d_{v}"]), v
        assert np.shape(arr(obj["gradient"]["b"])) == ()


def test_array_rows_to_csv_cells() -> None:
    result = ok("diff", "sum(x^2)", "--points", "-", input='{"x": [1, 2]}\n{"x": [3, -1]}\n')
    header, body = csv_rows(result.stdout)
    assert header == ["x", "value", "d_x"]
    assert body == [["[1, 2]", "5", "[2, 4]"], ["[3, -1]", "10", "[6, -2]"]]


def test_array_row_undefined_is_nan() -> None:
    result = ok("diff", "sum(log(x))", "--points", "-", "--format", "json", input='{"x": [1, -1]}\n{"x": [1, 2]}\n')
    objs = json_lines(result.stdout)
    assert objs[0]["value"] == "nan"
    assert close(arr(objs[1]["value"]), math.log(2)) and objs[1]["gradient"] == {"x": [1, 0.5]}
    assert "undefined on 1 row(s)" in result.stderr and "line 1" in result.stderr


def test_scalar_and_array_rows_of_one_variable() -> None:
    result = ok("diff", "sum(x^2)", "--points", "-", "--format", "json", input='{"x": 2}\n{"x": [1, 2]}\n')
    objs = json_lines(result.stdout)
    assert objs[0] == {"point": {"x": 2}, "value": 4, "gradient": {"x": 4}}  # as `--at x=2`


def test_at_fixes_an_array_for_every_row() -> None:
    text = '{"W": [[1,2],[3,4]], "y": [0,1]}\n{"W": [[0,1],[1,0]], "y": [2,2]}\n'
    objs = json_lines(
        ok("diff", "sum((y - W @ x)^2)", "--wrt", "W", "--at", "x=[1,1]", "--points", "-", "-f", "json", input=text).stdout
    )
    assert [o["point"]["x"] for o in objs] == [[1, 1], [1, 1]]
    for o in objs:
        W, y, x = np.array(o["point"]["W"], float), np.array(o["point"]["y"], float), np.ones(2)
        assert close(arr(o["gradient"]["W"]), -2 * np.outer(y - W @ x, x))


def test_at_fixes_a_scalar_for_every_row(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "x,id\n1,a\n2,b\n3,c\n")
    rows = csv_dicts(ok("diff", "x^2*y", "--points", path, "--at", "y=10").stdout)
    assert [(r["x"], r["y"], r["id"], r["value"], r["d_x"], r["d_y"]) for r in rows] == [
        ("1", "10", "a", "10", "20", "1"),
        ("2", "10", "b", "40", "40", "4"),
        ("3", "10", "c", "90", "60", "9"),
    ]


# -- output text -----------------------------------------------------------------------------------


def test_csv_numbers_are_shortest_round_trip_text() -> None:
    text = "x\n8\n0.1\n1e-20\n1e-5\n0.30000000000000004\n2.5e16\nnan\ninf\n-inf\n-3\n"
    result = ok("eval", "x", "--points", "-", input=text)
    assert result.stdout.splitlines() == [
        "x,value",
        "8,8",
        "0.1,0.1",
        "1e-20,1e-20",
        "1e-5,1e-5",
        "0.30000000000000004,0.30000000000000004",
        "2.5e16,2.5e16",
        "nan,nan",
        "inf,inf",
        "-inf,-inf",
        "-3,-3",
    ]


def test_csv_computed_numbers_text() -> None:
    result = ok("diff", "x^2 + 2*x + 1", "--points", "-", input="x\n3\n0.5\n")
    assert result.stdout.splitlines() == ["x,value,d_x", "3,16,8", "0.5,2.25,3"]
    assert ok("eval", "x / 10, x * 1e-20", "--points", "-", input="x\n1\n").stdout.splitlines()[1] == "1,0.1,1e-20"


def test_json_is_strict_with_nonfinite_as_strings() -> None:
    text = '{"x": "inf"}\n{"x": "-inf"}\n{"x": "nan"}\n{"x": 1}\n'
    result = ok("diff", "x", "--points", "-", "--format", "json", input=text)
    assert "NaN" not in result.stdout and "Infinity" not in result.stdout
    objs = json_lines(result.stdout)
    assert [o["value"] for o in objs] == ["inf", "-inf", "nan", 1]
    assert [o["point"]["x"] for o in objs] == ["inf", "-inf", "nan", 1]


# -- streaming: `| head` ---------------------------------------------------------------------------


def _gradcli() -> Path:
    exe = Path(sys.executable).parent / ("gradcli.exe" if os.name == "nt" else "gradcli")
    if not exe.exists():
        pytest.skip("the gradcli console script is not installed next to this Python")
    return exe


def _lines_then_close(proc: subprocess.Popen[str], n: int) -> Iterator[str]:
    assert proc.stdout is not None
    for _ in range(n):
        yield proc.stdout.readline()
    proc.stdout.close()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_early_close_ends_quickly_without_traceback(fmt: str) -> None:
    # 25 million rows: only streaming lets the first lines out, and only a quiet stop on EPIPE ends it quickly.
    args = [str(_gradcli()), "diff", "x*y", "--grid", "x=0:1:5000,y=0:1:5000", "--format", fmt]
    start = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = list(_lines_then_close(proc, 3))
    try:
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    assert time.monotonic() - start < 20
    assert all(line.endswith("\n") for line in lines)
    if fmt == "csv":
        assert lines[0] == "x,y,value,d_x,d_y\n" and lines[1] == "0,0,0,0,0\n"
    else:
        assert json.loads(lines[0]) == {"point": {"x": 0, "y": 0}, "value": 0, "gradient": {"x": 0, "y": 0}}
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err, err
    assert code in (0, -13, 141), (code, err)


def test_shell_pipe_into_head() -> None:
    exe = _gradcli()
    cmd = f'"{exe}" eval "x+y" --grid x=0:1:5000,y=0:1:5000 | head -n 3'
    done = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30)
    assert done.stdout.splitlines() == ["x,y,value", "0,0,0", "0,0.00020004000800160032,0.00020004000800160032"]
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr


# -- usage errors ------------------------------------------------------------------------------------

USAGE: list[tuple[Callable[[Path], list[str]], list[str]]] = [
    (lambda p: ["eval", "x", "--points", str(p / "p.csv"), "--grid", "x=0:1:3"], ["--points", "--grid"]),
    (lambda p: ["diff", "x + z", "--points", str(p / "p.csv")], ["no column for z"]),
    (lambda p: ["eval", "x", "--points", str(p / "missing.csv")], ["no such points file", "missing.csv"]),
    (lambda p: ["eval", "x", "--points", str(p)], ["directory"]),
    (lambda p: ["eval", "x", "--grid", "x=0:1"], ["malformed --grid", "x=0:1"]),
    (lambda p: ["eval", "x", "--grid", "x=a:1:3"], ["malformed --grid"]),
    (lambda p: ["eval", "x", "--grid", "x=0:1:0"], ["malformed --grid"]),
    (lambda p: ["eval", "x", "--grid", "0:1:3"], ["malformed --grid"]),
    (lambda p: ["eval", "x", "--grid", "x=0:1:3:4"], ["malformed --grid"]),
    (lambda p: ["eval", "x + y", "--grid", "x=0:1:3"], ["no range for y"]),
    (lambda p: ["eval", "x", "--points", str(p / "p.csv"), "--format", "table"], ["--format"]),
    (lambda p: ["diff", "x", "--grid", "x=0:1:3", "--format", "table"], ["--format"]),
    (lambda p: ["diff", "x", "--points", str(p / "p.csv"), "--symbolic"], ["--points"]),
]


@pytest.mark.parametrize(("make_args", "words"), USAGE)
def test_usage_errors_exit_2(tmp_path: Path, make_args: Callable[[Path], list[str]], words: list[str]) -> None:
    write(tmp_path, "p.csv", "x,y\n1,2\n")
    result = run(*make_args(tmp_path))
    assert_no_traceback(result)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("gradcli: error: ")
    for w in words:
        assert w in result.stderr, (w, result.stderr)


def test_missing_column_message_lists_the_header() -> None:
    result = run("diff", "a*b + c", "--points", "-", input="a,b,extra\n1,2,3\n")
    assert result.exit_code == 2
    assert "no column for c" in result.stderr and "a, b, extra" in result.stderr


def test_a_quoted_field_over_128_kib_passes_through(tmp_path: Path) -> None:
    """csv's default field limit is 128 KiB; a long passthrough cell is data, not a malformed row."""

    note = "a, " * 70_000  # 210,000 characters, with commas: must stay quoted
    path = tmp_path / "long.csv"
    path.write_text(f'x,note\n1,"{note}"\n2,b\n')
    run = subprocess.run([sys.executable, "-m", "gradcli", "eval", "x^2", "--points", str(path)],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert run.returncode == 0 and run.stderr == "", run.stderr[:300]
    csv.field_size_limit(2**31 - 1)  # for this test's own reading of the output
    rows = list(csv.reader(io.StringIO(run.stdout)))
    assert rows == [["x", "note", "value"], ["1", note, "1"], ["2", "b", "4"]]


def test_a_csv_of_65536_columns_is_read_in_seconds(tmp_path: Path) -> None:
    """A very wide file: every column passes through, no MemoryError (loadtxt's string arrays), no quadratic step."""

    n = 65_536
    path = tmp_path / "wide.csv"
    path.write_text(",".join(["x", *(f"c{i}" for i in range(n - 1))]) + "\n" + "".join(
        ",".join([str(r), *(str(i % 7) for i in range(n - 1))]) + "\n" for r in range(3)))  # fmt: skip
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "gradcli", "eval", "x^2", "--points", str(path)],
                         capture_output=True, text=True, check=False, timeout=120)  # fmt: skip
    took = time.perf_counter() - start
    assert run.returncode == 0, run.stderr[:300]
    rows = list(csv.reader(io.StringIO(run.stdout)))
    assert rows[0] == ["x", *(f"c{i}" for i in range(n - 1)), "value"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"] and [r[-1] for r in rows[1:]] == ["0", "1", "4"]
    assert rows[2][1:-1] == [str(i % 7) for i in range(n - 1)]
    assert took < 30, took  # was minutes: a list membership test per cell


def test_order_n_rows_of_several_variables_say_the_mixed_partials_are_not_columns() -> None:
    """--order 3 over a grid writes d3_x, d3_y only; stderr says so instead of dropping d3/dx2dy silently."""
    r = CliRunner().invoke(app, ["diff", "sin(x)*y", "--grid", "x=0:1:2,y=1:2:2", "--order", "3"])
    assert r.exit_code == 0, r.output
    header, *rows = r.stdout.strip().splitlines()
    assert header == "x,y,value,d3_x,d3_y"
    assert [float(v) for v in rows[1].split(",")[3:]] == pytest.approx([-np.cos(0.0) * 2, 0.0])
    assert "pure partial (d3_x, d3_y)" in r.stderr
    one = CliRunner().invoke(app, ["diff", "sin(x)", "--grid", "x=0:1:2", "--order", "3"])
    assert one.exit_code == 0 and "pure partial" not in one.stderr
