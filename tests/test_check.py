"""`gradcli check` (SPEC §3): correct derivatives pass under every method, planted wrong derivative
rules are caught, the tolerance and step semantics, kinks, arrays, the JSON schema and bad input.

Both the API (gradcli.tools.checking.check) and the CLI (CliRunner on gradcli.cli.app) are exercised.
Wrong rules are planted by replacing a primitive in PRIMITIVES with `dataclasses.replace(prim,
partials=...)`; expressions are compiled after the plant because an Expression caches its tapes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from gradcli.api import compile as compile_expr
from gradcli.batch.points import parse_at, read_program
from gradcli.cli.app import app
from gradcli.engine.numeric import METHODS, TOLERANCES
from gradcli.engine.primitives import PRIMITIVES
from gradcli.engine.refs import op
from gradcli.errors import GradcliError
from gradcli.tools.checking import PROJECT_ABOVE, CheckResult, Row, check

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "samples").glob("*.grad"))
COMMAND = re.compile(r"^#\s+gradcli\s+(?P<args>.+?)\s*$")

runner = CliRunner()

ROW_KEYS = {"variable", "autodiff", "numeric", "abs_error", "rel_error", "ok"}
NONFINITE = {"nan", "inf", "-inf"}


# -- helpers -------------------------------------------------------------------------------------


def _no_constants(token: str) -> Any:
    raise AssertionError(f"non-standard JSON token {token!r}: SPEC §3 says strict JSON")


def strict_json(text: str) -> dict[str, Any]:
    data = json.loads(text, parse_constant=_no_constants)
    assert isinstance(data, dict)
    return data


def run(*args: str) -> Result:
    result = runner.invoke(app, ["check", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = run(*args, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    data = strict_json(result.stdout)
    assert_schema(data)
    return result.exit_code, data


def at_args(at: list[str]) -> list[str]:
    return [a for item in at for a in ("--at", item)]


def api_check(source: str, at: list[str], **kwargs: Any) -> CheckResult:
    """Compile (after any plant), bind the point as the CLI does and check."""
    expr = compile_expr(read_program(source))
    point = expr.bind(parse_at(at))
    result = check(expr, point, **kwargs)
    assert_rows_consistent(result)
    return result


def is_number_or_nonfinite(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) or v in NONFINITE


def assert_schema(data: dict[str, Any]) -> None:
    """The SPEC §3 check schema: {"ok", "method", "rows": [{"variable", "autodiff", "numeric", ...}]}."""
    assert {"ok", "method", "rows"} <= data.keys()
    assert isinstance(data["ok"], bool)
    assert data["method"] in METHODS
    assert isinstance(data["rows"], list)
    for row in data["rows"]:
        assert ROW_KEYS <= row.keys(), row
        assert isinstance(row["variable"], str)
        assert isinstance(row["ok"], bool)
        for key in ("autodiff", "numeric", "abs_error", "rel_error"):
            assert is_number_or_nonfinite(row[key]), (key, row[key])
    assert data["ok"] == all(r["ok"] for r in data["rows"])


def assert_rows_consistent(result: CheckResult) -> None:
    """Every judged row passes iff abs_error <= atol + rtol·|numeric|, with the result's tolerances."""
    for r in result.rows:
        if np.isfinite(r.numeric):
            assert r.bound == pytest.approx(result.atol + result.rtol * abs(r.numeric) + r.floor, rel=1e-12, abs=0)
            assert r.floor >= 0
        if np.isfinite(r.autodiff) and np.isfinite(r.numeric):
            assert r.abs_error == abs(r.autodiff - r.numeric)
        if not r.kink:
            assert r.ok == bool(r.abs_error <= result.atol + result.rtol * abs(r.numeric)), r
    assert result.ok == all(r.ok for r in result.rows)


def failing(rows: list[Row] | list[dict[str, Any]]) -> set[str]:
    return {r.variable if isinstance(r, Row) else r["variable"] for r in rows if not (r.ok if isinstance(r, Row) else r["ok"])}


