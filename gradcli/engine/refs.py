"""Refs: an instruction of a tape under construction, with arithmetic that emits instructions.

Derivative rules in the primitives table are written with Refs (`1 - ans*ans`), so they read
like the math; a Ref knows only its tape's `emit` and `const`, so this module needs no Tape.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import numpy as np

from .shapes import Shape

if TYPE_CHECKING:
    from .tape import Tape


class Ref:
    """An instruction of a tape under construction; arithmetic on Refs emits instructions."""

    __slots__ = ("tape", "i")

    def __init__(self, tape: Tape, i: int) -> None:
        self.tape, self.i = tape, i

    def _lift(self, other: Any) -> Ref:
        return other if isinstance(other, Ref) else Ref(self.tape, self.tape.const(other))

    def apply(self, op: str, *others: Any, param: Hashable = None) -> Ref:
        if len(others) == 1:  # the common case (a binary operator), without building a list
            o = others[0]
            args: tuple[int, ...] = (self.i, o.i if type(o) is Ref else self._lift(o).i)
        else:
            args = (self.i, *[self._lift(o).i for o in others])
        return Ref(self.tape, self.tape.emit(op, args, param))

    @property
    def shape(self) -> Shape:
        assert self.tape.shapes is not None
        return self.tape.shapes[self.i]

    def const_value(self) -> np.ndarray | None:
        return self.tape.const_value(self.i)

    def __add__(self, o: Any) -> Ref:
        return self.apply("add", o)

    def __radd__(self, o: Any) -> Ref:
        return self._lift(o).apply("add", self)

    def __sub__(self, o: Any) -> Ref:
        return self.apply("sub", o)

    def __rsub__(self, o: Any) -> Ref:
        return self._lift(o).apply("sub", self)

    def __mul__(self, o: Any) -> Ref:
        return self.apply("mul", o)

    def __rmul__(self, o: Any) -> Ref:
        return self._lift(o).apply("mul", self)

    def __truediv__(self, o: Any) -> Ref:
        return self.apply("div", o)

    def __rtruediv__(self, o: Any) -> Ref:
        return self._lift(o).apply("div", self)

    def __pow__(self, o: Any) -> Ref:
        return self.apply("pow", o)

    def __neg__(self) -> Ref:
        return self.apply("neg")

    def __matmul__(self, o: Any) -> Ref:
        return self.apply("matmul", o)


class _Ops:
    """`op.cos(x)` emits a `cos` instruction on x's tape: rules read like the math."""

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, param: Hashable = None) -> Ref:
            if len(args) == 1 and type(args[0]) is Ref:  # op.cos(x): most calls in derivative rules
                return args[0].apply(name, param=param)
            first = next(a for a in args if isinstance(a, Ref))
            lifted = [first._lift(a) for a in args]
            return lifted[0].apply(name, *lifted[1:], param=param)

        setattr(self, name, call)  # made once per primitive: derivative rules call these in hot loops
        return call


op = _Ops()
