"""The headline commands through Typer's CliRunner: exit codes and the lines that matter."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gradcli.cli.app import app

runner = CliRunner()


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.mark.parametrize(
    ("args", "out"),
    [
        (["diff", "x**2 + 2*x + 1", "--at", "x=3"], "8"),
        (["eval", "0.1 + 0.2"], "0.30000000000000004"),
        (["eval", "1e-20"], "1e-20"),
        (["eval", "2^3^2"], "512"),
        (["diff", "--at", "x=3", "--", "-x^2"], "-6"),
        (["diff", "--order", "3", "sin(x)", "--at", "x=0"], "-1"),
        (["diff", "sin(x)", "--at", "x=pi/2", "--mode", "forward"], "6.123233995736766e-17"),
    ],
)
def test_plain_single_number(args: list[str], out: str) -> None:
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == out


def test_diff_json_schema() -> None:
    result = run("diff", "x*y + sin(y)", "--at", "x=2,y=0", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data == {"expression": "x*y + sin(y)", "point": {"x": 2, "y": 0}, "value": 0, "gradient": {"x": 0, "y": 3}}


def test_hessian_and_jacobian_plain() -> None:
    assert run("hessian", "x^2*y", "--at", "x=1", "--at", "y=2").stdout.split("\n")[:2] == ["4 2", "2 0"]
    assert run("jacobian", "x*y, x+y", "--at", "x=1,y=2").stdout.split("\n")[:2] == ["2 1", "1 1"]


def test_stdin_expression() -> None:
    result = run("diff", "-", "--at", "x=2", input="a = x^3\na + 1  # a comment\n")
    assert result.exit_code == 0
    assert result.stdout.strip() == "12"


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["eval", "log(x - 2)", "--at", "x=1"], 3, ["log(x - 2) is undefined at x=1", "its argument is -1", "(0, inf)"]),
        (["eval", "sinn(x)", "--at", "x=1"], 2, ["unknown function sinn", "did you mean sin"]),
        (["eval", "x + y", "--at", "x=1"], 3, ["no value for y", "--at y="]),
        (["eval", "pi*x", "--at", "pi=3,x=1"], 2, ["pi is a constant"]),
        (["eval", "x", "--at", "x"], 2, ["malformed --at"]),
        (["eval", "x +", "--at", "x=1"], 2, ["syntax error", "column 4", "^"]),
    ],
)
def test_errors(args: list[str], code: int, words: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == code
    for w in words:
        assert w in result.stderr
    assert "Traceback" not in result.output