def sample_point(path: Path) -> tuple[list[str], list[str] | None]:
    """The --at items and --wrt names of a sample's '#   gradcli ...' comment line."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := COMMAND.match(line):
            args = shlex.split(m["args"])
            at = [args[k + 1] for k, a in enumerate(args) if a in ("--at", "-a")]
            wrt = next((args[k + 1].split(",") for k, a in enumerate(args) if a == "--wrt"), None)
            assert at, f"{path.name}: no --at in its command line"
            return at, wrt
    pytest.fail(f"{path.name} has no '#   gradcli ...' command line")


# -- correct derivatives pass under every method -----------------------------------------------------

EXPRESSIONS: list[tuple[str, list[str], list[str]]] = [
    # (source, point, the expected row names)
    ("sin(x)*exp(y) + x^3/y", ["x=0.7", "y=1.3"], ["x", "y"]),
    ("tanh(x) + sigmoid(x*y) - log1p(y^2) + atan2(y, x) + hypot(x, y)", ["x=1.5", "y=-0.5"], ["x", "y"]),
    ("gamma(x) + erf(x) + cbrt(x)", ["x=1.7"], ["x"]),
    ("sum(x*x*w)", ["x=[1,2,3]", "w=[0.5,-1,2]"], ["x[0]", "x[1]", "x[2]", "w[0]", "w[1]", "w[2]"]),
    ("sum(W @ v)", ["W=[[1,2],[3,4]]", "v=[0.5,-1]"], ["W[0, 0]", "W[0, 1]", "W[1, 0]", "W[1, 1]", "v[0]", "v[1]"]),
    ("logsumexp(x) + norm(x)", ["x=[0.1,-0.4,2]"], ["x[0]", "x[1]", "x[2]"]),
]
HESSIANS: list[tuple[str, list[str], list[str]]] = [
    ("x^2*y + sin(x*y) + exp(x)/y", ["x=0.5", "y=1.5"], ["d2/dxdx", "d2/dxdy", "d2/dydx", "d2/dydy"]),
    ("tanh(x)*lgamma(y)", ["x=0.3", "y=2.2"], ["d2/dxdx", "d2/dxdy", "d2/dydx", "d2/dydy"]),
]
SAMPLE_IDS = [p.stem for p in SAMPLES]


def test_samples_exist() -> None:
    assert len(SAMPLES) >= 4


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", SAMPLES, ids=SAMPLE_IDS)
def test_samples_pass_api(path: Path, method: str) -> None:
    at, wrt = sample_point(path)
    result = api_check(f"@{path}", at, wrt=wrt, method=method)
    assert result.ok, result.summary()
    assert result.method == method  # all samples are analytic at their points: no fallback
    assert not result.singular
    assert (result.rtol, result.atol) == TOLERANCES[method]
    names = wrt if wrt is not None else list(compile_expr(read_program(f"@{path}")).variables)
    assert [r.variable.split("[")[0] for r in result.rows] == [n for n in names for _ in range(_size(at, n))]


def _size(at: list[str], name: str) -> int:
    return int(np.size(parse_at(at)[name]))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", SAMPLES, ids=SAMPLE_IDS)
def test_samples_pass_cli(path: Path, method: str) -> None:
    at, wrt = sample_point(path)
    extra = ["--wrt", ",".join(wrt)] if wrt else []
    code, data = run_json(f"@{path}", *at_args(at), *extra, "--method", method)
    assert code == 0, data["summary"]
    assert data["ok"] is True and data["method"] == method
    assert data["rows"] and all(r["ok"] for r in data["rows"])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("source", "at", "names"), EXPRESSIONS, ids=[e[0] for e in EXPRESSIONS])
def test_expressions_pass(source: str, at: list[str], names: list[str], method: str) -> None:
    result = api_check(source, at, method=method)
    assert result.ok, result.summary()
    assert result.method == method
    assert [r.variable for r in result.rows] == names
    assert not any(r.kink for r in result.rows)
    assert result.summary().startswith(f"ok: all {len(names)} entries agree")
    code, data = run_json(source, *at_args(at), "--method", method)
    assert code == 0
    assert [r["variable"] for r in data["rows"]] == names


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("source", "at", "names"), HESSIANS, ids=[e[0] for e in HESSIANS])
def test_hessians_pass(source: str, at: list[str], names: list[str], method: str) -> None:
    result = api_check(source, at, method=method, order=2)
    assert result.ok, result.summary()
    assert result.order == 2 and result.method == method
    assert [r.variable for r in result.rows] == names
    code, data = run_json(source, *at_args(at), "--method", method, "--order", "2")
    assert code == 0 and data["order"] == 2
    assert [r["variable"] for r in data["rows"]] == names


def test_hessian_values_are_the_hessian() -> None:
    # x²y: H = [[2y, 2x], [2x, 0]] at (0.5, 1.5)
    result = api_check("x^2*y", ["x=0.5", "y=1.5"], order=2)
    assert {r.variable: r.autodiff for r in result.rows} == {"d2/dxdx": 3.0, "d2/dxdy": 1.0, "d2/dydx": 1.0, "d2/dydy": 0.0}
    assert result.ok


def test_wrt_restricts_rows() -> None:
    result = api_check("sin(x)*y + z", ["x=1", "y=2", "z=3"], wrt=["y", "x"])
    assert [r.variable for r in result.rows] == ["y", "x"]
    code, data = run_json("sin(x)*y + z", "--at", "x=1,y=2,z=3", "--wrt", "y", "--order", "2")
    assert code == 0 and [r["variable"] for r in data["rows"]] == ["d2/dydy"]


# -- planted wrong derivative rules are caught ---------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plant:
    id: str
    primitive: str
    partials: Callable[..., tuple[Any, ...]]
    source: str
    at: list[str]
    wrong: frozenset[str]  # the rows that must fail; every other row must pass
    order: int = 1
    wrt: list[str] | None = None


NEURON = ROOT / "samples" / "neuron.grad"

PLANTS = [
    # wrong sign: sin' = -cos
    Plant("sin-sign", "sin", lambda x, ans: (-op.cos(x),), "sin(x)*y", ["x=0.7", "y=1.3"], frozenset({"x"})),
    # wrong factor: exp' = 2·exp
    Plant("exp-factor", "exp", lambda x, ans: (2.0 * ans,), "exp(x) + y^2", ["x=0.3", "y=2"], frozenset({"x"})),
    # missing factor: tanh' = 1 - tanh instead of 1 - tanh², on the micrograd neuron sample
    # (x2 = 0 there, so d/dw2 = 0 whatever tanh' is: only w1 can disagree)
    Plant(
        "tanh-chain",
        "tanh",
        lambda x, ans: (1.0 - ans,),
        f"@{NEURON}",
        sample_point(NEURON)[0],
        frozenset({"w1"}),
        wrt=["w1", "w2"],
    ),
    # x*2 read as x**2: d(a·b)/da = b·b
    Plant("mul-squared", "mul", lambda a, b, ans: (b * b, a), "x*2 + y", ["x=3", "y=1"], frozenset({"x"})),
    # power rule without the decremented exponent: d(x^c)/dx = c·x^c
    Plant(
        "pow-exponent",
        "pow",
        lambda x, y, ans: (y * x**y, op.xlogy(ans, x)),
        "x^3 + y",
        ["x=1.5", "y=0.5"],
        frozenset({"x"}),
    ),
    # second order only: digamma (internal, used only in gamma's derivative rule) with the wrong sign.
    # gamma' = gamma·digamma is still right, so --order 1 passes; gamma'' is wrong.
    Plant(
        "digamma-second-order",
        "digamma",
        lambda x, ans: (-op.polygamma(x, param=1),),
        "gamma(x) + x*y",
        ["x=2.5", "y=0.5"],
        frozenset({"d2/dxdx"}),
        order=2,
    ),
    # second order only: cos' = +sin. sin' = cos is evaluated right, so sin(x)·y's gradient is right,
    # but its d2/dxdx (the derivative of cos) is wrong; d2/dxdy and d2/dydx don't go through cos'.
    Plant(
        "cos-sign-in-sin-hessian",
        "cos",
        lambda x, ans: (op.sin(x),),
        "sin(x)*y",
        ["x=0.7", "y=1.3"],
        frozenset({"d2/dxdx"}),
        order=2,
    ),
]
PLANT_IDS = [p.id for p in PLANTS]


def plant(monkeypatch: pytest.MonkeyPatch, p: Plant) -> None:
    original = PRIMITIVES[p.primitive]
    assert original.partials is not None
    monkeypatch.setitem(PRIMITIVES, p.primitive, dataclasses.replace(original, partials=p.partials))


@pytest.mark.parametrize("p", PLANTS, ids=PLANT_IDS)
def test_plant_control_passes(p: Plant) -> None:
    """Without the plant the same check passes, so a failure below is the plant's doing."""
    result = api_check(p.source, p.at, wrt=p.wrt, order=p.order)
    assert result.ok, result.summary()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("p", PLANTS, ids=PLANT_IDS)
