"""--jit's main loop compiled by LLVM directly (tools/jit_llvm.py): the same text numba compiles, the same numbers.

Oracles: CPython itself, running the very statements the translator reads (our generated text, on floats,
nan, inf and -0 included), compared bit for bit; numba's compiled fast functions (the same IEEE operations in
the same order, so the same bits); gradcli's numpy batch path for whole programs (tests/test_jit.py's helper).
Skipped, saying why, when numba (and with it llvmlite) is not installed.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from test_jit import assert_same_rows
from test_jit_simd import CASES, _vector

import gradcli
from gradcli.tools import jit, jit_llvm, jit_simd

needs_numba = pytest.mark.skipif(not jit.available(), reason='numba is not installed (pip install "gradcli[jit]")')

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-300, -1e300, 1e308, math.inf, -math.inf, math.nan]


def native(params: list[str], body: list[str], after: list[str] = ()):  # type: ignore[assignment]
    text = jit_llvm.kernel_ir(params, body, after)
    return jit_llvm.load_object(jit_llvm.compile_object(text), len(params))


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a.view(np.int64), b.view(np.int64)) or np.array_equal(a, b, equal_nan=True))


@needs_numba
def test_statements_compute_what_python_computes() -> None:
    body = [
        "a = x * y - x / y + 2.0 * x",
        "b = -a if (x < y) | (x != x) else a + 1.0",
        "c = abs(x) + math.sqrt(abs(y))",
        "d = math.exp(x) if abs(x) < 700.0 else math.atan2(x, y)",
        "e = np.floor(x) + np.ceil(y) + np.rint(x * 0.5)",
        "f = math.inf if math.isnan(x) else (1.0 if math.isfinite(y) else -1.0)",
        "g = (x >= 0.5) & (y <= 3.0) | (x == y)",
        "q = _bits(x) >> 52",
        "h = _double(((q & 2047) + 1) << 52) if (q & 2047) < 2000 else 0.0",
        "r = x - 1.0 if not g else x + 1.0",
    ]
    outs = ["a", "b", "c", "d", "e", "f", "h", "r"]
    lines = ["x = col0[i]", "y = col1[i]", *body, *[f"out{k}[i] = {o}" for k, o in enumerate(outs)], "redo[i] = g"]
    params = ["col0", "col1", *[f"out{k}" for k in range(len(outs))], "redo"]
    fn = native(params, lines)
    xs, ys = np.meshgrid(SPECIAL, SPECIAL)
    x, y = xs.ravel().copy(), ys.ravel().copy()
    got = np.empty((len(outs), x.size))
    flag = np.zeros(x.size, dtype=np.bool_)
    with np.errstate(all="ignore"):
        fn(x, y, *got, flag)
    import struct

    env = {
        "math": math,
        "np": np,
        "abs": abs,
        "_bits": lambda v: struct.unpack("<q", struct.pack("<d", v))[0],
        "_double": lambda b: struct.unpack("<d", struct.pack("<q", b))[0],
    }
    for k in range(x.size):
        scope = dict(env, x=x[k], y=y[k])  # numpy's float64 scalars: IEEE arithmetic, 1/0 = inf, as compiled code
        with np.errstate(all="ignore"):
            for line in body:  # the test's own statements, not user text
                name, _, expr = line.partition(" = ")
                scope[name] = eval(expr, scope)  # noqa: S307
        for j, o in enumerate(outs):
            want = np.float64(scope[o])
            assert same_bits(np.array([got[j, k]]), np.array([want])), (o, x[k], y[k], got[j, k], want)
        assert bool(flag[k]) == bool(scope["g"])


@needs_numba
@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_functions_give_numbas_bits(name: str) -> None:
    simd = jit._load(jit._simd_module_name(), jit_simd.module_source())  # noqa: SLF001
    fn = native(["col0", "out0", "redo"], ["x = col0[i]", f"out0[i] = _fast_{name}(x)", f"redo[i] = not _fits_{name}(x)"])
    _oracle, arrays = CASES[name]
    for x in arrays:
        got, redo = np.empty_like(x), np.zeros(x.size, dtype=np.bool_)
        fn(x, got, redo)
        want = _vector(simd, name, x)
        fits = getattr(simd, f"_fits_{name}")
        assert same_bits(got, want)
        assert np.array_equal(~redo[:500], np.array([fits(v) for v in x[:500]]))


@needs_numba
def test_what_it_cannot_write_stays_numbas() -> None:
    with pytest.raises(jit_llvm.Unsupported):
        jit_llvm.kernel_ir(["col0", "out0", "bad"], ["x = col0[i]", "out0[i] = max(x, 1.0)"])
    with pytest.raises(jit_llvm.Unsupported):
        jit_llvm.kernel_ir(["col0", "out0", "bad"], ["x = col0[i]", "if x > 0:\n    x = 1.0", "out0[i] = x"])
    expr = gradcli.compile("max(x, y) + x*y")
    k = jit.kernel(expr, "diff")
    x = np.linspace(-2, 2, 41)
    assert_same_rows(expr, {"x": x, "y": x[::-1].copy()}, "diff")
    assert not k.native  # max() is numba's: Python's semantics with a nan, which this translator doesn't write


@needs_numba
@pytest.mark.parametrize("source", ["x**2 + 2*x + 1", "exp(-x*x)*cos(3*x) + tanh(x*y)", "log(x) + x*y - sin(y)"])
def test_native_kernels_give_the_numpy_rows(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    expr = gradcli.compile(source)
    k = jit.kernel(expr, "diff")
    assert k.native
    monkeypatch.setattr(jit, "SPLIT_FROM_S", 0.0)  # every big batch goes to threads (a streaming loop stays on one)
    rng = np.random.default_rng(3)
    n = 2 * jit.PARALLEL_FROM + 5  # split over threads
    x, y = rng.uniform(-3, 3, n), rng.uniform(-3, 3, n)
    x[:6] = [0.0, -1.0, math.inf, math.nan, 1e308, -0.0]  # log's domain, overflow and nan rows go to the exact loop
    columns = {"x": x, "y": y}
    assert_same_rows(expr, {v: columns[v] for v in expr.variables}, "diff")
    assert k.streams or k.row_seconds is not None  # timed on its first big batch, then split


@needs_numba
def test_a_cached_native_kernel_loads_without_numba(tmp_path: os.PathLike[str]) -> None:
    code = (
        "import sys\nimport numpy as np\nimport gradcli\nfrom gradcli.tools import jit\n"
        "k = jit.kernel(gradcli.compile('exp(-x^2)*cos(3*x) + y^3'), 'diff')\n"
        "out, bad = k.run({'x': np.linspace(-1, 1, 5), 'y': np.ones(5)})\n"
        "print(k.cached, k.native, 'numba' in sys.modules, round(float(out[0][2]), 12))\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env) for _ in range(2)]
    first, second = (r.stdout.split() for r in runs)
    assert first[:3] == ["False", "True", "False"] and second[:3] == ["True", "True", "False"]
    assert first[3] == second[3] == "2.0"  # x = 0: exp(0)·cos(0) + 1


@needs_numba
def test_a_loop_llvm_refuses_is_compiled_by_numba(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def refuse(*args: object) -> None:
        raise RuntimeError("LLVM ERROR: as if the translation were wrong")

    monkeypatch.setattr(jit_llvm, "cached_kernel", refuse)
    expr = gradcli.compile("x*exp(y) - y")
    k = jit.kernel(expr, "diff")
    assert not k.native
    x = np.linspace(-3, 3, 61)
    assert_same_rows(expr, {"x": x, "y": x[::-1].copy()}, "diff")


@needs_numba
def test_read_only_columns_are_read_all_the_same() -> None:
    expr = gradcli.compile("x*y + exp(x)")
    x = np.linspace(-1, 1, 50)
    y = np.linspace(2, 3, 50)
    x.setflags(write=False)  # numpy won't lend this memory writable: the address comes another way
    out, bad = jit.kernel(expr, "diff").run({"x": x, "y": y})
    np.testing.assert_allclose(out[0], x * y + np.exp(x), rtol=1e-15)
    assert not bad.any()


@needs_numba
def test_a_damaged_object_file_is_compiled_again(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    source = "x*y - exp(y)"
    first = jit.kernel(gradcli.compile(source), "diff")
    assert first.native
    objects = [os.path.join(jit.cache_dir(), f) for f in os.listdir(jit.cache_dir()) if f.endswith(".o")]
    assert objects
    for damage in (b"not an object file", open(objects[0], "rb").read()[:-100]):  # garbage, then a truncated file
        for path in objects:
            with open(path, "wb") as fh:
                fh.write(damage)
        monkeypatch.setattr(jit, "_KERNELS", {})
        expr = gradcli.compile(source)
        again = jit.kernel(expr, "diff")  # LLVM would crash the process on such a file: it is never loaded
        x = np.linspace(-2, 2, 41)
        assert_same_rows(expr, {"x": x, "y": x[::-1].copy()}, "diff")
        assert again.native and not again.cached
