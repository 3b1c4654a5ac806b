"""The expression language (SPEC §2): precedence, associativity, implicit multiplication, numbers,
names, statements and the function forms, each row checked by evaluating through gradcli.compile
against the arithmetic it is meant to be, written out in Python."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcli

# One point for every row; a row uses the names it needs.
P: dict[str, float] = {"x": 1.5, "y": -0.75, "a": 2.0, "b": 3.0, "c": 5.0, "x1": 7.0, "θ": 0.3, "w_2": 4.0}
x, y, a, b, c, x1, θ, w_2 = (P[k] for k in ("x", "y", "a", "b", "c", "x1", "θ", "w_2"))


def value_of(src: str) -> np.ndarray:
    f = gradcli.compile(src)
    return f.value({k: v for k, v in P.items() if k in f.variables})


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        # power binds tighter than unary minus, and is right-associative
        ("-x^2", -(x**2)),
        ("-x**2", -(x**2)),
        ("-2^2", -4.0),
        ("2^3^2", 512.0),
        ("2**3**2", 512.0),
        ("2^3**2", 512.0),
        ("(2^3)^2", 64.0),
        ("x^y^a", x ** (y**a)),
        # + - * / are left-associative
        ("a-b-c", (a - b) - c),
        ("a-(b-c)", a - (b - c)),
        ("a/b/c", (a / b) / c),
        ("a/(b/c)", a / (b / c)),
        ("a-b+c", (a - b) + c),
        ("a/b*c", (a / b) * c),
        ("a + b*c", a + b * c),
        ("(a + b)*c", (a + b) * c),
        ("a*b^2", a * b**2),
        ("-a*b", -a * b),
        ("--x", x),
        ("-+-x", x),
        ("+x", x),
        ("a - -b", a + b),
        # the exponent may carry a sign
        ("2^-x", 2 ** (-x)),
        ("2^+x", 2**x),
        ("x**-1", 1 / x),
        ("x^-a^2", x ** (-(a**2))),
        ("-x^-a", -(x ** (-a))),
        # implicit multiplication after a number literal, binding like *
        ("2x", 2 * x),
        ("2 x", 2 * x),
        ("3(x+1)", 3 * (x + 1)),
        ("2pi", 2 * math.pi),
        ("2e", 2 * math.e),
        ("2sin(x)", 2 * math.sin(x)),
        ("10x1", 10 * x1),
        ("2x^2", 2 * x**2),
        (".5x^2", 0.5 * x**2),
        ("2x^-1", 2 / x),
        ("2x*3", 2 * x * 3),
        ("a + 2x", a + 2 * x),
        ("-2x", -2 * x),
        ("-2x^2", -2 * x**2),
        ("sin(2x)", math.sin(2 * x)),
        ("2[x, a]", np.array([2 * x, 2 * a])),
        # numbers
        ("3", 3.0),
        ("3.0", 3.0),
        ("3.", 3.0),
        (".5", 0.5),
        ("1e-3", 1e-3),
        ("2.5E+4", 2.5e4),
        ("1E3", 1000.0),
        ("0.1 + 0.2", 0.1 + 0.2),
        ("1e-3x", 1e-3 * x),
        # names: letters, digits, underscores, Unicode
        ("θ", θ),
        ("2θ", 2 * θ),
        ("sin(θ)^2 + cos(θ)^2", math.sin(θ) ** 2 + math.cos(θ) ** 2),
        ("w_2 * x1", w_2 * x1),
        # constants
        ("pi", math.pi),
        ("e", math.e),
        ("inf", math.inf),
        ("-inf", -math.inf),
        ("exp(1) - e", 0.0),
        ("cos(pi)", -1.0),
        # statements: ; and new lines, comments, blank lines; the last statement is the output
        ("t = x + a; t * b", (x + a) * b),
        ("t = x + a\nu = t * b", (x + a) * b),
        ("t = x + a\nu = t * b\nu", (x + a) * b),
        ("\n\n# a comment\nt = x  # trailing comment\n\n\nt^2\n\n", x**2),
        ("t = x;; u = t + 1;\n;\nu", x + 1),
        ("t = x\r\nt + 1\r\n", x + 1),
        ("t = 1; t = t + x; t", 1 + x),
        ("# a = 100\nx", x),
        # vector literals
        ("[1, 2, x]", np.array([1.0, 2.0, x])),
        ("[x, a]^2", np.array([x**2, a**2])),
        ("[[1, 2], [3, x]]", np.array([[1.0, 2.0], [3.0, x]])),
        ("sum([x, a, b])", x + a + b),
        ("dot([1, 2], [x, a])", x + 2 * a),
        ("[1, 2] @ [x, a]", x + 2 * a),
        # functions with several arguments
        ("log(x, 2)", math.log(x, 2)),
        ("log(b, a)", math.log(b) / math.log(a)),
        ("log(8, 2)", 3.0),
        ("min(x, a, b)", min(x, a, b)),
        ("max(x, a, b)", max(x, a, b)),
        ("min(c, b, a, x)", x),
        ("max(y, -x, -a)", y),
        ("atan2(y, x)", math.atan2(y, x)),
        ("hypot(a, b)", math.hypot(a, b)),
        ("pow(a, b)", a**b),
        ("where(x > 1, x, -x)", x),
        ("where(x < 1, x, -x)", -x),
        ("where(x >= 1.5, 1, 0)", 1.0),
        ("where(x <= 1.5, 1, 0)", 1.0),
        ("where(x == 1.5, 1, 0)", 1.0),
        ("where(x != 1.5, 1, 0)", 0.0),
        ("where(a + 1 > b - 1, a, b)", a),
        ("where([x, y] > 0, 1, 2)", np.array([1.0, 2.0])),
        ("clip(x, 0, 1)", 1.0),
        ("clip(y, 0, 1)", 0.0),
        ("clip(x, 0, 2)", x),
        ("clip(2x, -1, a + 1)", 3.0),
    ],
)
def test_value(src: str, expected: float | np.ndarray) -> None:
    got = value_of(src)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    assert np.shape(got) == np.shape(expected)


@pytest.mark.parametrize(
    ("src", "names", "expected"),
    [
        ("x, x+1", ("x", "x+1"), [x, x + 1]),
        ("a*b, a+b, a-b", ("a*b", "a+b", "a-b"), [a * b, a + b, a - b]),
        ("t = a*x\nt, t^2", ("t", "t^2"), [a * x, (a * x) ** 2]),
        ("u = x\nv = 2u\n# outputs\nu,v", ("u", "v"), [x, 2 * x]),
        ("(x+1)*2, -(x+1)", ("(x+1)*2", "-(x+1)"), [(x + 1) * 2, -(x + 1)]),
        ("3(x+1), 2x", ("3(x+1)", "2x"), [3 * (x + 1), 2 * x]),
        ("min(x, a, b), max(x, a, b)", ("min(x, a, b)", "max(x, a, b)"), [x, b]),
    ],
)
def test_several_outputs(src: str, names: tuple[str, ...], expected: list[float]) -> None:
    f = gradcli.compile(src)
    assert f.output_names == names
    got = f.values({k: v for k, v in P.items() if k in f.variables})
    assert len(got) == len(expected)
    for g, want in zip(got, expected):
        assert float(g) == pytest.approx(want, rel=1e-14)


@pytest.mark.parametrize(
    ("src", "variables"),
    [
        ("x*y + sin(y)", ("x", "y")),
        ("y + x + y", ("y", "x")),
        ("2pi*x + e", ("x",)),
        ("t = a + b\nt * a", ("a", "b")),
        ("θ + w_2 + x1", ("θ", "w_2", "x1")),
        ("10x1", ("x1",)),
        ("where(a > b, x, y)", ("a", "b", "x", "y")),
    ],
)
def test_free_variables_in_order_of_appearance(src: str, variables: tuple[str, ...]) -> None:
    assert gradcli.compile(src).variables == variables


@pytest.mark.parametrize(
    ("src", "text"),
    [
        ("x + 1  # comment", "x + 1"),
        ("a = x\n\n  b = a * 2\nb", "a = x; b = a * 2; b"),
        ("(x+1)*2", "(x+1)*2"),
        ("3(x+1)", "3(x+1)"),
        ("-(x - 2)", "-(x - 2)"),
    ],
)
def test_text_keeps_parentheses(src: str, text: str) -> None:
    assert gradcli.compile(src).text == text


@pytest.mark.parametrize(
    ("src", "at", "wrt", "expected"),
    [
        ("-x^2", {"x": 3.0}, "x", -6.0),
        ("2^-x", {"x": 1.0}, "x", -math.log(2) / 2),
        ("x**-1", {"x": 2.0}, "x", -0.25),
        ("2x^2", {"x": 3.0}, "x", 12.0),
        ("-2x", {"x": 3.0}, "x", -2.0),
        ("3(x+1)", {"x": 3.0}, "x", 3.0),
        ("log(x, 2)", {"x": 4.0}, "x", 1 / (4 * math.log(2))),
        ("t = x^3; t + 1", {"x": 2.0}, "x", 12.0),
    ],
)
def test_derivative_follows_the_parse(src: str, at: dict[str, float], wrt: str, expected: float) -> None:
    g = gradcli.compile(src).gradient(at)[wrt]
    assert float(g) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize(
    "src",
    # "(x)(y)" is a product since issue 13 (tests/test_language.py); a name after a name stays rejected
    [
        "2x y",
        "x y",
        "1/2x",
        "x 2",
        "x^2y",
        "a/b c",
        "2 3",
        "x^",
        "a = ",
        "[1, 2",
        "min(x,)",
        "1,",
        "x ** * 2",
        "x // 2",
        "x % 2",
        "2x(y)",
    ],
)
def test_rejected(src: str) -> None:
    with pytest.raises(gradcli.GradcliError) as info:
        gradcli.compile(src)
    assert info.value.exit_code == 2
