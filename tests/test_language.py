"""The language users bring (issue 13): indexing and slicing, user functions, implicit products and the
Unicode people type, and points given as constant expressions or files.

Oracles: numpy's own indexing (values), scipy.optimize's Rosenbrock derivatives, central differences of
numpy references, forward vs reverse mode, and the arithmetic each form is meant to be, written in Python.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
from typer.testing import CliRunner

import gradcli
from gradcli.cli.app import app
from gradcli.errors import GrammarError, ShapeError

runner = CliRunner()
RNG = np.random.default_rng(13)
X = RNG.uniform(-2, 2, 7)
W = RNG.uniform(-1, 1, (3, 4))


def central(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of a numpy reference, element by element."""
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


# -- indexing and slicing --------------------------------------------------------------------------

INDEXING = [
    ("x[0]", lambda x, W: x[0]),
    ("x[-1]", lambda x, W: x[-1]),
    ("x[1:]", lambda x, W: x[1:]),
    ("x[:-1]", lambda x, W: x[:-1]),
    ("x[::2]", lambda x, W: x[::2]),
    ("x[::-1]", lambda x, W: x[::-1]),
    ("x[5:1:-2]", lambda x, W: x[5:1:-2]),
    ("x[2:100]", lambda x, W: x[2:100]),
    ("W[:, 0]", lambda x, W: W[:, 0]),
    ("W[1, 2]", lambda x, W: W[1, 2]),
    ("W[1]", lambda x, W: W[1]),
    ("W[-1, 1::2]", lambda x, W: W[-1, 1::2]),
    ("W[::2, :][1][3]", lambda x, W: W[::2, :][1][3]),
    ("W[1:, :3] @ x[:3]", lambda x, W: W[1:, :3] @ x[:3]),
    ("n = 3; x[n - 1] * x[2 * n - 6]", lambda x, W: x[2] * x[0]),
    ("x[pi - pi]", lambda x, W: x[0]),
    ("(x * 2)[3]", lambda x, W: (x * 2)[3]),
    ("[x[0], x[1]][1]", lambda x, W: x[1]),
    ("len(x) * x[0] + len(W)", lambda x, W: len(x) * x[0] + len(W)),
]


@pytest.mark.parametrize(("src", "ref"), INDEXING, ids=[s for s, _ in INDEXING])
def test_indexing_values_match_numpy(src: str, ref: Callable[..., np.ndarray]) -> None:
    f = gradcli.compile(src)
    point = {k: v for k, v in {"x": X, "W": W}.items() if k in f.variables}
    np.testing.assert_array_equal(f.value(point), ref(X, W))


@pytest.mark.parametrize(("src", "ref"), INDEXING[:14], ids=[s for s, _ in INDEXING[:14]])
def test_indexing_derivatives_both_modes_and_hessian(src: str, ref: Callable[..., np.ndarray]) -> None:
    program = f"t = {src}; sum(sin(t) * t^2)"
    f = gradcli.compile(program)
    names = f.variables
    point = {"x": X, "W": W}
    for name in names:

        def numeric(v: np.ndarray, name: str = name) -> float:
            args = {**point, name: v}
            t = np.asarray(ref(args["x"], args["W"]))
            return float(np.sum(np.sin(t) * t**2))

        bound = {n: point[n] for n in names}
        want = central(numeric, point[name])
        for mode in ("reverse", "forward"):
            got = f.gradient(bound, mode=mode)[name]
            np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-8)
    if names == ("x",):
        H = f.hessian({"x": X})["x"]["x"]
        grad = lambda v: f.gradient({"x": v})["x"]  # noqa: E731
        Hn = np.stack([(grad(X + h) - grad(X - h)) / 2e-6 for h in np.eye(len(X)) * 1e-6])
        np.testing.assert_allclose(H, Hn, rtol=1e-6, atol=1e-6)


