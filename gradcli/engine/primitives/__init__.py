"""The one table of primitives: forward (numpy), derivative rule, domain, print form.

One family a file (elementwise, reductions, linalg, shape, arrays, special), each with a `table()`; assembled here
in that order. Adding a primitive touches its family's table and one row of tests/test_primitives.py.
A partial of `None` is a structural zero.

Families load when first needed, so a scalar program doesn't pay for matrices and special functions at start-up:
elementwise at import, the others when a program or a derivative rule first names one of their
primitives or functions. Which family defines which name is `index.py`, derived from the tables (regenerate it
with `python -m gradcli.engine.primitives.make_index`; tests/test_primitives.py fails while it is stale). The
index only says where to look: a name it doesn't know loads every family before it is called unknown.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

from . import index
from .core import Primitive

# index.py lists names per family (a few strings: quick to load); looked up here the other way round
_FAMILY_OF = {name: family for family, names in index.PRIMITIVES.items() for name in names.split()}
_SYNTAX_FAMILIES: dict[str, list[str]] = {}
for _family, _names in index.FUNCTIONS.items():
    for _name in _names.split():
        _SYNTAX_FAMILIES.setdefault(_name, []).append(_family)

FAMILY_NAMES = ("elementwise", "linalg", "reductions", "shape", "arrays", "special")  # the order names resolve in
_EAGER = ("elementwise",)
_loaded: set[str] = set()
_by_syntax: dict[str, list[tuple[int, int, Primitive]]] = {}  # syntax → (family rank, position, primitive)
# One argument: max(x) and min(x) reduce over the elements (two or more stay elementwise).
_ONE_ARGUMENT = {"max": "amax", "min": "amin"}


def _load(family: str) -> None:
    if family in _loaded:
        return
    _loaded.add(family)
    rank = FAMILY_NAMES.index(family)
    for k, p in enumerate(importlib.import_module(f"{__name__}.{family}").table()):
        dict.__setitem__(PRIMITIVES, p.name, p)
        if p.syntax is not None:
            _by_syntax.setdefault(p.syntax, []).append((rank, k, p))


def load_all() -> None:
    """Every family (listing the primitives, or looking up a name the index doesn't know)."""
    for family in FAMILY_NAMES:
        _load(family)


class _Primitives(dict):  # type: ignore[type-arg]
    """name → Primitive, loading the family that defines a name on its first lookup (hits are plain dict lookups)."""

    def __missing__(self, name: str) -> Primitive:
        family = _FAMILY_OF.get(name)
        if family is not None and family not in _loaded:
            _load(family)
        else:
            load_all()
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)  # type: ignore[no-any-return]
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or name in _FAMILY_OF

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        load_all()
        return dict.__iter__(self)

    def __len__(self) -> int:
        load_all()
        return dict.__len__(self)

    def keys(self) -> Any:
        load_all()
        return dict.keys(self)

    def values(self) -> Any:
        load_all()
        return dict.values(self)

    def items(self) -> Any:
        load_all()
        return dict.items(self)


def _function(name: str) -> dict[int, Primitive]:
    """The primitives a call of `name` resolves to, by argument count, from the families loaded."""
    entry: dict[int, Primitive] = {}
    for _, _, p in sorted(_by_syntax.get(name, ()), key=lambda t: t[:2]):
        for n in p.call_arities or (p.arity,):
            entry[n] = p
    if name in _ONE_ARGUMENT and entry:
        entry[1] = PRIMITIVES[_ONE_ARGUMENT[name]]
    return entry


class _Functions(dict):  # type: ignore[type-arg]
    """The language's function names → primitives by argument count, built per name on its first lookup."""

    def __missing__(self, name: str) -> dict[int, Primitive]:
        families = _SYNTAX_FAMILIES.get(name)
        if families is None:
            load_all()
        else:
            for family in families:
                _load(family)
        entry = _function(name)
        if not entry:
            raise KeyError(name)
        dict.__setitem__(self, name, entry)
        return entry

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or name in _SYNTAX_FAMILIES

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def _complete(self) -> None:
        load_all()
        for name in _by_syntax:
            if not dict.__contains__(self, name):
                self[name]

    def __iter__(self) -> Iterator[str]:
        self._complete()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._complete()
        return dict.__len__(self)

    def keys(self) -> Any:
        self._complete()
        return dict.keys(self)

    def values(self) -> Any:
        self._complete()
        return dict.values(self)

    def items(self) -> Any:
        self._complete()
        return dict.items(self)


PRIMITIVES: dict[str, Primitive] = _Primitives()
FUNCTIONS: dict[str, dict[int, Primitive]] = _Functions()
for _family in _EAGER:
    _load(_family)

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "inf": math.inf}
# scipy's names (j0, yv, …) → the language's (besselj0, bessely); from the family itself while the index lacks them
BESSEL_SYNTAX: dict[str, str] = getattr(index, "BESSEL_SYNTAX", None) or importlib.import_module(f"{__name__}.special").SYNTAX


def mixes_elements(ops: Sequence[str], params: Sequence[Any]) -> bool:
    """Whether any instruction combines different elements (a reduction, matmul, a vector literal) or is an
    array constant (a literal of numbers is one): either would meet the axis of a batch of points."""
    return any(
        params[i].ndim != 0 if op == "const" else op != "var" and not PRIMITIVES[op].elementwise for i, op in enumerate(ops)
    )
