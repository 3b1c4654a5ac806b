"""Numbers as text: shortest round-trip decimal, strict JSON for non-finite values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def format_number(x: float) -> str:
    """Shortest text that reads back as the same float64: 8, 0.1, 1e-20, nan, -inf."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x) and abs(x) < 1e16:
        return str(int(x))  # -0.0 prints as 0: a signed zero is an artefact (mod's d/dy at a multiple), not an answer
    text = repr(x)
    if "e" in text:
        mantissa, exp = text.split("e")
        mantissa = mantissa.removesuffix(".0")
        text = f"{mantissa}e{int(exp)}"
    return text


def format_value(v: Any) -> str:
    """A scalar as a number; an array as nested brackets of numbers."""
    arr = np.asarray(v)
    if arr.ndim == 0:
        return format_number(arr)
    if arr.size > 0 and np.iscomplexobj(arr):
        arr = arr.real
    # Iterative nested rendering: arrays are small here, but the rank is arbitrary.
    flat = [format_number(x) for x in arr.ravel()]
    return _nest(flat, arr.shape)


def _nest(flat: list[str], shape: tuple[int, ...]) -> str:
    """Bracketed text of a flat row-major list, innermost axis first; an empty axis still has its brackets
    ([[], []] for shape (2, 0)), so the text reads back to the same shape."""
    items = flat
    for level in range(len(shape) - 1, -1, -1):
        groups = int(np.prod(shape[:level]))  # how many lists this axis makes
        dim = shape[level]
        items = ["[" + ", ".join(items[k * dim : (k + 1) * dim]) + "]" for k in range(groups)]
    return items[0]


def json_number(x: float) -> float | int | str:
    """Strict JSON: non-finite numbers become the strings "nan", "inf", "-inf"."""
    x = float(x)
    if math.isfinite(x):
        return int(x) if x == int(x) and abs(x) < 2**53 else x
    return format_number(x)


def json_value(v: Any) -> Any:
    arr = np.asarray(v, dtype=float)
    if arr.ndim == 0:
        return json_number(arr)
    return np.vectorize(json_number, otypes=[object])(arr).tolist() if arr.size else arr.tolist()
