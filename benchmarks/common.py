"""Shared helpers: timing, subprocesses with peak RSS and timeouts, peer detection, tables."""

from __future__ import annotations

import importlib.util
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable

# Peers compared against gradcli; each is imported only where it is measured.
PEERS: dict[str, str] = {"autograd": "HIPS autograd", "torch": "PyTorch", "jax": "JAX", "sympy": "SymPy"}


def gradcli_script() -> Path:
    """The gradcli console script installed next to the interpreter running the harness."""
    bindir = Path(sys.executable).parent
    for name in ("gradcli", "gradcli.exe"):
        candidate = bindir / name
        if candidate.exists():
            return candidate
    raise SystemExit(f"no gradcli console script next to {sys.executable}: install the project (pip install -e .) first")


def have(module: str) -> bool:
    """Whether a module is importable, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def peer_version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - any metadata problem means "unknown"
        return "?"


def skip_note(module: str, where: str) -> str:
    return f"note: {PEERS.get(module, module)} ({module}) is not installed: skipped in {where}"


# -- timing ---------------------------------------------------------------------------------------


def median_times(fns: dict[str, Callable[[], Any]], repeats: int, min_batch: float = 0.0) -> dict[str, float]:
    """median_time for several functions at once, round-robin: each repeat times every function once, in turn,
    so a drift in the machine's load (a busy neighbour, a clock change) falls on all of them alike."""
    numbers: dict[str, int] = {}
    for name, fn in fns.items():
        fn()
        number = 1
        if min_batch > 0:
            while True:
                t0 = time.perf_counter()
                for _ in range(number):
                    fn()
                if time.perf_counter() - t0 >= min_batch or number >= 1 << 20:
                    break
                number *= 2
        numbers[name] = number
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            number = numbers[name]
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - t0) / number)
    return {name: statistics.median(v) for name, v in samples.items()}


def median_time(fn: Callable[[], Any], repeats: int, min_batch: float = 0.0) -> float:
    """Median seconds per call over `repeats` batches, timeit-style.

    With min_batch > 0 the number of calls per batch doubles until one batch takes at
    least min_batch seconds (like timeit.Timer.autorange), so tiny calls are not dominated
    by timer resolution. One untimed warm-up call comes first.
    """
    return median_times({"fn": fn}, repeats, min_batch)["fn"]


# -- subprocesses ---------------------------------------------------------------------------------


@dataclass
class Run:
    """One finished (or killed) child process."""

    returncode: int | None  # None when it was killed on timeout
    wall: float  # seconds
    maxrss_kb: int  # peak resident set size of the child, in KiB (ru_maxrss on Linux)
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    def describe_failure(self) -> str:
        if self.timed_out:
            return f"timed out after {self.wall:.0f} s"
        tail = (self.stderr.strip().splitlines() or [""])[-1][:160]
        return f"exit {self.returncode}: {tail}"


# A tiny middle process (python -S, a few MB) forks and execs the command and reports the
# command's own wall time and peak RSS from os.wait4. Forking the command straight from the harness
# would not do: on Linux a child's ru_maxrss starts from the high-water mark of the memory it was
# forked from, so every child would report at least the harness's own peak (the batch section
# holds arrays of 1e6 points and PyTorch).
_WRAPPER = """
import os, sys, time
res, argv = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, st, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
code = os.waitstatus_to_exitcode(st)
with open(res, "w") as fh:
    fh.write(f"{wall!r} {ru.ru_maxrss} {code}")
sys.exit(code if 0 <= code < 256 else 1)
"""


# Python as a user runs it: bytecode is cached, so an editable install isn't recompiled on every start
# (some sandboxes export PYTHONDONTWRITEBYTECODE, which would make gradcli look slower than it is).
_CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_measured(
    cmd: Sequence[str],
    timeout: float,
    stdout: IO[bytes] | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Run:
    """Run a command: its wall time, its own peak RSS, and a timeout (the whole process group is killed).

    With `stdout` given (an open binary file) the command's output goes there and is not captured.
    """
    fd, res = tempfile.mkstemp(prefix="gradcli-bench-rusage-")
    os.close(fd)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [PYTHON, "-S", "-c", _WRAPPER, res, *cmd],
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env if env is not None else _CHILD_ENV,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        timed_out = True
    outer_wall = time.perf_counter() - t0
    try:
        wall_s, rss_s, code_s = Path(res).read_text().split()
        wall, maxrss, code = float(wall_s), int(rss_s), int(code_s)
    except (OSError, ValueError):
        wall, maxrss, code = outer_wall, 0, proc.returncode
    finally:
        Path(res).unlink(missing_ok=True)
    return Run(
        returncode=None if timed_out else code,
        wall=outer_wall if timed_out else wall,
        maxrss_kb=maxrss,
        stdout=(out or b"").decode("utf-8", "replace"),
        stderr=(err or b"").decode("utf-8", "replace"),
    )


# -- formatting -----------------------------------------------------------------------------------


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(x: float | None) -> str:
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:.0f}×"
    if x >= 10:
        return f"{x:.1f}×"
    return f"{x:.2f}×"


def fmt_mb(kb: int | None) -> str:
    return "—" if kb is None else f"{kb / 1024:.0f} MB"


def fmt_rate(rows_per_s: float | None) -> str:
    if rows_per_s is None:
        return "—"
    if rows_per_s >= 1e6:
        return f"{rows_per_s / 1e6:.2f} M/s"
    return f"{rows_per_s / 1e3:.0f} k/s"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """A plain-text table; align is a string of 'l'/'r' per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    cols = list(zip(*([list(headers)] + [list(r) for r in rows])))
    widths = [max(len(c) for c in col) for col in cols]

    def line(cells: Sequence[str]) -> str:
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align)]
        return "  ".join(parts).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def heading(title: str) -> None:
    print()
    print(f"== {title} " + "=" * max(0, 76 - len(title)))
    sys.stdout.flush()


def say(text: str = "") -> None:
    print(text)
    sys.stdout.flush()
