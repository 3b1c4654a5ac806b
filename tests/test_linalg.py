"""Linear algebra, axis reductions and array primitives (issue 13) on the problems users bring them to.

Oracles: textbook closed forms computed with numpy (∇ logdet A = A⁻ᵀ, softmax − onehot, logistic
regression's Xᵀ(σ − y), backpropagation written out by hand for a two-layer tanh network), numpy's
own functions for values, and central differences through `gradcli check` on the CLI.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import gradcli
from gradcli.cli.app import app

runner = CliRunner()
MODES = ("reverse", "forward")
RNG = np.random.default_rng(20261202)


def literal(a: np.ndarray) -> str:
    """An array as a gradcli literal, digits enough to round-trip."""
    return json.dumps(np.asarray(a).tolist())


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def spd(n: int) -> np.ndarray:
    m = RNG.normal(size=(n, n))
    return m @ m.T / n + np.eye(n)


# -- logdet of a 50×50 SPD matrix ------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_logdet_gradient_is_inverse_transpose(mode: str) -> None:
    A = spd(50)
    expr = gradcli.compile("logdet(A)")
    np.testing.assert_allclose(expr.value({"A": A}), np.linalg.slogdet(A)[1], rtol=1e-13)
    g = expr.gradient({"A": A}, mode=mode)["A"]
    np.testing.assert_allclose(g, np.linalg.inv(A).T, rtol=1e-10, atol=1e-13)


def test_logdet_cli_diff_and_check() -> None:
    A = spd(50)
    code, out, err = cli("diff", "logdet(A)", "--at", f"A={literal(A)}", "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    np.testing.assert_allclose(got["value"], np.linalg.slogdet(A)[1], rtol=1e-13)
    np.testing.assert_allclose(np.asarray(got["gradient"]["A"]), np.linalg.inv(A).T, rtol=1e-10, atol=1e-13)
    code, out, err = cli("check", "logdet(A)", "--at", f"A={literal(spd(6))}", "--format", "json")
    assert code == 0, out + err
    assert json.loads(out)["ok"] is True


def test_logdet_hessian() -> None:
    # ∂²logdet/∂A_ij∂A_kl = −(A⁻¹)_li (A⁻¹)_jk
    A = spd(3)
    h = gradcli.compile("logdet(A)").hessian({"A": A})["A"]["A"]
    inv = np.linalg.inv(A)
    np.testing.assert_allclose(h, -np.einsum("li,jk->ijkl", inv, inv), rtol=1e-10, atol=1e-13)


# -- softmax cross-entropy ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["-sum(y * logsoftmax(z))", "-sum(y * log(softmax(z)))", "logsumexp(z) - dot(y, z)"])
@pytest.mark.parametrize("mode", MODES)
def test_softmax_cross_entropy(source: str, mode: str) -> None:
    z = RNG.normal(size=5)
    y = np.eye(5)[2]
    p = np.exp(z) / np.sum(np.exp(z))
    expr = gradcli.compile(source)
    np.testing.assert_allclose(expr.value({"y": y, "z": z}), -np.log(p[2]), rtol=1e-13)
    g = expr.gradient({"y": y, "z": z}, wrt=["z"], mode=mode)["z"]
    np.testing.assert_allclose(g, p - y, rtol=1e-12, atol=1e-15)
    h = expr.hessian({"y": y, "z": z}, wrt=["z"])["z"]["z"]
    np.testing.assert_allclose(h, np.diag(p) - np.outer(p, p), rtol=1e-11, atol=1e-15)


def test_softmax_is_stable_for_large_inputs() -> None:
    z = np.array([1000.0, 1001.0, 999.0])
    expr = gradcli.compile("softmax(z)")
    e = np.exp(z - 1001.0)
    np.testing.assert_allclose(expr.value({"z": z}), e / e.sum(), rtol=1e-14)
    assert np.all(np.isfinite(gradcli.compile("sum(softmax(z) * [1, 2, 3])").gradient({"z": z})["z"]))


# -- a two-layer tanh network with weight matrices ---------------------------------------------------

NETWORK = "h = tanh(W1 @ x + b1); out = W2 @ h + b2; sum((out - y)^2)"


def _network_point() -> dict[str, np.ndarray]:
    return {
        "W1": RNG.normal(size=(4, 3)) * 0.5,
        "x": RNG.normal(size=3),
        "b1": RNG.normal(size=4) * 0.1,
        "W2": RNG.normal(size=(2, 4)) * 0.5,
        "b2": RNG.normal(size=2) * 0.1,
        "y": RNG.normal(size=2),
    }


def _backprop(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The network's gradient written out by hand (the textbook backward pass)."""
    h = np.tanh(p["W1"] @ p["x"] + p["b1"])
    r = p["W2"] @ h + p["b2"] - p["y"]
    d_out = 2 * r
    d_pre = (p["W2"].T @ d_out) * (1 - h * h)
    return {
        "W1": np.outer(d_pre, p["x"]),
        "x": p["W1"].T @ d_pre,
        "b1": d_pre,
        "W2": np.outer(d_out, h),
        "b2": d_out,
        "y": -d_out,
    }


