"""Text → AST: the LALR tables of grammars/gradcli.lark run by lalr.py; syntax errors point at the column.

The AST is built by callbacks while the parser reduces, so nothing here
recurses over the expression, however deep the nesting.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import GrammarError
from .grammar_tables import tables
from .lalr import END, ParseFailure, Token
from .nodes import (
    Assignment,
    BadTarget,
    Call,
    Definition,
    Index,
    Name,
    Node,
    Number,
    NumberVector,
    Operator,
    Outputs,
    Program,
    Slice,
    Span,
    Vector,
)

# How terminals read in "expected …" messages.
_TERMINAL_NAMES = {
    "NUMBER": "a number",
    "NAME": "a name",
    "NEWLINE": "a new line",
    END: "the end of the input",
    "COMP_OP": "a comparison",
    "POW_OP": "'^'",
    "MUL": "'*'",
    "MINUS": "'-'",
    "SQRT": "'√'",
}


class _Misplaced(GrammarError):
    """Raised by a callback: parse() adds the caret under `span`."""

    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.span = span


_SUPERSCRIPT_DIGITS = frozenset("⁰¹²³⁴⁵⁶⁷⁸⁹")


def normal_name(text: str) -> str:
    """A name as Python reads identifiers (NFKC): é typed as e + U+0301 is é, fullwidth ｘ is x. The AST keeps
    the source span, so carets still point at what was typed. Left as typed: a name with superscript digits
    (x², which lowering refuses with "write x^2", rather than reading it as x2), and one NFKC would make into
    no name at all (① → 1)."""
    if text.isascii():
        return text
    import unicodedata

    if _SUPERSCRIPT_DIGITS.intersection(text):
        return text
    normal = unicodedata.normalize("NFKC", text)
    return normal if normal.isidentifier() else text


def _ends_with_name(node: Any) -> str | None:
    """The bare name a node's text ends with (`x` in `2x`, `-x`, `a^x`), None if it ends otherwise."""
    while True:
        if type(node) is Name:
            return node.id if node.span.end - node.span.start == len(node.id) else None  # not "(x)"
        if type(node) is Operator and node.span.end == node.args[-1].span.end:
            node = node.args[-1]
            continue
        return None


def _starts_with_name(node: Any) -> bool:
    while True:
        if type(node) is Name:
            return True
        if type(node) is Call:
            return node.func_span.end - node.func_span.start == len(node.func)  # not √x, |x|
        if type(node) is Operator and node.args:
            node = node.args[0]
        elif type(node) is Index:
            node = node.base
        else:
            return False


def _short(node: Any) -> str:
    """A node's text for a hint: a name or number as it is, anything else as …."""
    return node.id if type(node) is Name else node.text if type(node) is Number else "…"


def _span(first: Any, last: Any) -> Span:
    a = first if isinstance(first, Span) else _token_span(first) if _is_token(first) else first.span
    b = last if isinstance(last, Span) else _token_span(last) if _is_token(last) else last.span
    return Span(a.start, b.end, a.line, a.column)


def _is_token(x: Any) -> bool:
    return isinstance(x, Token)


def _token_span(tok: Token) -> Span:
    return Span(tok.start, tok.end, tok.line, tok.column)


def _nodes(children: list[Any]) -> list[Any]:
    return [c for c in children if not _is_token(c)]