def test_plant_caught_api(monkeypatch: pytest.MonkeyPatch, p: Plant, method: str) -> None:
    plant(monkeypatch, p)
    result = api_check(p.source, p.at, wrt=p.wrt, order=p.order, method=method)
    assert not result.ok
    assert failing(result.rows) == p.wrong
    assert result.summary().startswith(f"FAILED: {len(p.wrong)} of {len(result.rows)} entries disagree")
    assert not any(r.kink for r in result.rows)


@pytest.mark.parametrize("method", ["central", "complex", "richardson"])
@pytest.mark.parametrize("p", PLANTS, ids=PLANT_IDS)
def test_plant_caught_cli(monkeypatch: pytest.MonkeyPatch, p: Plant, method: str) -> None:
    plant(monkeypatch, p)
    extra = ["--wrt", ",".join(p.wrt)] if p.wrt else []
    code, data = run_json(p.source, *at_args(p.at), *extra, "--method", method, "--order", str(p.order))
    assert code == 1
    assert data["ok"] is False and data["method"] == method
    assert failing(data["rows"]) == p.wrong
    plain = run(p.source, *at_args(p.at), *extra, "--method", method, "--order", str(p.order), "--format", "plain")
    assert plain.exit_code == 1
    for name in p.wrong:
        assert re.search(rf"^{re.escape(name)}\s.*FAIL$", plain.stdout, re.M), plain.stdout
    assert "FAILED" in plain.stdout


