"""Special functions (issue 13): textbook derivative identities, domains, the not-differentiable
arguments, and mod's jumps as `check` kinks.

Oracles: scipy.special values and identities independent of gradcli's rules (J0' = −J1 computed by
scipy, d/dx P(a, x) = x^(a−1)e^(−x)/Γ(a), d/dx I_x(a, b) = x^(a−1)(1−x)^(b−1)/B(a, b), erfinv' from the
inverse function theorem), and central differences.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import scipy.special as sp
from typer.testing import CliRunner

import gradcli
from gradcli.cli.app import app
from gradcli.errors import NotDifferentiableError

runner = CliRunner()
MODES = ("reverse", "forward")
X = np.array([0.05, 0.7, 1.9, 4.3, 9.6])


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def grad(source: str, point: dict[str, object], mode: str, wrt: list[str] | None = None) -> dict[str, np.ndarray]:
    return gradcli.compile(source).gradient(point, wrt=wrt, mode=mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("source", "want"),
    [
        ("besselj0(x)", lambda x: -sp.j1(x)),
        ("besselj1(x)", lambda x: sp.jvp(1, x)),
        ("bessely0(x)", lambda x: -sp.y1(x)),
        ("bessely1(x)", lambda x: sp.yvp(1, x)),
        ("besseli0(x)", lambda x: sp.i1(x)),
        ("besseli1(x)", lambda x: sp.ivp(1, x)),
        ("besselk0(x)", lambda x: -sp.k1(x)),
        ("besselk1(x)", lambda x: sp.kvp(1, x)),
        ("besselj(3.5, x)", lambda x: sp.jvp(3.5, x)),
        ("bessely(2, x)", lambda x: sp.yvp(2, x)),
        ("besseli(1.5, x)", lambda x: sp.ivp(1.5, x)),
        ("besselk(4, x)", lambda x: sp.kvp(4, x)),
        ("gammainc(2.5, x)", lambda x: x**1.5 * np.exp(-x) / sp.gamma(2.5)),
        ("gammaincc(0.5, x)", lambda x: -(x**-0.5) * np.exp(-x) / sp.gamma(0.5)),
        ("betainc(2, 3.5, x / 10)", lambda x: (x / 10) * (1 - x / 10) ** 2.5 / sp.beta(2, 3.5) / 10),
        ("erfinv(x / 10)", lambda x: 1 / (2 / math.sqrt(math.pi) * np.exp(-(sp.erfinv(x / 10) ** 2))) / 10),
        ("erfcinv(x / 5)", lambda x: -1 / (2 / math.sqrt(math.pi) * np.exp(-(sp.erfcinv(x / 5) ** 2))) / 5),
    ],
)
def test_derivatives_against_scipy_identities(source: str, want: object, mode: str) -> None:
    g = grad(source, {"x": X}, mode)["x"]
    np.testing.assert_allclose(g, want(X), rtol=1e-10, atol=1e-14, err_msg=source)  # type: ignore[operator]


def test_bessel_derivatives_at_zero() -> None:
    # J1'(0) = 1/2 and I1'(0) = 1/2: the recurrence (J0 − J2)/2 is finite where J1/x is 0/0.
    for source in ("besselj1(x)", "besseli1(x)"):
        for mode in MODES:
            assert grad(source, {"x": 0.0}, mode)["x"] == 0.5
    assert grad("besselj0(x)", {"x": 0.0}, "reverse")["x"] == 0.0


def test_second_derivatives_satisfy_bessels_equation() -> None:
    # x²y'' + xy' + (x² − n²)y = 0 for y = J_n and Y_n.
    for source, n in (("besselj(2.5, x)", 2.5), ("bessely(1, x)", 1.0), ("besselj0(x)", 0.0), ("bessely1(x)", 1.0)):
        expr = gradcli.compile(source)
        for x in (0.7, 2.2, 5.1):
            y = float(expr.value({"x": x}))
            d1 = float(expr.gradient({"x": x})["x"])
            d2 = float(expr.hessian({"x": x})["x"]["x"])
            assert abs(x * x * d2 + x * d1 + (x * x - n * n) * y) < 1e-11, source


@pytest.mark.parametrize(
    ("source", "point", "role"),
    [
        ("besselj(n, x)", {"n": 1.0, "x": 2.0}, "order (n)"),
        ("besselk(n * 2, x)", {"n": 1.0, "x": 2.0}, "order (n * 2)"),
        ("gammainc(a, x)", {"a": 2.0, "x": 1.0}, "shape parameter (a)"),
        ("betainc(a, 2, x)", {"a": 2.0, "x": 0.5}, "parameter a (a)"),
        ("betainc(3, b, x)", {"b": 2.0, "x": 0.5}, "parameter b (b)"),
    ],
)
def test_not_differentiable_in_an_order_or_shape_parameter(source: str, point: dict[str, float], role: str) -> None:
    expr = gradcli.compile(source)
    for mode in MODES:
        with pytest.raises(NotDifferentiableError, match=re.escape(f"not differentiable in its {role}")):
            expr.gradient(point, mode=mode)
        assert np.isfinite(expr.gradient(point, wrt=["x"], mode=mode)["x"])  # in x it is fine
    at = ",".join(f"{k}={v}" for k, v in point.items())
    code, out, err = cli("diff", source, "--at", at)
    assert code == 2 and "not differentiable" in err and "Traceback" not in err, out + err
    code, out, err = cli("diff", source, "--at", at, "--wrt", "x")
    assert code == 0, err


@pytest.mark.parametrize(
    ("source", "at", "words"),
    [
        ("bessely0(x)", "x=-1", ["bessely0(x) is undefined", "outside (0, inf)"]),
        ("besselk1(x)", "x=0", ["besselk1(x) is undefined"]),
        ("besselj(0.5, x)", "x=-2", ["besselj(0.5, x) is undefined", "integer order"]),
        ("gammainc(a, x)", "a=-1,x=2", ["gammainc(a, x) is undefined", "shape a is -1"]),
        ("betainc(1, 2, x)", "x=1.5", ["betainc(1, 2, x) is undefined"]),
        ("erfinv(x)", "x=2", ["erfinv(x) is undefined", "outside [-1, 1]"]),
        ("mod(x, y)", "x=1,y=0", ["mod(x, y) is undefined", "divisor is 0"]),
    ],
)
def test_domains(source: str, at: str, words: list[str]) -> None:
    code, out, err = cli("eval", source, "--at", at)
    assert code == 3, out + err
    for w in words:
        assert w in err, err


def test_jv_of_a_negative_argument_with_an_integer_order() -> None:
    np.testing.assert_allclose(gradcli.compile("besselj(3, x)").value({"x": -2.0}), sp.jv(3, -2.0), rtol=1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_mod_and_fmod_derivatives(mode: str) -> None:
    x, y = np.array([5.3, -5.3, 5.3, -5.3]), np.array([2.0, 2.0, -2.0, -2.0])
    g = grad("mod(x, y)", {"x": x, "y": y}, mode)
    np.testing.assert_array_equal(g["x"], np.ones(4))
    np.testing.assert_array_equal(g["y"], -np.floor(x / y))
    g = grad("fmod(x, y)", {"x": x, "y": y}, mode)
    np.testing.assert_array_equal(g["y"], -np.trunc(x / y))


def test_check_reports_mod_jumps_as_kinks() -> None:
    code, out, err = cli("check", "mod(x, 2)", "--at", "x=4", "--format", "json")
    assert code == 0, out + err
    assert json.loads(out)["ok"] is True
    code, out, err = cli("check", "mod(x, 2)", "--at", "x=4")
    assert "kink" in out and "mod(x, 2)" in out
    code, out, err = cli("check", "fmod(x, 3) * x", "--at", "x=1.3", "--format", "json")  # away from jumps: a plain pass
    assert code == 0 and json.loads(out)["ok"] is True


@pytest.mark.parametrize("source", ["besselk1(x) * besseli0(x)", "besseli(2.5, x) + besselk(1.5, x)", "mod(x, 0.3) * x"])
def test_check_complex_step(source: str) -> None:
    # I and K have accurate complex continuations, so complex steps are used; mod's continuation is exact.
    code, out, err = cli("check", source, "--at", "x=1.7", "--method", "complex", "--format", "json")
    assert code == 0, out + err
    result = json.loads(out)
    assert result["ok"] is True and result["method"] == "complex"


def test_check_falls_back_from_complex_for_j_and_y() -> None:
    code, out, err = cli("check", "besselj0(x) * bessely1(x)", "--at", "x=1.7", "--method", "complex", "--format", "json")
    assert code == 0, out + err
    result = json.loads(out)
    assert result["ok"] is True and result["method"] == "central"