class _Builder:
    """Callbacks run by the LALR driver at each reduction, named by rule or `-> alias`."""

    def number(self, c: list[Any]) -> Number:
        tok = c[0].value
        value = float(tok)
        if math.isinf(value):
            shown = tok if len(tok) <= 24 else f"{tok[:10]}…{tok[-6:]} ({len(tok)} characters)"
            raise GrammarError(
                f"the number {shown} is too large for a float64 (the largest is about 1.8e308); write inf for infinity"
            )
        t = c[0]
        return Number(value, tok, Span(t.start, t.end, t.line, t.column))

    def name(self, c: list[Any]) -> Name:
        t = c[0]
        v = t.value
        return Name(v if v.isascii() else normal_name(v), Span(t.start, t.end, t.line, t.column))

    def call(self, c: list[Any]) -> Call:
        name, _lpar, args, rpar = c
        v, start, line, column = name.value, name.start, name.line, name.column
        return Call(
            v if v.isascii() else normal_name(v),
            tuple(args or ()),
            Span(start, rpar.end, line, column),
            Span(start, name.end, line, column),
        )

    def group(self, c: list[Any]) -> Node:
        # The node keeps its parentheses in its span, so "(x-2)^0.5" and "(x+1)*2" read back whole.
        lpar, inner, rpar = c
        return inner._replace(span=_span(lpar, rpar))

    def vector(self, c: list[Any]) -> Vector:
        lsqb, args, rsqb = c
        return Vector(tuple(args or ()), _span(lsqb, rsqb))

    def arguments(self, c: list[Any]) -> list[Node]:
        return _nodes(c)

    def _binary(self, op: str, c: list[Any]) -> Operator:
        a, b = c[0], c[-1]  # both nodes; a kept operator token (`^`) sits between them
        sa, sb = a.span, b.span
        return Operator(op, (a, b), Span(sa.start, sb.end, sa.line, sa.column))

    def add(self, c: list[Any]) -> Operator:
        a, b = c[0], c[-1]  # (written out, not via _binary: a huge sum makes one per term)
        sa = a.span
        return Operator("add", (a, b), Span(sa.start, b.span.end, sa.line, sa.column))

    def sub(self, c: list[Any]) -> Operator:
        return self._binary("sub", c)

    def mul(self, c: list[Any]) -> Operator:
        a, b = c[0], c[-1]
        sa = a.span
        return Operator("mul", (a, b), Span(sa.start, b.span.end, sa.line, sa.column))

    def div(self, c: list[Any]) -> Operator:
        return self._binary("div", c)

    def matmul(self, c: list[Any]) -> Operator:
        return self._binary("matmul", c)

    def pow(self, c: list[Any]) -> Operator:
        return self._binary("pow", c)

    def juxtapose(self, c: list[Any]) -> Operator:
        """Implicit multiplication: `2x`, `x y`, `(x+1)(x-1)`, `sin(x)cos(x)`."""
        a, b = c
        if _is_token(a):
            a = self.number([a])
        last = _ends_with_name(a)
        if last is not None and _starts_with_name(b):
            # x y is no product: a name can't follow a name (so `import os` or `x if y else z` stay syntax errors).
            what = b.id if type(b) is Name else b.func if type(b) is Call else _short(b)
            from ..engine.primitives import FUNCTIONS  # only on this error path

            called = last in FUNCTIONS or last in ("ln", "sec", "csc", "cot")
            fix = f"{last}({what})" if called else f"{last}*{what} for a product"
            where = f"syntax error at column {b.span.column}: unexpected {what!r} after the name {last}"
            if type(a) is Operator and a.op == "pow" and not called:  # 2^x y: (2^x)*y or 2^(x*y)? Name both.
                base, exp = _short(a.args[0]), _short(a.args[1])
                fix = f"{base}^{exp}*{what} or {base}^({exp}*{what}): {base}^{exp} {what} is ambiguous"
            raise _Misplaced(f"{where}; expected an operator: write {fix}", b.span)
        if type(a) is Operator and a.op == "pow" and type(a.args[1]) is Number and a.span.end == b.span.start:
            # x^2y: x^(2y) or (x^2)y? Refused without a space rather than guessed.
            x, n, y = _short(a.args[0]), a.args[1].text, _short(b)
            raise _Misplaced(f"{x}^{n}{y} is ambiguous: write {x}^{n}*{y} (or {x}^{n} {y}) or {x}^({n}{y})", b.span)
        return Operator("mul", (a, b), _span(a, b))

    def root(self, c: list[Any]) -> Call:
        sign, x = c
        return Call("sqrt", (x,), _span(sign, x), _token_span(sign))

    def absolute(self, c: list[Any]) -> Call:
        bar, x, close = c
        return Call("abs", (x,), _span(bar, close), _token_span(bar))

    def index(self, c: list[Any]) -> Index:
        base, _lsqb, items, rsqb = c
        return Index(base, tuple(items), _span(base, rsqb))

    def subscripts(self, c: list[Any]) -> list[Any]:
        return [x for x in c if not _is_token(x)]

    def slice(self, c: list[Any]) -> Slice:
        # [start, ":", stop] or [start, ":", stop, ":", step], a missing part None.
        step = c[4] if len(c) == 5 else None
        present = [x for x in c if x is not None]
        return Slice(c[0], c[2], step, _span(present[0], present[-1]))

    def compare(self, c: list[Any]) -> Operator:
        a, tok, b = c
        op = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}[tok.value]
        return Operator(op, (a, b), _span(a, b))

    def neg(self, c: list[Any]) -> Operator:
        sign, x = c
        return Operator("neg", (x,), _span(sign, x))

    def pos(self, c: list[Any]) -> Node:
        return c[1]  # unary plus is sugar: it leaves no trace on the tape

    def assignment(self, c: list[Any]) -> Assignment | Definition | BadTarget:
        target, value = c
        span = _span(target, value)
        if type(target) is Name:
            return Assignment(target.id, value, span)
        if type(target) is Call and all(type(a) is Name for a in target.args):
            return Definition(target.func, target.args, value, span, target.span)  # type: ignore[arg-type]
        return BadTarget(target, span)

    def outputs(self, c: list[Any]) -> Outputs:
        items = _nodes(c)
        return Outputs(tuple(items), _span(items[0], items[-1]))

    def program(self, c: list[Any]) -> tuple[Assignment | Definition | BadTarget | Outputs, ...]:
        return tuple(_nodes(c))


