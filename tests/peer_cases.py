"""Derivative test cases of other projects, written in gradcli (issue 13).

Modeled on the categories of the derivative suites of autograd (tests/test_numpy.py, test_scipy.py,
test_linalg.py), JAX (lax and scipy.special tests), PyTorch (gradcheck over torch.linalg and reductions),
numdifftools and DiffTests.jl that gradcli could not express before: indexing/slicing, axis reductions,
transpose, reshape/concatenate/split, Bessel functions, incomplete gamma/beta, inverse/determinant,
convolution, sort, tensordot/einsum/kron, max/min over an array, mod and erfinv. The programs are ours,
written the way a user of those libraries would write the same function here (einsum as
tensordot/transpose/trace/dot, np.split as slices, an integer-array index as a stack of items).

Each case is (category, program); its variables take shapes and ranges from VARIABLES by name.
tests/test_peer_cases.py checks every case's gradient, in both modes, against central differences.
ISSUE_COUNTS are the issue's 170 cases by category: CASES (less BEYOND_THE_COUNT, extra variants) and
UNWRITABLE (complex numbers, ODE solvers and two kinds of index, with the reason) make up exactly those.
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
    # -- indexing and slicing (autograd's test_index_*, JAX's lax.slice/index tests, torch.narrow/select) -----
    ("indexing/slicing", "x[0]"),
    ("indexing/slicing", "x[-1] * x[0]"),
    ("indexing/slicing", "x[1:]"),
    ("indexing/slicing", "x[:-1] ^ 2"),
    ("indexing/slicing", "x[::2] * 3"),
    ("indexing/slicing", "x[::-1] * x"),
    ("indexing/slicing", "p[1:3] @ y"),
    ("indexing/slicing", "p[3:0:-2] * y"),
    ("indexing/slicing", "sin(p[1:]) * p[:-1]"),
    ("indexing/slicing", "sum(100 * (p[1:] - p[:-1] ^ 2) ^ 2 + (1 - p[:-1]) ^ 2)"),  # Rosenbrock
    ("indexing/slicing", "x[0] * x[1] * x[2]"),
    ("indexing/slicing", "stack(x[2], x[0])"),  # x[[2, 0]]: an integer-array index as a stack of items
    ("indexing/slicing", "x[1:][0] + x[1:][-1]"),  # fan-out of one slice
    ("indexing/slicing", "exp(x[:2]) + exp(x[1:])"),  # overlapping slices
    ("indexing/slicing", "W[0]"),
    ("indexing/slicing", "W[1, 2] * W[0, 0]"),
    ("indexing/slicing", "W[:, 0]"),
    ("indexing/slicing", "W[:, 1:] @ y"),
    ("indexing/slicing", "W[-1, ::2] ^ 2"),
    ("indexing/slicing", "W[1][2] * W[0][1]"),
    ("indexing/slicing", "W[:, ::-1] * W"),
    ("indexing/slicing", "V[:2, :2] @ y"),
    ("indexing/slicing", "V[1:, :] @ x"),
    ("indexing/slicing", "V[0, :] * V[:, 0]"),  # a row and a column of one matrix
    ("indexing/slicing", "stack(V[0, 0], V[1, 1], V[2, 2]) * diag(V)"),  # the diagonal both ways
    ("indexing/slicing", "M[:, 1:3] @ y"),
    ("indexing/slicing", "M[1:, ::3] ^ 2"),
    ("indexing/slicing", "T[1]"),
    ("indexing/slicing", "T[:, 1]"),
    ("indexing/slicing", "T[1, :, 2] * x"),
    ("indexing/slicing", "T[-1, ::2, 1:3]"),
    ("indexing/slicing", "T[:, :, 0] @ x"),  # T[..., 0]
    ("indexing/slicing", "sum(T[:, 1:, :], 1)"),
    ("indexing/slicing", "inv(A)[0, 1] + inv(A)[1, 0]"),  # indexing the result of a matrix function
    ("indexing/slicing", "sort(x)[-1] - sort(x)[0]"),
    ("indexing/slicing", "softmax(p)[1:] @ log(p[1:])"),
    ("indexing/slicing", "solve(A, x)[1] * x[1]"),
    ("indexing/slicing", "cumsum(p)[-1] * p[2:]"),
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
    ("axis reductions", "sum(W[:, 1:], 1)"),
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
    # -- reshape / concatenate / stack / split ----------------------------------------------------------------------
    ("reshape/concatenate/split", "reshape(concat(x, z), 2, 3) @ x"),
    ("reshape/concatenate/split", "sin(reshape(W, 6))"),
    ("reshape/concatenate/split", "reshape(W, 3, 2) ^ 2"),
    ("reshape/concatenate/split", "reshape(T, 4, 6) @ reshape(T, 6, 4)"),
    ("reshape/concatenate/split", "reshape(T, -1) * flatten(T)"),
    ("reshape/concatenate/split", "reshape(T, 2, -1) @ flatten(M)"),
    ("reshape/concatenate/split", "flatten(W) ^ 3"),
    ("reshape/concatenate/split", "reshape(x, 3, 1) * reshape(x, 1, 3)"),  # expand_dims and broadcasting
    ("reshape/concatenate/split", "exp(reshape(W, 1, 2, 3))"),
    ("reshape/concatenate/split", "concat(x, y) ^ 2"),
    ("reshape/concatenate/split", "concat(x, y, x) * concat(y, x, x)"),
    ("reshape/concatenate/split", "concat(W, W * W)"),
    ("reshape/concatenate/split", "sin(concat(W, V))"),
    ("reshape/concatenate/split", "transpose(concat(transpose(W), transpose(U))) ^ 2"),  # along axis 1
    ("reshape/concatenate/split", "stack(x, x * x)"),
    ("reshape/concatenate/split", "stack(x, sin(x), exp(z))"),
    ("reshape/concatenate/split", "[x, 2 * z] @ x"),
    ("reshape/concatenate/split", "stack(W, W * 2) ^ 2"),
    ("reshape/concatenate/split", "sum(concat(sin(x), cos(y)))"),
    ("reshape/concatenate/split", "concat(reshape(W, 6), x) ^ 2"),
    ("reshape/concatenate/split", "stack(sum(W, 0), mean(W, 0)) * W"),
    ("reshape/concatenate/split", "cumsum(concat(x, y))"),
    ("reshape/concatenate/split", "reshape(cumsum(W), 3, 2) @ y"),
    ("reshape/concatenate/split", "concat(sort(x), x) ^ 2"),
    ("reshape/concatenate/split", "concat(stack(x, z), reshape(x * z, 1, 3))"),
    ("reshape/concatenate/split", "flip(x) * x"),
    ("reshape/concatenate/split", "flip(T, 1) * T"),
    ("reshape/concatenate/split", "tril(V) @ triu(V)"),
    ("reshape/concatenate/split", "triu(V, 1) - tril(V, -1) * V"),
    # split: np.split(x, [2]) and array_split as slices, which subscripts now write
    ("reshape/concatenate/split", "x[:2] * x[1:]"),
    ("reshape/concatenate/split", "sum(p[:2] * p[2:])"),  # np.split(p, 2)
    ("reshape/concatenate/split", "W[:, :1] * W[:, 1:]"),  # np.split(W, [1], axis=1)
    ("reshape/concatenate/split", "concat(p[2:], p[:2]) * p"),  # np.roll(p, 2)
    ("reshape/concatenate/split", "reshape(x, 3, 1)[:, 0]"),  # squeeze
    ("reshape/concatenate/split", "T[0] @ transpose(T[1])"),  # np.split(T, 2) then squeeze
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
    ("max/min over an array", "max(x[1:])"),
    # -- mod -------------------------------------------------------------------------------------------------------
    ("mod", "mod(x, 1.5)"),
    ("mod", "fmod(x, 0.7)"),
    ("mod", "mod(p, s)"),
    ("mod", "mod(x * x, 0.4) * x"),
    # -- erfinv ------------------------------------------------------------------------------------------------------
    ("erfinv", "erfinv(2 * u - 1)"),
    ("erfinv", "erfinv(u) * erfcinv(u)"),
]


# Cases of the issue's count that gradcli can't write, with the reason.
UNWRITABLE: list[tuple[str, str, str]] = [
    ("indexing/slicing", "x[x > 0]", "a boolean mask: the result's shape depends on the values, and shapes are fixed before "
     "evaluation (where(x > 0, x, 0) keeps the shape and the same gradient)"),
    ("indexing/slicing", "x[i] with a variable integer i", "subscripts are constant integers (JAX's dynamic_slice has no "
     "counterpart; the derivative in i would be zero anyway)"),
    *[
        ("complex", case, "values are real float64: there are no complex numbers, so no 1j, real, imag, conj or angle")
        for case in (
            "real(exp(1j * x))",
            "abs(x + 1j * y) (holomorphic abs)",
            "angle(x + 1j * y)",
            "real(conj(z) * z)",
            "imag(sin(x + 1j * y))",
            "real(fft(x))",
            "abs(det(A + 1j * B))",
        )
    ],
    *[
        ("ODE solver", case, "no ODE solver primitive: an adaptive odeint (and its adjoint) is not a formula; a fixed-step "
         "integrator can be unrolled by hand with user functions, but that is a different function")
        for case in (
            "odeint(dy/dt = -k*y) in k",
            "odeint(dy/dt = -k*y) in y0",
            "odeint(harmonic oscillator) in the frequency",
            "odeint(Lotka-Volterra) in its 4 parameters",
            "odeint(logistic growth) in the rate",
            "odeint(dy/dt = A @ y) in A",
            "odeint(pendulum) in the final time",
        )
    ],
]

# The issue's counts of cases other projects test that gradcli could not write (issue 13): 170 in all; the
# categories it lists add up to 163, and the 7 others are the ODE-solver cases its "Done when" leaves out.
ISSUE_COUNTS: dict[str, int] = {
    "indexing/slicing": 38,
    "reshape/concatenate/split": 28,
    "axis reductions": 20,
    "transpose": 12,
    "Bessel": 11,
    "incomplete gamma/beta": 9,
    "inv/det": 9,
    "complex": 7,
    "convolution": 7,
    "sort": 6,
    "tensordot/einsum/kron": 6,
    "max/min over an array": 4,
    "mod": 4,
    "erfinv": 2,
    "ODE solver": 7,
}

# Written and tested beyond the issue's count of their category (a variant of a counted case).
BEYOND_THE_COUNT: frozenset[str] = frozenset(
    {
        "cumsum(x) * x",
        "cumsum(T, 0) * T",
        "sum(W[:, 1:], 1)",
        "besselj0(p) * besselj1(p)",
        "besselk(3, p)",
        "inv(A) @ inv(A) @ x",
        "kron(x, y) ^ 2",
        "dot(x, z) * x",
        "max(x[1:])",
        "flip(T, 1) * T",
        "triu(V, 1) - tril(V, -1) * V",
        "concat(sort(x), x) ^ 2",
        "reshape(cumsum(W), 3, 2) @ y",
        "concat(x, y, x) * concat(y, x, x)",
        "stack(W, W * 2) ^ 2",
        "x[1:][0] + x[1:][-1]",
        "cumsum(p)[-1] * p[2:]",
        "sin(concat(W, V))",
    }
)
