"""Derivative test cases of other projects, written in gradcli (issue 13).

Modeled on the categories of the derivative suites of autograd (tests/test_numpy.py, test_scipy.py,
test_linalg.py), JAX (lax and scipy.special tests), PyTorch (gradcheck over torch.linalg and reductions),
numdifftools and DiffTests.jl that gradcli could not express before: axis reductions, transpose,
reshape/concatenate, Bessel functions, incomplete gamma/beta, inverse/determinant, convolution, sort,
tensordot/einsum/kron, max/min over an array, mod and erfinv. The programs are ours, written the way a
user of those libraries would write the same function here (einsum as tensordot/transpose/trace/dot).

Each case is (category, program); its variables take shapes and ranges from VARIABLES by name.
tests/test_peer_cases.py checks every case's gradient, in both modes, against central differences.
NEEDS_INDEXING lists cases of these categories that need x[i] or slices (another part of issue 13).
"""

from __future__ import annotations

# name: (shape, low, high, kind) — kind "spd" makes a symmetric positive definite matrix, "wc" a
# well-conditioned one (2·I + noise), otherwise uniform on [low, high].
VARIABLES: dict[str, tuple[tuple[int, ...], float, float, str]] = {
    "x": ((3,), -1.5, 1.5, ""),
    "y": ((2,), -1.5, 1.5, ""),
    "z": ((3,), -1.5, 1.5, ""),
    "p": ((4,), 0.4, 3.5, ""),  # positive: Bessel Y and K, incomplete gamma
    "u": ((4,), 0.05, 0.95, ""),  # in (0, 1): incomplete beta, erfinv
    "W": ((2, 3), -1.5, 1.5, ""),
    "U": ((2, 2), -1.5, 1.5, ""),
    "V": ((3, 3), -1.5, 1.5, ""),
    "M": ((3, 4), -1.5, 1.5, ""),
    "B": ((3, 2), -1.5, 1.5, ""),
    "T": ((2, 3, 4), -1.5, 1.5, ""),
    "A": ((3, 3), -0.5, 0.5, "wc"),
    "S": ((3, 3), -1.0, 1.0, "spd"),
    "s": ((), 1.2, 2.0, ""),
}

