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


def repl_once(state: str) -> tuple[float, float]:
    """(seconds to the first prompt, seconds from Enter to the first result)."""
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
    return first_prompt, first_result


def numpy_once() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import numpy"], check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    prompts, results, numpys = [], [], []
    with tempfile.TemporaryDirectory() as state:
        repl_once(state)  # bytecode and the grammar tables cached, as for an installed gradcli
        for _ in range(args.runs):
            p, r = repl_once(state)
            prompts.append(p)
            results.append(r)
            numpys.append(numpy_once())
    med = statistics.median
    print(f"gradcli repl, exec → first prompt: median {med(prompts) * 1e3:.0f} ms (min {min(prompts) * 1e3:.0f})")
    print(f"first line, Enter → result:       median {med(results) * 1e3:.0f} ms (min {min(results) * 1e3:.0f})")
    print(f'python -c "import numpy":          median {med(numpys) * 1e3:.0f} ms (min {min(numpys) * 1e3:.0f})')
    print(f"ratio first prompt / import numpy:  {med(prompts) / med(numpys):.2f}×")


if __name__ == "__main__":
    main()
