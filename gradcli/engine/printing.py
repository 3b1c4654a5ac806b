"""Tape instructions written as math, with the fewest parentheses the precedences allow.

Names are given at print time (the tape stores none): inputs by their own
names, the rest v1, v2, … in tape order. Nothing here recurses: a formula is
assembled instruction by instruction, each from its arguments' texts.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from ..numfmt import format_value
from .primitives import PRIMITIVES
from .primitives.shape import subscript_text
from .tape import Tape

ATOM = 9  # the precedence of names, numbers and calls


def const_text(value: np.ndarray) -> str:
    if value.shape == ():
        v = float(value)
        for name, c in (("pi", np.pi), ("e", np.e)):
            if v == c:
                return name
    text = format_value(value)
    return text if len(text) <= 40 else f"<{'×'.join(map(str, value.shape))} array>"


def var_text(param: Hashable) -> str:
    if isinstance(param, str):
        return param
    if isinstance(param, tuple) and len(param) == 3 and param[0] == "tangent":
        return f"d{param[2]}" if param[1] == 0 else f"d{param[2]}_{param[1]}"
    return str(param)


def apply_text(op: str, args: Sequence[tuple[str, int]], param: Hashable = None) -> tuple[str, int]:
    """Text and precedence of `op` applied to argument (text, precedence) pairs."""
    if op == "xlogy":  # a·log b in the language (its 0-at-0 convention is an evaluation detail)
        return apply_text("mul", [args[0], apply_text("log", [args[1]])])
    prim = PRIMITIVES[op]
    if prim.infix is not None and len(args) == 2:
        (a, pa), (b, pb) = args
        prec = prim.precedence
        right_assoc = op == "pow"
        # Left operand: parenthesise when it binds looser (or equal, for a right-associative operator).
        left = a if pa > prec or (pa == prec and not right_assoc) else f"({a})"
        # Right operand: looser or equal binds need parentheses, unless the operator is associative and it's the same.
        same_ok = right_assoc or (op in ("add", "mul") and pb == prec and _leading_op(b) in ("+", "*"))
        right = b if pb > prec or (pb == prec and same_ok) else f"({b})"
        if prec == 0:
            return f"{left} {prim.infix} {right}", prec
        spaced = prim.precedence == 1 or op in ("lt", "le", "gt", "ge", "eq", "ne")
        return (f"{left} {prim.infix} {right}" if spaced else f"{left}{prim.infix}{right}"), prec
    if op == "neg":
        (a, pa) = args[0]
        return (f"-{a}" if pa > 3 else f"-({a})"), 3
    if op == "getitem":
        (a, pa) = args[0]
        return f"{a if pa >= ATOM else f'({a})'}[{subscript_text(param)}]", ATOM  # type: ignore[arg-type]
    if op == "stack":
        return "[" + ", ".join(a for a, _ in args) + "]", ATOM
    name = prim.syntax or op
    extra = [] if param is None else [str(param)]
    return f"{name}({', '.join([*(a for a, _ in args), *extra])})", ATOM


def _leading_op(text: str) -> str:
    """The operator at depth 0 of a printed operand (an approximation good for + and *)."""
    depth = 0
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in "+-":
            return "+"
        elif depth == 0 and ch in "/@":
            return ch
    return "*"


def row_names(tape: Tape, live: Sequence[bool] | None = None) -> dict[int, str]:
    """v-names for the instructions shown in a trace: inputs keep their names; constants print as values."""
    names: dict[int, str] = {}
    k = 0
    for i, op in enumerate(tape.ops):
        if live is not None and not live[i]:
            continue
        if op == "var":
            names[i] = var_text(tape.params[i])
        elif op == "const":
            names[i] = const_text(tape.params[i])
        else:
            k += 1
            names[i] = f"v{k}"
    return names


def formula(tape: Tape, root: int, leaves: dict[int, str]) -> str:
    """The sub-DAG under `root` as one expression, stopping at `leaves` (printed by name)."""
    texts: dict[int, tuple[str, int]] = {}
    # Collect the instructions needed, then print them in tape order (arguments come first).
    needed = {root}
    stack = [root]
    while stack:
        i = stack.pop()
        if i in leaves:
            continue
        for a in tape.args[i]:
            if a not in needed:
                needed.add(a)
                stack.append(a)
    for i in sorted(needed):
        if i in leaves:
            texts[i] = (leaves[i], ATOM)
        elif tape.ops[i] == "const":
            text = const_text(tape.params[i])
            texts[i] = (text, ATOM if not text.startswith("-") else 3)
        elif tape.ops[i] == "var":
            texts[i] = (var_text(tape.params[i]), ATOM)
        else:
            texts[i] = apply_text(tape.ops[i], [texts[a] for a in tape.args[i]], tape.params[i])
    return texts[root][0]
