"""--jit: the compiled batch loop gives the numpy path's rows (to rounding), nan rows and warnings included.

The oracle is gradcli's numpy batch path (batch/stream.compute), itself tested against finite
differences and SymPy elsewhere; here the two paths must agree on random elementwise programs,
kinks and points outside the domain. Skipped, saying why, when numba is not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import expressions
from typer.testing import CliRunner

import gradcli
from gradcli.batch import stream
from gradcli.cli.app import app
from gradcli.tools import jit

needs_numba = pytest.mark.skipif(not jit.available(), reason='numba is not installed (pip install "gradcli[jit]")')


def numpy_rows(expr: gradcli.Expression, columns: dict[str, np.ndarray], kind: str) -> stream.Results:
    n = len(next(iter(columns.values())))
    chunk = stream.Chunk(list(range(1, n + 1)), dict(columns), [{} for _ in range(n)])
    return stream.compute(expr, chunk, kind, None)


def assert_same_rows(expr: gradcli.Expression, columns: dict[str, np.ndarray], kind: str) -> None:
    want = numpy_rows(expr, columns, kind)
    keys, values, undefined = jit.kernel(expr, kind).rows(columns, len(next(iter(columns.values()))))
    assert [tuple(k) for k in keys] == [tuple(k) for k in want.keys]
    np.testing.assert_array_equal(undefined, want.undefined)
    ok = ~want.undefined  # undefined rows are blanked to nan by run_batch on either path
    for got, exp in zip(values, want.values):
        np.testing.assert_allclose(got[ok], exp[ok], rtol=1e-11, atol=1e-13, equal_nan=True)


@needs_numba
@settings(derandomize=True, max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(source=expressions(max_leaves=4, kinks=True, reductions=False), kind=st.sampled_from(["eval", "diff", "hessian"]))
def test_jit_matches_numpy_path_on_random_programs(source: str, kind: str) -> None:
    expr = gradcli.compile(source)
    if not expr.variables:
        source = f"{source} + 0*x"
        expr = gradcli.compile(source)
    if jit.supported(expr, kind) is not None:  # digamma's derivative (polygamma) has no compiled form yet
        assert "polygamma" in jit.supported(expr, kind) or "digamma" in jit.supported(expr, kind)
        return
    x = np.concatenate([np.linspace(-2, 2, 41), [0.0, 1.0, -1.0]])  # kinks sit at 0, ±1 and x = y
    columns = {"x": x, "y": x[::-1].copy()}
    assert_same_rows(expr, {v: columns[v] for v in expr.variables}, kind)


@needs_numba
def test_domain_errors_and_kinks_give_the_same_rows() -> None:
    expr = gradcli.compile("log(x) + sqrt(y) + abs(x - y) + where(x > 0, log(x), 0) + 1/y")
    g = np.linspace(-1, 1, 9)
    columns = {"x": np.repeat(g, 9), "y": np.tile(g, 9)}
    for kind in ("eval", "diff", "hessian", "jacobian"):
        assert_same_rows(expr, columns, kind)
    two = gradcli.compile("x*y, log(y)")
    assert_same_rows(two, columns, "jacobian")


@needs_numba
def test_cli_jit_on_writes_what_off_writes() -> None:
    runner = CliRunner()
    args = ["diff", "log(x) + x*abs(y) + max(x, y)", "--grid", "x=-1:2:31,y=-1:1:21"]
    on = runner.invoke(app, [*args, "--jit", "on"])
    off = runner.invoke(app, [*args, "--jit", "off"])
    assert on.exit_code == off.exit_code == 0
    # The same rows and blanks; numbers to rounding (the compiled log is within 2 ulp of numpy's: test_jit_simd.py).
    rows_on = [line.split(",") for line in on.stdout.splitlines()]
    rows_off = [line.split(",") for line in off.stdout.splitlines()]
    assert rows_on[0] == rows_off[0] and len(rows_on) == len(rows_off) == 31 * 21 + 1
    for a, b in zip(rows_on[1:], rows_off[1:]):
        assert [c == "" for c in a] == [c == "" for c in b]
        np.testing.assert_allclose([float(c) for c in a if c], [float(c) for c in b if c], rtol=1e-14, atol=1e-15)
    assert "undefined on 231 row(s)" in on.stderr and on.stderr == off.stderr
    r = runner.invoke(app, ["eval", "sum(x)", "--grid", "x=0:1:3", "--jit", "on"])
    assert r.exit_code == 2 and "mixes elements" in r.output
    r = runner.invoke(app, ["diff", "x^2", "--at", "x=[1,2]", "--jit", "on"])
    assert r.exit_code == 2 and "--jit on compiles --points and --grid batches" in r.output


def test_jit_on_without_numba_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jit, "available", lambda: False)
    r = CliRunner().invoke(app, ["diff", "x^2", "--grid", "x=0:1:5", "--jit", "on"])
    assert r.exit_code == 2 and "--jit on needs numba" in r.output
    r = CliRunner().invoke(app, ["diff", "x^2", "--grid", "x=0:1:5"])  # auto: the numpy path, silently
    assert r.exit_code == 0 and r.stdout.splitlines()[-1] == "1,1,2"


def test_small_batches_never_import_numba() -> None:
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom gradcli.cli.app import app\n"
        "r = CliRunner().invoke(app, ['diff', 'x^2 + y', '--grid', 'x=0:1:50,y=0:1:50'])\n"
        "assert r.exit_code == 0, r.output\nprint('numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@needs_numba
def test_kernel_is_cached_on_disk(tmp_path: os.PathLike[str]) -> None:
    code = (
        "import gradcli\nfrom gradcli.tools import jit\n"
        "k = jit.kernel(gradcli.compile('exp(-x^2)*cos(3*x) + y^3'), 'diff')\n"
        "print(k.cached, k.path)\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env) for _ in range(2)]
    (first, path1), (second, path2) = (r.stdout.split() for r in runs)
    assert (first, second) == ("False", "True") and path1 == path2 and path1.startswith(str(tmp_path))


@needs_numba
def test_auto_compiles_only_batches_that_repay_it(tmp_path, monkeypatch) -> None:
    """auto weighs rows × the saving per instruction against an import and a compile (or a load from the cache)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    long = gradcli.compile(" + ".join(f"sin({k}*x + y)/{k}" for k in range(1, 51)))
    short = gradcli.compile("x**2 + 2*x + 1")
    # E5's loop takes LLVM a second to compile and E1's 20 ms, but E5 saves 50 sin/cos and 200 temporaries a row
    assert jit.auto_threshold(long, "diff") < jit.auto_threshold(short, "diff")
    before = jit.auto_threshold(long, "diff")
    jit.kernel(long, "diff")
    assert jit.auto_threshold(long, "diff") < before / 5  # compiled once, it only loads (the floor: AUTO_CACHED)
    assert not jit.use_jit("auto", long, "diff", 10_000)
    assert jit.use_jit("auto", long, "diff", 10**9)
    assert not jit.use_jit("auto", gradcli.compile("sum(x)"), "diff", 10**9)  # can't compile: numpy, silently
    assert not jit.use_jit("off", long, "diff", 10**9)
    # sin and cos have vectorized forms in the fast loop (tools/jit_simd.py); sinh and cosh are libm either way.
    fast, slow = gradcli.compile("sin(x) * cos(y)"), gradcli.compile("sinh(x) * cosh(y)")
    assert jit.auto_threshold(fast, "diff") < jit.auto_threshold(slow, "diff")


