"""`gradcli repl` start-up: wall time from exec to the first prompt on a real pseudo-terminal, and from
Enter to the first result, against `python -c "import numpy"` (the README's start-up yardstick).

    python benchmarks/bench_repl.py [--runs N]

Runs round-robin so a busy machine slows every contender alike. POSIX only (a pty is needed: the
REPL is only interactive on a terminal).
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT = b"gradcli>"  # the space after it is drawn as a cursor move


def _read_until(fd: int, marker: bytes, seen: bytearray, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while marker not in seen:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError(f"no {marker!r} after {timeout} s; got {bytes(seen[-200:])!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                raise TimeoutError(f"the REPL ended before {marker!r}; got {bytes(seen[-200:])!r}") from None
    del seen[: seen.index(marker) + len(marker)]  # what came after the marker stays for the next wait


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a running process has used so far (Linux /proc; ticks of 1/100 s)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def repl_once(state: str) -> tuple[float, float, float]:
    """(seconds to the first prompt, CPU seconds used by then, seconds from Enter to the first result)."""
    master, slave = pty.openpty()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XDG_STATE_HOME": state,
        "TERM": "xterm",
        "NO_COLOR": "1",
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }  # a pty answers no cursor-position requests; a real terminal does at once
    t0 = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "gradcli", "repl"], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
    )
    os.close(slave)
    seen = bytearray()
    try:
        _read_until(master, PROMPT, seen)
        first_prompt = time.perf_counter() - t0
        cpu = cpu_seconds(child.pid)
        t1 = time.perf_counter()
        os.write(master, b"eval x^2 + 2*x + 1 at x=3 --format plain\r")
        _read_until(master, b"l16\r\n", seen)  # the result after the prompt ends (ESC[?2004l), not ESC[16D
        first_result = time.perf_counter() - t1
        _read_until(master, PROMPT, seen)  # Ctrl-D typed ahead, in the terminal's cooked mode, would be lost
        os.write(master, b"\x04")
        while child.poll() is None:  # keep reading, so the child never blocks on a full terminal
            if select.select([master], [], [], 0.1)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        os.close(master)
    return first_prompt, cpu, first_result


def numpy_once() -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `python -c "import numpy"`."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import numpy"], check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    prompts, cpus, results, numpys, numpy_cpus = [], [], [], [], []
    with tempfile.TemporaryDirectory() as state:
        repl_once(state)  # bytecode and the grammar tables cached, as for an installed gradcli
        for _ in range(args.runs):
            p, c, r = repl_once(state)
            prompts.append(p)
            cpus.append(c)
            results.append(r)
            w, nc = numpy_once()
            numpys.append(w)
            numpy_cpus.append(nc)
    med = statistics.median
    ms = lambda xs: f"median {med(xs) * 1e3:.0f} ms (min {min(xs) * 1e3:.0f})"  # noqa: E731
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"gradcli repl, exec → first prompt: {ms(prompts)}; CPU time by then {ms(cpus)}")
    print(f"first line, Enter → result:       {ms(results)}")
    print(f'python -c "import numpy":          {ms(numpys)}; CPU time {ms(numpy_cpus)}')
    print(f"ratio first prompt / import numpy: wall {med(prompts) / med(numpys):.2f}×, CPU {med(cpus) / med(numpy_cpus):.2f}×")


if __name__ == "__main__":
    main()