@pytest.mark.parametrize("p", [p for p in PLANTS if p.order == 2], ids=[p.id for p in PLANTS if p.order == 2])
def test_second_order_plant_invisible_at_first_order(monkeypatch: pytest.MonkeyPatch, p: Plant) -> None:
    plant(monkeypatch, p)
    for method in METHODS:
        assert api_check(p.source, p.at, wrt=p.wrt, method=method).ok
    assert run(p.source, *at_args(p.at)).exit_code == 0
    assert run(p.source, *at_args(p.at), "--order", "2").exit_code == 1


def test_plant_caught_on_large_array(monkeypatch: pytest.MonkeyPatch) -> None:
    plant(monkeypatch, PLANTS[0])  # sin' = -cos
    x = np.linspace(-3.0, 3.0, 2000)
    expr = compile_expr("sum(sin(x))")
    result = check(expr, expr.bind({"x": x}))
    assert not result.ok and failing(result.rows) == {"x·u"}


@pytest.mark.parametrize("method", ["central", "forward", "complex"])
def test_wrong_rule_at_kink_is_not_excused(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """At a kink AD is accepted only between the one-sided slopes: abs'(0) = 2 is outside [-1, 1]."""
    monkeypatch.setitem(PRIMITIVES, "abs", dataclasses.replace(PRIMITIVES["abs"], partials=lambda x, ans: (op.sign(x) + 2.0,)))
    result = api_check("abs(x)", ["x=0"], method=method)
    assert not result.ok and failing(result.rows) == {"x"}
    assert result.singular and result.singular[0].primitive == "abs"
    plain = run("abs(x)", "--at", "x=0", "--method", method, "--format", "plain")
    assert plain.exit_code == 1
    assert "AD's value is outside them: a real mismatch" in plain.stdout


# -- tolerances and steps -----------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_default_tolerances_reported(method: str) -> None:
    result = api_check("exp(x)*y", ["x=0.3", "y=2"], method=method)
    assert (result.rtol, result.atol) == TOLERANCES[method]
    code, data = run_json("exp(x)*y", "--at", "x=0.3,y=2", "--method", method)
    assert code == 0 and (data["rtol"], data["atol"]) == TOLERANCES[method]


def test_tolerance_boundary_is_inclusive() -> None:
    """abs_error <= atol + rtol·|numeric| passes; a hair less allowed fails (forward differences on exp)."""
    base = api_check("exp(x)", ["x=0.3"], method="forward", rtol=0.0, atol=1.0)
    err = base.rows[0].abs_error
    assert err > 0
    exact = api_check("exp(x)", ["x=0.3"], method="forward", rtol=0.0, atol=err)
    assert exact.ok and exact.rows[0].abs_error == err and exact.rows[0].bound == err
    tight = api_check("exp(x)", ["x=0.3"], method="forward", rtol=0.0, atol=err * (1 - 1e-9))
    assert not tight.ok
    # the same boundary through the rtol term
    numeric = base.rows[0].numeric
    assert api_check("exp(x)", ["x=0.3"], method="forward", rtol=err / abs(numeric) * 1.01, atol=0.0).ok
    assert not api_check("exp(x)", ["x=0.3"], method="forward", rtol=err / abs(numeric) * 0.99, atol=0.0).ok
    # and through the CLI, with the tolerances reported back
    code, data = run_json("exp(x)", "--at", "x=0.3", "--method", "forward", "--rtol", "0", "--atol", repr(err))
    assert code == 0 and data["rtol"] == 0 and data["atol"] == err
    code, data = run_json("exp(x)", "--at", "x=0.3", "--method", "forward", "--rtol", "0", "--atol", repr(err / 2))
    assert code == 1 and failing(data["rows"]) == {"x"}


def test_rtol_atol_override_defaults() -> None:
    assert run("exp(x)", "--at", "x=0.3", "--method", "forward").exit_code == 0
    assert run("exp(x)", "--at", "x=0.3", "--method", "forward", "--rtol", "1e-12", "--atol", "0").exit_code == 1
    # only --rtol given: atol keeps its default
    code, data = run_json("exp(x)", "--at", "x=0.3", "--method", "forward", "--rtol", "0.5")
    assert code == 0 and (data["rtol"], data["atol"]) == (0.5, TOLERANCES["forward"][1])
    # tolerances given on the command line are the ones judged by and reported
    code, data = run_json("exp(x)", "--at", "x=0.3", "--method", "richardson", "--rtol", "1e-3", "--atol", "1e-5")
    assert code == 0 and (data["rtol"], data["atol"]) == (1e-3, 1e-5)
    assert all(r["abs_error"] <= 1e-5 + 1e-3 * abs(r["numeric"]) for r in data["rows"])


@pytest.mark.parametrize(
    ("method", "formula"),
    [
        ("central", lambda f, x, h: (f(x + h) - f(x - h)) / (2 * h)),
        ("forward", lambda f, x, h: (f(x + h) - f(x)) / h),
        ("backward", lambda f, x, h: (f(x) - f(x - h)) / h),
    ],
)
def test_step_override_is_used(method: str, formula: Callable[[Callable[[float], float], float, float], float]) -> None:
    h, x = 1e-3, 0.7
    result = api_check("sin(x)", [f"x={x}"], method=method, step=h)
    assert result.steps == {"x": h}
    assert result.rows[0].numeric == pytest.approx(formula(math.sin, x, h), rel=1e-13)
    code, data = run_json("sin(x)", f"--at=x={x}", "--method", method, "--step", repr(h))
    assert data["step"] == {"x": h}
    assert data["rows"][0]["numeric"] == pytest.approx(formula(math.sin, x, h), rel=1e-13)
    assert f"step h = x: {h:g}" in run("sin(x)", f"--at=x={x}", "--method", method, "--step", "0.001", "-f", "plain").stdout


def test_big_step_is_visible_in_the_verdict() -> None:
    """A crude step fails central differences on sin (error ≈ h²/6 · cos x), the default step passes."""
    assert run("sin(x)", "--at", "x=0.7").exit_code == 0
    result = run("sin(x)", "--at", "x=0.7", "--step", "0.1")
    assert result.exit_code == 1


@pytest.mark.parametrize("method", METHODS)
def test_default_step_scales_with_x(method: str) -> None:
    def step_at(x: float) -> float:
        return api_check("x^2", [f"x={x}"], method=method).steps["x"]

    h1 = step_at(1.0)
    assert step_at(1000.0) == pytest.approx(1000 * h1, rel=1e-12)
    assert step_at(-1000.0) == pytest.approx(1000 * h1, rel=1e-12)
    assert step_at(0.001) == h1  # h ∝ max(1, |x|)
    if method == "central":
        assert h1 == pytest.approx(np.finfo(float).eps ** (1 / 3))
    code, data = run_json("x^2", "--at", "x=1000", "--method", method)
    assert data["step"]["x"] == pytest.approx(1000 * h1, rel=1e-12)


# -- kinks ---------------------------------------------------------------------------------------

BIG = "big"  # an infinite one-sided slope: a large finite difference
NAN = "nan"  # that side is outside the domain

KINKS: list[tuple[str, list[str], str, str, dict[str, tuple[float | str, float | str]]]] = [
    # (source, point, the sub-expression named, primitive, one-sided slopes per variable)
    ("relu(x) + x", ["x=0"], "relu(x)", "relu", {"x": (1.0, 2.0)}),
    ("abs(x)", ["x=0"], "abs(x)", "abs", {"x": (-1.0, 1.0)}),
    ("max(x,y)", ["x=1", "y=1"], "max(x,y)", "max", {"x": (0.0, 1.0), "y": (0.0, 1.0)}),
    ("clip(x,0,1)", ["x=1"], "clip(x,0,1)", "clip", {"x": (1.0, 0.0)}),
    ("clip(x,0,1)", ["x=0"], "clip(x,0,1)", "clip", {"x": (0.0, 1.0)}),
    ("floor(x) + x", ["x=2"], "floor(x)", "floor", {"x": (BIG, 1.0)}),
    ("sqrt(x)", ["x=0"], "sqrt(x)", "sqrt", {"x": (NAN, BIG)}),
]
KINK_IDS = [f"{k[0]}@{','.join(k[1])}" for k in KINKS]


def assert_slope(actual: float | str, expected: float | str) -> None:
    if expected == NAN:
        assert actual == "nan" or (isinstance(actual, float) and math.isnan(actual))
    elif expected == BIG:
        assert isinstance(actual, (int, float)) and actual > 1e3
    else:
        assert actual == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("source", "at", "sub", "prim", "slopes"), KINKS, ids=KINK_IDS)
