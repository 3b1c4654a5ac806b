"""Start-up: a command imports only what it uses (README: start-up time; benchmarks/bench_startup.py).

A one-point `diff` of a scalar expression needs the elementwise primitives, the tape and its transforms: not
the families of vector literals, matrices, reductions and special functions, not Taylor mode (engine/taylor.py and its rules,
primitives/series.py), not scipy. Each probe runs the real command in a fresh interpreter and lists the
modules it imported; the families that a program does use must still load, and give the right numbers.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from gradcli.engine.primitives import index, make_index

LAZY = (
    "gradcli.engine.primitives.series",
    "gradcli.engine.primitives.linalg",
    "gradcli.engine.primitives.reductions",
    "gradcli.engine.primitives.arrays",
    "gradcli.engine.primitives.special",
    "gradcli.engine.primitives.shape",
    "gradcli.engine.taylor",
    "scipy",
)
PRIMS = "gradcli.engine.primitives."


def _modules_after(*argv: str) -> tuple[list[str], set[str]]:
    """stdout lines of `gradcli ARGV` run in a fresh interpreter, and which of LAZY it imported."""
    probe = (
        f"import sys, runpy; sys.argv = ['gradcli', *{list(argv)!r}]\n"
        "try:\n    runpy.run_module('gradcli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {LAZY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    lines = done.stdout.splitlines()
    assert lines, done.stderr
    return lines[:-1], set(eval(lines[-1]))  # noqa: S307 - our own probe's printed list of module names


@pytest.mark.parametrize(
    ("argv", "want"),
    [
        (["diff", "x**2+2*x+1", "--at", "x=3"], ["8"]),
        (["diff", "sin(x)*y + exp(x/y)", "--at", "x=0,y=1"], ["d/dx = 2", "d/dy = 0"]),
        (["hessian", "x^3", "--at", "x=2"], ["12"]),
    ],
)
def test_a_scalar_program_loads_only_the_elementwise_family(argv: list[str], want: list[str]) -> None:
    out, loaded = _modules_after(*argv)
    assert out == want
    assert loaded == set(), f"{' '.join(argv)} imported {sorted(loaded)}"


@pytest.mark.parametrize(
    ("argv", "want", "needs"),
    [
        (["diff", "prod([x, 3])", "--at", "x=2"], ["3"], {PRIMS + "reductions", PRIMS + "shape"}),
        (["diff", "det([[x, 1], [2, x]])", "--at", "x=3"], ["6"], {"gradcli.engine.primitives.linalg"}),
        (["diff", "besselj0(x)", "--at", "x=0"], ["0"], {"gradcli.engine.primitives.special", "scipy"}),
        (["diff", "x^4", "--at", "x=1", "--order", "3"], ["24"], {"gradcli.engine.taylor", "gradcli.engine.primitives.series"}),
    ],
    ids=["reductions", "linalg", "special", "taylor"],
)
def test_a_family_loads_when_a_program_uses_it(argv: list[str], want: list[str], needs: set[str]) -> None:
    out, loaded = _modules_after(*argv)
    assert len(out) == len(want) and all(math.isclose(float(o), float(w), rel_tol=1e-12) for o, w in zip(out, want)), out
    assert needs <= loaded, f"{' '.join(argv)} imported {sorted(loaded)}"


def test_the_family_index_is_current() -> None:
    """index.py is derived from the tables: regenerate it with `python -m gradcli.engine.primitives.make_index`."""
    assert Path(index.__file__).read_text(encoding="utf-8") == make_index.source(), "index.py is stale: run make_index"


def test_a_name_the_index_lacks_still_resolves() -> None:
    """The index only says where to look: with det and its function name missing from it (a stale index), a call
    of det loads every family and still finds it, in a fresh interpreter."""
    probe = (
        "import gradcli.engine.primitives as p\n"
        "del p._FAMILY_OF['det'], p._SYNTAX_FAMILIES['det']\n"
        "import gradcli\n"
        "print(round(float(gradcli.compile('det([[x, 1], [2, 3]])').gradient({'x': 2.0})['x']), 9))\n"
        "print(p.PRIMITIVES['cofactor'].name, sorted(p._loaded) == sorted(p.FAMILY_NAMES))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines() == ["3.0", "cofactor True"], done.stderr
