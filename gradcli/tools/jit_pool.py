"""Memory for --jit's results, used again once the caller lets go of it.

A fresh 16 MB array is fresh pages: the kernel's first store to each page faults, and the system zeroes it
first, which for a memory-bound loop (E1 at 10⁶ rows) costs as much as the loop itself. malloc keeps such
blocks only some of the time (its mmap threshold moves). So results live in buffers from a small pool: the
arrays handed out are views of a holder object, and when the last of them is freed the holder puts its
buffer back for the next batch of the same size.
"""

from __future__ import annotations

import numpy as np

KEEP_BYTES = 256 << 20  # at most this much memory waits in the pool
_FREE: dict[int, list[np.ndarray]] = {}
_kept = [0]


class _Holder:
    """Owns one pooled buffer while arrays view it (numpy keeps the holder as their base)."""

    __slots__ = ("raw", "__array_interface__")

    def __init__(self, raw: np.ndarray) -> None:
        self.raw = raw
        self.__array_interface__ = raw.__array_interface__

    def __del__(self) -> None:
        try:
            raw = self.raw
            if _kept[0] + raw.nbytes <= KEEP_BYTES:
                _FREE.setdefault(raw.nbytes, []).append(raw)
                _kept[0] += raw.nbytes
        except Exception:  # noqa: BLE001, S110 - at interpreter exit the module's globals may be gone: nothing to keep
            pass


POOL_FROM = 1 << 20  # bytes: smaller arrays come from malloc's own heap, already faulted in, for less than the pool costs


def empty(shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """np.empty(shape, dtype), in pooled memory when it is big."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if nbytes < POOL_FROM:
        return np.empty(shape, dtype=dtype)
    free = _FREE.get(nbytes)
    if free:
        raw = free.pop()
        _kept[0] -= nbytes
    else:
        raw = np.empty(max(nbytes, 1), dtype=np.uint8)
    return np.asarray(_Holder(raw)).view(dtype)[: nbytes // np.dtype(dtype).itemsize].reshape(shape)