@pytest.mark.parametrize("mode", MODES)
def test_two_layer_network_gradient(mode: str) -> None:
    p = _network_point()
    g = gradcli.compile(NETWORK).gradient(p, mode=mode)
    for name, want in _backprop(p).items():
        np.testing.assert_allclose(g[name], want, rtol=1e-12, atol=1e-14, err_msg=name)


def test_two_layer_network_cli_check() -> None:
    p = _network_point()
    at = [f"--at={k}={literal(v)}" for k, v in p.items()]
    code, out, err = cli("check", NETWORK, *at, "--format", "json")
    assert code == 0, out + err
    result = json.loads(out)
    assert result["ok"] is True and len(result["rows"]) == sum(v.size for v in p.values())


# -- logistic regression -----------------------------------------------------------------------------

LOGISTIC = "z = X @ w; sum(softplus(z) - y * z)"  # −log-likelihood with labels y ∈ {0, 1}


@pytest.mark.parametrize("mode", MODES)
def test_logistic_regression(mode: str) -> None:
    X, w = RNG.normal(size=(20, 3)), RNG.normal(size=3)
    y = (RNG.uniform(size=20) < 0.5).astype(float)
    expr = gradcli.compile(LOGISTIC)
    s = 1 / (1 + np.exp(-X @ w))
    g = expr.gradient({"X": X, "w": w, "y": y}, wrt=["w"], mode=mode)["w"]
    np.testing.assert_allclose(g, X.T @ (s - y), rtol=1e-12, atol=1e-13)
    h = expr.hessian({"X": X, "w": w, "y": y}, wrt=["w"])["w"]["w"]
    np.testing.assert_allclose(h, X.T @ np.diag(s * (1 - s)) @ X, rtol=1e-12)
    code, out, err = cli(
        "check", LOGISTIC, "--at", f"X={literal(X)},w={literal(w)},y={literal(y)}", "--wrt", "w", "--format", "json"
    )
    assert code == 0 and json.loads(out)["ok"], out + err


