"""The AST: a few immutable node types, each with its source span.

NamedTuples rather than dataclasses: a huge expression makes hundreds of
thousands of nodes, and the classes cost next to nothing to define at start-up.
"""

from __future__ import annotations

from typing import NamedTuple

from ..span import Span


class Number(NamedTuple):
    value: float
    text: str
    span: Span


class Name(NamedTuple):
    id: str
    span: Span


class Call(NamedTuple):
    func: str
    args: tuple[Node, ...]
    span: Span
    func_span: Span


class Operator(NamedTuple):
    """Binary/unary operators and comparisons, named by their primitive (`add`, `neg`, `lt`)."""

    op: str
    args: tuple[Node, ...]
    span: Span


class Vector(NamedTuple):
    items: tuple[Node, ...]
    span: Span


class NumberVector(NamedTuple):
    """A long vector literal of numbers only, `[0.5, -2, 1e-3, …]`, held as its values: syntax.py builds it
    without a node per item (a literal of 10⁶ numbers would be millions of objects), and it lowers to one
    constant, as a short literal of numbers does."""

    values: tuple[float, ...]
    span: Span


class Slice(NamedTuple):
    """`start:stop:step` inside a subscript; a missing part is None (numpy's defaults)."""

    start: Node | None
    stop: Node | None
    step: Node | None
    span: Span


class Index(NamedTuple):
    """`base[i, a:b, ::2]`: numpy basic indexing; the subscripts must be constant integers."""

    base: Node
    items: tuple[Node | Slice, ...]
    span: Span


Node = Number | Name | Call | Operator | Vector | NumberVector | Index


class Assignment(NamedTuple):
    target: str
    value: Node
    span: Span


class Definition(NamedTuple):
    """`f(a, b) = body`: a user function, inlined at each call."""

    name: str
    params: tuple[Name, ...]
    body: Node
    span: Span
    head: Span  # the `f(a, b)` on the left


class BadTarget(NamedTuple):
    """`x + 1 = 2`: a left side that is neither a name nor a function head (reported by lowering)."""

    target: Node
    span: Span


class Outputs(NamedTuple):
    items: tuple[Node, ...]
    span: Span


class Program(NamedTuple):
    statements: tuple[Assignment | Definition | BadTarget | Outputs, ...]
    source: str
