"""Array shapes and numpy's broadcasting rule, decided without numpy in the common cases."""

from __future__ import annotations

import numpy as np

Shape = tuple[int, ...]


def broadcast_shapes(*shapes: Shape) -> Shape:
    """numpy's broadcasting rule, with the common cases (all equal, or scalars) decided without numpy."""
    first = shapes[0]
    if all(s == first or s == () for s in shapes):
        if first != () or all(s == () for s in shapes):
            return first
    rest = [s for s in shapes if s != ()]
    if rest and all(s == rest[0] for s in rest):
        return rest[0]
    return tuple(np.broadcast_shapes(*shapes))
