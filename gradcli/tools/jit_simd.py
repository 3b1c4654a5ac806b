"""exp, log, sin, cos and tanh that a compiled loop can vectorize: the fast half of a --jit kernel.

numba's PyPI build has no SVML, so a loop that calls `math.sin` calls scalar libm once per element
and LLVM can't vectorize it: on transcendental-heavy programs the loop then wins only by fusing. The
functions written here use only arithmetic, comparisons, selects and bit casts, so the loop around
them becomes AVX2 code, four elements at a time. Each works on a *fast domain* (finite arguments of
moderate size, no subnormal results) where it is within about one ulp of libm; `guard` says whether an
argument lies in it. An element outside it anywhere in the program is recomputed by the exact kernel
(libm, the same code as `export`), so the fast path never decides a row's special cases: inf, nan,
overflow, a huge sine argument and every domain check go through libm.

The method is the textbook one: range reduction (x = n·ln 2 + r; x = n·π/2 + r with π/2 in three
33-bit pieces, Cody and Waite; x = 2^k·m with m in [√½, √2) from the exponent bits), then a
polynomial on the reduced argument. The coefficients are Taylor coefficients computed exactly here
(Fractions) and truncated where the next term is below 2⁻⁵⁶ of the result on the whole reduced range.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache

MAGIC = 6755399441055744.0  # 1.5·2⁵²: y + MAGIC rounds y to the nearest integer, which the low bits then hold
MAGIC_BITS = 0x4338000000000000
TRIG_LIMIT = 1e6  # |x| up to here: three 33-bit pieces of π/2 keep n·piece exact (n < 2²⁰)
TRIG_NEAR_ZERO = 1e-9  # a reduced argument this small near n·π/2 (n ≠ 0) goes to libm: cancellation
TANH_SMALL = 0.55  # below: tanh's own odd series (19 terms); above: 1 - 2/(e^{2|x|} + 1)

# Digits of π (a fact, to 70 places) for the reduction constants.
_PI = Fraction("3.1415926535897932384626433832795028841971693993751058209749445923078164")


def _pieces(value: Fraction, count: int, bits: int) -> list[float]:
    """value as `count` floats of `bits` significant bits each, then the rest rounded: their sum is value."""
    out: list[float] = []
    rest = value
    for _ in range(count):
        exponent = math.frexp(float(rest))[1]
        scale = Fraction(2) ** (bits - exponent)
        piece = Fraction(round(rest * scale)) / scale
        out.append(float(piece))
        rest -= piece
    out.append(float(rest))
    return out


def _series_exp() -> list[float]:
    """1/k! for k = 2 … 13: e^r = 1 + r + r²·Σ r^(k-2)/k!, |r| ≤ ln2/2 (the term 14 is below 2⁻⁵⁶)."""
    return [1.0 / math.factorial(k) for k in range(2, 14)]


def _series_log() -> list[float]:
    """2/(2j+1), j = 1 … 11: log(1+f) = 2·atanh(s), s = f/(2+f), |s| ≤ 0.1716 (s² ≤ 0.0295)."""
    return [2.0 / (2 * j + 1) for j in range(1, 12)]


def _series_sin() -> list[float]:
    """(-1)^j/(2j+1)!, j = 1 … 8: sin r = r + r³·Σ …, |r| ≤ π/4."""
    return [(-1) ** j / math.factorial(2 * j + 1) for j in range(1, 9)]


def _series_cos() -> list[float]:
    """(-1)^j/(2j)!, j = 2 … 8: cos r = 1 - r²/2 + r⁴·Σ …, |r| ≤ π/4."""
    return [(-1) ** j / math.factorial(2 * j) for j in range(2, 9)]


def _series_tanh(terms: int = 19) -> list[float]:
    """tanh's odd Taylor coefficients a₁, a₃, …: from tanh' = 1 - tanh², exactly (converges for |x| < π/2)."""
    n = 2 * terms
    a = [Fraction(0)] * (n + 2)
    a[1] = Fraction(1)
    for k in range(1, n):
        a[k + 1] = -sum(a[i] * a[k - i] for i in range(k + 1)) / (k + 1)
    return [float(a[j]) for j in range(1, n, 2)]


def _horner(var: str, coefficients: list[float]) -> str:
    """c₀ + var·(c₁ + var·(…)) as one expression."""
    text = repr(coefficients[-1])
    for c in reversed(coefficients[:-1]):
        text = f"{c!r} + {var} * ({text})"
    return text


FUNCTIONS = ("exp", "log", "sin", "cos", "tanh")  # numpy's names: these have fast forms


@cache
def module_source() -> str:
    """The numba module of every fast function, written once to the --jit cache; kernels import from it."""
    p1, p2, p3, p3t = _pieces(_PI / 2, 3, 33)
    trig = _TRIG.format(
        MAGIC=MAGIC, MAGIC_BITS=MAGIC_BITS, P1=p1, P2=p2, P3=p3, P3T=p3t, TWO_OVER_PI=float(2 / _PI),
        LIMIT=TRIG_LIMIT, NEAR=TRIG_NEAR_ZERO, SIN=_horner("z", _series_sin()), COS=_horner("z", _series_cos()),
    )  # fmt: skip
    parts = [
        _HEADER,
        _BITCASTS,
        _EXP.format(MAGIC=MAGIC, MAGIC_BITS=MAGIC_BITS, POLY=_horner("r", _series_exp())),
        _LOG.format(MAGIC=MAGIC, MAGIC_BITS=MAGIC_BITS, POLY=_horner("z", _series_log())),
        trig,
        _TANH.format(SMALL=TANH_SMALL, POLY=_horner("z", _series_tanh())),
    ]
    return "\n\n\n".join(p.strip("\n") for p in parts) + "\n"


def call(name: str) -> str:
    """The format string of a fast call, in export's template syntax."""
    return f"_fast_{name}({{0}})"


