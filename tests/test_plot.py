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


def _body(text: str) -> list[str]:
    """The plot's inside: the rows between the frame's top and bottom."""
    lines = text.splitlines()
    top = next(k for k, line in enumerate(lines) if line.startswith("┌"))
    bottom = next(k for k, line in enumerate(lines) if line.startswith("└"))
    return [line.split("│")[1] if line.count("│") >= 2 else line for line in lines[top + 1 : bottom]]


def test_legend_tells_the_series_apart_without_colour() -> None:
    result = runner.invoke(app, ["plot", "sin(x)", "--range", "x=0:6", "--width", "50", "--height", "10"], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    legend = [line for line in result.stdout.splitlines() if "df/dx" in line][0]
    f_mark, df_mark = legend.split("f", 1)[0].split()[-1], legend.split("df/dx")[0].split()[-1]
    assert f_mark != df_mark and set(f_mark) | set(df_mark) == {"*", "o"}
    body = "".join(_body(result.stdout))
    assert "*" in body and "o" in body  # each series drawn with its own marker


def test_a_pole_is_clipped_so_f_stays_visible() -> None:
    """1/x on [-1, 1]: its derivative -1/x² reaches -160,000 near 0; scaled to that, f would be a flat line."""
    from gradcli.tools.plot import y_range

    curve = sample(gradcli.compile("1/x"), {}, "x", -1.0, 1.0, 400)
    lo, hi, clipped = y_range(curve)
    assert clipped and -1e3 < lo < -1 and 1 < hi < 1e3
    inside = (curve.f >= lo) & (curve.f <= hi)
    assert inside.mean() > 0.9  # most of f is on the scale
    shown = runner.invoke(app, ["plot", "1/x", "--range", "x=-1:1", "--height", "12"], env={"NO_COLOR": "1"})
    assert shown.exit_code == 0, shown.output
    rows_with_f = sum("*" in row for row in _body(shown.stdout))
    assert rows_with_f >= 4, shown.stdout  # f spans several rows, not one flat line
    assert "y axis clipped to" in shown.stdout and "--ylim" in shown.stdout


def test_growth_is_not_clipped() -> None:
    from gradcli.tools.plot import y_range

    curve = sample(gradcli.compile("exp(x)"), {}, "x", 0.0, 10.0, 400)
    lo, hi, clipped = y_range(curve)
    assert not clipped and lo == 1.0 and hi == pytest.approx(np.exp(10.0))


def test_ylim_sets_the_range() -> None:
    result = runner.invoke(app, ["plot", "x^3", "--range", "x=-3:3", "--ylim", "-2:2", "--height", "8"], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    labels = [line.rsplit("│", 1)[1].strip() for line in result.stdout.splitlines() if line.count("│") >= 2]
    assert "y axis clipped to [-2, 2] by --ylim" in result.stdout
    assert all(not label or abs(float(label.replace(",", ""))) <= 2 for label in labels)
    bad = runner.invoke(app, ["plot", "x", "--range", "x=0:1", "--ylim", "3:1"])
    assert bad.exit_code == 2 and "--ylim" in bad.stderr