def test_kink_reported_and_accepted_api(
    source: str, at: list[str], sub: str, prim: str, slopes: dict[str, tuple[float | str, float | str]], method: str
) -> None:
    result = api_check(source, at, method=method)
    assert result.ok, result.summary()
    (s,) = result.singular
    assert s.expression == sub and s.primitive == prim
    assert s.convention == PRIMITIVES[prim].kink and s.convention
    assert set(s.one_sided) == set(slopes)
    for var, (left, right) in slopes.items():
        assert_slope(s.one_sided[var][0], left)
        assert_slope(s.one_sided[var][1], right)
        row = next(r for r in result.rows if r.variable == var)
        if row.kink:  # accepted because AD lies between the one-sided slopes
            finite = [v for v in s.one_sided[var] if np.isfinite(v)]
            assert np.isinf(row.autodiff) or min(finite) - 1e-6 <= row.autodiff <= max(finite) + 1e-6
    if method == "complex":
        assert result.method == "central"
        note = next(n for n in result.notes if "complex step is inapplicable" in n)
        assert sub in note and prim in note and "central" in note
    else:
        assert result.method == method
        assert not any("complex" in n for n in result.notes)


@pytest.mark.parametrize(("source", "at", "sub", "prim", "slopes"), KINKS, ids=KINK_IDS)
def test_kink_reported_and_accepted_cli(
    source: str, at: list[str], sub: str, prim: str, slopes: dict[str, tuple[float | str, float | str]]
) -> None:
    code, data = run_json(source, *at_args(at))
    assert code == 0 and data["ok"] is True
    (k,) = data["kinks"]
    assert k["expression"] == sub and k["primitive"] == prim and k["convention"] == PRIMITIVES[prim].kink
    for var, (left, right) in slopes.items():
        assert_slope(k["one_sided"][var]["left"], left)
        assert_slope(k["one_sided"][var]["right"], right)
    plain = run(source, *at_args(at), "--format", "plain")
    assert plain.exit_code == 0
    assert f"kink: {sub} is not differentiable here" in plain.stdout
    assert PRIMITIVES[prim].kink in plain.stdout
    assert "One-sided slopes in" in plain.stdout
    complex_run = run(source, *at_args(at), "--method", "complex", "--format", "plain")
    assert complex_run.exit_code == 0
    assert f"complex step is inapplicable here: {sub} is not analytic" in complex_run.stdout
    assert complex_run.stdout.startswith("method: central differences")
    code, data = run_json(source, *at_args(at), "--method", "complex")
    assert code == 0 and data["method"] == "central"
    assert (data["rtol"], data["atol"]) == TOLERANCES["central"]  # the fallback's tolerances, not complex step's
    assert any(prim in n and "complex step is inapplicable" in n for n in data["notes"])