_BUILDER = _Builder()

# A long vector literal of plain numbers on one line, `[0.5, -2, 1e-3, …]`, is read here in a few C-speed
# passes and handed to the driver as a finished `vector`: token by token, a literal of 10⁶ numbers costs
# seconds of parser steps (and millions of nodes) for a result known in advance.
_NOT_IN_NUMBERS = re.compile(r"[^0-9.eE+\-−, \t\f\r]")  # what no item or separator of such a literal holds
PREBUILD_FROM = 32  # items: shorter literals go through the parser (what they cost there is noise)


def number_vectors(source: str, shortest: int = PREBUILD_FROM) -> dict[int, tuple[str, int, NumberVector]]:
    """The long number-only vector literals of `source`, for lalr.Tables.parse's `prebuilt`:
    offset of "[" → ("vector", offset past "]", NumberVector).

    Each comma-separated item must be what float() reads from the characters NUMBER, MINUS and PLUS are
    made of: that is a NUMBER with at most one sign in front, as the grammar reads it, with the value the
    grammar gives it (-x is neg(x), +x is x). Anything else (an empty item, a sign and a space, a name,
    a number too large for a float64) leaves the literal to the parser, which reports any error in place.
    A match inside a comment is harmless: no token starts there, so the driver never asks for it."""
    found: dict[int, tuple[str, int, NumberVector]] = {}
    at = source.find("[")
    if at < 0:
        return found
    line, line_start, counted = 1, 0, 0
    while at >= 0:
        close = source.find("]", at)
        if close < 0:
            break
        inner = source.find("[", at + 1, close)
        if inner >= 0:  # [[…], …]: the inner literal may qualify, the outer one can't
            at = inner
            continue
        body = source[at + 1 : close]
        if body.count(",") + 1 >= shortest and _NOT_IN_NUMBERS.search(body) is None:
            try:
                values = tuple(map(float, body.replace("−", "-").split(",")))
            except ValueError:
                values = ()
            if values and math.inf not in values and -math.inf not in values:
                newlines = source.count("\n", counted, at)
                if newlines:
                    line += newlines
                    line_start = source.rindex("\n", counted, at) + 1
                counted = at
                span = Span(at, close + 1, line, at - line_start + 1)
                found[at] = ("vector", close + 1, NumberVector(values, span))
        at = source.find("[", close)
    return found


