"""Pause Python's cyclic garbage collector while a big tape or AST is built.

Building a 10⁵-operation expression allocates millions of small tuples and
objects that all stay alive, and each allocation burst triggers a collection
that walks everything allocated so far: about a third of the time of a huge
compile went to collections that free nothing. Tapes and ASTs hold no
reference cycles, so nothing is lost by pausing; the collector resumes after.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def gc_paused(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not gc.isenabled():
            return fn(*args, **kwargs)  # nested, or paused by the caller
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return wrapper
