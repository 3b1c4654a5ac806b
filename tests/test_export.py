"""`gradcli export`: the generated code is run and compared with gradcli's own numbers.

The code executed here is what gradcli generated (from programs the strategies below build, or
fixed ones), compiled with `compile()` into a fresh namespace; no user text is ever executed. The C
is compiled with the system C compiler and run as a subprocess (skipped, saying so, without one).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import POINTS, expressions
from typer.testing import CliRunner

import gradcli
from gradcli.cli.app import app
from gradcli.tools.export import emit

SETTINGS = settings(derandomize=True, max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
ELEMENTWISE = expressions(max_leaves=5, kinks=True, reductions=False)


def load(text: str, name: str) -> Any:
    """The generated function, from gradcli's generated module text."""
    namespace: dict[str, Any] = {}
    exec(compile(text, "<gradcli export>", "exec"), namespace)  # noqa: S102 - our generated code, not user text
    return namespace[name]


def flat(value: Any) -> list[float]:
    """value, (dx, dy), ... → one list of numbers."""
    out: list[float] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (tuple, list)):
            stack.extend(reversed(v))
        else:
            out.append(float(v))
    return out


def close(a: list[float], b: list[float], rtol: float = 1e-9) -> bool:
    """Equal to rounding: both nan, or equal infinities, or within rtol (plus a floor scaled to the largest)."""
    if len(a) != len(b):
        return False
    scale = max([abs(x) for x in b if math.isfinite(x)], default=1.0)
    for x, y in zip(a, b):
        if math.isnan(y) or math.isinf(y):
            if not (x == y or (math.isnan(x) and math.isnan(y))):
                return False
        elif not abs(x - y) <= rtol * abs(y) + rtol * 1e-3 * max(scale, 1.0):
            return False
    return True


def reference(expr: gradcli.Expression, point: dict[str, float]) -> list[float] | None:
    """gradcli's value and gradient at the point; None where it can't be evaluated."""
    try:
        value, grads = expr.value_and_gradient(point)
    except gradcli.GradcliError:
        return None
    return [float(value)] + [float(grads[v]) for v in expr.variables]


@SETTINGS
@given(source=ELEMENTWISE, point=POINTS)
def test_python_export_matches_gradcli(source: str, point: dict[str, float]) -> None:
    expr = gradcli.compile(source)
    f = load(emit(expr, "python", "grad"), "f_and_grad")
    want = reference(expr, point)
    args = [point[v] for v in expr.variables]
    try:
        got = flat(f(*args))
    except (ZeroDivisionError, OverflowError, ValueError):
        # Plain Python raises exactly where gradcli's number is not finite (an overflow, 1/0 in a slope).
        assert want is None or not all(math.isfinite(w) for w in want), (source, point, want)
        return
    assert want is not None, (source, point, got)
    assert close(got, want), (source, point, got, want)


@SETTINGS
@given(source=ELEMENTWISE, xs=st.lists(st.floats(-2, 2), min_size=1, max_size=6))
def test_numpy_export_matches_gradcli_batches(source: str, xs: list[float]) -> None:
    """Arrays in, one gradient per element out: the same numbers as gradcli's batch gradient."""
    expr = gradcli.compile(source)
    f = load(emit(expr, "numpy", "grad"), "f_and_grad")
    x = np.array(xs)
    point = {"x": x, "y": x[::-1] * 0.7 - 0.1}
    args = [point[v] for v in expr.variables]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the program is defined everywhere: no warning expected
        value, grads = f(*args)
    with np.errstate(all="ignore"):
        want_value, want_grads = expr.value_and_gradient(point, batch=True) if expr.variables else (None, {})
    if not expr.variables:
        return
    assert np.shape(value) == x.shape
    for got, want in zip([value, *grads], [want_value, *(want_grads[v] for v in expr.variables)]):
        assert close(list(np.ravel(got)), list(np.ravel(np.broadcast_to(want, x.shape)))), (source, got, want)