def test_rosenbrock_n1000_gradient_and_hessian_exact() -> None:
    x = np.random.default_rng(7).uniform(-2, 2, 1000)
    f = gradcli.compile("sum(100*(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)")
    assert float(f.value({"x": x})) == pytest.approx(scipy.optimize.rosen(x), rel=1e-14)
    for mode in ("reverse", "forward"):
        np.testing.assert_allclose(f.gradient({"x": x}, mode=mode)["x"], scipy.optimize.rosen_der(x), rtol=1e-13, atol=1e-11)
    H = f.hessian({"x": x})["x"]["x"]
    np.testing.assert_allclose(H, scipy.optimize.rosen_hess(x), rtol=1e-13, atol=1e-10)


def test_100k_element_slice_program() -> None:
    x = np.random.default_rng(3).uniform(-1, 1, 100_000)
    f = gradcli.compile("sum(x[1:] * x[:-1]) + x[-1]^2 + sum(x[::3])")
    want = np.zeros_like(x)
    want[1:] += x[:-1]
    want[:-1] += x[1:]
    want[-1] += 2 * x[-1]
    want[::3] += 1
    np.testing.assert_allclose(f.gradient({"x": x})["x"], want, rtol=1e-14, atol=1e-14)
    assert float(f.value({"x": x})) == pytest.approx(np.sum(x[1:] * x[:-1]) + x[-1] ** 2 + np.sum(x[::3]), rel=1e-12)


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("x[7]", "index 7 is out of range for axis 0 of size 7 (valid: -7 to 6) in x[7]: the value has shape (7,)"),
        ("x[-8]", "index -8 is out of range for axis 0 of size 7"),
        ("x[0, 0]", "too many indices: 2 for a value with 1 axis in x[0, 0]"),
        ("W[3]", "index 3 is out of range for axis 0 of size 3"),
        ("W[0, 0, 0]", "too many indices: 3 for a value with 2 axes"),
        ("x[0][0]", "too many indices: 1 for a value with no axes (a scalar)"),
        ("len(x[0])", "len() of a scalar: it has no axes"),
    ],
)
def test_index_out_of_range_is_a_shape_error_before_evaluation(src: str, message: str) -> None:
    f = gradcli.compile(src)
    with pytest.raises(ShapeError) as info:
        f.value({k: v for k, v in {"x": X, "W": W}.items() if k in f.variables})
    assert message in info.value.message
    assert info.value.exit_code == 3


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("x[y]", "an index must be a constant integer, and y is a variable"),
        ("x[1.5]", "an index must be an integer; this one is 1.5"),
        ("x[::0]", "a slice step can't be zero"),
        ("x[len(x) - 1]", "len(…) is known only at evaluation: count from the end with negative numbers"),
        ("x[[0, 1]]", "an index must be a constant integer"),
    ],
)
def test_bad_subscripts_are_clear_errors(src: str, message: str) -> None:
    with pytest.raises(GrammarError) as info:
        gradcli.compile(src)
    assert message in info.value.message
    assert "^" in (info.value.detail or "")


def test_indexing_prints_back_in_trace() -> None:
    result = runner.invoke(app, ["trace", "sum(x[1:] * W[0, ::2])", "--at", "x=[1,2,3]", "--at", "W=[[1,2,3,4],[5,6,7,8]]"])
    assert result.exit_code == 0, result.output
    assert "x[1:]" in result.stdout and "W[0, ::2]" in result.stdout


# -- user functions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "point", "value", "grad"),
    [
        ("f(t) = t^2 + 1; f(x) + f(2*y)", {"x": 3.0, "y": 0.5}, 9 + 1 + 1 + 1, {"x": 6.0, "y": 4.0}),
        ("g(a, b) = a*b - b; g(x, y) + g(y, x)", {"x": 2.0, "y": 5.0}, 10 - 5 + 10 - 2, {"x": 5 + 5 - 1, "y": 2 - 1 + 2}),
        ("f(t) = c*t; f(x)", {"x": 2.0, "c": 3.0}, 6.0, {"x": 3.0, "c": 2.0}),  # a free name in the body
        ("k = 4; f(t) = k*t; f(x)", {"x": 2.0}, 8.0, {"x": 4.0}),  # an assignment before the definition
        ("h(t) = f(t)^2; f(t) = t + 1; h(x)", {"x": 2.0}, 9.0, {"x": 6.0}),  # defined below its caller
        ("sq(t) = t*t\nsq(sq(x))", {"x": 2.0}, 16.0, {"x": 32.0}),
        ("f(x) = x^3; f(x)", {"x": 2.0}, 8.0, {"x": 12.0}),  # a parameter may share a variable's name
        ("r(v) = sum(v[1:] - v[:-1]); r(x)", {"x": np.array([1.0, 4.0, 9.0])}, 8.0, {"x": np.array([-1.0, 0.0, 1.0])}),
        ("p(t) = where(t > 0, t, -t); p(x)", {"x": -3.0}, 3.0, {"x": -1.0}),
    ],
)
def test_user_functions_inline(src: str, point: dict, value: float, grad: dict) -> None:
    f = gradcli.compile(src)
    assert float(f.value(point)) == pytest.approx(value, rel=1e-14)
    for mode in ("reverse", "forward"):
        got = f.gradient(point, mode=mode)
        for k, want in grad.items():
            np.testing.assert_allclose(got[k], want, rtol=1e-14)