# -- the matrix functions against numpy ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_solve_with_a_vector(mode: str) -> None:
    A, b = spd(4) + RNG.normal(size=(4, 4)) * 0.1, RNG.normal(size=4)
    expr = gradcli.compile("sum(solve(A, b))")
    x = np.linalg.solve(A, b)
    g = expr.gradient({"A": A, "b": b}, mode=mode)
    lam = np.linalg.solve(A.T, np.ones(4))  # adjoint: ∂(1ᵀx)/∂b = A⁻ᵀ1, ∂/∂A = −λxᵀ
    np.testing.assert_allclose(g["b"], lam, rtol=1e-12)
    np.testing.assert_allclose(g["A"], -np.outer(lam, x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode", MODES)
def test_det_gradient_is_the_cofactor_matrix(mode: str) -> None:
    A = RNG.normal(size=(4, 4))
    g = gradcli.compile("det(A)").gradient({"A": A}, mode=mode)["A"]
    np.testing.assert_allclose(g, np.linalg.det(A) * np.linalg.inv(A).T, rtol=1e-11)


@pytest.mark.parametrize("mode", MODES)
def test_det_gradient_at_a_singular_matrix(mode: str) -> None:
    # rank 2 of 3: det = 0 but its gradient, the cofactor matrix, is not (row i × row j cross products).
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    cof = np.array([[np.linalg.det(np.delete(np.delete(A, i, 0), j, 1)) * (-1) ** (i + j) for j in range(3)] for i in range(3)])
    g = gradcli.compile("det(A)").gradient({"A": A}, mode=mode)["A"]
    np.testing.assert_allclose(g, cof, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("source", "sub"),
    [("sum(inv(A))", "inv(A)"), ("sum(solve(A, [1, 2]))", "solve(A, [1, 2])"), ("sum(inv(2 * A) @ [1, 1])", "inv(2 * A)")],
)
def test_singular_matrix_is_a_domain_error(source: str, sub: str) -> None:
    code, out, err = cli("diff", source, "--at", "A=[[1, 2], [2, 4]]")
    assert code == 3, out + err
    assert f"{sub} is undefined" in err and "singular" in err and "Traceback" not in err


def test_logdet_of_a_negative_determinant_is_a_domain_error() -> None:
    code, out, err = cli("eval", "logdet(A)", "--at", "A=[[0, 1], [1, 0]]")
    assert code == 3 and "logdet(A) is undefined" in err and "determinant is -1" in err


def test_transpose_diag_trace_outer_reshape_values() -> None:
    T = RNG.normal(size=(2, 3, 4))
    W = RNG.normal(size=(2, 3))
    v = RNG.normal(size=3)
    cases = [
        ("transpose(T, 1, 0, 2)", {"T": T}, np.transpose(T, (1, 0, 2))),
        ("transpose(T)", {"T": T}, T.T),
        ("transpose(T, -1, 0, 1)", {"T": T}, np.transpose(T, (2, 0, 1))),
        ("diag(W)", {"W": W}, np.diag(W)),
        ("diag(v)", {"v": v}, np.diag(v)),
        ("trace(W @ transpose(W))", {"W": W}, np.trace(W @ W.T)),
        ("outer(v, v)", {"v": v}, np.outer(v, v)),
        ("reshape(T, 4, -1)", {"T": T}, T.reshape(4, -1)),
        ("reshape(T, 24)", {"T": T}, T.reshape(24)),
        ("concat(W, W * 2)", {"W": W}, np.concatenate([W, 2 * W])),
        ("stack(v, v, v)", {"v": v}, np.stack([v, v, v])),
        ("tensordot(W, v, 1)", {"W": W, "v": v}, W @ v),
        ("tensordot(v, v, 0)", {"v": v}, np.outer(v, v)),
        ("cumsum(W, 0)", {"W": W}, np.cumsum(W, axis=0)),
        ("cumsum(W)", {"W": W}, np.cumsum(W)),
        ("sort(W, 0)", {"W": W}, np.sort(W, axis=0)),
        ("sort(W)", {"W": W}, np.sort(W)),
        ("kron(W, W)", {"W": W}, np.kron(W, W)),
    ]
    for source, point, want in cases:
        np.testing.assert_allclose(gradcli.compile(source).value(point), want, rtol=1e-14, err_msg=source)


@pytest.mark.parametrize(
    "source",
    [
        "sum(sin(transpose(T, 1, 0, 2)) * c)",
        "sum(sin(diag(W)))",
        "sum(sin(reshape(T, 4, -1)) @ [1, 2, 3, 4, 5, 6])",
        "sum(sin(cumsum(T, -1)))",
        "sum(sort(T, 1) * T)",
        "sum(softmax(T, 0) * T)",
        "sum(logsumexp(T, 2) * mean(T, 2) * prod(T, 2))",
    ],
)
def test_shapes_and_axes_against_central_differences(source: str) -> None:
    p = {"T": RNG.normal(size=(2, 3, 4)), "c": RNG.normal(size=(2, 4)), "W": RNG.normal(size=(3, 5))}
    expr = gradcli.compile(source)
    p = {k: v for k, v in p.items() if k in expr.variables}
    for mode in MODES:
        g = expr.gradient(p, mode=mode)
        for name in expr.variables:
            fd = np.zeros(p[name].shape)
            for k in np.ndindex(p[name].shape):
                plus, minus = p[name].copy(), p[name].copy()
                plus[k] += 1e-6
                minus[k] -= 1e-6
                fd[k] = (np.sum(expr.value({**p, name: plus})) - np.sum(expr.value({**p, name: minus}))) / 2e-6
            np.testing.assert_allclose(g[name], fd, rtol=1e-6, atol=1e-8, err_msg=f"{source} ∂/∂{name} ({mode})")


# -- conventions at kinks, and the errors ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("source", "point", "want"),
    [
        ("max(x)", {"x": [3.0, 1.0, 3.0]}, [0.5, 0.0, 0.5]),  # ties share evenly, as torch.amax
        ("min(x)", {"x": [2.0, 2.0, 2.0]}, [1 / 3, 1 / 3, 1 / 3]),
        ("sum(amax(W, 0))", {"W": [[1.0, 5.0], [1.0, 2.0]]}, [[0.5, 1.0], [0.5, 0.0]]),
        ("sum(sort(x) * [1, 2, 3])", {"x": [2.0, 1.0, 2.0]}, [2.0, 1.0, 3.0]),  # stable: the first 2 ranks first
        ("sum(norm(W, 1))", {"W": [[0.0, 0.0], [3.0, 4.0]]}, [[0.0, 0.0], [0.6, 0.8]]),
    ],
)
def test_kink_conventions(source: str, point: dict[str, list[float]], want: list[float], mode: str) -> None:
    name = next(iter(point))
    g = gradcli.compile(source).gradient(point, mode=mode)[name]
    np.testing.assert_allclose(g, np.asarray(want), rtol=1e-15)


def test_max_of_two_stays_elementwise() -> None:
    x, y = np.array([1.0, 5.0]), np.array([3.0, 2.0])
    np.testing.assert_array_equal(gradcli.compile("max(x, y)").value({"x": x, "y": y}), [3.0, 5.0])
    assert gradcli.compile("max(x)").value({"x": x}) == 5.0


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["diff", "sum(W, k)", "--at", "W=[[1, 2]],k=0"], 2, ["argument 2 of sum", "integer", "not k"]),
        (["diff", "sum(W, 0.5)", "--at", "W=[[1, 2]]"], 2, ["argument 2 of sum", "integer"]),
        (["diff", "sum(W, 2)", "--at", "W=[[1, 2]]"], 3, ["sum(W, 2)", "axis 2 is out of range"]),
        (["diff", "reshape(x, 4)", "--at", "x=[1, 2, 3]"], 3, ["reshape(x, 4)", "3 elements can't be reshaped"]),
        (["diff", "transpose(W, 0, 0)", "--at", "W=[[1, 2]]"], 3, ["not a permutation"]),
        (["diff", "inv(x)", "--at", "x=[1, 2]"], 3, ["inv(x)", "square matrix"]),
        (["diff", "concat(x, W)", "--at", "x=[1, 2],W=[[1, 2]]"], 3, ["concat(x, W)", "differ in shape"]),
        (["diff", "tensordot(W, x, 1)", "--at", "x=[1, 2, 3],W=[[1, 2]]"], 3, ["tensordot", "last 1 axes"]),
        (["diff", "max(x)", "--at", "x=[]"], 3, ["empty"]),
    ],
)
def test_errors(args: list[str], code: int, words: list[str]) -> None:
    got, out, err = cli(*args)
    assert got == code, out + err
    assert "Traceback" not in err
    for w in words:
        assert w in err, err


@pytest.mark.parametrize(
    "source",
    [
        "logdet(A)",
        "sum(inv(A))",
        "det(A) * trace(A)",
        "sum(solve(A, [1, 2]))",
        "max(softmax(A, 0))",
        "sum(sort(flatten(A)) * [1, 2, 3, 4])",
        "sum(correlate(flatten(A), [1, 2]))",
        "logsumexp(A, 1) @ [1, 2]",
        "sum(kron(A, tril(A))) * sum(cumsum(flip(A), 1))",
    ],
)
def test_check_with_complex_steps(source: str) -> None:
    # The matrix and array primitives continue analytically off the real line, so complex steps apply.
    code, out, err = cli("check", source, "--at", "A=[[2, 0.5], [0.3, 1]]", "--method", "complex", "--format", "json")
    assert code == 0, out + err
    result = json.loads(out)
    assert result["ok"] is True and result["method"] == "complex"