@settings(derandomize=True, max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(source=expressions(max_leaves=4, reductions=False), point=POINTS)
def test_python_hessian_matches_gradcli(source: str, point: dict[str, float]) -> None:
    expr = gradcli.compile(source)
    f = load(emit(expr, "python", "hessian"), "f_grad_hessian")  # polygamma (lgamma's Hessian) has a helper of its own
    names = expr.variables
    try:
        want_h = expr.hessian(point)
        value, grads = expr.value_and_gradient(point)
    except gradcli.GradcliError:
        return
    want = [float(value)] + [float(grads[v]) for v in names] + [float(want_h[a][b]) for a in names for b in names]
    try:
        got = flat(f(*[point[v] for v in names]))
    except (ZeroDivisionError, OverflowError, ValueError):
        assert not all(math.isfinite(w) for w in want), (source, point, want)
        return
    assert close(got, want, rtol=1e-8), (source, point, got, want)


def test_jacobian_of_several_outputs() -> None:
    expr = gradcli.compile("x*y + sin(x), exp(y)/x, 3")
    f = load(emit(expr, "python", "jacobian"), "f_and_jacobian")
    at = {"x": 0.7, "y": -1.3}
    values, rows = f(0.7, -1.3)
    jac = expr.jacobian(at)
    assert close(flat(values), [float(v) for v in expr.values(at)])
    for row, label in zip(rows, expr.output_names):
        assert close(flat(row), [float(jac[label][v]) for v in ("x", "y")])


def test_domain_conventions() -> None:
    """Undefined points: Python raises as gradcli does, numpy writes nan with a warning; a where that
    doesn't take the undefined branch is fine in both, as in gradcli."""
    expr = gradcli.compile("log(x) + y")
    f = load(emit(expr, "python", "grad"), "f_and_grad")
    with pytest.raises(ValueError, match="log"):
        f(-1.0, 2.0)
    with pytest.raises(gradcli.GradcliError):
        expr.value_and_gradient({"x": -1.0, "y": 2.0})
    g = load(emit(expr, "numpy", "grad"), "f_and_grad")
    with pytest.warns(RuntimeWarning, match="undefined"):
        value, (dx, dy) = g(np.array([-1.0, 2.0]), np.array([1.0, 1.0]))
    assert np.isnan(value[0]) and value[1] == pytest.approx(math.log(2) + 1)
    guarded = gradcli.compile("where(x > 0, log(x), 2*x)")
    h = load(emit(guarded, "python", "grad"), "f_and_grad")
    assert flat(h(-1.5)) == [-3.0, 2.0]
    v, grads = guarded.value_and_gradient({"x": -1.5})
    assert [float(v), float(grads["x"])] == [-3.0, 2.0]


def test_kinks_follow_gradcli_and_are_written_as_comments() -> None:
    expr = gradcli.compile("abs(x) + relu(y) + max(x, y)")
    text = emit(expr, "python", "grad")
    assert "abs'(0) = 0" in text and "relu'(0) = 0" in text and "splits the gradient evenly" in text
    f = load(text, "f_and_grad")
    for at in ({"x": 0.0, "y": 0.0}, {"x": 1.0, "y": 1.0}, {"x": -2.0, "y": 0.5}):
        assert close(flat(f(at["x"], at["y"])), reference(expr, at) or [])


def test_unsupported_primitive_is_a_clear_error() -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["export", "sum(x) + 1", "--grad"])
    assert r.exit_code == 2 and "export doesn't support sum yet" in r.output
    r = runner.invoke(app, ["export", "erfinv(x)", "--grad", "--lang", "c"])
    assert r.exit_code == 2 and "export --lang c doesn't support erfinv yet" in r.output
    r = runner.invoke(app, ["export", "x*y, y", "--grad"])
    assert r.exit_code == 2 and "--jacobian" in r.output


