"""The tape: a flat, hash-consed SSA list of primitive applications.

Instruction i is `ops[i](*args[i]; params[i])`; every argument index is < i, so
construction order is a topological order and every pass over the tape is a
plain loop. Derivative transforms append to a copy of the tape through `Ref`
arithmetic, which reads like the math in the primitives table.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from ..errors import GrammarError, ShapeError
from ..span import Span
from .primitives import PRIMITIVES
from .primitives.core import Ints, TooManyAxes
from .refs import Ref
from .shapes import Shape, broadcast_shapes


class Tape:
    """SSA instructions in parallel lists; `n_checked` leading instructions get domain checks."""

    __slots__ = ("ops", "args", "params", "spans", "shapes", "source", "n_checked", "simplify", "tidy", "_index", "plans")

    def __init__(self, source: str = "") -> None:
        self.ops: list[str] = []
        self.args: list[tuple[int, ...]] = []
        self.params: list[Any] = []
        self.spans: list[Span | None] = []
        self.shapes: list[Shape] | None = None  # known once specialised to input shapes
        self.source = source
        self.n_checked = 0
        self.simplify = False  # derivative transforms fold constants and drop identities
        self.tidy = False  # for printing: also gather integer factors (2·(3·x) → 6·x), at the cost of reuse
        self._index: dict[Hashable, int] = {}
        self.plans: dict[Hashable, Any] = {}  # evaluation plans (evaluate.py), valid while the tape is unchanged

    def __len__(self) -> int:
        return len(self.ops)

    def copy(self) -> Tape:
        t = Tape(self.source)
        t.ops, t.args, t.params, t.spans = list(self.ops), list(self.args), list(self.params), list(self.spans)
        t.shapes = None if self.shapes is None else list(self.shapes)
        t.n_checked, t.simplify, t.tidy, t._index = self.n_checked, self.simplify, self.tidy, dict(self._index)
        return t

    # -- building ---------------------------------------------------------

    def _append(self, key: Hashable, op: str, args: tuple[int, ...], param: Any, span: Span | None, shape: Shape | None) -> int:
        found = self._index.get(key)
        if found is not None:
            return found
        if self.plans:
            self.plans.clear()
        self.ops.append(op)
        self.args.append(args)
        self.params.append(param)
        self.spans.append(span)
        if self.shapes is not None:
            assert shape is not None
            self.shapes.append(shape)
        i = len(self.ops) - 1
        self._index[key] = i
        return i

    def const(self, value: Any) -> int:
        if type(value) is float:  # the common case, keyed without building an array first
            key: Hashable = ("const", (), value.hex())  # hex: -0.0 and 0.0 stay apart
            found = self._index.get(key)
            if found is not None:
                return found
        arr = np.asarray(value, dtype=float)
        arr.setflags(write=False)
        key = ("const", (), float(arr).hex()) if arr.shape == () else ("const", arr.shape, arr.tobytes())
        return self._append(key, "const", (), arr, None, arr.shape)

    def var(self, name: Hashable, span: Span | None = None, shape: Shape | None = None) -> int:
        return self._append(("var", name), "var", (), name, span, shape)

    def emit(self, op: str, args: Sequence[int], param: Hashable = None, span: Span | None = None) -> int:
        prim = PRIMITIVES[op]
        args = tuple(args)
        if prim.static_from is not None and len(args) > prim.static_from:
            args, param = _fold_static(self, prim, args, span)
        if self.simplify:
            simpler = _simplified(self, op, args, param)
            if simpler is not None:
                return simpler
        shape = None if self.shapes is None else infer_shape(self, op, args, param, span)
        if prim.commutative:  # a + b and b + a are one instruction
            key_args = (args if args[0] <= args[1] else (args[1], args[0])) if len(args) == 2 else tuple(sorted(args))
        else:
            key_args = args
        return self._append((op, key_args, param), op, args, param, span, shape)

    def ref(self, i: int) -> Ref:
        return Ref(self, i)

    # -- queries ------------------------------------------------------------

    def const_value(self, i: int) -> np.ndarray | None:
        return self.params[i] if self.ops[i] == "const" else None

    def text(self, i: int) -> str:
        """The source text an instruction came from, for error messages."""
        span = self.spans[i]
        if span is None:
            return f"v{i}"
        return " ".join(self.source[span.start : span.end].split())

    def verify(self) -> None:
        """The SSA invariants every transform must keep: arguments defined before use, arity, known ops."""
        lists = (self.args, self.params, self.spans)
        assert all(len(x) == len(self.ops) for x in lists), "parallel lists out of step"
        assert self.shapes is None or len(self.shapes) == len(self.ops), "shapes out of step"
        for i, (op, args) in enumerate(zip(self.ops, self.args)):
            if op in ("const", "var"):
                assert args == (), f"v{i}: {op} takes no arguments"
                continue
            prim = PRIMITIVES.get(op)
            assert prim is not None, f"v{i}: unknown primitive {op}"
            n = prim.arity if prim.static_from is None else prim.static_from
            assert prim.arity < 0 or len(args) == n, f"v{i}: {op} takes {n} arguments, has {len(args)}"
            assert all(0 <= a < i for a in args), f"v{i}: an argument is not defined before use"

    def variables(self) -> list[str]:
        return [p for op, p in zip(self.ops, self.params) if op == "var" and isinstance(p, str)]


def _fold_static(tape: Tape, prim: Any, args: tuple[int, ...], span: Span | None) -> tuple[tuple[int, ...], Ints]:
    """A call's trailing integer constants (an axis, a size) become the instruction's param."""
    k = prim.static_from
    values = []
    for j, a in enumerate(args[k:], start=k + 1):
        c = tape.const_value(a)
        if c is None or c.shape != () or not float(c).is_integer():
            where = f"in {' '.join(tape.source[span.start : span.end].split())}: " if span is not None else ""
            name = prim.syntax or prim.name
            raise GrammarError(f"{where}argument {j} of {name} must be an integer number (an axis or a size), not {tape.text(a)}")
        values.append(int(c))
    return args[:k], Ints(values)


def infer_shape(tape: Tape, op: str, args: tuple[int, ...], param: Hashable, span: Span | None) -> Shape:
    known = tape.shapes
    assert known is not None
    prim = PRIMITIVES[op]
    if prim.elementwise:
        for a in args:
            if known[a]:  # () is the only falsy shape
                break
        else:
            return ()  # scalars in, a scalar out: the common case of a one-point derivative
    shapes = [known[a] for a in args]
    try:
        return prim.shape(*shapes, param=param)
    except IndexError as exc:  # an index out of range (getitem, len): not a mismatch of two shapes
        where = f" in {' '.join(tape.source[span.start : span.end].split())}" if span is not None else ""
        raise ShapeError(f"{exc}{where}: the value has shape {_shape_text(shapes[0])}") from None
    except ValueError as exc:
        if isinstance(exc, TooManyAxes):  # the operands' shapes (64 ones) say nothing more
            raise ShapeError(str(exc)) from None
        where = f"in {' '.join(tape.source[span.start : span.end].split())} " if span is not None else ""
        shown = " and ".join(_shape_text(s) for s in shapes)
        reason = "don't broadcast together" if "broadcast" in str(exc) else str(exc)
        if len(shapes) == 1:  # one operand: nothing to mismatch with; its shape said once, after the need
            has = "is a scalar" if shapes[0] == () else f"has shape {shown}"
            raise ShapeError(f"shape error {where}: {reason}; the argument {has}".replace(" :", ":")) from None
        raise ShapeError(f"shape mismatch {where}: shapes {shown}: {reason}".replace(" :", ":")) from None


def _shape_text(s: Shape) -> str:
    return "scalar" if s == () else "(" + ", ".join(map(str, s)) + (",)" if len(s) == 1 else ")")


def specialise(tape: Tape, input_shapes: dict[Hashable, Shape]) -> Tape:
    """A copy of the tape with every instruction's shape known (a loop, raising ShapeError)."""
    t = tape.copy()
    t.shapes = []
    for i, op in enumerate(t.ops):
        if op == "const":
            t.shapes.append(t.params[i].shape)
        elif op == "var":
            t.shapes.append(tuple(input_shapes[t.params[i]]))
        else:
            t.shapes.append(infer_shape(t, op, t.args[i], t.params[i], t.spans[i]))
    return t


