"""Nothing recurses (SPEC §1): 10,000 levels of nesting and a 100,000-term sum go through parse,
lower, evaluate and differentiate, and give the values computed independently here in Python."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gradcli.cli.app import app

N = 10_000
TERMS = 100_000
runner = CliRunner()


def cli(args: list[str], input: str | None = None) -> str:
    result = runner.invoke(app, args, input=input)
    assert "Traceback" not in result.output
    assert result.exit_code == 0, result.stderr[:500]
    return result.stdout


def diff_json(expression: str, at: str, input: str | None = None) -> dict[str, Any]:
    return json.loads(cli(["diff", "--format", "json", "--at", at, "--", expression], input))


def close(got: float, want: float) -> bool:
    return math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-300)


def nested_sin(x: float) -> tuple[float, float]:
    """sin applied N times and its derivative, the product of cos along the chain."""
    value, slope = x, 1.0
    for _ in range(N):
        slope *= math.cos(value)
        value = math.sin(value)
    return value, slope


def _deep_cases() -> list[tuple[str, str, float, float]]:
    """(name, expression, value, derivative) at x = 0.5."""
    x = 0.5
    sin_value, sin_slope = nested_sin(x)
    sign = (-1) ** N
    return [
        ("parentheses", "(" * N + "x*x" + ")" * N, x * x, 2 * x),
        ("parentheses around each step", "(" * N + "x" + "".join(")+1" for _ in range(N - 1)) + ")", x + N - 1, 1.0),
        ("sin", "sin(" * N + "x" + ")" * N, sin_value, sin_slope),
        ("unary minus", "-" * N + "x^3", sign * x**3, sign * 3 * x**2),
        ("unary minus, odd", "-" * (N + 1) + "x^3", -(x**3), -3 * x**2),
        ("mixed signs", "-+" * (N // 2) + "x", (-1) ** (N // 2) * x, (-1) ** (N // 2)),
        ("nested calls of two arguments", "max(" * N + "x" + ", 0)" * N, x, 1.0),
        ("exponents", "x" + "^1" * N, x, 1.0),
    ]


@pytest.mark.parametrize(("name", "src", "value", "slope"), _deep_cases(), ids=[c[0] for c in _deep_cases()])
def test_deep_nesting(name: str, src: str, value: float, slope: float) -> None:
    assert close(float(cli(["eval", "--at", "x=0.5", "--", src]).strip()), value)
    data = diff_json(src, "x=0.5")
    assert close(data["value"], value)
    assert close(data["gradient"]["x"], slope)


def test_deep_nesting_through_stdin() -> None:
    value, slope = nested_sin(0.5)
    data = diff_json("-", "x=0.5", input="sin(" * N + "x" + ")" * N + "\n")
    assert close(data["value"], value)
    assert close(data["gradient"]["x"], slope)


def test_deep_forward_mode() -> None:
    value, slope = nested_sin(0.5)
    out = cli(["diff", "--mode", "forward", "--at", "x=0.5", "--", "sin(" * N + "x" + ")" * N])
    assert close(float(out.strip()), slope)


def test_many_statements() -> None:
    """10,000 statements, each using the one before."""
    program = "t0 = x\n" + "".join(f"t{k} = t{k - 1} + {k}*x\n" for k in range(1, N)) + f"t{N - 1}\n"
    coefficient = 1 + sum(range(1, N))
    data = diff_json("-", "x=2", input=program)
    assert close(data["value"], 2.0 * coefficient)
    assert close(data["gradient"]["x"], float(coefficient))


def test_sum_of_100000_terms_from_stdin() -> None:
    """sum_k k*x at x=0.5: every coefficient is a different constant on the tape."""
    src = " + ".join(f"{k}*x" for k in range(1, TERMS + 1))
    coefficient = TERMS * (TERMS + 1) // 2
    data = diff_json("-", "x=0.5", input=src)
    assert data["value"] == 0.5 * coefficient
    assert data["gradient"]["x"] == coefficient


def test_sum_of_100000_terms_from_a_file(tmp_path: Path) -> None:
    """Two variables and implicit multiplication, read from a program file with a comment."""
    terms = [f"{k % 9 + 1}x" if k % 2 else f"{k % 7}*y" for k in range(TERMS)]
    path = tmp_path / "big.grad"
    path.write_text("# a long sum\n" + " + ".join(terms) + "\n", encoding="utf-8")
    dx = sum(k % 9 + 1 for k in range(TERMS) if k % 2)
    dy = sum(k % 7 for k in range(TERMS) if not k % 2)
    data = diff_json(f"@{path}", "x=0.5,y=2")
    assert data["value"] == 0.5 * dx + 2 * dy
    assert data["gradient"] == {"x": dx, "y": dy}