@needs_numba
@pytest.mark.parametrize("source", ["x**2 + 2*x + 1", "abs(x - y) + x*y", "(x + y)**3 - x"])
def test_short_loops_stream_their_results_and_give_the_numpy_rows(source: str) -> None:
    expr = gradcli.compile(source)
    kernel = jit.kernel(expr, "diff")
    assert "_stream(" in open(kernel.path, encoding="utf-8").read()
    rng = np.random.default_rng(7)
    n = 2 * jit.PARALLEL_FROM + 3  # split over threads, each streaming its part, with an uneven end
    x, y = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)
    y[:5] = x[:5]  # kinks among them (abs at 0)
    columns = {"x": x, "y": y}
    assert_same_rows(expr, {v: columns[v] for v in expr.variables}, "diff")
    assert kernel.streams and kernel.row_seconds is None  # memory-bound: one core, never timed for a split


@needs_numba
def test_long_loops_keep_plain_stores_so_they_vectorize() -> None:
    source = " + ".join(f"{k}*x*y**{k}" for k in range(1, 9))
    kernel = jit.kernel(gradcli.compile(source), "diff")
    text = open(kernel.path, encoding="utf-8").read()
    assert "_stream(" not in text and "out0[i] =" in text


@needs_numba
def test_a_cached_kernel_loads_by_its_fingerprint_without_deriving_it_again(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    source = "sin(x)*y + sqrt(x*x + 1)"
    first = jit.kernel(gradcli.compile(source), "diff")
    monkeypatch.setattr(jit, "_KERNELS", {})  # as a new process: nothing in memory, the module on disk

    def derive(*args: object) -> None:
        raise AssertionError("a kernel in the index is not derived again")

    monkeypatch.setattr(jit, "_write_source", derive)
    expr = gradcli.compile(source)
    again = jit.kernel(expr, "diff")
    assert again.path == first.path and again.labels == first.labels and again.names == first.names
    x = np.linspace(-3, 3, 101)
    assert_same_rows(expr, {"x": x, "y": x[::-1].copy()}, "diff")
    assert jit.auto_threshold(expr, "diff") >= jit.AUTO_CACHED  # the cost model reads the index too


@needs_numba
def test_the_fingerprint_tells_apart_what_changes_the_kernel(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    two = gradcli.compile("x*y, x + y")
    prints = {
        jit._fingerprint(two, "diff", None),
        jit._fingerprint(two.output(0), "diff", None),  # same text, one output
        jit._fingerprint(two, "eval", None),
        jit._fingerprint(two, "diff", ["x"]),
        jit._fingerprint(gradcli.compile("x*y, x + 2*y"), "diff", None),
    }
    assert len(prints) == 5
    monkeypatch.setattr(jit, "_STAMP", ["another gradcli"])  # an upgrade: other code, other kernels
    assert jit._fingerprint(two, "diff", None) not in prints


@needs_numba
def test_an_index_entry_whose_module_is_gone_is_derived_again(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    source = "x**3 - y"
    k = jit.kernel(gradcli.compile(source), "diff")
    os.remove(k.path)
    monkeypatch.setattr(jit, "_KERNELS", {})
    for name in [m for m in sys.modules if m.startswith("gradcli_jit_") and "simd" not in m]:
        monkeypatch.delitem(sys.modules, name)
    again = jit.kernel(gradcli.compile(source), "diff")
    assert os.path.exists(again.path)


def test_pooled_results_come_back_for_the_next_batch_only_when_let_go() -> None:
    from gradcli.tools import jit_pool

    a = jit_pool.empty((3, 100_000))
    a[:] = 7.0
    row = a[2]
    address = a.__array_interface__["data"][0]
    del a
    b = jit_pool.empty((3, 100_000))
    assert b.__array_interface__["data"][0] != address  # a row of the first is still in use
    assert row[0] == 7.0
    del row
    c = jit_pool.empty((3, 100_000))
    assert c.__array_interface__["data"][0] == address and c.shape == (3, 100_000) and c.dtype == np.float64
    flags = jit_pool.empty((2_000_000,), np.bool_)
    assert flags.dtype == np.bool_ and flags.shape == (2_000_000,) and flags.flags["C_CONTIGUOUS"]
    assert jit_pool.empty((10,)).base is None  # small: plain numpy memory
    del b, c