def test_abs_kink_slopes_and_ad_value() -> None:
    result = api_check("abs(x)", ["x=0"])
    assert result.singular[0].one_sided["x"] == pytest.approx((-1.0, 1.0))
    assert result.rows[0].autodiff == 0.0  # abs'(0) = 0, PyTorch's convention


def test_relu_kink_row_marked() -> None:
    result = api_check("relu(x) + x", ["x=0"])
    (row,) = result.rows
    assert row.autodiff == 1.0 and row.numeric == pytest.approx(1.5) and row.kink and row.ok
    assert "1 at a kink" in result.summary()
    code, data = run_json("relu(x) + x", "--at", "x=0")
    assert code == 0 and data["rows"][0]["kink"] is True


def test_sqrt_domain_edge_falls_back_to_one_side() -> None:
    result = api_check("sqrt(x)", ["x=0"])
    assert result.ok and result.rows[0].autodiff == math.inf
    assert any("step outside the domain" in n and "forward" in n for n in result.notes)
    code, data = run_json("sqrt(x)", "--at", "x=0")
    assert code == 0 and data["rows"][0]["autodiff"] == "inf"  # strict JSON: non-finite as a string


def test_no_kink_away_from_it() -> None:
    for source, at in [("abs(x)", ["x=0.5"]), ("relu(x) + x", ["x=-2"]), ("max(x,y)", ["x=1", "y=2"]), ("floor(x)", ["x=2.5"])]:
        result = api_check(source, at, method="complex")
        assert result.ok and not result.singular and result.method == "complex" and not result.notes


def test_kink_in_multi_output_program() -> None:
    code, data = run_json("relu(x), 3*x", "--at", "x=0")
    assert code == 0, data["summary"]