def _is_const(tape: Tape, i: int, value: float) -> bool:
    if tape.ops[i] != "const":
        return False
    c = tape.params[i]
    return c.shape == () and float(c) == value


def _simplified(tape: Tape, op: str, args: tuple[int, ...], param: Hashable) -> int | None:
    """Identities and constant folding for derivative tapes; None keeps the instruction.

    Only rewrites that keep the result's shape: a scalar 0 or 1 never changes a shape.
    """
    if op in _ARITHMETIC:
        ops = tape.ops
        oa, ob = ops[args[0]], ops[args[1]]
        if oa not in _REWRITTEN and ob not in _REWRITTEN and (op != "mul" or not (tape.tidy or _merges(oa, ob))):
            return None  # no constant, no sign, no (c/r)·(c·x): no rule below applies (most instructions)
    if op in ("add", "sub"):
        a, b = args
        if _is_const(tape, b, 0.0) and _same_shape(tape, a, args):
            return a
        if op == "add" and _is_const(tape, a, 0.0) and _same_shape(tape, b, args):
            return b
        if op == "sub" and _is_const(tape, a, 0.0) and _same_shape(tape, b, args):
            return tape.emit("neg", (b,))
    elif op in ("mul", "div"):
        a, b = args
        if _is_const(tape, b, 1.0) and _same_shape(tape, a, args):
            return a
        if op == "mul" and _is_const(tape, a, 1.0) and _same_shape(tape, b, args):
            return b
        if _is_const(tape, b, -1.0) and _same_shape(tape, a, args):
            return tape.emit("neg", (a,))
        if op == "mul" and _is_const(tape, a, -1.0) and _same_shape(tape, b, args):
            return tape.emit("neg", (b,))
    elif op == "neg" and tape.ops[args[0]] == "neg":
        return tape.args[args[0]][0]
    moved = _signs_and_constants(tape, op, args)
    if moved is not None:
        return moved
    if op == "pow" and _is_const(tape, args[1], 1.0) and _same_shape(tape, args[0], args):
        return args[0]
    if args and all(tape.ops[a] == "const" for a in args):
        prim = PRIMITIVES[op]
        values = [tape.params[a] for a in args]
        if prim.domain_ok(values) and max(v.size for v in values) <= 64:
            with np.errstate(all="ignore"):
                out = np.asarray(prim.apply(values, param), dtype=float)
            if np.all(np.isfinite(out)):
                return tape.const(out)
    return None


