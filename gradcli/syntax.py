"""Text → AST with Lark's LALR parser; syntax errors point at the column.

The AST is built by an inline transformer while the LALR parser reduces, so
nothing here recurses over the expression, however deep the nesting.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import GrammarError
from .nodes import Assignment, Call, Name, Node, Number, Operator, Outputs, Program, Span, Vector

GRAMMAR_FILE = "gradcli.lark"

# How terminals read in "expected …" messages.
_TERMINAL_NAMES = {
    "NUMBER": "a number",
    "NAME": "a name",
    "NEWLINE": "a new line",
    "$END": "the end of the input",
    "COMP_OP": "a comparison",
    "POW_OP": "'^'",
}


def grammar_text() -> str:
    """The grammar ships inside the wheel as gradcli/grammars; a source checkout keeps it at the top."""
    try:
        packaged = resources.files("gradcli") / "grammars" / GRAMMAR_FILE
        if packaged.is_file():
            return packaged.read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        pass
    return (Path(__file__).resolve().parent.parent / "grammars" / GRAMMAR_FILE).read_text(encoding="utf-8")


def _span(first: Any, last: Any) -> Span:
    a = first if isinstance(first, Span) else _token_span(first) if _is_token(first) else first.span
    b = last if isinstance(last, Span) else _token_span(last) if _is_token(last) else last.span
    return Span(a.start, b.end, a.line, a.column)


def _is_token(x: Any) -> bool:
    return hasattr(x, "start_pos") and hasattr(x, "type")


def _token_span(tok: Any) -> Span:
    return Span(tok.start_pos, tok.end_pos, tok.line, tok.column)


def _nodes(children: list[Any]) -> list[Any]:
    return [c for c in children if not _is_token(c)]


class _Builder:
    """Callbacks run by the LALR parser at each reduction (see Lark's inline transformer)."""

    def number(self, c: list[Any]) -> Number:
        tok = c[0]
        value = float(tok)
        if math.isinf(value):
            shown = tok if len(tok) <= 24 else f"{tok[:10]}…{tok[-6:]} ({len(tok)} characters)"
            raise GrammarError(
                f"the number {shown} is too large for a float64 (the largest is about 1.8e308); write inf for infinity"
            )
        return Number(value, str(tok), _token_span(tok))

    def name(self, c: list[Any]) -> Name:
        return Name(str(c[0]), _token_span(c[0]))

    def call(self, c: list[Any]) -> Call:
        name, _lpar, args, rpar = c
        return Call(str(name), tuple(args or ()), _span(name, rpar), _token_span(name))

    def group(self, c: list[Any]) -> Node:
        # The node keeps its parentheses in its span, so "(x-2)^0.5" and "(x+1)*2" read back whole.
        lpar, inner, rpar = c
        return dataclasses.replace(inner, span=_span(lpar, rpar))

    def vector(self, c: list[Any]) -> Vector:
        lsqb, args, rsqb = c
        return Vector(tuple(args or ()), _span(lsqb, rsqb))

    def arguments(self, c: list[Any]) -> list[Node]:
        return _nodes(c)

    def _binary(self, op: str, c: list[Any]) -> Operator:
        a, b = _nodes(c)
        return Operator(op, (a, b), _span(a, b))

    def add(self, c: list[Any]) -> Operator:
        return self._binary("add", c)

    def sub(self, c: list[Any]) -> Operator:
        return self._binary("sub", c)

    def mul(self, c: list[Any]) -> Operator:
        return self._binary("mul", c)

    def div(self, c: list[Any]) -> Operator:
        return self._binary("div", c)

    def matmul(self, c: list[Any]) -> Operator:
        return self._binary("matmul", c)

    def pow(self, c: list[Any]) -> Operator:
        return self._binary("pow", c)

    def implicit(self, c: list[Any]) -> Operator:
        num = self.number([c[0]])
        return Operator("mul", (num, c[1]), _span(num, c[1]))

    def compare(self, c: list[Any]) -> Operator:
        a, tok, b = c
        op = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}[str(tok)]
        return Operator(op, (a, b), _span(a, b))

    def neg(self, c: list[Any]) -> Operator:
        sign, x = c
        return Operator("neg", (x,), _span(sign, x))

    def pos(self, c: list[Any]) -> Node:
        return c[1]  # unary plus is sugar: it leaves no trace on the tape

    def assignment(self, c: list[Any]) -> Assignment:
        name, value = c
        return Assignment(str(name), value, _span(name, value))

    def outputs(self, c: list[Any]) -> Outputs:
        items = _nodes(c)
        return Outputs(tuple(items), _span(items[0], items[-1]))

    def program(self, c: list[Any]) -> tuple[Assignment | Outputs, ...]:
        return tuple(_nodes(c))