def test_kink_in_array_variable() -> None:
    code, data = run_json("sum(relu(x))", "--at", "x=[0,1]")
    assert code == 0, data["summary"]


def test_kink_with_order_two() -> None:
    code, data = run_json("abs(x)", "--at", "x=0", "--order", "2")
    assert code == 0, data["summary"]


# -- arrays --------------------------------------------------------------------------------------


def test_small_array_rows_per_element() -> None:
    x, w = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    result = api_check("sum(x*x*w)", ["x=[1,2,3]", "w=[0.5,-1,2]"])
    assert result.ok and result.projection_seed is None
    ad = {r.variable: r.autodiff for r in result.rows}
    assert ad == {**{f"x[{i}]": 2 * x[i] * w[i] for i in range(3)}, **{f"w[{i}]": x[i] ** 2 for i in range(3)}}
    code, data = run_json("sum(x*x*w)", "--at", "x=[1,2,3]", "--at", "w=[0.5,-1,2]")
    assert code == 0 and "projection_seed" not in data
    assert [r["variable"] for r in data["rows"]] == ["x[0]", "x[1]", "x[2]", "w[0]", "w[1]", "w[2]"]


def test_projection_threshold() -> None:
    expr = compile_expr("sum(sin(x))")
    at_limit = check(expr, expr.bind({"x": np.linspace(0, 1, PROJECT_ABOVE)}))
    assert len(at_limit.rows) == PROJECT_ABOVE and at_limit.projection_seed is None and at_limit.ok
    above = check(expr, expr.bind({"x": np.linspace(0, 1, PROJECT_ABOVE + 1)}))
    assert [r.variable for r in above.rows] == ["x·u"] and above.projection_seed == 0 and above.ok


@pytest.mark.parametrize("method", METHODS)
def test_large_array_random_projection(method: str) -> None:
    x = np.linspace(-3.0, 3.0, 2000)
    expr = compile_expr("sum(sin(x))")
    point = expr.bind({"x": x})
    values = {}
    for seed in (0, 7):
        result = check(expr, point, method=method, seed=seed)
        assert_rows_consistent(result)
        assert result.ok, result.summary()
        assert result.projection_seed == seed
        (row,) = result.rows
        assert row.variable == "x·u"
        u = np.random.default_rng(seed).standard_normal(x.shape)
        u /= np.linalg.norm(u)
        assert row.autodiff == pytest.approx(float(np.cos(x) @ u), rel=1e-12, abs=1e-14)
        values[seed] = row.autodiff
    assert values[0] != values[7]  # another seed, another direction


def test_large_array_cli_reports_seed() -> None:
    x = "x=[" + ",".join(f"{v:.6f}" for v in np.linspace(-3.0, 3.0, 2000)) + "]"
    code, data = run_json("sum(sin(x))", "--at", x)
    assert code == 0 and data["projection_seed"] == 0
    assert [r["variable"] for r in data["rows"]] == ["x·u"]
    code7, data7 = run_json("sum(sin(x))", "--at", x, "--seed", "7")
    assert code7 == 0 and data7["projection_seed"] == 7
    assert data7["rows"][0]["autodiff"] != data["rows"][0]["autodiff"]
    plain = run("sum(sin(x))", "--at", x, "--seed", "7", "--format", "plain")
    assert plain.exit_code == 0 and "random unit direction u (seed 7)" in plain.stdout


