"""--jit's fast exp/log/sin/cos/tanh (tools/jit_simd.py): within 2 ulp of numpy on their fast domains, and every
argument outside one goes to libm, so special values give exactly the numpy path's rows.

Oracle: numpy's own functions (glibc's libm on this platform) for the ulp distance; gradcli's numpy batch path
(batch/stream.compute) for whole rows. Skipped, saying why, when numba is not installed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcli
from gradcli.batch import stream
from gradcli.tools import jit, jit_simd

needs_numba = pytest.mark.skipif(not jit.available(), reason='numba is not installed (pip install "gradcli[jit]")')

RNG = np.random.default_rng(20261202)
N = 200_000
# Per function: its numpy oracle and arguments that cover the fast domain, its edges and its reduction's seams.
CASES = {
    "exp": (np.exp, [RNG.uniform(-708, 708, N), RNG.uniform(-1, 1, N), RNG.uniform(-1e-12, 1e-12, 1000),
                     np.array([0.0, -0.0, 708.0, -708.0, 0.5 * math.log(2), -0.5 * math.log(2), 1e-300])]),
    "log": (np.log, [np.exp(RNG.uniform(-700, 700, N)), RNG.uniform(0.5, 2, N), 1 + RNG.uniform(-1e-9, 1e-9, 1000),
                     np.array([1.0, 2.2250738585072014e-308, 1.7976931348623157e308, math.sqrt(0.5), math.sqrt(2.0), 2.0])]),
    "sin": (np.sin, [RNG.uniform(-1e6, 1e6, N), RNG.uniform(-4, 4, N), RNG.uniform(-1e-6, 1e-6, 1000),
                     np.array([0.0, -0.0, 1e-300, -1e-300, math.pi / 4, 355.0, 103993.0, 1e6])]),
    "cos": (np.cos, [RNG.uniform(-1e6, 1e6, N), RNG.uniform(-4, 4, N), np.array([0.0, -0.0, math.pi / 4, 355.0, 1e6])]),
    "tanh": (np.tanh, [RNG.uniform(-30, 30, N), RNG.uniform(-1, 1, N), RNG.uniform(-1e-9, 1e-9, 1000),
                       np.array([0.0, -0.0, jit_simd.TANH_SMALL, -jit_simd.TANH_SMALL, np.nextafter(jit_simd.TANH_SMALL, 0),
                                 20.0, -20.0, 19.0, 1e-300])]),
}  # fmt: skip
OUTSIDE = {
    "exp": [709.0, -709.0, 800.0, -800.0, math.inf, -math.inf, math.nan],
    "log": [0.0, -0.0, -1.0, 5e-324, 1e-310, math.inf, -math.inf, math.nan],
    "sin": [1e7, -1e7, 1e300, math.inf, math.nan, math.pi, math.pi / 2, 2 * math.pi],
    "cos": [1e7, 1e300, -math.inf, math.nan, math.pi, math.pi / 2],
    "tanh": [math.nan],
}


@pytest.fixture(scope="module")
def simd():
    return jit._load(jit._simd_module_name(), jit_simd.module_source())  # noqa: SLF001 - the module kernels import


def ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(got - want) / np.spacing(np.abs(want))


@needs_numba
@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_functions_are_within_two_ulp_on_their_domain(simd, name: str) -> None:
    fast, fits = getattr(simd, f"_fast_{name}"), getattr(simd, f"_fits_{name}")
    oracle, arrays = CASES[name]
    for x in arrays:
        got = np.array([fast(v) for v in x[:2000]] + list(_vector(simd, name, x[2000:])))
        inside = np.array([fits(v) for v in x])
        want = oracle(x)
        assert inside.mean() > 0.99, f"{name}: most of these arguments are in the fast domain"
        u = ulps(got[inside], want[inside])
        assert u.max() <= 2.0, f"{name}: {u.max()} ulp at {x[inside][np.argmax(u)]!r}"
        assert np.array_equal(np.signbit(got[inside]), np.signbit(want[inside]))  # sin(-0) = -0, tanh(-0) = -0


def _vector(simd, name: str, x: np.ndarray) -> np.ndarray:
    """The fast function over an array in a compiled loop (the way kernels call it: inlined, vectorized)."""
    from numba import njit

    fast = getattr(simd, f"_fast_{name}")
    loop = _LOOPS.get(name)
    if loop is None:

        @njit(nogil=True, error_model="numpy")
        def loop(a, out):  # pragma: no cover - compiled
            for i in range(a.shape[0]):
                out[i] = fast(a[i])

        _LOOPS[name] = loop
    out = np.empty_like(x)
    loop(x, out)
    return out


_LOOPS: dict[str, object] = {}


@needs_numba
@pytest.mark.parametrize("name", sorted(OUTSIDE))
def test_arguments_outside_the_fast_domain_are_refused(simd, name: str) -> None:
    fits = getattr(simd, f"_fits_{name}")
    assert not any(fits(v) for v in OUTSIDE[name])


@needs_numba
def test_rows_outside_the_fast_domains_give_the_numpy_paths_rows() -> None:
    """Special values go through libm: the compiled rows there are numpy's (same infs, nans and undefined flags)."""
    expr = gradcli.compile("exp(x) + log(y) + sin(x*y) + cos(y) + tanh(x)")
    assert jit.kernel(expr, "diff").fast is not None
    specials = [0.0, -1.0, 709.5, -800.0, 1e7, 1e300, math.inf, -math.inf, math.nan, 5e-324, math.pi]
    x = np.array([a for a in specials for _ in specials] + list(RNG.uniform(-3, 3, 500)))
    y = np.array([b for _ in specials for b in specials] + list(RNG.uniform(0.1, 3, 500)))
    n = len(x)
    chunk = stream.Chunk(list(range(1, n + 1)), {"x": x, "y": y}, [{} for _ in range(n)])
    want = stream.compute(expr, chunk, "diff", None)
    keys, values, undefined = jit.kernel(expr, "diff").rows({"x": x, "y": y}, n)
    np.testing.assert_array_equal(undefined, want.undefined)
    special = np.arange(n) < len(specials) ** 2
    for got, exp in zip(values, want.values):
        ok = special & ~want.undefined
        np.testing.assert_array_equal(np.isfinite(got[ok]), np.isfinite(exp[ok]))  # inf and nan where numpy has them
        np.testing.assert_allclose(got[ok], exp[ok], rtol=1e-15, atol=0)  # libm on both sides
        np.testing.assert_allclose(got[~special], exp[~special], rtol=1e-14, atol=1e-15)


