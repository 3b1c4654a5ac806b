"""Every program of tests/peer_cases.py: its gradient, in both modes, agrees with central differences
of its own values (computed here, not by gradcli's numeric module), and the categories the issue
counts are all covered."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from peer_cases import CASES, NEEDS_INDEXING, VARIABLES

import gradcli
from gradcli.api import Expression

STEP = 1e-6


def point_for(names: tuple[str, ...], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([20261202, seed])
    out = {}
    for name in names:
        shape, lo, hi, kind = VARIABLES[name]
        if kind == "spd":
            m = rng.uniform(lo, hi, size=shape)
            out[name] = m @ m.T + np.eye(shape[0])
        elif kind == "wc":
            out[name] = 2 * np.eye(shape[0]) + rng.uniform(lo, hi, size=shape)
        else:
            out[name] = np.asarray(rng.uniform(lo, hi, size=shape))
    return out


def central(expr: Expression, p: dict[str, np.ndarray], name: str) -> np.ndarray:
    x = p[name]
    out = np.zeros(x.shape)
    for k in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[k] += STEP
        minus[k] -= STEP
        out[k] = (np.sum(expr.value({**p, name: plus})) - np.sum(expr.value({**p, name: minus}))) / (2 * STEP)
    return out


@pytest.mark.parametrize(("category", "source"), CASES, ids=[f"{c}: {s}" for c, s in CASES])
def test_gradient_agrees_with_central_differences(category: str, source: str) -> None:
    expr = gradcli.compile(source)
    p = point_for(expr.variables, CASES.index((category, source)))
    value = expr.value(p)
    assert np.all(np.isfinite(value)), f"{source} at {p}"
    want = {name: central(expr, p, name) for name in expr.variables}
    for mode in ("reverse", "forward"):
        got = expr.gradient(p, mode=mode)
        for name in expr.variables:
            assert got[name].shape == p[name].shape
            np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-7, err_msg=f"∂/∂{name} ({mode}) of {source}")


def test_every_category_is_covered() -> None:
    # The counts of peer cases per category (indexing, complex numbers and ODEs are elsewhere or out).
    wanted = {
        "axis reductions": 20,
        "transpose": 12,
        "reshape/concatenate": 24,
        "Bessel": 11,
        "incomplete gamma/beta": 9,
        "inv/det": 9,
        "convolution": 7,
        "sort": 6,
        "tensordot/einsum/kron": 6,
        "max/min over an array": 4,
        "mod": 4,
        "erfinv": 2,
    }
    have = Counter(c for c, _ in CASES)
    assert set(have) == set(wanted)
    for category, n in wanted.items():
        assert have[category] >= n, category
    assert len({s for _, s in CASES}) == len(CASES), "duplicate cases"
    assert all(c in wanted for c, _ in NEEDS_INDEXING)