def test_repeated_calls_share_the_tape() -> None:
    once = gradcli.compile("f(t) = exp(sin(t)) * t; f(x)")
    twice = gradcli.compile("f(t) = exp(sin(t)) * t; f(x) + f(x)")
    assert len(twice.tape) == len(once.tape) + 1  # only the add is new


def test_deep_chain_of_user_function_calls() -> None:
    n = 10_000
    nested = gradcli.compile("f(t) = t + sin(t)/1000\n" + "f(" * n + "x" + ")" * n)
    v, slope = 0.5, 1.0
    for _ in range(n):
        slope *= 1 + math.cos(v) / 1000
        v = v + math.sin(v) / 1000
    assert float(nested.value({"x": 0.5})) == pytest.approx(v, rel=1e-12)
    assert float(nested.gradient({"x": 0.5})["x"]) == pytest.approx(slope, rel=1e-10)
    chain = "g0(t) = 2*t\n" + "".join(f"g{k}(t) = g{k - 1}(t) + t\n" for k in range(1, n)) + f"g{n - 1}(x)"
    f = gradcli.compile(chain)
    assert float(f.value({"x": 1.0})) == n + 1
    assert float(f.gradient({"x": 1.0})["x"]) == n + 1
    assert float(f.gradient({"x": 1.0}, mode="forward")["x"]) == n + 1


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("f(t) = f(t - 1) + 1; f(x)", "f calls itself (f → f): functions are inlined, so they can't be recursive"),
        ("f(t) = g(t); g(t) = f(t) * 2; f(x)", "f and g call each other (f → g → f)"),
        ("a(t) = b(t); b(t) = c(t); c(t) = a(t) + 1; a(x)", "a, b and c call each other (a → b → c → a)"),
        ("f(t) = t; f(x, y)", "f takes 1 argument, got 2"),
        ("f(a, b) = a*b; f(x)", "f takes 2 arguments, got 1"),
        ("foo(t) = t; fooo(x)", "unknown function fooo; did you mean foo?"),
        ("sin(t) = t; sin(x)", "sin is a built-in function; give your function another name"),
        ("pi(t) = t; pi(x)", "pi is a constant, not a function name"),
        ("f(t) = t; f(t) = 2*t; f(x)", "f is defined twice"),
        ("f(t, t) = t; f(x, x)", "f names its parameter t twice"),
        ("f(t) = t + 1", "the program ends with the definition of f"),
        ("f(t) = t; f = 2; f", "f is both a function and an assigned variable; rename one of them"),
        ("f(t) = t; f + 1", "f is a function; call it as f(…)"),
        ("f(t) = t*k; k = 2; f(x)", "f uses k, which is assigned after f is defined"),
        ("x + 1 = 2", "the left side of = must be a name (a = …) or a function head of names (f(t) = …)"),
        ("f(2) = 3; f(x)", "the left side of = must be a name"),
    ],
)
def test_user_function_errors(src: str, message: str) -> None:
    with pytest.raises(GrammarError) as info:
        gradcli.compile(src)
    assert message in info.value.message
    assert info.value.exit_code == 2


