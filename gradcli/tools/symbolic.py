"""`diff --symbolic`: the derivative tape printed as a formula.

The derivative is the tape reverse mode built (constants folded, `0·a`, `1·a`,
`a + 0` dropped while it was built); printing it is a loop over that tape.
Sub-expressions used more than once are bound once, `let`-style, when that
makes the whole shorter. The text is gradcli syntax, so it can be evaluated
and checked against the AD numbers.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..api import Expression
from ..engine import derivatives
from ..engine.primitives import PRIMITIVES
from ..engine.printing import ATOM, apply_text, const_text, var_text
from ..engine.tape import Tape
from ..errors import UsageError


@dataclass
class Formulas:
    bindings: list[tuple[str, str]]  # (name, formula) shared sub-expressions, in order
    derivatives: dict[str, Any]  # variable → formula; with several outputs, label → variable → formula
    outputs: tuple[str, ...] = ()  # the labels, when the program has several outputs (each differentiated)


def derivative_formulas(
    expr: Expression,
    point: Mapping[str, np.ndarray] | None,
    wrt: Sequence[str] | None,
    latex: bool = False,
    output: int | None = None,
) -> Formulas:
    """The gradient of one output (`output`), or of every output (None), sharing bindings between them."""
    names = tuple(wrt) if wrt else expr.variables
    shapes = {v: (np.shape(point[v]) if point and v in point else ()) for v in expr.variables}
    outs = list(range(len(expr.output_names))) if output is None else [range(len(expr.output_names))[output]]
    tape = derivatives.prepare(expr.specialised(shapes_point(shapes)), shapes)
    tape.tidy = True  # gather constants: a formula is read, not evaluated a million times
    idx = [tape._index.get(("var", n)) for n in names]
    present = [i for i in idx if i is not None]
    roots: dict[Hashable, int | None] = {}
    for k in outs:
        refs = dict(zip(present, derivatives.grad(tape, expr.lowered.outputs[k], present)))
        for n, i in zip(names, idx):
            roots[(k, n)] = refs.get(i) if i is not None else None
    printed = _print(tape, roots, latex)
    if len(outs) == 1:
        return Formulas(printed.bindings, {n: f for (_, n), f in printed.derivatives.items()})
    labels = tuple(expr.output_names[k] for k in outs)
    nested = {label: {n: printed.derivatives[(k, n)] for n in names} for k, label in zip(outs, labels)}
    return Formulas(printed.bindings, nested, labels)


def shapes_point(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """A stand-in point with the right shapes, for specialising the tape without values."""
    return {v: np.zeros(s) for v, s in shapes.items()}


def _print(tape: Tape, roots: Mapping[Any, int | None], latex: bool) -> Formulas:
    live = [r for r in roots.values() if r is not None]
    needed = set(live)
    uses: dict[int, int] = {}
    stack = list(live)
    while stack:  # the sub-DAG under the roots, with use counts
        i = stack.pop()
        for a in tape.args[i]:
            uses[a] = uses.get(a, 0) + 1
            if a not in needed:
                needed.add(a)
                stack.append(a)
    # Which shared sub-expressions are worth a name (longer than 6 characters written out): texts capped at
    # 64 characters answer that, where the whole texts of a 10,000-deep chain would take gigabytes (review 8).
    short = _Printer(tape, {}, latex, cap=64).run(needed)
    leaves = ("var", "const", *_COMPARISONS)  # a comparison reads best where it is used
    shared = [i for i in sorted(needed) if uses.get(i, 0) > 1 and tape.ops[i] not in leaves and len(short[i][0]) > 6]
    del short
    taken = {var_text(p) for op, p in zip(tape.ops, tape.params) if op == "var"}
    let_names: dict[int, str] = {}
    k = 0
    for i in shared:
        k += 1
        while f"t{k}" in taken:
            k += 1
        let_names[i] = f"t{k}"
    printer = _Printer(tape, let_names, latex, keep={*live, *shared})
    bound = printer.run(needed)
    with_lets = sum(len(bound[i][0]) for i in shared) + sum(len(bound[r][0]) for r in live)
    zero = "0"
    # Written out without names, unless some piece of it is already longer than the whole with names.
    inline = _Printer(tape, {}, latex, keep=set(live), budget=with_lets if shared else None).run(needed)
    if inline is not None:
        without = sum(len(inline[r][0]) for r in live)
        if not shared or without <= with_lets:
            return Formulas([], {n: inline[r][0] if r is not None else zero for n, r in roots.items()})
    bindings = [(let_names[i], printer.definitions[i]) for i in shared]
    return Formulas(bindings, {n: bound[r][0] if r is not None else zero for n, r in roots.items()})


_COMPARISONS = frozenset({"lt", "le", "gt", "ge", "eq", "ne"})


class _Printer:
    """Each instruction's text, in gradcli syntax that reads back to the same numbers (or LaTeX).

    A comparison is 1 or 0, but the language allows comparisons only in the condition of `where`, so
    where one is used as a number it is written `where(c, 1, 0)` (`where(c, k, 0)` for k times it).
    Such indicator texts are kept raw in `texts` and wrapped by their consumers (see `_Printer.value`).

    Memory stays linear in the output: a text is dropped once the instructions that read it (its users and
    theirs: some rules look two levels down) are printed, unless it is in `keep`. With `cap`, texts are cut
    to that length (enough to tell short from long); with `budget`, run gives None as soon as one text is
    longer than it, or the texts held at once are several times longer (memory stays a few times the budget).
    """

    def __init__(
        self,
        tape: Tape,
        names: dict[int, str],
        latex: bool,
        keep: set[int] | None = None,
        cap: int | None = None,
        budget: int | None = None,
    ) -> None:
        self.tape, self.names, self.latex = tape, names, latex
        self.keep, self.cap, self.budget = keep, cap, budget
        self.texts: dict[int, tuple[str, int]] = {}
        self.indicator: set[int] = set()  # instructions whose raw text is a comparison (or a product of them)
        self.definitions: dict[int, str] = {}  # bound instruction → the text its name stands for

    def _last_reads(self, order: list[int]) -> dict[int, list[int]]:
        """Instruction → the texts that can be dropped after it is printed."""
        args = self.tape.args
        last: dict[int, int] = {}
        for i in order:
            for a in args[i]:
                last[a] = i
                for b in args[a]:
                    last[b] = i
        free: dict[int, list[int]] = {}
        for a, i in last.items():
            if self.keep is not None and a not in self.keep:
                free.setdefault(i, []).append(a)
        return free

    def run(self, needed: set[int]) -> dict[int, tuple[str, int]] | None:
        tape, texts = self.tape, self.texts
        order = sorted(needed)
        free = self._last_reads(order) if self.keep is not None else {}
        live = 0  # characters in the texts held now
        for i in order:
            if i in self.names:  # its definition, then its name for the instructions that use it
                text, prec = self._node(i)
                self.definitions[i] = f"where({text}, 1, 0)" if i in self.indicator and not self.latex else text
                if i in self.indicator and self.latex:
                    self.definitions[i] = f"\\left[{text}\\right]"
                texts[i] = (latex_name(self.names[i]) if self.latex else self.names[i], ATOM)
            elif tape.ops[i] == "const":
                texts[i] = self._const(tape.params[i])
            elif tape.ops[i] == "var":
                name = var_text(tape.params[i])
                texts[i] = (latex_name(name) if self.latex else name, ATOM)
            else:
                texts[i] = self._node(i)
            if self.cap is not None and len(texts[i][0]) > self.cap:
                texts[i] = (texts[i][0][: self.cap + 1], texts[i][1])
            live += len(texts[i][0])
            if self.budget is not None and (len(texts[i][0]) > self.budget or live > 4 * self.budget + 10_000):
                return None  # longer than the named form, or (the held pieces all end up in it) heading there
            for a in free.get(i, ()):
                gone = texts.pop(a, None)
                live -= len(gone[0]) if gone is not None else 0
        # A root or a bound name that is a comparison is a number: wrap it.
        for i in self.indicator:
            if i not in self.names and i in texts:
                texts[i] = self.value(i)
        return texts

    def _const(self, value: np.ndarray) -> tuple[str, int]:
        text = const_text(value)
        if text in ("nan", "-nan"):  # the language has no nan literal; inf - inf is one
            text = "\\text{NaN}" if self.latex else "(inf - inf)"
        elif self.latex:
            text = {"pi": "\\pi", "inf": "\\infty", "-inf": "-\\infty"}.get(text, text)
        return text, (3 if text.startswith("-") else ATOM)

    def value(self, a: int) -> tuple[str, int]:
        """Argument `a` used as a number."""
        text, prec = self.texts[a]
        if a not in self.indicator or a in self.names:
            return text, prec
        if self.latex:
            return f"\\left[{text}\\right]", ATOM  # the Iverson bracket: 1 where it holds, else 0
        return f"where({text}, 1, 0)", ATOM

    def _is_const(self, a: int) -> bool:
        v = self.tape.const_value(a) if self.tape.ops[a] == "const" else None
        return v is not None and v.shape == () and bool(np.isfinite(v))

    def _node(self, i: int) -> tuple[str, int]:
        tape, texts, latex = self.tape, self.texts, self.latex
        op, args, param = tape.ops[i], tape.args[i], tape.params[i]
        if op in _COMPARISONS:
            self.indicator.add(i)
            a, b = (self.value(x) for x in args)
            if latex:
                sym = {"lt": "<", "le": "\\leq", "gt": ">", "ge": "\\geq", "eq": "=", "ne": "\\neq"}[op]
                return f"{a[0]} {sym} {b[0]}", 0
            return apply_text(op, [a, b])
        if op == "where":
            c, a, b = texts[args[0]], self.value(args[1]), self.value(args[2])
            if latex:
                return (
                    f"\\begin{{cases}} {a[0]} & \\text{{if }} {c[0]} \\neq 0 \\\\ {b[0]} & \\text{{otherwise}} \\end{{cases}}"
                    if args[0] not in self.indicator
                    else f"\\begin{{cases}} {a[0]} & \\text{{if }} {c[0]} \\\\ {b[0]} & \\text{{otherwise}} \\end{{cases}}"
                ), ATOM
            return f"where({c[0]}, {a[0]}, {b[0]})", ATOM
        if op in ("mul", "mul0"):
            x, y = args
            if x in self.indicator and y in self.indicator and x not in self.names and y not in self.names:
                self.indicator.add(i)  # both 0/1: the product is one too, and reads as one condition
                if latex:
                    return f"{texts[x][0]} \\land {texts[y][0]}", 0
                return apply_text("mul", [texts[x], texts[y]])
        if op in ("mul", "mul0") and not latex:
            x, y = args
            for c, k in ((x, y), (y, x)):
                if c in self.indicator and c not in self.names and self._is_const(k):
                    return f"where({texts[c][0]}, {texts[k][0]}, 0)", ATOM
        if op == "mul0":
            x, y = args
            if any(self._is_const(a) and float(tape.const_value(a)) != 0 for a in args) or latex:
                op = "mul"  # a finite nonzero factor: 0 only where the other is, as plain *
            else:  # g·d with the (co)tangent g first: 0 where g is 0, even against an infinite d
                d = self.value(y)
                if x in self.indicator and x not in self.names:
                    return f"where({texts[x][0]}, {d[0]}, 0)", ATOM
                if tape.ops[x] == "where" and x not in self.names:
                    branches = [tape.const_value(b) if tape.ops[b] == "const" else None for b in tape.args[x][1:]]
                    if all(v is not None and v.shape == () and float(v) in (0.0, 1.0) for v in branches):
                        picked = ["0" if float(v) == 0 else d[0] for v in branches]  # type: ignore[arg-type]
                        return f"where({texts[tape.args[x][0]][0]}, {picked[0]}, {picked[1]})", ATOM
                g = self.value(x)
                product = apply_text("mul", [g, d])[0]
                return f"where({apply_text('eq', [g, ('0', ATOM)])[0]}, 0, {product})", ATOM
        values = [self.value(a) for a in args]
        if op == "mul" and args[0] == args[1]:  # b*b → b^2 (numpy's square is the same product)
            return self._apply("pow", [values[0], ("2", ATOM)], None)
        if op == "div" and tape.ops[args[0]] == "div" and tape.args[args[0]][1] == args[1] and args[0] not in self.names:
            inner = self.value(tape.args[args[0]][0])  # a/b/b → a/b^2
            return self._apply("div", [inner, self._apply("pow", [values[1], ("2", ATOM)], None)], None)
        if op == "neg":
            (text, prec) = values[0]
            if prec == 2 and not text.startswith("-") and not latex:
                return f"-{text}", 2  # -(a/b) → -a/b: (-a)/b is the same number
            if prec == 2 and latex and not text.startswith("-"):
                return f"-{text}", 2
        return self._apply(op, values, param)

    def _apply(self, op: str, args: list[tuple[str, int]], param: Hashable) -> tuple[str, int]:
        return _apply(op, args, param, self.latex)


_GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega"
).split()
_GREEK_COMMANDS = {
    **{g: f"\\{g}" for g in _GREEK if g != "omicron"},
    "omicron": "o",
    **{g.capitalize(): f"\\{g.capitalize()}" for g in "gamma delta theta lambda xi pi sigma upsilon phi psi omega".split()},
}
# θ → \theta: the Unicode letters by position from α (U+03B1) and Α (U+0391); the slot after ρ is the final
# sigma ς in lower case and unassigned in upper case; capitals without a command of their own are Latin letters.
_SLOTS = [*_GREEK[:17], None, *_GREEK[17:]]
_GREEK_COMMANDS.update({chr(0x3B1 + k): _GREEK_COMMANDS[g or "sigma"] for k, g in enumerate(_SLOTS)})
_LATIN_CAPITALS = dict(zip("alpha beta epsilon zeta eta iota kappa mu nu omicron rho tau chi".split(), "ABEZHIKMNOPTX"))
_GREEK_COMMANDS.update(
    {chr(0x391 + k): _GREEK_COMMANDS.get(g.capitalize()) or _LATIN_CAPITALS[g] for k, g in enumerate(_SLOTS) if g}
)


def latex_name(name: str) -> str:
    """A name as LaTeX: x1 → x_{1}, w_2 → w_{2}, t3 → t_{3}, θ and theta → \\theta, a long name upright."""
    import re

    if name in _GREEK_COMMANDS:
        return _GREEK_COMMANDS[name]
    m = re.fullmatch(r"([^\W\d_]+)_?(\d+)", name) or re.fullmatch(r"([^\W\d_]+)_(\w+)", name)
    if m:
        return f"{latex_name(m.group(1))}_{{{m.group(2)}}}"
    return name if len(name) == 1 else f"\\mathrm{{{name}}}"


def _apply(op: str, args: list[tuple[str, int]], param: Hashable, latex: bool) -> tuple[str, int]:
    if op == "xlogy":  # a·log b: the 0-at-0 convention is an evaluation detail, not part of the formula
        log = latex_text("log", [args[1]]) if latex else apply_text("log", [args[1]])
        op, args = "mul", [args[0], log]
    elif op == "polygamma":
        raise UsageError("this derivative needs polygamma, which gradcli's language can't write; use diff without --symbolic")
    if op == "scatter":
        raise UsageError(
            "--symbolic can't write the derivative of a subscript: x[k] puts its cotangent back into an array of"
            " zeros, which the language has no way to write; use diff without --symbolic"
        )
    if op in ("unbroadcast", "broadcast_like", "index", "size_of", "matmul_grad_a", "matmul_grad_b"):
        raise UsageError("--symbolic prints derivatives of scalar programs; this one reshapes arrays")
    if op == "mul0":
        op = "mul"
    return latex_text(op, args) if latex else apply_text(op, args, param)


_LATEX_FUNCS = {
    "sin": "\\sin", "cos": "\\cos", "tan": "\\tan", "exp": "\\exp", "log": "\\ln", "sinh": "\\sinh",
    "cosh": "\\cosh", "tanh": "\\tanh", "asin": "\\arcsin", "acos": "\\arccos", "atan": "\\arctan",
}  # fmt: skip


def latex_text(op: str, args: list[tuple[str, int]]) -> tuple[str, int]:
    """The LaTeX form of one application, for teaching."""
    prim = PRIMITIVES[op]
    paren = lambda t: f"\\left({t}\\right)"  # noqa: E731
    if op == "div":
        return f"\\frac{{{args[0][0]}}}{{{args[1][0]}}}", ATOM
    if op == "pow":
        (a, pa), (b, _) = args
        return f"{a if pa == ATOM else paren(a)}^{{{b}}}", 4
    if op == "mul":
        (a, pa), (b, pb) = args
        a = a if pa >= 2 else paren(a)
        b = b if pb > 2 or (pb == 2 and not b.startswith("\\frac")) else paren(b)
        return f"{a} \\cdot {b}", 2
    if op in ("add", "sub"):
        (a, pa), (b, pb) = args
        b = b if pb > 1 or (op == "add" and pb == 1) else paren(b)
        return f"{a} {prim.infix} {b}", 1
    if op == "neg":
        a, pa = args[0]
        return f"-{a if pa > 3 else paren(a)}", 3
    if op == "sqrt":
        return f"\\sqrt{{{args[0][0]}}}", ATOM
    if op == "abs":
        return f"\\left|{args[0][0]}\\right|", ATOM
    name = _LATEX_FUNCS.get(op, f"\\operatorname{{{prim.syntax or op}}}")
    return f"{name}{paren(', '.join(a for a, _ in args))}", ATOM
