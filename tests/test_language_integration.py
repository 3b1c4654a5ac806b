"""Where the language branch of issue 13 meets the primitives branch: scipy's short Bessel names as
call-only aliases, user functions calling matrix functions, subscripts of their results, `check` through
the CLI on those, and `diff --symbolic` on programs with subscripts.

Oracles: scipy.special and numpy.linalg values, central differences of numpy references, forward vs
reverse mode, and the long-named spelling of the same program.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
import scipy.special as sp
from typer.testing import CliRunner

import gradcli
from gradcli.cli.app import app
from gradcli.errors import GrammarError

runner = CliRunner()


def central(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


# -- Bessel functions by scipy's names -----------------------------------------------------------------

SHORT = [
    ("j0(x)", "besselj0(x)", sp.j0),
    ("j1(x)", "besselj1(x)", sp.j1),
    ("y0(x)", "bessely0(x)", sp.y0),
    ("y1(x)", "bessely1(x)", sp.y1),
    ("i0(x)", "besseli0(x)", sp.i0),
    ("i1(x)", "besseli1(x)", sp.i1),
    ("k0(x)", "besselk0(x)", sp.k0),
    ("k1(x)", "besselk1(x)", sp.k1),
    ("jv(2.5, x)", "besselj(2.5, x)", lambda x: sp.jv(2.5, x)),
    ("yv(1.5, x)", "bessely(1.5, x)", lambda x: sp.yv(1.5, x)),
    ("iv(0.5, x)", "besseli(0.5, x)", lambda x: sp.iv(0.5, x)),
    ("kv(3, x)", "besselk(3, x)", lambda x: sp.kv(3, x)),
]


@pytest.mark.parametrize(("short", "long", "ref"), SHORT, ids=[s for s, _, _ in SHORT])
def test_scipy_names_call_the_bessel_functions(short: str, long: str, ref: Callable[[float], float]) -> None:
    x = np.array([0.7, 1.9, 3.4])
    p = {"x": x}
    expr, same = gradcli.compile(f"sum({short})"), gradcli.compile(f"sum({long})")
    np.testing.assert_allclose(expr.value(p), np.sum(ref(x)), rtol=1e-14)
    want = central(lambda v: float(np.sum(ref(v))), x)
    for mode in ("reverse", "forward"):
        got = expr.gradient(p, mode=mode)["x"]
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(got, same.gradient(p, mode=mode)["x"])
    np.testing.assert_array_equal(expr.hessian(p)["x"]["x"], same.hessian(p)["x"]["x"])


def test_the_short_names_stay_variables_when_not_called() -> None:
    # y1, k0, i1 as plain variables (as older programs and tests use them) are unchanged.
    expr = gradcli.compile("y1^2 + 3*k0 + i1")
    assert set(expr.variables) == {"y1", "k0", "i1"}
    g = expr.gradient({"y1": 2.0, "k0": 1.0, "i1": 5.0})
    assert (float(g["y1"]), float(g["k0"]), float(g["i1"])) == (4.0, 3.0, 1.0)
    assert float(gradcli.compile("y1 = 2*x; y1 + j0(y1)").value({"x": 1.5})) == pytest.approx(3 + sp.j0(3.0), rel=1e-15)


@pytest.mark.parametrize(
    "src",
    ["y1 * y1(x)", "y1(x) + y1", "g(j0) = j0 + 1; j0(x) + g(x)", "k1 = 2; k1(x)"],
)
def test_a_short_name_used_both_ways_is_an_error(src: str) -> None:
    name = src.split("(")[0].split()[-1] if not src.startswith("g(") else "j0"
    with pytest.raises(GrammarError, match=f"{name} is a variable of this program and also scipy's name"):
        gradcli.compile(src)


def test_a_user_function_of_a_short_name_wins() -> None:
    assert float(gradcli.compile("j0(t) = t^2 + 1; j0(x)").value({"x": 3.0})) == 10.0


def test_short_names_on_the_command_line() -> None:
    code, out = cli("diff", "j0(x) + yv(2, x)", "--at", "x=1.5")
    assert code == 0
    assert float(out) == pytest.approx(-sp.j1(1.5) + sp.yvp(2, 1.5), rel=1e-12)
    code, out = cli("diff", "jv(n, x)", "--at", "n=2,x=1.5")
    assert code == 2 and "not differentiable in its order" in out


# -- user functions, matrix functions and subscripts together --------------------------------------------

A = np.array([[2.0, 0.5, 0.1], [0.3, 3.0, -0.4], [0.2, -0.1, 2.5]])
S = A @ A.T + np.eye(3)
X = np.array([0.4, -1.1, 2.3])

CROSS = [
    ("f(A) = logdet(A); f(S)", {"S": S}, lambda q: np.linalg.slogdet(q["S"])[1]),
    ("f(M) = inv(M)[0, 1]; f(A) + f(S)", {"A": A, "S": S}, lambda q: np.linalg.inv(q["A"])[0, 1] + np.linalg.inv(q["S"])[0, 1]),
    ("inv(A)[0, 1]", {"A": A}, lambda q: np.linalg.inv(q["A"])[0, 1]),
    ("sort(x)[-1]", {"x": X}, lambda q: np.sort(q["x"])[-1]),
    ("g(v) = sort(v)[1:]; sum(g(x) * g(2*x))", {"x": X}, lambda q: np.sum(np.sort(q["x"])[1:] * np.sort(2 * q["x"])[1:])),
    ("solve(A, x)[::2] @ x[1:]", {"A": A, "x": X}, lambda q: np.linalg.solve(q["A"], q["x"])[::2] @ q["x"][1:]),
    ("h(M, v) = transpose(M)[1] @ v; h(A, x) * det(A[:2, :2])", {"A": A, "x": X},
     lambda q: (q["A"].T[1] @ q["x"]) * np.linalg.det(q["A"][:2, :2])),
    ("softmax(A @ x)[0] + j1(x)[2]", {"A": A, "x": X}, lambda q: sp.softmax(q["A"] @ q["x"])[0] + sp.j1(q["x"][2])),
]  # fmt: skip


@pytest.mark.parametrize(("src", "point", "ref"), CROSS, ids=[s for s, _, _ in CROSS])
def test_user_functions_and_subscripts_through_matrix_functions(src: str, point: dict, ref: Callable) -> None:
    expr = gradcli.compile(src)
    np.testing.assert_allclose(float(expr.value(point)), ref(point), rtol=1e-12)
    for mode in ("reverse", "forward"):
        got = expr.gradient(point, mode=mode)
        for name, v in point.items():
            want = central(lambda w, name=name: ref({**point, name: w}), v)
            np.testing.assert_allclose(got[name], want, rtol=1e-6, atol=1e-8, err_msg=f"∂/∂{name} ({mode}) of {src}")


@pytest.mark.parametrize(
    ("src", "at"),
    [
        ("f(A) = logdet(A); f(A) + inv(A)[0, 1]", "A=[[2,1],[1,3]]"),
        ("sort(x)[-1] * x[0]", "x=[1,3,2]"),
        ("f(t) = j0(t) + t; sum(f(inv(A)[:, 0]))", "A=[[2,1],[1,3]]"),
    ],
)
def test_check_agrees_through_the_cli(src: str, at: str) -> None:
    code, out = cli("check", src, "--at", at, "--format", "json")
    assert code == 0, out
    report = json.loads(out)
    assert report["ok"] is True, report


# -- diff --symbolic with subscripts ---------------------------------------------------------------


def test_symbolic_derivative_of_a_subscript_is_a_clear_error() -> None:
    code, out = cli("diff", "--symbolic", "x[0]*x[1]", "--at", "x=[1,2,3]")
    assert code == 2
    assert "can't write the derivative of a subscript" in out and "Traceback" not in out


def test_symbolic_prints_subscripts_that_parse_back() -> None:
    # Differentiating by a scalar, the subscripted array is a constant factor: printed as x[0], which reads back.
    code, out = cli("diff", "--symbolic", "f(t) = t^2; f(x[0]) * y + y^2", "--at", "x=[1,2,3]", "--wrt", "y")
    assert code == 0, out
    formula = out.strip()
    assert "x[0]" in formula
    back = gradcli.compile(formula)
    for y in (0.5, -1.25):
        q = {"x": np.array([1.5, 2.0, 3.0]), "y": y}
        assert float(back.value(q)) == pytest.approx(1.5**2 + 2 * y, rel=1e-15)