@lru_cache(maxsize=1)
def _parser() -> Any:
    from lark import Lark

    return Lark(
        grammar_text(),
        parser="lalr",
        start="program",
        maybe_placeholders=True,
        transformer=_Builder(),  # inline: the AST is built during LALR reductions
        cache=_cache_file(),  # the LALR tables, computed once per grammar and Lark version
    )


def _cache_file() -> str | bool:
    """Where Lark keeps the analysed grammar: the user's cache directory, else Lark's temp-dir default."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "gradcli")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return True
    import hashlib

    from lark import __version__ as lark_version

    key = hashlib.sha256((grammar_text() + lark_version).encode("utf-8")).hexdigest()[:16]
    return os.path.join(folder, f"grammar-{key}.lark-cache")


def parse(source: str) -> Program:
    """Parse a program. Raises GrammarError with a caret under the offending column."""
    from lark.exceptions import UnexpectedInput, VisitError

    parser = _parser()
    try:
        statements = parser.parse(source)
    except UnexpectedInput as exc:
        raise syntax_error(source, exc) from None
    except VisitError as exc:  # an error raised inside a callback
        if isinstance(exc.orig_exc, GrammarError):
            raise exc.orig_exc from None
        raise
    if not statements:
        raise GrammarError("the expression is empty")
    return Program(statements, source)


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    try:
        pattern = _parser().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return repr(pattern.value)
    return name.lower()


def _expected(names: set[str] | frozenset[str] | None) -> str:
    if not names:
        return ""
    shown = sorted({_describe_terminal(n) for n in names if not n.startswith("__")})
    if not shown:
        return ""
    if len(shown) > 1:
        return "expected " + ", ".join(shown[:-1]) + " or " + shown[-1]
    return "expected " + shown[0]


def caret_lines(source: str, line: int, column: int, width: int = 1) -> str:
    """The source line with a caret under `column` (1-based); long lines are windowed."""
    lines = source.splitlines() or [""]
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    col = max(column - 1, 0)
    start = max(0, col - 50)
    end = min(len(text), col + 30)
    shown = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
    pad = col - start + (1 if start else 0)
    prefix = f"  {line} | " if len(lines) > 1 else "  "
    return f"{prefix}{shown}\n{' ' * len(prefix)}{' ' * pad}{'^' * max(width, 1)}"


def syntax_error(source: str, exc: Any) -> GrammarError:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    line = getattr(exc, "line", 1) or 1
    column = getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedCharacters):
        ch = source[exc.pos_in_stream] if exc.pos_in_stream < len(source) else ""
        what = f"unexpected character {ch!r}"
        if ch in "'\"":
            what += " (gradcli has no strings)"
        expected = _expected(exc.allowed)
    elif isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        lines = source.splitlines() or [""]
        line = len(lines)
        column = len(lines[-1]) + 1
        what = "unexpected end of input"
        expected = _expected(exc.expected)
    elif isinstance(exc, UnexpectedToken):
        tok = exc.token
        text = str(tok)
        if tok.type == "NEWLINE":
            what = "unexpected end of line"
        else:
            what = f"unexpected {text[:20]!r}"
        expected = _expected(exc.expected)
    else:  # pragma: no cover - Lark has no other kinds
        what, expected = "invalid syntax", ""
    where = f"line {line}, column {column}" if "\n" in source.strip("\n") else f"column {column}"
    message = f"syntax error at {where}: {what}" + (f"; {expected}" if expected else "")
    return GrammarError(message, caret_lines(source, line, column))
