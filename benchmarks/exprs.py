"""The benchmark expressions E1–E5: gradcli text, a generic form for array libraries, and
hand-written numpy formulas for the value and every partial derivative."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Array = np.ndarray
E5_TERMS = 50


def _e5_source() -> str:
    return " + ".join(f"sin({k}*x + y)/{k}" for k in range(1, E5_TERMS + 1))


# Generic forms: `m` is a module with sin/cos/exp/log/tanh/sqrt (numpy, autograd.numpy, torch,
# jax.numpy), so the same formula builds each peer's graph.
def _g1(m: Any, x: Any, y: Any) -> Any:
    return x**2 + 2 * x + 1


def _g2(m: Any, x: Any, y: Any) -> Any:
    return m.log(x) + x * y - m.sin(y)


def _g3(m: Any, x: Any, y: Any) -> Any:
    return m.exp(-(x**2)) * m.cos(3 * x) + m.tanh(x * y)


def _g4(m: Any, x: Any, y: Any) -> Any:
    return m.sqrt(x**2 + y**2) + 1 / (1 + m.exp(-x))


def _g5(m: Any, x: Any, y: Any) -> Any:
    acc = m.sin(1 * x + y) / 1
    for k in range(2, E5_TERMS + 1):
        acc = acc + m.sin(k * x + y) / k
    return acc


# Hand-written numpy: value and the partials, derived by hand.
def _h1(x: Array, y: Array | None) -> tuple[Array, list[Array]]:
    return x * x + 2 * x + 1, [2 * x + 2]


def _h2(x: Array, y: Array) -> tuple[Array, list[Array]]:
    return np.log(x) + x * y - np.sin(y), [1 / x + y, x - np.cos(y)]


def _h3(x: Array, y: Array) -> tuple[Array, list[Array]]:
    e = np.exp(-x * x)
    c3, s3 = np.cos(3 * x), np.sin(3 * x)
    t = np.tanh(x * y)
    sech2 = 1 - t * t
    return e * c3 + t, [e * (-2 * x * c3 - 3 * s3) + y * sech2, x * sech2]


def _h4(x: Array, y: Array) -> tuple[Array, list[Array]]:
    r = np.sqrt(x * x + y * y)
    s = 1 / (1 + np.exp(-x))
    return r + s, [x / r + s * (1 - s), y / r]


def _h5(x: Array, y: Array) -> tuple[Array, list[Array]]:
    value = np.zeros_like(x)
    dx = np.zeros_like(x)
    dy = np.zeros_like(x)
    for k in range(1, E5_TERMS + 1):
        a = k * x + y
        c = np.cos(a)
        value += np.sin(a) / k
        dx += c
        dy += c / k
    return value, [dx, dy]


@dataclass(frozen=True)
class Expr:
    key: str
    source: str  # gradcli text
    variables: tuple[str, ...]
    generic: Callable[[Any, Any, Any], Any]
    numpy: Callable[[Array, Any], tuple[Array, list[Array]]]
    short: str  # for table rows

    def sample(self, n: int, seed: int = 0) -> dict[str, Array]:
        """n points in a box inside every expression's domain (x > 0 for log)."""
        rng = np.random.default_rng(seed)
        point = {"x": rng.uniform(0.5, 2.0, n), "y": rng.uniform(-2.0, 2.0, n)}
        return {v: point[v] for v in self.variables}


EXPRS: list[Expr] = [
    Expr("E1", "x**2 + 2*x + 1", ("x",), _g1, _h1, "x**2 + 2*x + 1"),
    Expr("E2", "log(x) + x*y - sin(y)", ("x", "y"), _g2, _h2, "log(x) + x*y - sin(y)"),
    Expr("E3", "exp(-x**2)*cos(3*x) + tanh(x*y)", ("x", "y"), _g3, _h3, "exp(-x**2)*cos(3*x) + tanh(x*y)"),
    Expr("E4", "sqrt(x**2 + y**2) + 1/(1 + exp(-x))", ("x", "y"), _g4, _h4, "sqrt(x**2 + y**2) + 1/(1 + exp(-x))"),
    Expr("E5", _e5_source(), ("x", "y"), _g5, _h5, f"sum_{{k=1..{E5_TERMS}}} sin(k*x + y)/k"),
]
BY_KEY = {e.key: e for e in EXPRS}


def huge_source(terms: int) -> str:
    """sum_{k=1..terms} sin(k*x + y): 4 operations a term (*, +, sin, and the + joining terms)."""
    return " + ".join(f"sin({k}*x + y)" for k in range(1, terms + 1))


def huge_ops(terms: int) -> int:
    return 4 * terms - 1


def close(a: Any, b: Any, rtol: float = 1e-10) -> bool:
    """|a − b| ≤ rtol·|b| elementwise, with an absolute floor of rtol·1e-3·max|b| for entries near 0."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape and a.size != b.size:
        return False
    a = a.reshape(b.shape)
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    return bool(np.all(np.abs(a - b) <= rtol * np.abs(b) + rtol * 1e-3 * max(scale, 1e-300)))
