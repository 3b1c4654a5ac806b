"""`--jit`: a batch of an elementwise program as one fused loop, compiled and run on every core.

The loop body is export's straight-line code (lang "numba": scalar math, domain checks as nan plus
a flag), so the kernel computes exactly what the numpy path computes, element by element, with
no array temporaries. The generated module is written to the cache directory under a name that
hashes its source (which the tape determines), and numba's `cache=True` keeps the machine code
next to it: a program compiled once loads from disk in later runs.

Where the program calls exp, log, sin, cos or tanh, or has a domain check, the module holds a second,
*fast* loop (export's "simd" body, tools/jit_simd.py): branch-free, with those functions written in
arithmetic LLVM vectorizes, and a guard per call. It runs first; the rows it flags (an argument outside a
fast function's domain, a domain check that fires, a nan) are computed again by the exact loop, which is
compiled only when a batch first has such a row. So every special case still goes through libm.

The loop that runs first (the fast one, or the exact one of a program without checks) is compiled by LLVM
directly where tools/jit_llvm.py can translate it, which is nearly always: no numba front end, no numba
import. numba compiles the rest: the exact loop, and a main loop the translator refuses.

The extra is optional (`pip install "gradcli[jit]"`: numba, and llvmlite with it): nothing here imports
either until a kernel is asked for, and `available()` only looks for numba.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..api import Expression
from ..cachefiles import cache_root, write_whole
from ..engine import evaluate
from ..engine.primitives import mixes_elements
from ..errors import UsageError
from . import export, jit_llvm, jit_pool, jit_simd

# `--jit auto`'s cost model, from `python benchmarks/run.py --only batch` on this project's 2-core machine (see
# benchmarks/README.md): against gradcli's numpy path at 10⁶ rows, the fused loop saved 1 ns a row on E1 (memory-bound:
# a temporary fewer for each cheap instruction, +, *, x², … is worth well under a nanosecond), 19 ns on E4, 49 on E3,
# 74 on E2 and 1.9 µs on E5, nearly all of it from exp/log/sin/cos/tanh, which the fast loop computes in a few
# vectorized nanoseconds where numpy takes 6–15 and a temporary: about FAST_SAVE_NS each and SAVE_NS per cheap
# instruction. Other transcendental functions save about nothing (libm per element either way). It costs an import
# plus a first compile, or a load from the disk cache.
SAVE_NS = 0.5
FAST_SAVE_NS = 15.0
# A main loop LLVM compiles directly (tools/jit_llvm.py): llvmlite's import and the target, then about 1.6 ms a line
# (E1's 10 lines 20 ms, E3's 33 60 ms, E5's 604 0.99 s); a cached object file loads in a few milliseconds.
NATIVE_IMPORT_S = 0.05
NATIVE_BASE_S = 0.01
NATIVE_PER_LINE_S = 0.0016
NATIVE_LOAD_S = 0.005
# A loop numba compiles (one the translator can't write): numba's import and initialisation, and a first compile that
# grows with the loop: 0.24 s for E1's 10 lines, 0.44 s for E2's 22, 0.69 s for E3's 33, 7.0 s for E5's 604.
IMPORT_S = 0.6
COMPILE_BASE_S = 0.15
COMPILE_PER_LINE_S = 0.011
LOAD_S = 0.05
AUTO_CACHED = 100_000  # never fewer rows than this, whatever the model says

STREAM_LINES = 24  # a main loop of up to this many lines streams its stores (see _source)
PARALLEL_FROM = 32_768  # elements: below, handing parts to threads costs more than it saves
SPLIT_FROM_S = 0.001  # a batch that takes a core less than this runs on one (see _split)

_KERNELS: dict[str, Kernel] = {}


class JitUnavailable(UsageError):
    """--jit on without numba installed (exit 2)."""


def available() -> bool:
    """numba is installed (found, not imported)."""
    return importlib.util.find_spec("numba") is not None


def cache_dir() -> str:
    return os.path.join(cache_root(), "jit")


@dataclass
class Kernel:
    """A compiled loop: `run(columns)` → (K, n) results and the undefined rows; `labels` name the K rows."""

    main: Any  # the loop every row goes through first (LLVM's or numba's), run without the GIL: threads take slices
    names: tuple[str, ...]  # the program's variables: the kernel's input columns, in order
    labels: list[tuple[Any, ...]]  # ("value", k), ("grad", k, v), ("hess", k, a, b), as batch/stream.py keys
    keep: list[int]  # which of the generated roots are written (a Hessian batch skips the gradient)
    n_values: int  # leading rows that are the outputs' values (a nan there makes a flagged row undefined)
    path: str  # the numba module: the exact loop, for rows the main loop leaves to libm
    compile_seconds: float = 0.0
    cached: bool = False
    redo: bool = False  # the main loop is the fast one: it flags rows for the exact loop (`redo`), not undefined rows
    checked: bool = True  # the exact loop writes `bad` (the program has domain checks)
    native: bool = False  # the main loop is compiled by LLVM directly (tools/jit_llvm.py), not by numba
    row_seconds: float | None = None  # the main loop's time per row on one core, measured on its first big batch
    streams: bool = False  # a short memory-bound loop that streams its results: it runs on one core
    _exact: Any = None

    @property
    def fast(self) -> Any:
        """The vectorized loop, where the program has one."""
        return self.main if self.redo else None

    @property
    def fn(self) -> Any:
        """The exact loop (numba's, libm for every function): imported and compiled when first needed."""
        if self._exact is None:
            if self.native or self.redo:
                _load(_simd_module_name(), jit_simd.module_source())
            name = os.path.splitext(os.path.basename(self.path))[0]
            self._exact = _load(name, None).kernel
        return self._exact

    def run(self, columns: Mapping[str, np.ndarray], n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(K, n) results and the undefined rows; n is needed only for a program without variables."""
        if n is None:
            n = len(next(iter(columns.values()))) if columns else 1
        ins = [np.ascontiguousarray(columns[v], dtype=np.float64) for v in self.names]
        out = jit_pool.empty((len(self.keep), n))  # memory of an earlier batch's results, where the caller let it go
        # A loop with flags writes every row's; a program without domain checks has none (zeros, never written).
        if self.redo or self.checked:
            flags = jit_pool.empty((n,), np.bool_)
        else:  # never written: shared zeros for the LLVM loop (numba would compile again for a read-only array)
            flags = _no_flags(n) if self.native else np.zeros(n, dtype=np.bool_)
        _split(self, self.main, ins, out, flags, n)
        if not self.redo or not flags.any():
            return out, flags  # no row left to libm: the flags are all False, as `bad` is
        again = np.flatnonzero(flags)  # rows the fast loop left to libm: special values, domain checks
        sub_out = np.empty((len(self.keep), again.size))
        sub_bad = np.empty(again.size, dtype=np.bool_) if self.checked else np.zeros(again.size, dtype=np.bool_)
        self.fn(*[c[again] for c in ins], *sub_out, sub_bad)
        out[:, again] = sub_out
        bad = np.zeros(n, dtype=np.bool_)
        bad[again] = sub_bad
        return out, bad

    def rows(self, columns: Mapping[str, np.ndarray], n: int) -> tuple[list[tuple[Any, ...]], list[np.ndarray], np.ndarray]:
        """A chunk's result columns as batch/stream.py lays them out: (keys, one array per key, undefined rows)."""
        out, bad = self.run(columns, n)
        return list(self.labels), list(out), bad


_ZEROS: list[np.ndarray] = [np.zeros(0, dtype=np.bool_)]


def _no_flags(n: int) -> np.ndarray:
    """n False flags, read-only, for a loop that writes none: one shared array (a fresh 1 MB np.zeros costs a
    memory-bound batch of 10⁶ rows about a tenth of its time)."""
    if _ZEROS[0].size < n:
        z = np.zeros(n, dtype=np.bool_)
        z.setflags(write=False)
        _ZEROS[0] = z
    return _ZEROS[0][:n]


def _split(kernel: Kernel, fn: Any, ins: list[np.ndarray], out: np.ndarray, flags: np.ndarray, n: int) -> None:
    """One loop over all rows, or parts of them on every core where the work repays handing it to threads.

    Waking a worker thread costs about 0.1 ms here, and a memory-bound loop (E1) gains little from a second
    core, so the kernel measures its own speed on its first big batch (the first PARALLEL_FROM rows, on this
    thread) and later splits only a batch whose rows would take SPLIT_FROM_S or more on one core."""
    workers = min(os.cpu_count() or 1, 8)
    if n < PARALLEL_FROM or workers == 1:
        fn(*ins, *out, flags)
        return

    def part(a: int, b: int) -> tuple[np.ndarray, ...]:
        return (*[c[a:b] for c in ins], *[o[a:b] for o in out], flags[a:b])

    if kernel.streams:  # memory-bound: a second core adds little bandwidth here, and waking it costs 0.1 ms
        fn(*ins, *out, flags)
        return
    start = 0
    if kernel.row_seconds is None:
        t0 = time.perf_counter()
        fn(*part(0, PARALLEL_FROM))
        kernel.row_seconds = (time.perf_counter() - t0) / PARALLEL_FROM
        start = PARALLEL_FROM
    if (n - start) * kernel.row_seconds < SPLIT_FROM_S:
        fn(*part(start, n))
        return
    bounds = [start + (n - start) * k // workers for k in range(workers + 1)]
    spans = list(zip(bounds[:-1], bounds[1:]))
    parts = [_pool(workers).submit(fn, *part(a, b)) for a, b in spans[1:]]
    fn(*part(*spans[0]))  # this thread takes the first part itself
    for p in parts:
        p.result()


_EXPORT_KINDS = {"eval": "value", "diff": "jacobian", "jacobian": "jacobian", "hessian": "hessian"}


def batch_kind(kind: str) -> str:
    """The export kind a batch command needs: eval → values; diff and jacobian → every output's gradient."""
    return _EXPORT_KINDS[kind]


def supported(expr: Expression, kind: str) -> str | None:
    """Why this batch can't be compiled (None: it can)."""
    if kind not in _EXPORT_KINDS:
        return f"--order {kind[1:]} batches (they run by Taylor series on the numpy path)"
    if mixes_elements(expr.tape.ops, expr.tape.params):
        return "the program mixes elements (a sum, a product of matrices or a vector literal)"
    if kind == "hessian" and len(expr.output_names) != 1:
        return "a Hessian batch of several outputs"
    try:
        _source(expr, kind, None)
    except export.ExportError as exc:
        return str(exc)
    return None


def _source(expr: Expression, kind: str, wrt: Sequence[str] | None) -> tuple[str, export.Built, list[int], str | None]:
    """The numba module's text and the main loop's LLVM IR (None: numba compiles it), written once per program:
    supported(), the cost model and kernel() all need them."""
    return expr.derived(("jit-source", kind, tuple(wrt) if wrt else None), lambda: _write_source(expr, kind, wrt))


def _write_source(expr: Expression, kind: str, wrt: Sequence[str] | None) -> tuple[str, export.Built, list[int], str | None]:
    built = export.build(expr, batch_kind(kind), wrt)
    m, n = len(built.outputs), len(built.wrt)
    keep = list(range(len(built.roots)))
    if kind == "hessian":
        keep = [0] + list(range(1 + n, 1 + n + n * n))
    args = export.param_names(built.names, "numba")
    lines = export.straight_line(built, "numba", args)
    cols = [f"col{k}" for k in range(len(args))]
    ind = " " * 8
    body = [f"{a} = {c}[i]" for a, c in zip(args, cols)]
    if lines.checked:
        body.append("undefined = False")
    body += lines.body
    outs = [f"out{j}" for j in range(len(keep))]  # one 1-D array per result row: LLVM vectorizes those stores, not out[j, i]
    fast = _fast_loop(built, args, cols, keep)
    # A short loop that is the main one streams its results to memory: it is memory-bound, and a streaming store
    # skips reading each output line into the cache first (E1: 0.5 ms for 10⁶ rows, against 0.8). Such stores
    # don't vectorize, which costs more than it saves from about 25 lines on (benchmarks/README.md).
    stream = fast is None and len(body) + len(keep) <= STREAM_LINES
    results = [lines.results[r] for r in keep]
    if stream:
        body += [f"_stream({o}, i, {r})" for o, r in zip(outs, results)]
    else:
        body += [f"{o}[i] = {r}" for o, r in zip(outs, results)]
    if lines.checked:
        nans = " or ".join(f"math.isnan({results[j] if stream else f'out{j}[i]'})" for j in range(m))
        body.append(f"bad[i] = undefined and ({nans})")
    header = [f"# gradcli --jit kernel ({kind}) of: {export.printable(expr.text)}", "import math", "", "import numpy as np"]
    loop = [
        "@njit(cache=True, nogil=True, error_model='numpy')",
        f"def kernel({', '.join([*cols, *outs, 'bad'])}):",
        "    for i in range(bad.shape[0]):",
        *[ind + s for s in body],
        *(["    _fence()"] if stream else []),
    ]
    text = [*header, "from numba import njit"]
    helpers = ["_fence", "_stream"] if stream else []
    if fast is not None:
        loop += ["", "", *fast]
        helpers = sorted(set(_HELPER.findall("\n".join(fast))))
    if helpers:
        text.append(f"from {_simd_module_name()} import {', '.join(helpers)}")
    if fast is not None:  # the main loop: the fast one, or the exact one where the program has none
        main_params, main_body, after = [*cols, *outs, "redo"], [line[len(ind) :] for line in fast[3:]], []
    else:
        main_params, main_body, after = [*cols, *outs, "bad"], body, ["_fence()"] if stream else []
    try:
        main_ir = jit_llvm.kernel_ir(main_params, main_body, after)
    except jit_llvm.Unsupported:
        main_ir = None
    return "\n".join([*text, "", "", *loop]) + "\n", built, keep, main_ir


def _simd_module_name() -> str:
    """The fast functions' module: its name carries a hash of its source, so kernels built on older ones aren't reused."""
    return "gradcli_jit_simd_" + hashlib.sha256(jit_simd.module_source().encode("utf-8")).hexdigest()[:16]


def _write_module(name: str, source: str) -> str:
    """The path of module `name` in the cache folder, written there if it isn't yet (once: numba's cache is keyed by the
    file's path and time)."""
    path = os.path.join(cache_dir(), f"{name}.py")
    if not os.path.exists(path) and not write_whole(path, source.encode("utf-8")):
        raise OSError(f"can't write {path}: the --jit cache folder is read-only")
    return path


def _load(name: str, source: str | None) -> Any:
    """The module `name` from its file in the cache folder (None: the file is there already)."""
    if name in sys.modules:
        return sys.modules[name]
    path = os.path.join(cache_dir(), f"{name}.py") if source is None else _write_module(name, source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # numba's cache finds the module again by its name; the kernels import it by it
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, False  # our own cache folder: keep its bytecode too
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = saved
    return module


_FAST_CALL = re.compile(r"_fast_(\w+)\(")
_HELPER = re.compile(r"\b(_f(?:ast|its)_\w+)\(")


def _calls(body: list[str]) -> set[str]:
    """The fast functions a body calls."""
    return {m.group(1) for line in body for m in _FAST_CALL.finditer(line)}


def _fast_loop(built: export.Built, args: list[str], cols: list[str], keep: list[int]) -> list[str] | None:
    """The branch-free loop (export's "simd" body); None: it would gain nothing."""
    lines = export.straight_line(built, "simd", args)
    used = _calls(lines.body)
    if not used and not lines.checked:
        return None
    body = [f"{a} = {c}[i]" for a, c in zip(args, cols)] + ["fine = True"]
    for line in _pair_sin_cos(lines.body):
        body.append(line)
        for name, arg in _call_arguments(line):
            body.append(f"fine &= _fits_{name}({arg})")
    outs = [f"out{j}" for j in range(len(keep))]
    body += [f"{o}[i] = {lines.results[r]}" for o, r in zip(outs, keep)]
    body.append("redo[i] = not fine")
    ind = " " * 8
    loop = [
        "@njit(cache=True, nogil=True, error_model='numpy')",
        f"def kernel_fast({', '.join([*cols, *outs, 'redo'])}):",
        "    for i in range(redo.shape[0]):",  # over a whole array, not range(start, stop): numba then knows i ≥ 0
        *[ind + s for s in body],
    ]
    return loop


def _pair_sin_cos(body: list[str]) -> list[str]:
    """sin(a) and cos(a) of one argument from one call (a gradient of sin needs cos): half the code to compile."""
    calls = [(name, arg) for line in body for name, arg in _call_arguments(line)]
    both = {arg for name, arg in calls if name == "sin"} & {arg for name, arg in calls if name == "cos"}
    if not both:
        return body
    out: list[str] = []
    done: dict[str, int] = {}
    for line in body:
        for name, arg in _call_arguments(line):
            if arg in both and name in ("sin", "cos"):
                if arg not in done:
                    done[arg] = k = len(done)
                    out.append(f"_sin{k}, _cos{k} = _fast_sincos({arg})")
                line = line.replace(f"_fast_{name}({arg})", f"_{name}{done[arg]}")
        out.append(line)
    return out


def _call_arguments(line: str) -> list[tuple[str, str]]:
    """(function, argument text) of each fast call in a generated line: the text is ours (names, numbers, operators)."""
    found = []
    for m in _FAST_CALL.finditer(line):
        depth, j = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(line[j], 0)
            j += 1
        found.append((m.group(1), line[m.end() : j - 1]))
    return found


def kernel(expr: Expression, kind: str, wrt: Sequence[str] | None = None) -> Kernel:
    """The compiled kernel of this program and batch kind: from memory, the disk cache, or compiled now.

    A kernel compiled once is found again by a fingerprint of the program's tape (the index in the cache
    folder), so a later run loads it without deriving the gradient or writing the loop again."""
    if not available():
        raise JitUnavailable('--jit on needs numba: pip install "gradcli[jit]" (or --jit off)')
    fp = _fingerprint(expr, kind, wrt)
    found = _KERNELS.get(fp)
    if found is not None:
        return found
    t0 = time.perf_counter()
    meta = _indexed(fp)
    source = None
    main = None
    if meta is not None and meta["native"] is not None:  # from the index: the object file is there
        data = jit_llvm.read_object(os.path.join(cache_dir(), meta["native"]))
        if data is None:
            meta = None  # damaged: derive and compile it again
        else:
            main = jit_llvm.load_object(data, len(meta["names"]) + len(meta["keep"]) + 1)
    if meta is None:
        why = supported(expr, kind)
        if why is not None:
            raise UsageError(f"--jit on can't compile this batch: {why}")
        source, meta = _described(expr, kind, wrt)
    name = meta["module"]
    folder = cache_dir()
    pycache = os.path.join(folder, "__pycache__")
    cached = os.path.isdir(pycache) and any(f.startswith(f"{name}.") and f.endswith(".nbi") for f in os.listdir(pycache))
    path = os.path.join(folder, f"{name}.py")
    keep = meta["keep"]
    n_arrays = len(meta["names"]) + len(keep) + 1
    if main is not None:
        cached = True
    elif meta["native"] is not None and source is not None:
        _write_module(name, source)  # numba's module, for rows the main loop leaves to the exact one
        try:
            main, cached = jit_llvm.cached_kernel(folder, meta["ir"], n_arrays)
        except Exception:  # noqa: BLE001 - LLVM refused the IR, or an llvmlite older than its new pass manager
            meta = {**meta, "native": None}  # (before 0.44): numba compiles the loop instead
    if main is None:
        if meta["simd"]:
            _load(_simd_module_name(), jit_simd.module_source())
        module = _load(name, source)
        main = getattr(module, "kernel_fast", None) or module.kernel
        # The first call compiles (or loads the cached machine code): do it now, on one element, so it is timed here.
        # With a fast loop, the exact one compiles when a batch first has a row for it.
        main(*[np.ones(1) for _ in meta["names"]], *np.empty((len(keep), 1)), np.zeros(1, dtype=np.bool_))
    labels = [tuple(lab) for lab in meta["labels"]]
    k = Kernel(main, tuple(meta["names"]), labels, keep, meta["n_values"], path, time.perf_counter() - t0, cached,
               meta["redo"], meta["checked"], meta["native"] is not None, streams=meta["streams"])  # fmt: skip
    if source is not None:
        _write_index(fp, {key: v for key, v in meta.items() if key != "ir"})
    _KERNELS[fp] = k
    return k


def _described(expr: Expression, kind: str, wrt: Sequence[str] | None) -> tuple[str, dict[str, Any]]:
    """The kernel module's source and what a later run needs to use it without the source (the index entry)."""
    source, built, keep, main_ir = _source(expr, kind, wrt)
    ops = [op for op in export.referenced_ops(built) if op not in ("var", "const")]
    loop = source.split("def kernel_fast(")[-1] if "def kernel_fast(" in source else source.split("def kernel(")[-1]
    meta = {
        "module": "gradcli_jit_" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:24],
        "names": list(built.names),
        "labels": _stream_labels([built.labels[r] for r in keep]),
        "keep": keep,
        "n_values": len(built.outputs),
        "checked": "bad[i] =" in source,
        "simd": _simd_module_name() in source,
        "redo": "def kernel_fast(" in source,
        "streams": "_stream(" in source,
        "native": None if main_ir is None else jit_llvm.object_name(main_ir),
        "ir": main_ir,
        "cheap": sum(op not in evaluate._EXPENSIVE for op in ops),  # noqa: SLF001 - the list of costly kernels
        "fast": sum(op in jit_simd.FUNCTIONS for op in ops),
        "lines": loop.count("\n"),
    }
    return source, meta


def _fingerprint(expr: Expression, kind: str, wrt: Sequence[str] | None) -> str:
    """What determines a kernel: the program's tape, its outputs and variables, the batch kind, and gradcli's own
    code (its files' sizes and times: an upgrade, or an edit in a checkout, never reuses a kernel built before)."""
    tape = expr.tape
    h = hashlib.sha256()
    head = [_package_stamp(), _simd_module_name(), kind, list(wrt) if wrt else None, expr.variables, expr.output_names,
            expr.lowered.outputs, expr.basis, tape.n_checked, tape.ops, tape.args]  # fmt: skip
    h.update(repr(head).encode("utf-8"))
    for p in tape.params:
        if isinstance(p, np.ndarray):
            h.update(f"|{p.dtype}{p.shape}".encode())
            h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(f"|{p!r}".encode())
    return h.hexdigest()[:32]


_STAMP: list[str] = []


def _package_stamp() -> str:
    if not _STAMP:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        h = hashlib.sha256()
        for folder, subfolders, files in os.walk(root):
            subfolders.sort()
            for f in sorted(files):
                if f.endswith(".py"):
                    st = os.stat(os.path.join(folder, f))
                    h.update(f"{os.path.relpath(os.path.join(folder, f), root)}:{st.st_size}:{st.st_mtime_ns}|".encode())
        _STAMP.append(h.hexdigest())
    return _STAMP[0]


_INDEX_KEYS = {"module", "names", "labels", "keep", "n_values", "checked", "simd", "redo", "streams", "native", "cheap", "fast",
               "lines"}  # fmt: skip


def _index_path(fp: str) -> str:
    return os.path.join(cache_dir(), "index", f"{fp}.json")


def _indexed(fp: str) -> dict[str, Any] | None:
    """The index entry of a kernel compiled before, if its module is still in the cache."""
    try:
        with open(_index_path(fp), encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not _INDEX_KEYS <= meta.keys():
        return None
    if not os.path.exists(os.path.join(cache_dir(), f"{meta['module']}.py")):
        return None
    if meta.get("native") is not None and not os.path.exists(os.path.join(cache_dir(), meta["native"])):
        return None
    return meta


def _write_index(fp: str, meta: dict[str, Any]) -> None:
    write_whole(_index_path(fp), json.dumps(meta).encode("utf-8"))  # read-only: the next run derives the kernel again


_POOL: Any = None


def _pool(workers: int) -> Any:
    """One thread pool for every kernel (made on the first big batch): the loop releases the GIL."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gradcli-jit")
    return _POOL


def _stream_labels(labels: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """export's labels as batch/stream.py's result keys: ("value", k, None, None), ("grad", k, v, None), ("hess", 0, a, b)."""
    out: list[tuple[Any, ...]] = []
    for lab in labels:
        if lab[0] == "value":
            out.append(("value", lab[1], None, None))
        elif lab[0] == "grad":
            out.append(("grad", lab[1], lab[2], None))
        else:
            out.append(("hess", 0, lab[1], lab[2]))
    return out


def use_jit(mode: str, expr: Expression, kind: str, rows: int | None, wrt: Sequence[str] | None = None) -> bool:
    """--jit auto|on|off: whether this batch runs compiled. auto: numba present, the program compiles, and
    the batch is big enough to repay compiling (or loading) the kernel."""
    if mode == "off":
        return False
    if mode == "on":
        if not available():
            raise JitUnavailable('--jit on needs numba: pip install "gradcli[jit]" (or --jit off)')
        return True
    if mode != "auto":
        raise UsageError(f"unknown --jit {mode!r}: use auto, on or off")
    if rows is None or rows < AUTO_CACHED or not available():
        return False
    if supported(expr, kind) is not None:
        return False
    return rows >= auto_threshold(expr, kind, wrt)


def auto_threshold(expr: Expression, kind: str, wrt: Sequence[str] | None = None) -> float:
    """The rows from which the compiled loop repays its start-up (the cost model above)."""
    imported = {m: m in sys.modules for m in ("llvmlite.binding", "numba")}  # before describing it imports llvmlite
    meta = _indexed(_fingerprint(expr, kind, wrt))
    on_disk = meta is not None
    if meta is None:
        meta = _described(expr, kind, wrt)[1]
    if meta["native"] is not None:
        compile_s = NATIVE_BASE_S + NATIVE_PER_LINE_S * meta["lines"]
        start = (0.0 if imported["llvmlite.binding"] else NATIVE_IMPORT_S) + (NATIVE_LOAD_S if on_disk else compile_s)
    else:
        compile_s = COMPILE_BASE_S + COMPILE_PER_LINE_S * meta["lines"]
        start = (0.0 if imported["numba"] else IMPORT_S) + (LOAD_S if on_disk else compile_s)
    return max(AUTO_CACHED, start / max((meta["cheap"] * SAVE_NS + meta["fast"] * FAST_SAVE_NS) * 1e-9, 1e-12))