def guard(name: str) -> str:
    """The format string of the fast domain's test (False for nan)."""
    return f"_fits_{name}({{0}})"


# ln 2 = LN2_HI + LN2_LO with LN2_HI's low 21 bits zero, so n·LN2_HI is exact for |n| < 2¹¹ (fdlibm's split).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10

_HEADER = """
# gradcli --jit: exp, log, sin, cos and tanh in arithmetic a loop vectorizes (generated by gradcli/tools/jit_simd.py)
import math

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic
"""

_BITCASTS = """
@intrinsic
def _bits(typingctx, x):
    \"\"\"A double's 64 bits as an integer (no conversion): exponent and mantissa arithmetic.\"\"\"
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _double(typingctx, b):
    \"\"\"64 bits as the double they encode.\"\"\"
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _stream(typingctx, a, i, v):
    \"\"\"a[i] = v as a streaming store: it goes to memory without first reading the line into the cache.\"\"\"
    def codegen(context, builder, signature, args):
        array, index, value = args
        data = context.make_array(signature.args[0])(context, builder, array).data
        store = builder.store(value, builder.gep(data, [index], inbounds=True))
        store.set_metadata("nontemporal", builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)]))
        return context.get_dummy_value()
    return types.void(a, i, v), codegen


@intrinsic
def _fence(typingctx):
    \"\"\"A full fence: streaming stores are weakly ordered, and another thread reads these results next.\"\"\"
    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()
    return types.void(), codegen
"""

_EXP = (
    """
@njit(cache=True, nogil=True, error_model='numpy')
def _fits_exp(x):
    return abs(x) <= 708.0


@njit(cache=True, nogil=True, error_model='numpy')
def _fast_exp(x):
    t = x * 1.4426950408889634 + {MAGIC!r}
    n = t - {MAGIC!r}
    r = (x - n * LN2_HI) - n * LN2_LO
    p = 1.0 + (r + r * r * ({POLY}))
    return p * _double((_bits(t) - {MAGIC_BITS} + 1023) << 52)
""".replace("LN2_HI", repr(_LN2_HI)).replace("LN2_LO", repr(_LN2_LO))
)

_LOG = (
    """
@njit(cache=True, nogil=True, error_model='numpy')
def _fits_log(x):
    return (x >= 2.2250738585072014e-308) & (x <= 1.7976931348623157e308)


@njit(cache=True, nogil=True, error_model='numpy')
def _fast_log(x):
    b = _bits(x)
    k = (b - 0x3FE6A09E667F3BCD) >> 52
    f = _double(b - (k << 52)) - 1.0
    s = f / (2.0 + f)
    z = s * s
    r = z * ({POLY})
    hfsq = 0.5 * f * f
    dk = _double(k + {MAGIC_BITS}) - {MAGIC!r}
    return dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f)
""".replace("LN2_HI", repr(_LN2_HI)).replace("LN2_LO", repr(_LN2_LO))
)

_TRIG = """
@njit(cache=True, nogil=True, error_model='numpy')
def _quadrant(x):
    t = x * {TWO_OVER_PI!r} + {MAGIC!r}
    n = t - {MAGIC!r}
    r = ((x - n * {P1!r}) - n * {P2!r}) - n * {P3!r}
    return r - n * {P3T!r}, _bits(t) - {MAGIC_BITS}


@njit(cache=True, nogil=True, error_model='numpy')
def _fits_trig(x):
    r, q = _quadrant(x)
    return (abs(x) <= {LIMIT!r}) & ((q == 0) | (abs(r) > {NEAR!r}))


@njit(cache=True, nogil=True, error_model='numpy')
def _sin_cos(r, q):
    z = r * r
    s = r if z == 0.0 else r + r * z * ({SIN})  # sin(-0) = -0
    c = 1.0 - 0.5 * z + z * z * ({COS})
    v = c if (q & 1) == 1 else s
    return -v if (q & 2) == 2 else v


@njit(cache=True, nogil=True, error_model='numpy')
def _fits_sin(x):
    return _fits_trig(x)


@njit(cache=True, nogil=True, error_model='numpy')
def _fits_cos(x):
    return _fits_trig(x)


@njit(cache=True, nogil=True, error_model='numpy')
def _fast_sin(x):
    r, q = _quadrant(x)
    return _sin_cos(r, q)


@njit(cache=True, nogil=True, error_model='numpy')
def _fast_cos(x):
    r, q = _quadrant(x)
    return _sin_cos(r, q + 1)


@njit(cache=True, nogil=True, error_model='numpy', inline='always')  # too big for LLVM to inline by itself
def _fast_sincos(x):
    r, q = _quadrant(x)  # one reduction for both: a gradient needs cos wherever the value has sin
    return _sin_cos(r, q), _sin_cos(r, q + 1)


@njit(cache=True, nogil=True, error_model='numpy')
def _fits_sincos(x):
    return _fits_trig(x)
"""

_TANH = """
@njit(cache=True, nogil=True, error_model='numpy')
def _fits_tanh(x):
    return x == x


@njit(cache=True, nogil=True, error_model='numpy', inline='always')  # too big for LLVM to inline by itself
def _fast_tanh(x):
    a = abs(x)
    z = x * x
    small = x * ({POLY})
    big = 1.0 - 2.0 / (_fast_exp(2.0 * (a if a < 20.0 else 20.0)) + 1.0)
    big = big if x >= 0.0 else -big
    return small if a < {SMALL!r} else big
"""
