"""Memory for --jit's results, used again once the caller lets go of it.

A fresh 16 MB array is fresh pages: the kernel's first store to each page faults, and the system zeroes it
first, which for a memory-bound loop (E1 at 10⁶ rows) costs as much as the loop itself. malloc keeps such
blocks only some of the time (its mmap threshold moves). So big results are arrays from a small pool: an
array whose only reference left is the pool's (the caller dropped the result and every view of it) is
handed out again for the next batch of the same shape. The check is a reference count, so taking one costs
no new object, which matters when the caches are cold (each Python object costs tens of µs then).
"""

from __future__ import annotations

import sys

import numpy as np

POOL_FROM = 1 << 20  # bytes: smaller arrays come from malloc's own heap, already faulted in, for less than the pool costs
KEEP_BYTES = 128 << 20  # at most this much memory held by the pool
_ARRAYS: dict[tuple[tuple[int, ...], type], list[np.ndarray]] = {}
_ITEMSIZE: dict[type, int] = {}
_kept = [0]
_FREE_REFS = 3  # references to a free pooled array while empty() looks at it: the pool's list, the loop, getrefcount's


def empty(shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """np.empty(shape, dtype), from the pool when it is big (plain arithmetic here: numpy's own calls, np.prod and
    np.dtype, cost more than the rest of a batch's bookkeeping when the caches are cold)."""
    size = _ITEMSIZE.get(dtype) or _ITEMSIZE.setdefault(dtype, np.dtype(dtype).itemsize)
    for s in shape:
        size *= s
    if size < POOL_FROM:
        return np.empty(shape, dtype=dtype)
    arrays = _ARRAYS.get((shape, dtype))
    if arrays is None:
        arrays = _ARRAYS[(shape, dtype)] = []
    for a in arrays:
        if sys.getrefcount(a) == _FREE_REFS:
            return a
    a = np.empty(shape, dtype=dtype)
    if _kept[0] + size <= KEEP_BYTES:
        arrays.append(a)
        _kept[0] += size
    return a
