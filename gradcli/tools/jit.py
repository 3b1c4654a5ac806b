"""`--jit`: a batch of an elementwise program as one fused loop, compiled with numba and run on every core.

The loop body is export's straight-line code (lang "numba": scalar math, domain checks as nan plus
a flag), so the kernel computes exactly what the numpy path computes, element by element, with
no array temporaries. The generated module is written to the cache directory under a name that
hashes its source (which the tape determines), and numba's `cache=True` keeps the machine code
next to it: a program compiled once loads from disk in later runs.

numba is optional (`pip install "gradcli[jit]"`): nothing here imports it until a kernel is asked
for, and `available()` only looks for it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..api import Expression
from ..engine import evaluate
from ..engine.primitives import mixes_elements
from ..errors import UsageError
from . import export

# `--jit auto`'s cost model, from `python benchmarks/run.py --only batch` on this project's 2-core machine (see
# benchmarks/README.md): the fused loop saves about SAVE_NS per row for each cheap instruction of the tape (one array
# temporary fewer: +, *, x², …) and about nothing for sin/cos/exp (numpy's are SIMD-vectorized, numba's PyPI build
# calls libm per element). It costs numba's import plus a first compile, or a load from the disk cache.
SAVE_NS = 2.0
IMPORT_S = 0.6
COMPILE_S = 1.5
LOAD_S = 0.05
AUTO_CACHED = 100_000  # never fewer rows than this, whatever the model says

PARALLEL_FROM = 32_768  # elements: below, handing parts to threads costs more than it saves

_KERNELS: dict[str, Kernel] = {}


class JitUnavailable(UsageError):
    """--jit on without numba installed (exit 2)."""


def available() -> bool:
    """numba is installed (found, not imported)."""
    return importlib.util.find_spec("numba") is not None


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "gradcli", "jit")


@dataclass
class Kernel:
    """A compiled loop: `run(columns)` → (K, n) results and the undefined rows; `labels` name the K rows."""

    fn: Any  # the loop over rows [start, stop), compiled without the GIL: threads run parts of a batch at once
    names: tuple[str, ...]  # the program's variables: the kernel's input columns, in order
    labels: list[tuple[Any, ...]]  # ("value", k), ("grad", k, v), ("hess", k, a, b), as batch/stream.py keys
    keep: list[int]  # which of the generated roots are written (a Hessian batch skips the gradient)
    n_values: int  # leading rows that are the outputs' values (a nan there makes a flagged row undefined)
    path: str
    compile_seconds: float = 0.0
    cached: bool = False

    def run(self, columns: Mapping[str, np.ndarray], n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(K, n) results and the undefined rows; n is needed only for a program without variables."""
        if n is None:
            n = len(next(iter(columns.values()))) if columns else 1
        ins = [np.ascontiguousarray(columns[v], dtype=np.float64) for v in self.names]
        out = np.empty((len(self.keep), n))
        bad = np.zeros(n, dtype=np.bool_)
        workers = min(os.cpu_count() or 1, 8)
        if n < PARALLEL_FROM or workers == 1:
            self.fn(*ins, out, bad, 0, n)
            return out, bad
        bounds = np.linspace(0, n, workers + 1).astype(int)
        parts = [_pool(workers).submit(self.fn, *ins, out, bad, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        for p in parts:
            p.result()
        return out, bad

    def rows(self, columns: Mapping[str, np.ndarray], n: int) -> tuple[list[tuple[Any, ...]], list[np.ndarray], np.ndarray]:
        """A chunk's result columns as batch/stream.py lays them out: (keys, one array per key, undefined rows)."""
        out, bad = self.run(columns, n)
        return list(self.labels), list(out), bad


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


def _source(expr: Expression, kind: str, wrt: Sequence[str] | None) -> tuple[str, export.Built, list[int]]:
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
    body += [f"out[{j}, i] = {lines.results[r]}" for j, r in enumerate(keep)]
    if lines.checked:
        nans = " or ".join(f"math.isnan(out[{j}, i])" for j in range(m))
        body.append(f"bad[i] = undefined and ({nans})")
    text = [
        f"# gradcli --jit kernel ({kind}) of: {export.printable(expr.text)}",
        "import math",
        "",
        "import numpy as np",
        "from numba import njit",
        "",
        "",
        "@njit(cache=True, nogil=True, error_model='numpy')",
        f"def kernel({', '.join([*cols, 'out', 'bad', 'start', 'stop'])}):",
        "    for i in range(start, stop):",
        *[ind + s for s in body],
    ]
    return "\n".join(text) + "\n", built, keep


def kernel(expr: Expression, kind: str, wrt: Sequence[str] | None = None) -> Kernel:
    """The compiled kernel of this program and batch kind: from memory, the disk cache, or compiled now."""
    if not available():
        raise JitUnavailable('--jit on needs numba: pip install "gradcli[jit]" (or --jit off)')
    why = supported(expr, kind)
    if why is not None:
        raise UsageError(f"--jit on can't compile this batch: {why}")
    source, built, keep = _source(expr, kind, wrt)
    key = hashlib.sha256(source.encode("utf-8")).hexdigest()[:24]
    found = _KERNELS.get(key)
    if found is not None:
        return found
    folder = cache_dir()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"k_{key}.py")
    if not os.path.exists(path):  # written once: numba's cache is keyed by the file's path and mtime
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(tmp, path)
    pycache = os.path.join(folder, "__pycache__")
    cached = os.path.isdir(pycache) and any(f.startswith(f"k_{key}.") and f.endswith(".nbi") for f in os.listdir(pycache))
    t0 = time.perf_counter()
    spec = importlib.util.spec_from_file_location(f"gradcli_jit_{key}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # numba's cache finds the module again by its name
    spec.loader.exec_module(module)
    fn = module.kernel
    # The first call compiles (or loads the cached machine code): do it now, on one element, so it is timed here.
    n_args = len(built.names)
    fn(*[np.zeros(1) for _ in range(n_args)], np.empty((len(keep), 1)), np.zeros(1, dtype=np.bool_), 0, 1)
    labels = [built.labels[r] for r in keep]
    k = Kernel(fn, built.names, _stream_labels(labels), keep, len(built.outputs), path, time.perf_counter() - t0, cached)
    _KERNELS[key] = k
    return k


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
    source, built, _ = _source(expr, kind, wrt)
    key = hashlib.sha256(source.encode("utf-8")).hexdigest()[:24]
    on_disk = os.path.exists(os.path.join(cache_dir(), f"k_{key}.py"))
    ops = [op for op in export.referenced_ops(built) if op not in ("var", "const")]
    cheap = sum(op not in evaluate._EXPENSIVE for op in ops)  # noqa: SLF001 - the list of costly kernels
    start = (0.0 if "numba" in sys.modules else IMPORT_S) + (LOAD_S if on_disk else COMPILE_S)
    return max(AUTO_CACHED, start / max(cheap * SAVE_NS * 1e-9, 1e-12))
