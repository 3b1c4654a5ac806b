"""The LALR driver (gradcli/language/lalr.py) against Lark itself, on the same grammar.

Lark is the oracle: for valid programs both must build the identical AST (spans
included) through the same callbacks; for invalid ones both must stop at the
same place for the same reason and expect the same terminals.
"""

from __future__ import annotations

import marshal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from gradcli.errors import GrammarError
from gradcli.language import grammar_tables
from gradcli.language.lalr import END, ParseFailure, Token
from gradcli.language.nodes import Number, NumberVector, Operator, Vector
from gradcli.language.syntax import _BUILDER, number_vectors, parse

ROOT = Path(__file__).resolve().parent.parent


class _ViaLark:
    """Lark's inline-transformer callbacks, forwarded to gradcli's builder with gradcli tokens."""

    def __getattr__(self, name: str) -> Any:
        method = getattr(_BUILDER, name)  # AttributeError: Lark builds its default node
        return lambda children: method([_token(c) for c in children])


def _token(c: Any) -> Any:
    if hasattr(c, "start_pos") and hasattr(c, "type"):
        return Token(c.type, str(c), c.start_pos, c.end_pos, c.line, c.column)
    return c


_LARK = Lark(grammar_tables.grammar_text(), parser="lalr", start="program", maybe_placeholders=True, transformer=_ViaLark())
TABLES = grammar_tables.tables()


def by_lark(text: str) -> tuple[str, Any]:
    try:
        return "ok", _LARK.parse(text)
    except GrammarError as exc:  # raised in a callback
        return "callback", str(exc)
    except UnexpectedCharacters as exc:
        return "character", (exc.line, exc.column, frozenset(exc.allowed))
    except UnexpectedToken as exc:
        if exc.token.type == END:
            return "end", frozenset(exc.expected)
        return "token", (exc.token.line, exc.token.column, str(exc.token), frozenset(exc.expected))
    except UnexpectedInput as exc:  # UnexpectedEOF
        return "end", frozenset(getattr(exc, "expected", ()))


def by_driver(text: str) -> tuple[str, Any]:
    try:
        return "ok", TABLES.parse(text, _BUILDER)
    except GrammarError as exc:
        return "callback", str(exc)
    except ParseFailure as exc:
        if exc.token is None:
            return "character", (exc.line, exc.column, exc.expected)
        if exc.token.type == END:
            return "end", exc.expected
        return "token", (exc.line, exc.column, exc.token.value, exc.expected)


def assert_same(text: str) -> None:
    lark_kind, lark_out = by_lark(text)
    kind, out = by_driver(text)
    assert kind == lark_kind, (text, lark_out, out)
    if kind in ("ok", "callback"):
        assert repr(out) == repr(lark_out), text  # the node types too, not just equal tuples
        return
    # Lark's contextual lexer reports the terminals of the parser state; the driver also says when
    # the input could have ended there, which is the one difference allowed.
    expected, lark_expected = (out, lark_out) if kind == "end" else (out[-1], lark_out[-1])
    assert expected - {END} == lark_expected - {END}, text
    if kind != "end":
        assert out[:-1] == lark_out[:-1], text


PROGRAMS = [
    "x**2 + 2*x + 1",
    "x^2^3",
    "-x^2",
    "2^-x",
    "2x^2 + 3(x+1) - -2pi + 2sin(x)",
    "--x + +-y",
    "a = 2; b = a*x\nb, a + b",
    "\n\n; x ;\n",
    "sum([1, 2, 3] * x) @ [x, y, z]",
    "f()",
    "[]",
    "atan2(y, x) <= 1 == 2",
    "x  # a comment\n+ y",
    "1e308 * 10",
    "1e999",
    "(((((x)))))",
    "x \r\n + y",
    ".5x + 5.e-3",
    "\tx\f+\ty",
    "",
    "  # only a comment",
    # issue 13: subscripts, user functions, juxtaposition, Unicode, bars
    "x[0] + x[-1] + x[1:] + x[:-1] + x[::2] + W[:, 0] + W[1, 2] + W[1:3:2, ::-1][0]",
    "f(t) = t^2 + 1; g(a, b) = f(a)*b\ng(x, y) + f(2*y)",
    "(x+1)(x-1) + sin(x)cos(x) + (x)y^2 + 2(x)(y) + x*2y - -(a)(b)",
    "√x + √(x+1)^2 + 2√x + |x - |y|| + |x|^2",
    "2·x × y − π",
    "x[:] + x[:,] + x[::]",
]