CASES: list[tuple[str, str]] = [
    # -- axis reductions (sum/mean/prod/var/std/norm/logsumexp/softmax along an axis) ------------------
    ("axis reductions", "sin(sum(W, 0))"),
    ("axis reductions", "sin(sum(W, 1))"),
    ("axis reductions", "sum(W, -1) ^ 2"),
    ("axis reductions", "exp(mean(W, 0))"),
    ("axis reductions", "mean(T, 1) ^ 3"),
    ("axis reductions", "sum(T, 2) @ sum(T, 0)"),
    ("axis reductions", "prod(W, 0)"),
    ("axis reductions", "prod(W, 1) * sum(W, 1)"),
    ("axis reductions", "norm(W, 0)"),
    ("axis reductions", "norm(T, 2) ^ 2"),
    ("axis reductions", "logsumexp(W, 0)"),
    ("axis reductions", "logsumexp(W, 1) - mean(W, 1)"),
    ("axis reductions", "sum(W * W, 0) / sum(W * W + 1, 0)"),
    ("axis reductions", "softmax(W, 0)"),
    ("axis reductions", "softmax(W, 1) * W"),
    ("axis reductions", "logsoftmax(T, 2)"),
    ("axis reductions", "mean(W, 0) - mean(W)"),
    ("axis reductions", "mean((W - mean(W, 0)) ^ 2, 0)"),  # var(W, axis=0)
    ("axis reductions", "sqrt(mean((T - mean(T, 0)) ^ 2, 0))"),  # std(T, axis=0)
    ("axis reductions", "cumsum(W, 1) ^ 2"),
    ("axis reductions", "cumsum(x) * x"),
    ("axis reductions", "cumsum(T, 0) * T"),
    # -- transpose ------------------------------------------------------------------------------------------
    ("transpose", "transpose(W) @ W"),
    ("transpose", "W @ transpose(W)"),
    ("transpose", "sin(transpose(W))"),
    ("transpose", "exp(transpose(T, 2, 0, 1))"),
    ("transpose", "transpose(T) ^ 2"),
    ("transpose", "transpose(T, 0, 2, 1) @ x"),
    ("transpose", "trace(transpose(A) @ A)"),
    ("transpose", "transpose(x) * x"),
    ("transpose", "transpose(transpose(W)) * W"),
    ("transpose", "transpose(reshape(z * x, 3, 1)) @ x"),
    ("transpose", "transpose(A) @ inv(A) @ x"),
    ("transpose", "transpose(outer(x, y)) @ x"),
    # -- reshape / concatenate / stack ----------------------------------------------------------------------
    ("reshape/concatenate", "reshape(concat(x, z), 2, 3) @ x"),
    ("reshape/concatenate", "sin(reshape(W, 6))"),
    ("reshape/concatenate", "reshape(W, 3, 2) ^ 2"),
    ("reshape/concatenate", "reshape(T, 4, 6) @ reshape(T, 6, 4)"),
    ("reshape/concatenate", "reshape(T, -1) * flatten(T)"),
    ("reshape/concatenate", "reshape(T, 2, -1) @ flatten(M)"),
    ("reshape/concatenate", "flatten(W) ^ 3"),
    ("reshape/concatenate", "reshape(x, 3, 1) * reshape(x, 1, 3)"),  # expand_dims and broadcasting
    ("reshape/concatenate", "exp(reshape(W, 1, 2, 3))"),
    ("reshape/concatenate", "concat(x, y) ^ 2"),
    ("reshape/concatenate", "concat(x, y, x) * concat(y, x, x)"),
    ("reshape/concatenate", "concat(W, W * W)"),
    ("reshape/concatenate", "sin(concat(W, V))"),
    ("reshape/concatenate", "transpose(concat(transpose(W), transpose(U))) ^ 2"),  # along axis 1
    ("reshape/concatenate", "stack(x, x * x)"),
    ("reshape/concatenate", "stack(x, sin(x), exp(z))"),
    ("reshape/concatenate", "[x, 2 * z] @ x"),
    ("reshape/concatenate", "stack(W, W * 2) ^ 2"),
    ("reshape/concatenate", "sum(concat(sin(x), cos(y)))"),
    ("reshape/concatenate", "concat(reshape(W, 6), x) ^ 2"),
    ("reshape/concatenate", "stack(sum(W, 0), mean(W, 0)) * W"),
    ("reshape/concatenate", "cumsum(concat(x, y))"),
    ("reshape/concatenate", "reshape(cumsum(W), 3, 2) @ y"),
    ("reshape/concatenate", "concat(sort(x), x) ^ 2"),
    ("reshape/concatenate", "concat(stack(x, z), reshape(x * z, 1, 3))"),
    ("reshape/concatenate", "flip(x) * x"),
    ("reshape/concatenate", "flip(T, 1) * T"),
    ("reshape/concatenate", "tril(V) @ triu(V)"),
    ("reshape/concatenate", "triu(V, 1) - tril(V, -1) * V"),
    # -- Bessel functions ---------------------------------------------------------------------------------------
    ("Bessel", "besselj0(p)"),
    ("Bessel", "besselj1(p)"),
    ("Bessel", "bessely0(p)"),
    ("Bessel", "bessely1(p)"),
    ("Bessel", "besseli0(x)"),
    ("Bessel", "besseli1(x)"),
    ("Bessel", "besselk0(p)"),
    ("Bessel", "besselk1(p)"),
    ("Bessel", "besselj(2, p)"),
    ("Bessel", "bessely(1.5, p)"),
    ("Bessel", "besseli(0.5, p)"),
    ("Bessel", "besselk(3, p)"),
    ("Bessel", "besselj0(p) * besselj1(p)"),
    # -- incomplete gamma and beta (in x) ----------------------------------------------------------------
    ("incomplete gamma/beta", "gammainc(2, p)"),
    ("incomplete gamma/beta", "gammainc(0.5, p)"),
    ("incomplete gamma/beta", "gammaincc(3.5, p)"),
    ("incomplete gamma/beta", "gammaincc(1, p)"),
    ("incomplete gamma/beta", "gammainc(2, x * x + 0.1)"),
    ("incomplete gamma/beta", "betainc(2, 3, u)"),
    ("incomplete gamma/beta", "betainc(0.5, 0.5, u)"),
    ("incomplete gamma/beta", "betainc(1.5, 4, u)"),
    ("incomplete gamma/beta", "betainc(2, 2, sigmoid(x))"),
    # -- matrix inverse and determinant -----------------------------------------------------------------------
    ("inv/det", "inv(A)"),
    ("inv/det", "det(A)"),
    ("inv/det", "logdet(S)"),
    ("inv/det", "solve(A, x)"),
    ("inv/det", "solve(A, B)"),
    ("inv/det", "det(inv(A))"),
    ("inv/det", "logdet(A @ transpose(A))"),
    ("inv/det", "det(A) * trace(inv(A))"),
    ("inv/det", "sum(inv(S) * S)"),
    ("inv/det", "inv(A) @ inv(A) @ x"),
    # -- convolution ---------------------------------------------------------------------------------------------
    ("convolution", "convolve(x, y)"),
    ("convolution", "convolve(x, x)"),
    ("convolution", "convolve(x, [1, -2, 1])"),
    ("convolution", "sum(convolve(x, y) ^ 2)"),
    ("convolution", "correlate(p, y)"),
    ("convolution", "convolve(sin(x), exp(y))"),
    ("convolution", "convolve(convolve(x, y), y)"),
    # -- sort -------------------------------------------------------------------------------------------------------
    ("sort", "sort(x)"),
    ("sort", "sort(p) * [1, 2, 3, 4]"),
    ("sort", "sort(W, 0) * W"),
    ("sort", "sort(T) ^ 2"),
    ("sort", "sort(exp(x) - x)"),
    ("sort", "cumsum(sort(p))"),
    # -- tensordot / einsum / kron ---------------------------------------------------------------------------
    ("tensordot/einsum/kron", "tensordot(T, M, 2)"),  # einsum("ijk,jk->i")
    ("tensordot/einsum/kron", "tensordot(W, B, 1)"),  # einsum("ij,jk->ik")
    ("tensordot/einsum/kron", "tensordot(x, y, 0)"),  # einsum("i,j->ij")
    ("tensordot/einsum/kron", "tensordot(T, T, 3)"),  # einsum("ijk,ijk->")
    ("tensordot/einsum/kron", "trace(V @ V)"),  # einsum("ij,ji->")
    ("tensordot/einsum/kron", "dot(x, z) * x"),  # einsum("i,i->")
    ("tensordot/einsum/kron", "kron(U, W)"),
    ("tensordot/einsum/kron", "kron(x, y) ^ 2"),
    # -- max / min over an array's elements ---------------------------------------------------------------
    ("max/min over an array", "max(x)"),
    ("max/min over an array", "min(p) * p"),
    ("max/min over an array", "max(W) - min(W)"),
    ("max/min over an array", "sum(amax(W, 0)) * sum(amin(W, 1))"),
    # -- mod -------------------------------------------------------------------------------------------------------
    ("mod", "mod(x, 1.5)"),
    ("mod", "fmod(x, 0.7)"),
    ("mod", "mod(p, s)"),
    ("mod", "mod(x * x, 0.4) * x"),
    # -- erfinv ------------------------------------------------------------------------------------------------------
    ("erfinv", "erfinv(2 * u - 1)"),
    ("erfinv", "erfinv(u) * erfcinv(u)"),
]

# Cases of the same categories that need indexing or slicing (the grammar part of issue 13).
NEEDS_INDEXING: list[tuple[str, str]] = [
    ("reshape/concatenate", "x[:2] * x[1:]"),  # np.split and array_split
    ("reshape/concatenate", "reshape(x, 3, 1)[:, 0]"),
    ("axis reductions", "sum(W[:, 1:], 1)"),
    ("max/min over an array", "max(x[1:])"),
]