def parse(source: str) -> Program:
    """Parse a program. Raises GrammarError with a caret under the offending column."""
    try:
        statements = tables().parse(source, _BUILDER, number_vectors(source))
    except ParseFailure as exc:
        raise syntax_error(source, exc) from None
    except _Misplaced as exc:
        span = exc.span
        raise GrammarError(exc.message, caret_lines(source, span.line, span.column, span.end - span.start)) from None
    if not statements:
        raise GrammarError("the expression is empty")
    return Program(statements, source)


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    literal = tables().terminals.get(name, ("", None))[1]
    return repr(literal) if literal is not None else name.lower()


def _expected(names: set[str] | frozenset[str] | None) -> str:
    if not names:
        return ""
    shown = sorted({_describe_terminal(n) for n in names if not n.startswith("__")})
    if not shown:
        return ""
    if len(shown) > 1:
        return "expected " + ", ".join(shown[:-1]) + " or " + shown[-1]
    return "expected " + shown[0]


def _width(text: str) -> int:
    """Terminal columns of text: wide (CJK) characters take two, combining marks none."""
    import unicodedata  # only on this error path

    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def caret_lines(source: str, line: int, column: int, width: int = 1) -> str:
    """The source line with a caret under `column` (1-based); long lines are windowed."""
    lines = source.splitlines() or [""]
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    col = max(column - 1, 0)
    start = max(0, col - 50)
    end = min(len(text), col + 30)
    shown = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
    pad = _width(text[start:col]) + (1 if start else 0)
    prefix = f"  {line} | " if len(lines) > 1 else "  "
    return f"{prefix}{shown}\n{' ' * len(prefix)}{' ' * pad}{'^' * max(width, 1)}"


def syntax_error(source: str, exc: ParseFailure) -> GrammarError:
    line, column = exc.line, exc.column
    tok = exc.token
    if tok is None:
        ch = source[exc.pos] if exc.pos < len(source) else ""
        what = f"unexpected character {ch!r}"
        if ch in "'\"":
            what += " (gradcli has no strings)"
    elif tok.type == END:
        lines = source.splitlines() or [""]
        line = len(lines)
        column = len(lines[-1]) + 1
        what = "unexpected end of input"
    elif tok.type == "NEWLINE":
        what = "unexpected end of line"
    else:
        what = f"unexpected {tok.value[:20]!r}"
    table = tables()
    viable = frozenset(s for s in exc.expected if not exc.stack or table.viable(exc.stack, s))
    expected = _expected(viable or exc.expected)
    where = f"line {line}, column {column}" if "\n" in source.strip("\n") else f"column {column}"
    message = f"syntax error at {where}: {what}" + (f"; {expected}" if expected else "") + _hint(source, tok)
    return GrammarError(message, caret_lines(source, line, column))


def _hint(source: str, tok: Token | None) -> str:
    """How to write a juxtaposition gradcli refuses (SPEC §2 in the README): said where it fails."""
    if tok is None or tok.type not in ("NAME", "NUMBER", "LPAR", "BAR", "SQRT", "MINUS"):
        return ""
    before = source[: tok.start].rstrip()
    if not before:
        return ""
    prev = before[-1]
    if tok.type == "MINUS":  # √ binds to one factor, and a sign is no factor: √-x is refused, √(-x) is meant
        if prev != "√":
            return ""
        operand = re.match(r"\s*(\w+(?:\.\d*)?)", source[tok.end :])
        inner = operand.group(1) if operand else "…"
        return f" (√ applies to one factor, which can't start with a sign: write √(-{inner}))"
    if tok.type == "NUMBER" and (prev.isalnum() or prev in "_)]|"):
        return " (a number can't follow without an operator: write it first, 2x, or use *)"
    if tok.type == "BAR" and (prev.isalnum() or prev in "_)]|"):
        return " (|…| is never an implicit factor: write 2*|x|)"
    # Scan back over the product the token would continue: a "/" or "@" there ends implicit multiplication.
    depth = 0
    for ch in reversed(before):
        if ch in ")]":
            depth += 1
        elif ch in "([":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and ch in "+-−,;=<>\n":
            break
        elif depth == 0 and ch in "/@":
            return f" (implicit multiplication doesn't continue after {ch}: write 1{ch}(2x) or (1{ch}2)*x)"
        elif depth == 0 and ch == "^" and tok.type == "LPAR":
            return " (after a power, write * before the parenthesis: x^2*(…))"
    return ""