BAD = [
    "x + $",
    "$",
    "x $",
    "sin(x",
    "x +",
    "2x y",
    "x = = 2",
    "a'",
    "a = 1\nb = a+\nc",
    "x * 2x",
    "1/2x",
    "(x))",
    "[x,]",
    "x,,y",
    "= 3",
    "x ** * 2",
    "x === y",
    "3 = x",
    "sin(x)(y)",
    "x\n)",
    "x y",
    "x^2y",
    "2|x|",
    "x[1:2:3:4]",
    "x[",
    "f(t) =",
    "x + 1 = 2",
    "||x|",
]


@pytest.mark.parametrize("text", PROGRAMS + BAD)
def test_same_as_lark(text: str) -> None:
    assert_same(text)


_PIECES = ["x", "y", "2", "3.5", "1e3", ".5", "sin", "pi", "+", "-", "*", "/", "^", "**", "@", "(", ")", "[", "]"]
_PIECES += [",", ";", "\n", "=", "==", "<", "<=", " ", "# c\n", "$", "'", ":", "|", "√", "·", "−", "f(t)"]


@settings(max_examples=600, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=14))
def test_random_token_soup_same_as_lark(pieces: list[str]) -> None:
    assert_same("".join(pieces))


_ATOMS = st.sampled_from(["x", "y", "2", "0.5", "pi", "sin(x)", "[x, y]", "2x", "atan2(x, y)", "x[1:]", "|x|", "√y", "(x)(y)"])


@st.composite
def _expressions(draw: st.DrawFn) -> str:
    """Mostly valid programs: atoms joined by operators, some wrapped in parentheses or calls."""
    text = draw(_ATOMS)
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from([" + ", " - ", "*", "/", "^", " ** ", " < ", ", "]))
        text = f"{text}{op}{draw(_ATOMS)}"
        wrap = draw(st.sampled_from(["", "", "({})", "exp({})", "-({})", "[{}]"]))
        text = wrap.format(text) if wrap else text
    return text


@settings(max_examples=300, derandomize=True, deadline=None)
@given(_expressions())
def test_random_expressions_same_as_lark(text: str) -> None:
    assert_same(text)


@pytest.mark.parametrize("path", sorted((ROOT / "samples").glob("*.grad")), ids=lambda p: p.name)
def test_samples_same_as_lark(path: Path) -> None:
    assert_same(path.read_text(encoding="utf-8"))


def test_every_rule_has_a_callback_or_needs_none() -> None:
    """A rule that builds a node of its own must find a builder method, or the driver would hand up a list."""
    for rule in TABLES.rules:
        if rule.unit or rule.callback is None:
            continue
        assert hasattr(_BUILDER, rule.callback), rule


def test_long_argument_list_and_deep_nesting() -> None:
    """Left-recursive lists grow in place and nesting needs no recursion."""
    n = 20_000
    assert_same("[" + ", ".join(["x"] * n) + "]")
    deep = "(" * 5000 + "x" + ")" * 5000
    kind, node = by_driver(deep)
    assert kind == "ok" and node[0].items[0].span.start == 0


def test_cache_round_trip_and_stale_grammar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = grammar_tables.grammar_text()
    path = grammar_tables._cache_path(text)
    assert path is not None and path.startswith(str(tmp_path))
    data = grammar_tables.compute(text)
    grammar_tables._write(path, data)
    assert grammar_tables._read(path, text) == data
    assert grammar_tables._read(path, text + "\n// edited") is None  # another grammar: not these tables
    Path(path).write_bytes(b"not marshal data")
    assert grammar_tables._read(path, text) is None
    assert not list(Path(path).parent.glob("*.tmp"))


