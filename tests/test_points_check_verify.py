"""--points on check and verify: every row checked, one verdict per row (check) or one report (verify)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gradcli.cli.app import app

runner = CliRunner()


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "points.csv"
    path.write_text(text)
    return str(path)


def test_check_points_one_row_per_input_row(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y\n1,2\n3,4\n0.5,-1\n")
    result = runner.invoke(app, ["check", "log(x) + x*y", "--points", path])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split(",")[:3] == ["x", "y", "ok"]
    assert [line.split(",")[:3] for line in lines[1:]] == [["1", "2", "ok"], ["3", "4", "ok"], ["0.5", "-1", "ok"]]


def test_check_points_json_rows_and_a_planted_failure(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import dataclasses

    from gradcli.engine import primitives
    from gradcli.engine.refs import op

    path = write(tmp_path, "x\n0.3\n1.2\n")
    monkeypatch.setitem(
        primitives.PRIMITIVES, "sin", dataclasses.replace(primitives.PRIMITIVES["sin"], partials=lambda x, ans: (-op.cos(x),))
    )
    result = runner.invoke(app, ["check", "sin(x)", "--points", path, "--format", "json"])
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["line"] for r in rows] == [2, 3]
    assert all(r["ok"] is False and r["rows"][0]["variable"] == "x" for r in rows)


def test_check_points_undefined_row_is_reported_and_the_rest_go_on(tmp_path: Path) -> None:
    path = write(tmp_path, "x\n1\n-1\n2\n")
    result = runner.invoke(app, ["check", "log(x)", "--points", path])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4 and lines[2].split(",")[1] == "error" and lines[3].split(",")[1] == "ok"


def test_verify_points_checks_every_row(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y\n1,2\n3,4\n-2,0.5\n")
    ok = runner.invoke(app, ["verify", "x*y^2", "--claim", "x=y^2", "--claim", "y=2*x*y", "--points", path, "-f", "json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data["ok"] is True and data["samples"] == 3
    wrong = runner.invoke(app, ["verify", "x*y^2", "--claim", "x=y^2", "--claim", "y=x*y", "--points", path, "-f", "json"])
    assert wrong.exit_code == 1
    counter = json.loads(wrong.stdout)["counterexample"]
    assert counter["variable"] == "y" and counter["autodiff"] == 2 * counter["point"]["x"] * counter["point"]["y"]


def test_check_points_keeps_every_passthrough_column(tmp_path: Path) -> None:
    """Every input column comes through check --points, named by the rule of the other commands (ok → ok_in)."""
    import csv
    import io
    import subprocess
    import sys

    text = 'x,ok,id\n1,a,"q,r"\n-1,b,c\n4,d,e\n'
    path = write(tmp_path, text)
    run = subprocess.run(
        [sys.executable, "-m", "gradcli", "check", "log(x)", "--points", path], capture_output=True, text=True, check=False
    )
    assert run.returncode == 1, run.stderr  # the row at x=-1 can't be checked
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert list(rows[0])[:3] == ["x", "ok_in", "id"] and "ok" in rows[0]
    source = list(csv.DictReader(io.StringIO(text)))
    assert [(r["x"], r["ok_in"], r["id"]) for r in rows] == [(s["x"], s["ok"], s["id"]) for s in source]
    assert [r["ok"] for r in rows] == ["ok", "error", "ok"]
    diff = runner.invoke(app, ["diff", "log(x)", "--points", path])  # the same header rule as diff
    assert diff.stdout.splitlines()[0].split(",")[:3] == ["x", "ok", "id"]  # diff has no `ok` result column
    empty = runner.invoke(app, ["check", "x^2", "--points", write(tmp_path, "x,id\n")])
    assert empty.stdout.splitlines() == ["x,id,ok,worst,autodiff,numeric,abs_error,rel_error,kinks"]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"x": 1, "id": "a"}\n{"x": 2, "id": "b"}\n')
    out = runner.invoke(app, ["check", "x^2", "--points", str(jsonl), "-f", "json"])
    assert [json.loads(line)["columns"] for line in out.stdout.splitlines()] == [{"id": "a"}, {"id": "b"}]