# -- JSON ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["sin(x)*y", "--at", "x=0.7,y=1.3"],
        ["sin(x)*y", "--at", "x=0.7,y=1.3", "--order", "2", "--method", "richardson"],
        ["sqrt(x) + relu(y)", "--at", "x=0,y=0"],
        ["abs(x)", "--at", "x=0", "--method", "complex"],
        ["1/x", "--at", "x=1e-7"],
        ["sin(x)", "--at", "x=0.7", "--step", "0.5"],
        ["exp(x)", "--at", "x=800"],  # exp overflows to inf at the point + h
    ],
    ids=["plain", "hessian", "inf-autodiff", "complex-fallback", "wild-numeric", "failing", "overflow"],
)
def test_json_is_strict_and_matches_schema(args: list[str]) -> None:
    result = run(*args, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    data = strict_json(result.stdout)
    assert_schema(data)
    assert (result.exit_code == 0) == data["ok"]
    assert isinstance(data["notes"], list) and isinstance(data["kinks"], list) and isinstance(data["summary"], str)
    assert result.stdout.count("\n") == 1  # one object


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["x", "--at", "x=1", "--method", "bogus"], 2, "bogus"),
        (["x", "--at", "x=1", "--order", "3"], 2, "--order"),
        (["x", "--at", "x=1", "--order", "0"], 2, "--order"),
        (["x", "--at", "x=1", "--step", "-1"], 2, "--step must be a positive number"),
        (["x", "--at", "x=1", "--step", "0"], 2, "--step must be a positive number"),
        (["x", "--at", "x=1", "--step", "nan"], 2, "--step must be a positive number"),
        (["x", "--at", "x=1", "--step", "inf"], 2, "--step must be a positive number"),
        (["x", "--at", "x=1", "--wrt", "y"], 2, "y is not a variable"),
        (["x", "--at", "x=[1,2]", "--order", "2"], 2, "--order 1 for arrays"),
        (["x +", "--at", "x=1"], 2, "syntax error"),
        (["log(x)", "--at", "x=-1"], 3, "log(x) is undefined at x=-1"),
        (["log(x)", "--at", "x=-1", "--method", "complex"], 3, "log(x) is undefined at x=-1"),
        (["x/y", "--at", "x=1,y=0"], 3, "divisor is 0"),
        (["sqrt(x - 2) + y", "--at", "x=1,y=0", "--order", "2"], 3, "sqrt(x - 2) is undefined"),
        (["x*y", "--at", "x=1"], 3, "no value for y"),
    ],
)
def test_bad_input_exit_codes(args: list[str], code: int, message: str) -> None:
    result = run(*args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert result.stdout == ""


@pytest.mark.parametrize(
    "kwargs",
    [{"method": "bogus"}, {"order": 3}, {"order": 0}, {"step": -1.0}, {"step": 0.0}, {"step": math.nan}, {"wrt": ["y"]}],
)
def test_bad_input_api_raises_usage_error(kwargs: dict[str, Any]) -> None:
    expr = compile_expr("x^2")
    with pytest.raises(GradcliError) as info:
        check(expr, expr.bind({"x": 1.0}), **kwargs)
    assert info.value.exit_code == 2


def test_negative_tolerance_is_a_usage_error() -> None:
    assert run("x", "--at", "x=1", "--rtol", "-1").exit_code == 2
    assert run("x", "--at", "x=1", "--atol", "-1e-9").exit_code == 2


def test_default_step_near_a_pole() -> None:
    result = api_check("1/x", ["x=1e-7"])
    assert result.ok, result.summary()
    assert result.notes and "too coarse" in result.notes[0]
    assert result.steps["x"] < 1e-7  # the step shrank below the distance to the pole


# -- large arrays: the differences' own rounding is part of the bound, the projected step scales -----------

import gradcli  # noqa: E402


@pytest.mark.parametrize(("lo", "hi"), [(0.1, 3.0), (-3.0, 3.0), (100.0, 200.0)])
def test_a_correct_gradient_over_300000_elements_passes(lo: float, hi: float) -> None:
    from gradcli.tools.checking import check as run_check

    expr = gradcli.compile("sum(sin(x))")
    result = run_check(expr, expr.bind({"x": np.linspace(lo, hi, 300_000)}), None, "central", 1, None, None, None, 0)
    assert result.ok, result.summary()


def test_a_sum_of_many_squares_passes_element_by_element() -> None:
    """x^2 at 101 elements: checked as the gradient of Σx² ≈ 3.5e5, whose rounding (ε·Σ|f|/h) exceeds rtol·|2x|."""
    from gradcli.tools.checking import check as run_check

    expr = gradcli.compile("x^2")
    x = np.arange(1.0, 102.0)
    result = run_check(expr, expr.bind({"x": x}), None, "central", 1, None, None, None, 0)
    assert result.ok, result.summary()
    assert len(result.rows) == 101 and all(r.floor > 0 for r in result.rows)


def test_the_rounding_floor_does_not_hide_a_wrong_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from gradcli.engine import primitives
    from gradcli.engine.refs import op
    from gradcli.tools.checking import check as run_check

    wrong = dataclasses.replace(primitives.PRIMITIVES["sin"], partials=lambda x, ans: (op.cos(x) * 1.001,))
    monkeypatch.setitem(primitives.PRIMITIVES, "sin", wrong)  # off by 0.1%
    expr = gradcli.compile("sum(sin(x))")
    big = run_check(expr, expr.bind({"x": np.linspace(0.1, 3.0, 300_000)}), None, "central", 1, None, None, None, 0)
    assert not big.ok
    squares = gradcli.compile("sin(x)*100")
    rows = run_check(squares, squares.bind({"x": np.arange(1.0, 102.0)}), None, "central", 1, None, None, None, 0)
    assert not rows.ok