def test_damaged_or_unwritable_cache_falls_back_to_lark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "gradcli"
    folder.write_text("a file where the cache folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    grammar_tables.tables.cache_clear()
    try:
        fresh = grammar_tables.tables()
        assert fresh.parse("x + 1", _BUILDER) == TABLES.parse("x + 1", _BUILDER)
    finally:
        grammar_tables.tables.cache_clear()


def test_cache_holds_plain_data() -> None:
    """marshal refuses anything but builtin types, so Lark objects can't leak into the cache."""
    data = grammar_tables.compute(grammar_tables.grammar_text())
    assert marshal.loads(marshal.dumps(data)) == data


def test_grammar_has_no_conflicts() -> None:
    """Lark resolves a shift/reduce conflict silently (as a shift) and only logs it: the log must stay empty."""
    import logging

    from lark import logger as lark_logger

    records: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Catch(level=logging.DEBUG)
    old = lark_logger.level
    lark_logger.addHandler(handler)
    lark_logger.setLevel(logging.DEBUG)
    try:
        Lark(grammar_tables.grammar_text(), parser="lalr", start="program", maybe_placeholders=True, debug=True)
    finally:
        lark_logger.removeHandler(handler)
        lark_logger.setLevel(old)
    assert not [r for r in records if "conflict" in r.lower()], records


# -- long vector literals of numbers (issue 12): syntax.number_vectors hands them to the driver finished ----------


def _canonical(node: Any) -> Any:
    """The AST with each vector literal of numbers as ("numbers", span, exact values), whether the parser
    built it item by item (a Vector of Numbers and neg(Number)s, as Lark does) or number_vectors did."""
    if isinstance(node, NumberVector):
        return ("numbers", node.span, tuple(v.hex() for v in node.values))
    if isinstance(node, Vector) and node.items:
        values = []
        for item in node.items:
            if isinstance(item, Number):
                values.append(item.value.hex())
            elif isinstance(item, Operator) and item.op == "neg" and isinstance(item.args[0], Number):
                values.append((-item.args[0].value).hex())
            else:
                break
        else:
            return ("numbers", node.span, tuple(values))
    if isinstance(node, tuple):
        return (type(node).__name__, *(_canonical(c) for c in node))
    return node


def by_driver_prebuilt(text: str) -> tuple[str, Any]:
    try:
        return "ok", TABLES.parse(text, _BUILDER, number_vectors(text, shortest=1))
    except GrammarError as exc:
        return "callback", str(exc)
    except ParseFailure as exc:
        where = None if exc.token is None else exc.token.value
        return "failure", (exc.line, exc.column, where, exc.expected)


def assert_prebuilt_same(text: str) -> None:
    """With literals prebuilt, the same tree (up to how a literal of numbers is held) and the same failures."""
    kind, out = by_driver_prebuilt(text)
    try:
        plain: tuple[str, Any] = ("ok", TABLES.parse(text, _BUILDER))
    except GrammarError as exc:
        plain = ("callback", str(exc))
    except ParseFailure as exc:
        plain = ("failure", (exc.line, exc.column, None if exc.token is None else exc.token.value, exc.expected))
    assert kind == plain[0], (text, out, plain[1])
    if kind == "ok":
        assert repr(_canonical(out)) == repr(_canonical(plain[1])), text
        lark_kind, lark_out = by_lark(text)
        assert lark_kind == "ok" and repr(_canonical(out)) == repr(_canonical(lark_out)), text
    else:
        assert out == plain[1], text


LITERALS = [
    "[1, -2, 3.5e2, -.5, +4, −7, 1E-3, 0005, -0, 2., 6]",
    "sum([0.25, 1e-300, -1e300])",
    "2[1, 2] + x[0, 1] + x [1, 2] + f([3, 4]) + [[1, 2], [3, 4]] @ [x, 1]",
    "a = [1,2]\n[3, 4] * a  # [5, 6]\n",
    "[ 1 ,\t2 ,3\f]",
    "x[[1, 2]]",
    "([1, 2])[0] + (-[1, 2])[1]",
    "[1, 2]^2 + √[1, 4] + |[-1, 2]|",
    "x # [1, 2\n+ [3]",
    # left to the parser: each is an error or not a plain list of numbers
    "[1, - 2]", "[1, --2]", "[1, +-2]", "[1,, 2]", "[1, 2,]", "[,1]", "[1 2]", "[1, 2 3, 4]", "[1.2.3, 4]",
    "[1, 1e999]", "[1, -1e999]", "[1, 2e]", "[1, inf]", "[1, nan]", "[1, x]", "[1, 2x]", "[1,\n2]", "[1_0, 2]",
    "[1, ١٢]", "[1, 2", "1, 2]", "[1, 2]]", "[1, 2] [3, 4]", "[1, 2](3)", "x[1, 2]y",
]


@pytest.mark.parametrize("text", LITERALS + PROGRAMS + BAD)
def test_prebuilt_literals_same_as_the_parser(text: str) -> None:
    assert_prebuilt_same(text)


_LITERAL_PIECES = ["1", "-2", "3.5", "−1e3", "+.5", "x", ",", ", ", " ", "[", "]", "(", ")", "-", "2e", "*"]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from(_LITERAL_PIECES), max_size=16))
def test_random_literal_soup_prebuilt_same_as_the_parser(pieces: list[str]) -> None:
    assert_prebuilt_same("".join(pieces))


def test_a_long_literal_is_prebuilt_and_its_errors_stay_in_place() -> None:
    items = [f"{k * 0.5 - 3:g}" for k in range(5000)]
    text = "x = 1\nsum([" + ", ".join(items) + "])"
    found = number_vectors(text)
    (start,) = found
    assert start == text.index("[") and found[start][2].values == tuple(float(v) for v in items)
    assert_prebuilt_same(text)
    bad = text.replace(", 1.5, ", ", 1.5 2, ")  # one missing comma in the middle of line 2
    assert not number_vectors(bad)
    with pytest.raises(GrammarError) as err:
        parse(bad)
    column = bad.index("1.5 2") + 4 - bad.index("\n")
    assert f"syntax error at line 2, column {column}: unexpected '2'" in str(err.value)
