"""Property tests over random array programs built from the linear algebra, axis-reduction and array
primitives (issue 13): reverse mode agrees with forward mode, both agree with central differences of
the program's values, and the Hessian (forward over reverse) is symmetric and agrees with central
differences of the gradient.

Programs are chains of templates on a 3×3 matrix M and a 3-vector v, ended by a reduction to a scalar.
Matrices that get inverted are 3·I + tanh(…), so every point is in the domain. Hypothesis chooses the
program and a seed for the point; the point's values come from numpy, so ties (kinks of sort and max)
have probability zero.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcli

I3 = "diag([3, 3, 3])"

# Templates taking and giving a 3×3 matrix; {u} is the inner program.
MATRIX: tuple[str, ...] = (
    "transpose({u})",
    "sin({u})",
    "tanh({u}) @ M",
    "M @ transpose({u})",
    "softmax({u}, 0)",
    "logsoftmax({u}, 1)",
    "cumsum({u}, 0)",
    "sort({u}, 1)",
    "diag(diag({u})) + {u}",
    "reshape(flatten({u}), 3, 3)",
    "inv(" + I3 + " + tanh({u}))",
    "solve(" + I3 + " + tanh({u}), {u})",
    "stack(sum({u}, 0), mean({u}, 1), amax({u}, 0))",
    "outer(v, amin({u}, 1)) * {u}",
    "tensordot({u}, M, 1)",
    "transpose(concat(transpose({u}), transpose(M)), 1, 0) @ [1, 2, 3, 4, 5, 6] * {u}",
    "kron(reshape(v, 1, 3), reshape(sum({u}, 1), 3, 1))",
    "cumsum(prod({u}, 0)) * {u}",
)

# Templates from a 3×3 matrix to a scalar.
FINAL: tuple[str, ...] = (
    "sum({u})",
    "logdet(" + I3 + " + tanh({u}) @ transpose(tanh({u})))",
    "det({u})",
    "trace({u} @ {u})",
    "norm({u})",
    "max({u})",
    "logsumexp({u})",
    "sum(norm({u}, 1) * logsumexp({u}, 0))",
    "dot(convolve(sum({u}, 0), v), [1, 2, 3, 4, 5])",
    "sum(sort(flatten({u})) * cumsum(flatten({u})))",
)


@st.composite
def programs(draw: st.DrawFn) -> str:
    u = draw(st.sampled_from(("M", "M * v", "sin(M) + v")))
    for _ in range(draw(st.integers(1, 2))):
        u = "(" + draw(st.sampled_from(MATRIX)).format(u=u) + ")"
    return draw(st.sampled_from(FINAL)).format(u=u)


def _central(f, p: dict[str, np.ndarray], name: str, h: float = 1e-6) -> np.ndarray:  # type: ignore[no-untyped-def]
    x = p[name]
    out = []
    for k in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[k] += h
        minus[k] -= h
        out.append((np.asarray(f({**p, name: plus})) - np.asarray(f({**p, name: minus}))) / (2 * h))
    arr = np.stack(out, axis=-1)
    return arr.reshape(arr.shape[:-1] + x.shape)


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=programs(), seed=st.integers(0, 2**16))
def test_random_array_programs(source: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = {"M": rng.uniform(-1, 1, size=(3, 3)), "v": rng.uniform(-1, 1, size=3)}
    expr = gradcli.compile(source)
    p = {k: v for k, v in p.items() if k in expr.variables}
    value = float(expr.value(p))
    assert np.isfinite(value), source
    reverse, forward = expr.gradient(p, mode="reverse"), expr.gradient(p, mode="forward")
    scale = max(1.0, abs(value))
    for name in expr.variables:
        np.testing.assert_allclose(reverse[name], forward[name], rtol=1e-9, atol=1e-11 * scale, err_msg=source)
        fd = _central(expr.value, p, name)
        np.testing.assert_allclose(reverse[name], fd, rtol=1e-5, atol=1e-6 * scale, err_msg=f"∂/∂{name} of {source}")
    hess = expr.hessian(p)
    for a in expr.variables:
        for b in expr.variables:
            fd = _central(lambda q, a=a: expr.gradient(q, [a])[a], p, b)
            np.testing.assert_allclose(hess[a][b], fd, rtol=1e-4, atol=1e-5 * scale, err_msg=f"∂²/∂{a}∂{b} of {source}")
            n_a, n_b = p[a].size, p[b].size
            flat = np.reshape(hess[a][b], (n_a, n_b))
            other = np.reshape(hess[b][a], (n_b, n_a))
            np.testing.assert_allclose(flat, other.T, rtol=1e-8, atol=1e-10 * scale, err_msg=f"symmetry of {source}")
