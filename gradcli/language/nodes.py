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


Node = Number | Name | Call | Operator | Vector


class Assignment(NamedTuple):
    target: str
    value: Node
    span: Span


class Outputs(NamedTuple):
    items: tuple[Node, ...]
    span: Span


class Program(NamedTuple):
    statements: tuple[Assignment | Outputs, ...]
    source: str
