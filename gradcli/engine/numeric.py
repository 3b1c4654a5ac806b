"""Numerical derivatives, the independent witness for `check` and `verify`.

Each method differentiates g(t) = f(x + t·u) at t = 0 for a direction u, so the
same code checks one partial (u = eᵢ) or a random projection (u random). Step
sizes follow the usual error balance for float64 (Nocedal & Wright §8.1):
truncation error against rounding error ε·|f|/h.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(np.float64).eps)

METHODS = ("central", "forward", "backward", "complex", "richardson")

# Default tolerances per method: pass when |ad − numeric| ≤ atol + rtol·|numeric|.
TOLERANCES: dict[str, tuple[float, float]] = {
    "central": (1e-6, 1e-8),  # error ~ ε^(2/3) ≈ 4e-11 relative at the optimal step, with margin for f'''
    "forward": (1e-4, 1e-6),  # error ~ ε^(1/2) ≈ 1.5e-8
    "backward": (1e-4, 1e-6),
    "complex": (1e-12, 1e-14),  # no subtractive cancellation: exact to rounding
    "richardson": (1e-9, 1e-11),
}


def default_step(method: str, scale: float) -> float:
    """h ∝ ε^(1/3)·max(1, |x|) for central, ε^(1/2) for one-sided, tiny for complex step."""
    s = max(1.0, abs(scale))
    if method == "central":
        return EPS ** (1 / 3) * s
    if method == "richardson":
        return 1e-3 * s  # the largest step; the tableau halves it
    if method in ("forward", "backward"):
        return math.sqrt(EPS) * s
    if method == "complex":
        return 1e-20 * s
    raise ValueError(method)


@dataclass(frozen=True)
class Estimate:
    value: float
    error: float | None  # an estimate of the numerical error, where the method gives one
    step: float


def directional(g: Callable[[float | complex], float | complex], method: str, h: float) -> Estimate:
    """The derivative of g at 0 by `method` with step h."""
    if method == "forward":
        g0 = float(np.real(g(0.0)))
        d1 = (float(np.real(g(h))) - g0) / h
        d2 = (float(np.real(g(h / 2))) - g0) / (h / 2)
        return Estimate(d1, abs(d1 - d2), h)
    if method == "backward":
        g0 = float(np.real(g(0.0)))
        d1 = (g0 - float(np.real(g(-h)))) / h
        d2 = (g0 - float(np.real(g(-h / 2)))) / (h / 2)
        return Estimate(d1, abs(d1 - d2), h)
    if method == "central":
        d1 = _central(g, h)
        d2 = _central(g, 2 * h)
        return Estimate(d1, abs(d1 - d2) / 3, h)
    if method == "complex":
        return Estimate(float(np.imag(g(1j * h))) / h, None, h)
    if method == "richardson":
        return _richardson(g, h)
    raise ValueError(method)


def _central(g: Callable[[float], float | complex], h: float) -> float:
    return (float(np.real(g(h))) - float(np.real(g(-h)))) / (2 * h)


def _richardson(g: Callable[[float], float | complex], h: float, levels: int = 6) -> Estimate:
    """Central differences at h, h/2, h/4, … extrapolated (each level removes an h² term);
    the answer is the entry whose neighbours agree best, and that agreement is its error estimate."""
    start = h
    table: list[list[float]] = []
    best, best_err = math.nan, math.inf
    for k in range(levels):
        hk = start / 2**k
        row = [_central(g, hk)]
        for j in range(1, k + 1):
            factor = 4.0**j
            row.append(row[j - 1] + (row[j - 1] - table[k - 1][j - 1]) / (factor - 1))
        table.append(row)
        if k >= 1:
            err = max(abs(row[k] - row[k - 1]), abs(row[k] - table[k - 1][k - 1]))
            if err < best_err:
                best, best_err = row[k], err
    return Estimate(best, best_err, h)