_ARITHMETIC = frozenset({"add", "sub", "mul", "div"})
_REWRITTEN = frozenset({"const", "neg"})  # the operands the rules of _simplified and _signs_and_constants look for


def _merges(oa: str, ob: str) -> bool:
    """Whether _merge_coefficients may apply to a product of these two ops."""
    return (oa == "div" and ob == "mul") or (oa == "mul" and ob == "div")


def _signs_and_constants(tape: Tape, op: str, args: tuple[int, ...]) -> int | None:
    """Exact rewrites that keep derivative formulas readable: signs move outward
    (a·(−b) → −(a·b), a + (−b) → a − b) and integer factors merge (2·(3·x) → 6·x)."""
    if op not in ("add", "sub", "mul", "div"):
        return None
    a, b = args
    neg_a, neg_b = tape.ops[a] == "neg", tape.ops[b] == "neg"
    if op in ("mul", "div") and (neg_a or neg_b) and not (neg_a and neg_b):
        inner = (tape.args[a][0], b) if neg_a else (a, tape.args[b][0])
        return tape.emit("neg", (tape.emit(op, inner),))
    if op == "add" and neg_b:
        return tape.emit("sub", (a, tape.args[b][0]))
    if op == "add" and neg_a:
        return tape.emit("sub", (b, tape.args[a][0]))
    if op == "sub" and neg_b:
        return tape.emit("add", (a, tape.args[b][0]))
    if op == "mul":
        bv, av = tape.const_value(b), tape.const_value(a)
        if bv is not None and bv.shape == () and av is None:
            return tape.emit("mul", (b, a))  # constants first: 3*x, never x*3
        merged = _merge_coefficients(tape, a, b)
        if merged is not None:
            return merged
        if not tape.tidy:
            return None
        for outer, nested in ((a, b), (b, a)):  # x·(3·y) and (3·x)·y → 3·(x·y): constants gather in front
            if tape.const_value(outer) is None and tape.ops[nested] == "mul":
                inner = tape.const_value(tape.args[nested][0])
                if inner is not None and inner.shape == () and _small_integer(inner):
                    return tape.emit("mul", (tape.args[nested][0], tape.emit("mul", (outer, tape.args[nested][1]))))
        for c, other in ((a, b), (b, a)):
            cv = tape.const_value(c)
            if cv is None or cv.shape != () or tape.ops[other] != "mul":
                continue
            for k in (0, 1):
                inner_c, rest = tape.args[other][k], tape.args[other][1 - k]
                iv = tape.const_value(inner_c)
                if iv is not None and iv.shape == () and _small_integer(cv) and _small_integer(iv):
                    return tape.emit("mul", (tape.const(float(cv) * float(iv)), rest))
    return None


def _merge_coefficients(tape: Tape, a: int, b: int) -> int | None:
    """(c₁/r)·(c₂·x) → (c₁c₂)·(x/r): the chain rule through √(x²+…) gives 0.5/r · 2x, which becomes x/r,
    one instruction instead of three (and one rounding instead of three)."""
    for p, q in ((a, b), (b, a)):
        if tape.ops[p] != "div" or tape.ops[q] != "mul":
            continue
        c1, c2 = tape.const_value(tape.args[p][0]), tape.const_value(tape.args[q][0])
        if c1 is None or c2 is None or c1.shape != () or c2.shape != ():
            continue
        ratio = tape.emit("div", (tape.args[q][1], tape.args[p][1]))
        return tape.emit("mul", (tape.const(float(c1) * float(c2)), ratio))
    return None


def _small_integer(v: np.ndarray) -> bool:
    x = float(v)
    return abs(x) < 2**26 and x == int(x)  # the bound first: int(inf) and int(nan) raise


def _same_shape(tape: Tape, keep: int, args: tuple[int, ...]) -> bool:
    shapes = tape.shapes
    if shapes is None:
        return all(tape.ops[a] != "const" or tape.params[a].shape == () for a in args)
    if not shapes[keep] and not any([shapes[a] for a in args]):
        return True  # all scalars
    try:
        return shapes[keep] == broadcast_shapes(*(shapes[a] for a in args))
    except ValueError:
        return False
