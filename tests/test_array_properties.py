"""Property tests over random array programs built from the linear algebra, axis-reduction and array
primitives (issue 13): reverse mode agrees with forward mode, both agree with central differences of
the program's values, and the Hessian (forward over reverse) is symmetric and agrees with central
differences of the gradient.

Programs are chains of templates on a 3×3 matrix M and a 3-vector v, ended by a reduction to a scalar.
Matrices that get inverted are 3·I + tanh(…), so every point is in the domain. Hypothesis chooses the
program and a seed for the point; the point's values come from numpy, so ties (kinks of sort and max)
have probability zero. A second generator writes programs that define user functions f and g, slice
their inputs and call matrix functions (`f(t) = …; u0 = f(W @ x[1:]); u1 = g(M, u0); logdet(…)`).
"""

from __future__ import annotations

import numpy as np
import pytest
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


# Programs that use user functions, subscripts and the linear algebra primitives together (issue 13):
# f and g are defined by the program, the inputs go through slices of W, x, M and v, and the pieces
# are matrix functions, axis-free reductions and more subscripts.
USER_F: tuple[str, ...] = ("tanh(t) + t^2/4", "sin(t) * t", "log(1 + t^2)", "sigmoid(t) - t/3", "exp(-t^2) + t")
USER_G: tuple[str, ...] = (
    "solve(" + I3 + " + tanh(A), b)",
    "inv(" + I3 + " + A @ transpose(A)) @ b",
    "transpose(A) @ f(b)",
    "softmax(A @ b) * b",
)
SLICED: tuple[str, ...] = (  # each a 3-vector
    "W @ x[1:]",
    "W[:, ::2] @ x[:2]",
    "M[::-1] @ v",
    "M[:, 1:] @ x[3:]",
    "x[:3] * v",
    "sort(x)[2:]",
    "W[:, 0] + W[-1, 1:]",
    "f(W @ x[1:])",
)
STEP: tuple[str, ...] = (
    "f({u})",
    "g(M, {u})",
    "cumsum({u})",
    "M @ {u}",
    "{u}[::-1] * v",
    "g(M[::-1], f({u}))",
    "inv(" + I3 + " + outer({u}, v) / 4)[0]",
)
LAST: tuple[str, ...] = (
    "sum(f({u}))",
    "logsumexp({u})",
    "{u}[0] * {u}[-1] + sum({u})",
    "dot({u}, v)",
    "norm({u})",
    "logdet(" + I3 + " + outer({u}, {u}))",
    "sum(f(W @ x[1:]) * {u})",
)


@st.composite
def user_programs(draw: st.DrawFn) -> str:
    lines = [f"f(t) = {draw(st.sampled_from(USER_F))}", f"g(A, b) = {draw(st.sampled_from(USER_G))}"]
    lines.append(f"u0 = {draw(st.sampled_from(SLICED))}")
    n = draw(st.integers(1, 2))
    for k in range(1, n + 1):
        lines.append(f"u{k} = " + draw(st.sampled_from(STEP)).format(u=f"u{k - 1}"))
    lines.append(draw(st.sampled_from(LAST)).format(u=f"u{n}"))
    return "; ".join(lines)


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=user_programs(), seed=st.integers(0, 2**16))
def test_programs_with_user_functions_subscripts_and_linear_algebra(source: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shapes = {"W": (3, 4), "x": (5,), "M": (3, 3), "v": (3,)}
    expr = gradcli.compile(source)
    p = {k: rng.uniform(-1, 1, size=s) for k, s in shapes.items() if k in expr.variables}
    value = float(expr.value(p))
    assert np.isfinite(value), source
    reverse, forward = expr.gradient(p, mode="reverse"), expr.gradient(p, mode="forward")
    scale = max(1.0, abs(value))
    for name in expr.variables:
        np.testing.assert_allclose(reverse[name], forward[name], rtol=1e-9, atol=1e-11 * scale, err_msg=source)
        fd = _central(expr.value, p, name)
        np.testing.assert_allclose(forward[name], fd, rtol=1e-5, atol=1e-6 * scale, err_msg=f"∂/∂{name} of {source}")


def test_user_programs_use_every_piece() -> None:
    # The generator above really mixes the three: a user function, a subscript and a matrix function in one program.
    source = (
        "f(t) = tanh(t) + t^2/4; g(A, b) = "
        + USER_G[0]
        + "; u0 = f(W @ x[1:]); u1 = g(M, u0); logdet("
        + I3
        + " + outer(u1, u1))"
    )
    expr = gradcli.compile(source)
    assert set(expr.variables) == {"W", "x", "M"}
    rng = np.random.default_rng(1)
    p = {"W": rng.uniform(-1, 1, (3, 4)), "x": rng.uniform(-1, 1, 5), "M": rng.uniform(-1, 1, (3, 3))}

    # The same function written out in numpy.
    def ref(q: dict[str, np.ndarray]) -> float:
        u0 = np.tanh(q["W"] @ q["x"][1:]) + (q["W"] @ q["x"][1:]) ** 2 / 4
        u1 = np.linalg.solve(3 * np.eye(3) + np.tanh(q["M"]), u0)
        return float(np.linalg.slogdet(3 * np.eye(3) + np.outer(u1, u1))[1])

    assert float(expr.value(p)) == pytest.approx(ref(p), rel=1e-12)
    for name in p:
        np.testing.assert_allclose(expr.gradient(p, mode="reverse")[name], _central(ref, p, name), rtol=1e-5, atol=1e-7)