def test_cli_writes_a_file_and_latex(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "f.py"
    r = runner.invoke(app, ["export", "x**2 * y + sin(y)", "--grad", "-o", str(out)])
    assert r.exit_code == 0, r.output
    f = load(out.read_text(encoding="utf-8"), "f_and_grad")
    assert close(flat(f(3.0, 0.0)), [0.0, 0.0, 10.0])
    r = runner.invoke(app, ["export", "x**2 * y + sin(y)", "--grad", "--lang", "latex"])
    assert r.exit_code == 0 and "\\begin{aligned}" in r.output and "\\frac{\\partial f}{\\partial y}" in r.output


def test_user_text_stays_in_comments() -> None:
    """A program file's text can't break out of the header comment (newlines are gone from it)."""
    expr = gradcli.compile("# a comment\nz = x + 1\nz * 2")
    for lang in ("python", "numpy", "c"):
        text = emit(expr, lang, "grad")
        header = [line for line in text.splitlines() if "z = x + 1" in line]
        assert header and all(line.lstrip().startswith(("#", "//")) for line in header)


# -- C ------------------------------------------------------------------------------------------

CC = shutil.which("gcc") or shutil.which("cc")


SPECIAL = [
    ("besselj0(x) + bessely1(x + 1) + besseli1(x) * besselk0(x + 1)", {"x": 0.7}),
    ("besselj(2, x) + besselk(1.5, x) + gammainc(2, x) - gammaincc(0.5, x)", {"x": 1.3}),
    ("betainc(2, 3, x/2) + erfinv(x/3) + erfcinv(x/2)", {"x": 0.9}),
    ("mod(x, y) + fmod(x, -y) + mod(-x, 2)", {"x": 2.7, "y": 1.3}),
]


@pytest.mark.parametrize(("source", "point"), SPECIAL, ids=[s for s, _ in SPECIAL])
def test_special_functions_export_to_numpy(source: str, point: dict[str, float]) -> None:
    """scipy.special's names in the numpy language; gradcli's own numbers (scipy too, but by the table's rules)."""
    expr = gradcli.compile(source)
    f = load(emit(expr, "numpy", "grad"), "f_and_grad")
    assert close(flat(f(*[point[v] for v in expr.variables])), reference(expr, point) or [])


def test_remainders_export_to_python() -> None:
    source, point = SPECIAL[-1]
    expr = gradcli.compile(source)
    want = reference(expr, point)
    assert want is not None
    f = load(emit(expr, "python", "grad"), "f_and_grad")
    assert close(flat(f(point["x"], point["y"])), want)


def run_c(tmp_path: Path, text: str, kind: str, n_in: int, n_out: int, points: list[list[float]]) -> list[list[float]]:
    """Compile the exported function with a small main that prints every result, and run it on the points."""
    name = {"value": "f", "grad": "f_and_grad", "hessian": "f_grad_hessian", "jacobian": "f_and_jacobian"}[kind]
    args = ", ".join(f"atof(argv[{k + 1}])" for k in range(n_in))
    main = f"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {{
    double value[{n_out}], d[{max(n_out * n_in, n_in, 1)}], h[{max(n_in * n_in, 1)}];
    int bad = {name}({args}{", " if n_in else ""}value{", d" if kind != "value" else ""}{", h" if kind == "hessian" else ""});
    int nd = {0 if kind == "value" else (n_out * n_in if kind == "jacobian" else n_in)};
    printf("%d", bad);
    for (int k = 0; k < {n_out}; k++) printf(" %.17g", value[k]);
    for (int k = 0; k < nd; k++) printf(" %.17g", d[k]);
    for (int k = 0; k < {n_in * n_in if kind == "hessian" else 0}; k++) printf(" %.17g", h[k]);
    printf("\\n");
    return 0;
}}
"""
    src = tmp_path / "f.c"
    src.write_text(text + main, encoding="utf-8")
    exe = tmp_path / "f"
    subprocess.run([CC, "-std=c99", "-O1", "-Wall", "-Werror", "-Wno-unused-variable", "-o", str(exe), str(src), "-lm"],
                   check=True, capture_output=True)  # fmt: skip
    rows = []
    for p in points:
        out = subprocess.run([str(exe), *map(repr, p)], check=True, capture_output=True, text=True).stdout.split()
        rows.append([float(v) for v in out])
    return rows


needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (gcc or cc) on PATH: the exported C can't be compiled here")


@needs_cc
def test_remainders_export_to_c(tmp_path: Path) -> None:
    source, point = SPECIAL[-1]
    expr = gradcli.compile(source)
    (row,) = run_c(tmp_path, emit(expr, "c", "grad"), "grad", 2, 1, [[point["x"], point["y"]]])
    assert row[0] == 0 and close(row[1:], reference(expr, point) or []), row


@needs_cc
@settings(derandomize=True, max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(source=ELEMENTWISE, point=POINTS)
def test_c_export_matches_gradcli(tmp_path_factory: pytest.TempPathFactory, source: str, point: dict[str, float]) -> None:
    expr = gradcli.compile(source)
    names = expr.variables
    (row,) = run_c(tmp_path_factory.mktemp("c"), emit(expr, "c", "grad"), "grad", len(names), 1, [[point[v] for v in names]])
    want = reference(expr, point)
    assert row[0] == 0
    assert want is not None
    assert close(row[1:], want), (source, point, row, want)


@needs_cc
def test_c_hessian_jacobian_and_domain(tmp_path: Path) -> None:
    expr = gradcli.compile("x^2*y + exp(x*y)")
    (row,) = run_c(tmp_path, emit(expr, "c", "hessian"), "hessian", 2, 1, [[0.5, -1.25]])
    at = {"x": 0.5, "y": -1.25}
    h = expr.hessian(at)
    value, g = expr.value_and_gradient(at)
    assert close(row[1:], [float(value), float(g["x"]), float(g["y"])] + [float(h[a][b]) for a in "xy" for b in "xy"])
    two = gradcli.compile("x*y, log(x)")
    rows = run_c(tmp_path, emit(two, "c", "jacobian"), "jacobian", 2, 2, [[2.0, 3.0], [-1.0, 3.0]])
    assert rows[0] == [0, 6.0, math.log(2.0), 3.0, 2.0, 0.5, 0.0]
    assert rows[1][0] == 1 and math.isnan(rows[1][2])  # undefined: 1 and NAN, as gradcli's nan rows


def test_huge_expression_exports_and_compiles() -> None:
    """The 10⁵-operation expression of benchmarks/bench_huge.py (its timing is in the benchmark)."""
    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    from exprs import huge_source

    expr = gradcli.compile(huge_source(25_000))
    text = emit(expr, "python", "grad")
    f = load(text, "f_and_grad")
    got = flat(f(0.3, -0.2))
    k = np.arange(1, 25_001)
    assert close(got, [float(np.sum(np.sin(k * 0.3 - 0.2))), float(np.sum(k * np.cos(k * 0.3 - 0.2))),
                       float(np.sum(np.cos(k * 0.3 - 0.2)))], rtol=1e-8)  # fmt: skip


def test_long_programs_reuse_names_with_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past REUSE_NAMES_FROM instructions a dead value's name is reused; forced on for small programs here."""
    from gradcli.tools import export

    programs = ["log(x) + sqrt(y) * exp(-x*y) + where(x > y, x^2, sin(y))", "sigmoid(x - y) * tanh(x) + hypot(x, y)^3"]
    points = [(0.7, 1.3), (2.0, 0.25), (-1.0, 4.0)]
    for source in programs:
        expr = gradcli.compile(source)
        plain = [load(emit(expr, lang, "hessian"), "f_grad_hessian") for lang in ("python", "numpy")]
        monkeypatch.setattr(export, "REUSE_NAMES_FROM", 0)
        text = emit(expr, "python", "hessian")
        reused = [load(text, "f_grad_hessian"), load(emit(expr, "numpy", "hessian"), "f_grad_hessian")]
        monkeypatch.setattr(export, "REUSE_NAMES_FROM", 5000)
        assert len({line.split(" = ")[0].strip() for line in text.splitlines() if " = " in line}) < text.count(" = ")
        for f, g in zip(plain, reused):
            for p in points:
                try:
                    want = flat(f(*p))
                except ValueError:
                    with pytest.raises(ValueError):
                        g(*p)
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    assert flat(g(*p)) == want or close(flat(g(*p)), want, rtol=0.0)


