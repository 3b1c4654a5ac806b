"""The AST: a few immutable node types, each with its source span."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    start: int  # offsets into the source text
    end: int
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Number:
    value: float
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Node, ...]
    span: Span
    func_span: Span


@dataclass(frozen=True, slots=True)
class Operator:
    """Binary/unary operators and comparisons, named by their primitive (`add`, `neg`, `lt`)."""

    op: str
    args: tuple[Node, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Vector:
    items: tuple[Node, ...]
    span: Span


Node = Number | Name | Call | Operator | Vector


@dataclass(frozen=True, slots=True)
class Assignment:
    target: str
    value: Node
    span: Span


@dataclass(frozen=True, slots=True)
class Outputs:
    items: tuple[Node, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Program:
    statements: tuple[Assignment | Outputs, ...]
    source: str