def test_user_functions_on_the_command_line() -> None:
    result = runner.invoke(app, ["diff", "f(t) = t^2 + 1; f(x) + f(2*y)", "--at", "x=3,y=0.5", "-f", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["value"] == 12 and out["gradient"] == {"x": 6, "y": 4}


# -- points: constant bounds, arrays from files ----------------------------------------------------


def _cli(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def test_grid_bounds_are_constant_expressions() -> None:
    code, out, _ = _cli("eval", "sin(x)", "--grid", "x=0:2*pi:5")
    assert code == 0
    rows = [line.split(",") for line in out.strip().splitlines()[1:]]
    np.testing.assert_allclose([float(r[0]) for r in rows], np.linspace(0, 2 * math.pi, 5), rtol=1e-15)
    np.testing.assert_allclose([float(r[1]) for r in rows], np.sin(np.linspace(0, 2 * math.pi, 5)), atol=1e-15)
    code, out, _ = _cli("eval", "x", "--grid", "x=0:pi:3")
    assert code == 0 and [float(v.split(",")[0]) for v in out.split()[1:]] == [0.0, math.pi / 2, math.pi]
    code, _, err = _cli("eval", "x", "--grid", "x=0:y:3")
    assert code == 2 and "malformed --grid 'x=0:y:3'" in err


def test_range_bounds_are_constant_expressions() -> None:
    code, out, _ = _cli("verify", "sin(x)", "--claim", "cos(x)", "--range", "x=-pi:pi", "--samples", "5")
    assert code == 0 and f"x∈[{-math.pi!r}, {math.pi!r}]" in out
    code, _, err = _cli("verify", "sin(x)", "--claim", "cos(x)", "--range", "x=pi:-pi")
    assert code == 2 and "LOW < HIGH" in err


def test_at_reads_arrays_from_npy_csv_json_and_stdin(tmp_path: Path) -> None:
    x = np.random.default_rng(5).uniform(-1, 1, 200_000)
    np.save(tmp_path / "x.npy", x)
    code, out, _ = _cli("eval", "sum(x^2)", "--at", f"x=@{tmp_path / 'x.npy'}")
    assert code == 0 and float(out) == pytest.approx(np.sum(x**2), rel=1e-12)
    X = np.arange(6.0).reshape(3, 2) / 4
    (tmp_path / "X.csv").write_text("a,b\n" + "\n".join(",".join(repr(float(v)) for v in row) for row in X) + "\n")
    code, out, _ = _cli("diff", "sum(X @ w)", "--at", f"X=@{tmp_path / 'X.csv'}", "--at", "w=[1,2]", "--wrt", "w", "-f", "json")
    assert code == 0 and json.loads(out)["gradient"]["w"] == X.sum(axis=0).tolist()
    (tmp_path / "W.json").write_text("[[1, 2], [3, 4.5]]")
    code, out, _ = _cli("eval", "sum(W)", "--at", f"W=@{tmp_path / 'W.json'}")
    assert code == 0 and float(out) == 10.5
    code, out, _ = _cli("eval", "x[1]", "--at", "x=@-", input="[1, 2.5, 3]\n")
    assert code == 0 and float(out) == 2.5
    code, out, _ = _cli("eval", "sum(x)", "--at", "x=@-", input="1\n2\n4\n")
    assert code == 0 and float(out) == 7.0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file"),
        ("ragged.csv", "1,2\n3\n", "line 2 has 1 values, the first row 2"),
        ("words.csv", "a,b\n1,2\nx,y\n", "line 3 is not comma-separated numbers"),
        ("ragged.json", "[[1, 2], [3]]", "nested lists of numbers of one shape"),
        ("bad.json", "[1, 2", "not valid JSON"),
        ("bad.npy", "not numpy", "not a readable .npy file"),
        ("empty.csv", "", "the file has no numbers"),
        ("", None, "needs a file name: --at x=@FILE (.npy, .csv or .json) or --at x=@- for stdin"),
    ],
)
def test_at_file_errors(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / name).write_text(content)
    code, _, err = _cli("eval", "x", "--at", f"x=@{tmp_path / name}" if name else "x=@")
    assert code == 2 and message in err, err


# -- math as people type it ------------------------------------------------------------------------

P = {"x": 1.5, "y": -0.75, "a": 2.0, "b": 3.0}
x, y, a, b = P["x"], P["y"], P["a"], P["b"]


def value_of(src: str) -> float:
    f = gradcli.compile(src)
    return float(f.value({k: v for k, v in P.items() if k in f.variables}))


ACCEPTED = [
    # after a number literal (as before)
    ("2x", 2 * x),
    ("2 x", 2 * x),
    ("2x^2", 2 * x**2),
    ("-2x", -2 * x),
    ("3(x+1)", 3 * (x + 1)),
    ("2sin(x)", 2 * math.sin(x)),
    # a parenthesised group after a group, a call or an index
    ("(x+1)(x-1)", (x + 1) * (x - 1)),
    ("(x+1)(x-1)(a)", (x + 1) * (x - 1) * a),
    ("2(x+1)(x-1)", 2 * (x + 1) * (x - 1)),
    ("-(x+1)(x-1)", -((x + 1) * (x - 1))),
    ("sin(x)(x+1)", math.sin(x) * (x + 1)),
    ("[x, a][1](b)", a * b),
    # a factor that starts with a name, after anything but a bare name
    ("sin(x)cos(x)", math.sin(x) * math.cos(x)),
    ("sin(x) cos(x)", math.sin(x) * math.cos(x)),
    ("(x+1)y", (x + 1) * y),
    ("(x+1)y^2", (x + 1) * y**2),
    ("(a)b", a * b),
    ("x^2 y", x**2 * y),
    ("2x^2 sin(y)", 2 * x**2 * math.sin(y)),
    ("[x, a][0] b", x * b),
    ("(x)sin(y)cos(y)", x * math.sin(y) * math.cos(y)),
    # after *, the right operand may itself be a juxtaposition
    ("x*2y", x * 2 * y),
    ("x*(a)(b)", x * a * b),
    ("a/b*2x", a / b * 2 * x),
    # the root sign takes a power, as unary minus does
    ("√x", math.sqrt(x)),
    ("√(x+1)", math.sqrt(x + 1)),
    ("√x^2", math.sqrt(x**2)),
    ("2√x", 2 * math.sqrt(x)),
    ("(a)√x", a * math.sqrt(x)),
    ("√√a", math.sqrt(math.sqrt(a))),
    # absolute-value bars
    ("|y|", abs(y)),
    ("|x - 3| + |y|", abs(x - 3) + abs(y)),
    ("||y| - 1|", abs(abs(y) - 1)),
    ("|y|^2", y**2),
    ("|y|x", abs(y) * x),
    ("2*|y|", 2 * abs(y)),
    # Unicode operators and π
    ("2·x", 2 * x),
    ("x×y", x * y),
    ("x−1", x - 1),
    ("−x", -x),
    ("2π", 2 * math.pi),
    ("cos(π)", -1.0),
    # aliases
    ("ln(x)", math.log(x)),
    ("sec(x)", 1 / math.cos(x)),
    ("csc(x)", 1 / math.sin(x)),
    ("cot(x)", 1 / math.tan(x)),
]


@pytest.mark.parametrize(("src", "expected"), ACCEPTED, ids=[s for s, _ in ACCEPTED])
def test_accepted_forms(src: str, expected: float) -> None:
    assert value_of(src) == pytest.approx(expected, rel=1e-15, abs=1e-15)


REJECTED = [
    ("x y", "unexpected 'y' after the name x; expected an operator: write x*y for a product"),
    ("2x y", "write x*y for a product"),
    ("x sin(y)", "unexpected 'sin' after the name x; expected an operator: write x*sin for a product"),
    ("-x y", "write x*y for a product"),
    ("import os", "syntax error"),
    ("x(y)", "unknown function x; for a product write x*(…)"),
    ("1/2x", "implicit multiplication doesn't continue after /: write 1/(2x) or (1/2)*x"),
    ("a/b c", "implicit multiplication doesn't continue after /"),
    ("a/(b)(x)", "implicit multiplication doesn't continue after /"),
    ("x 2", "a number can't follow without an operator: write it first, 2x, or use *"),
    ("(x+1)2", "a number can't follow without an operator"),
    ("sin(x)2", "a number can't follow without an operator"),
    ("x^2y", "x^2y is ambiguous: write x^2*y (or x^2 y) or x^(2y)"),
    ("2^x y", "write 2^x*y or 2^(x*y): 2^x y is ambiguous"),  # (2^x)·y or 2^(x·y): both named
    ("x^2(y)", "after a power, write * before the parenthesis"),
    ("2|x|", "|…| is never an implicit factor: write 2*|x|"),
    ("x|y|", "|…| is never an implicit factor"),
    ("|x||y|", "|…| is never an implicit factor"),
    ("[1, 2] [x, y]", "an index must be a constant integer"),  # a subscript, not a product
    ("π x", "write π*x for a product"),
    ("x, (1)(2)3", "a number can't follow without an operator"),
]


@pytest.mark.parametrize(("src", "message"), REJECTED, ids=[s for s, _ in REJECTED])
def test_rejected_forms_say_how_to_write_them(src: str, message: str) -> None:
    with pytest.raises(GrammarError) as info:
        gradcli.compile(src)
    assert message in info.value.message
    assert "^" in (info.value.detail or ""), "the caret shows where"


def test_implicit_products_differentiate_like_their_starred_forms() -> None:
    for implicit, starred in [
        ("(x+1)(x-1)", "(x+1)*(x-1)"),
        ("sin(x)cos(y)", "sin(x)*cos(y)"),
        ("2x^2 y", "2*x^2*y"),
        ("|y|√x", "abs(y)*sqrt(x)"),
        ("x×y − ln(x)", "x*y - log(x)"),
    ]:
        f, g = gradcli.compile(implicit), gradcli.compile(starred)
        assert f.variables == g.variables
        point = {k: P[k] for k in f.variables}
        for mode in ("reverse", "forward"):
            assert f.gradient(point, mode=mode) == g.gradient(point, mode=mode)
        assert f.hessian(point) == g.hessian(point)


def test_sec_csc_cot_derivatives_against_their_formulas() -> None:
    for src, d in [
        ("sec(x)", math.tan(x) / math.cos(x)),
        ("csc(x)", -1 / (math.tan(x) * math.sin(x))),
        ("cot(x)", -1 / math.sin(x) ** 2),
    ]:
        assert float(gradcli.compile(src).gradient({"x": x})["x"]) == pytest.approx(d, rel=1e-14)


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["eval", "x*y + xy", "--at", "x=1,y=2"], "no value for xy: give it with --at xy=… (did you mean x*y?)"),
        (["eval", "x + xy", "--at", "x=1,y=2"], "(did you mean x*y?)"),  # y is only bound with --at
        (["eval", "abc", "--at", "a=1,b=2,c=3"], "(did you mean a*b*c?)"),
        (["eval", "x + x2y", "--at", "x=1,x2=2,y=3"], "(did you mean x2*y?)"),  # the fewest pieces
        (["eval", "2πx", "--at", "x=1"], "(did you mean π*x?)"),
    ],
)
def test_unbound_name_made_of_known_names_hints_the_product(args: list[str], hint: str) -> None:
    code, _, err = _cli(*args)
    assert code == 3 and hint in err, err


def test_unbound_name_without_a_split_has_no_hint() -> None:
    code, _, err = _cli("eval", "x + zz", "--at", "x=1")
    assert code == 3 and "did you mean" not in err


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("x[1", "expected ',', ':' or ']'"),
        ("sin(x", "expected ')' or ','"),
        ("|x", "expected '|'"),
        ("x)", "expected ',', ';', '=', a new line or the end of the input"),
    ],
)
def test_syntax_errors_expect_only_what_could_come_next(src: str, expected: str) -> None:
    """LALR merges lookaheads across contexts (']' or '|' at the top level); the message lists only
    the terminals the parser could really shift there."""
    with pytest.raises(GrammarError) as info:
        gradcli.compile(src)
    assert info.value.message.endswith(expected), info.value.message


def test_a_function_name_before_a_name_says_call_it() -> None:
    with pytest.raises(GrammarError) as info:
        gradcli.compile("sin x")
    assert info.value.message.endswith("unexpected 'x' after the name sin; expected an operator: write sin(x)")