POLYGAMMA_POINTS = [0.1, 0.5, 1.0, 2.5, 7.0, 19.9, 20.1, 55.0, 1e4, -0.5, -2.7, -10.3, -999.75]


def test_python_and_numpy_write_polygamma_lgamma_hessian_and_digamma_gradient() -> None:
    """lgamma'' = ψ₁ and digamma' = ψ₁ through the exported helper, against scipy's polygamma (and gradcli's numbers)."""
    import scipy.special

    from gradcli.tools import export

    for source, kind in (("lgamma(x)", "hessian"), ("digamma(x)", "grad")):
        expr = gradcli.compile(source)
        py = load(emit(expr, "python", kind), export.function_name(kind))
        vec = load(emit(expr, "numpy", kind), export.function_name(kind))
        want = scipy.special.polygamma(1, np.array(POLYGAMMA_POINTS))
        second = (lambda r: r[2][0][0]) if kind == "hessian" else (lambda r: r[1][0])  # noqa: E731
        np.testing.assert_allclose([second(py(x)) for x in POLYGAMMA_POINTS], want, rtol=1e-14)
        np.testing.assert_allclose(second(vec(np.array(POLYGAMMA_POINTS))), want, rtol=1e-14)
        ours = expr.hessian({"x": 2.5})["x"]["x"] if kind == "hessian" else expr.gradient({"x": 2.5})["x"]
        assert close([flat(py(2.5))[-1]], [float(ours)])
    helper: dict[str, object] = {"math": math}
    exec(export._HELPERS["_polygamma("], helper)  # noqa: S102, SLF001 - our own helper's text, not user input
    for n in (1, 2, 3, 4):
        got = [helper["_polygamma"](n, x) for x in (0.3, 1.5, 4.0, 30.0, -0.4, -3.3)]  # type: ignore[operator]
        np.testing.assert_allclose(got, scipy.special.polygamma(n, [0.3, 1.5, 4.0, 30.0, -0.4, -3.3]), rtol=1e-14)
    assert math.isnan(helper["_polygamma"](1, -2.0))  # type: ignore[operator] - a pole


@needs_cc
def test_c_writes_polygamma_and_only_c_helpers(tmp_path: Path) -> None:
    import scipy.special

    expr = gradcli.compile("digamma(x)")
    text = emit(expr, "c", "grad")
    assert "def " not in text  # a C file holds the C helpers only (gradcli_digamma contains _digamma's name)
    rows = run_c(tmp_path, text, "grad", 1, 1, [[x] for x in POLYGAMMA_POINTS])
    np.testing.assert_allclose([r[2] for r in rows], scipy.special.polygamma(1, POLYGAMMA_POINTS), rtol=1e-13)
    np.testing.assert_allclose([r[1] for r in rows], scipy.special.digamma(POLYGAMMA_POINTS), rtol=1e-12)
    (row,) = run_c(tmp_path, emit(gradcli.compile("lgamma(x)"), "c", "hessian"), "hessian", 1, 1, [[-2.7]])
    assert close([row[3]], [float(scipy.special.polygamma(1, -2.7))])