@needs_numba
def test_fast_loop_only_where_it_has_something_to_vectorize() -> None:
    assert jit.kernel(gradcli.compile("x**2 + 2*x + 1"), "diff").fast is None  # the exact loop vectorizes already
    for source in ("sin(x) * y", "log(x) + y", "1/x + y"):  # a fast function, or a domain check (a branch otherwise)
        assert jit.kernel(gradcli.compile(source), "diff").fast is not None


def test_series_coefficients_are_the_functions_own() -> None:
    """The Taylor coefficients written into the kernels, against the math they come from (no numba needed)."""
    assert jit_simd._series_exp()[:3] == [0.5, 1 / 6, 1 / 24]  # noqa: SLF001
    tanh = jit_simd._series_tanh()  # noqa: SLF001 - tanh x = x - x³/3 + 2x⁵/15 - 17x⁷/315 + 62x⁹/2835 …
    assert tanh[:5] == [1.0, -1 / 3, 2 / 15, -17 / 315, 62 / 2835]
    p = jit_simd._pieces(jit_simd._PI / 2, 3, 33)  # noqa: SLF001 - π/2 in 33-bit pieces and the rest
    assert sum(p[:3]) == math.pi / 2 or abs(sum(p) - math.pi / 2) < 1e-16
    assert all(math.frexp(v)[0] * 2**33 == int(math.frexp(v)[0] * 2**33) for v in p[:3])


@needs_numba
def test_rows_redone_without_domain_checks_are_defined() -> None:
    """A program with fast functions but no domain check: its redone rows (huge sine arguments) are defined, as numpy's."""
    expr = gradcli.compile("sin(x) * y + tanh(y)")
    k = jit.kernel(expr, "diff")
    assert k.fast is not None and not k.checked
    x = np.array([1e7, 0.5, 1e300, 2.0] * 50)
    y = np.array([0.25, 1e7, -3.0, math.nan] * 50)
    n = len(x)
    chunk = stream.Chunk(list(range(1, n + 1)), {"x": x, "y": y}, [{} for _ in range(n)])
    want = stream.compute(expr, chunk, "diff", None)
    _, values, undefined = k.rows({"x": x, "y": y}, n)
    np.testing.assert_array_equal(undefined, want.undefined)
    for got, exp in zip(values, want.values):
        np.testing.assert_allclose(got, exp, rtol=1e-15, atol=0, equal_nan=True)
