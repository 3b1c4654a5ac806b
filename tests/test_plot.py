"""`gradcli plot`: the curve and its derivative, gaps where undefined, kinks found."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import gradcli
from gradcli.cli.app import app
from gradcli.tools.plot import sample

runner = CliRunner()


def test_samples_match_the_api() -> None:
    expr = gradcli.compile("sin(x)*y")
    curve = sample(expr, {"y": np.asarray(2.0)}, "x", -1.0, 2.0, 50)
    assert curve.x[0] == -1.0 and curve.x[-1] == 2.0 and len(curve.x) == 50
    np.testing.assert_allclose(curve.f, 2 * np.sin(curve.x), rtol=1e-15)
    np.testing.assert_allclose(curve.df, 2 * np.cos(curve.x), rtol=1e-15)
    assert curve.kinks == [] and curve.undefined == []


def test_undefined_region_is_a_gap_and_kinks_are_found() -> None:
    expr = gradcli.compile("sqrt(x) + abs(x - 1)")
    curve = sample(expr, {}, "x", -1.0, 3.0, 401)
    assert len(curve.undefined) == 1
    lo, hi = curve.undefined[0]
    assert lo == -1.0 and -0.02 < hi < 0
    assert np.all(np.isnan(curve.f[curve.x < 0])) and np.all(np.isfinite(curve.f[curve.x >= 0]))
    assert any(abs(k - 1.0) < 0.02 for k in curve.kinks)


def test_reductions_are_sampled_point_by_point() -> None:
    curve = sample(gradcli.compile("sum([x, x^2])"), {}, "x", 0.0, 1.0, 11)
    np.testing.assert_allclose(curve.f, curve.x + curve.x**2)
    np.testing.assert_allclose(curve.df, 1 + 2 * curve.x)


def test_terminal_plot_through_the_cli() -> None:
    result = runner.invoke(app, ["plot", "abs(x - 0.5) + log(x + 1)", "--range", "x=-2:2", "--width", "40", "--height", "8"])
    assert result.exit_code == 0, result.output
    assert "abs(x - 0.5) + log(x + 1)" in result.stdout
    assert "df/dx" in result.stdout
    assert "kinks (the derivative jumps) near x ≈ 0.5" in result.stdout
    assert "undefined for x in [-2, " in result.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["plot", "x*y", "--range", "x=0:1"], "fix the other variables with --at"),
        (["plot", "x", "--range", "x=1:0"], "malformed --range"),
        (["plot", "x", "--range", "z=0:1"], "z is not a variable"),
    ],
)
def test_bad_plot_requests(args: list[str], words: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and words in result.stderr


def test_image_output(tmp_path: Path) -> None:
    out = tmp_path / "f.png"
    result = runner.invoke(app, ["plot", "x^2", "--range", "x=-1:1", "-o", str(out)])
    if importlib.util.find_spec("matplotlib") is None:
        assert result.exit_code == 2 and "pip install 'gradcli[plot]'" in result.stderr
    else:
        assert result.exit_code == 0, result.output
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
