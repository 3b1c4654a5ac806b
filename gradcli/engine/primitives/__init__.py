"""The one table of primitives: forward (numpy), derivative rule, domain, print form.

One family a file (elementwise, reductions, linalg, shape, arrays, special), each with a `table()`; assembled here
in that order. Adding a primitive touches its family's table and one row of tests/test_primitives.py.
A partial of `None` is a structural zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from . import arrays, elementwise, linalg, reductions, shape, special
from .core import Primitive

_FAMILIES = (elementwise, linalg, reductions, shape, arrays, special)
PRIMITIVES: dict[str, Primitive] = {p.name: p for family in _FAMILIES for p in family.table()}

# The language's function names → primitives by argument count.
FUNCTIONS: dict[str, dict[int, Primitive]] = {}
for _p in PRIMITIVES.values():
    if _p.syntax is not None:
        for _n in _p.call_arities or (_p.arity,):
            FUNCTIONS.setdefault(_p.syntax, {})[_n] = _p
# One argument: max(x) and min(x) reduce over the elements (two or more stay elementwise).
FUNCTIONS["max"][1], FUNCTIONS["min"][1] = PRIMITIVES["amax"], PRIMITIVES["amin"]

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "inf": math.inf}


def mixes_elements(ops: Sequence[str], params: Sequence[Any]) -> bool:
    """Whether any instruction combines different elements (a reduction, matmul, a vector literal) or is an
    array constant (a literal of numbers is one): either would meet the axis of a batch of points."""
    return any(
        params[i].ndim != 0 if op == "const" else op != "var" and not PRIMITIVES[op].elementwise for i, op in enumerate(ops)
    )
