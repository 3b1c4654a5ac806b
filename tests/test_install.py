"""The package as a user gets it (SPEC §1, §3): the wheel carries the grammar, and the installed
console script works from outside the source tree, through real subprocesses and pipes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import gradcli

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = "gradcli/grammars/gradcli.lark"


def console_script() -> str:
    """The `gradcli` script of the environment running the tests, else the one on PATH."""
    bindir = Path(sys.executable).parent
    for name in ("gradcli", "gradcli.exe"):
        if (bindir / name).is_file():
            return str(bindir / name)
    found = shutil.which("gradcli")
    if found is None:
        pytest.fail("the gradcli console script is not installed (pip install -e .)")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FORCE_COLOR", "COLUMNS")}
    env.update(extra)
    return env


def run(
    args: list[str], cwd: Path, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, input=input, capture_output=True, text=True, encoding="utf-8", env=env or clean_env(), timeout=120
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if build.returncode != 0:  # fall back to pip, which every environment has
        build = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    (path,) = out.glob("gradcli-*.whl")
    return path


def test_wheel_contains_the_grammar(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert GRAMMAR in names, names
        assert zf.read(GRAMMAR) == (ROOT / "grammars" / "gradcli.lark").read_bytes()
        assert "gradcli/__init__.py" in names
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "gradcli = gradcli.cli.entry:run" in zf.read(entry_points).decode()
        assert not any(n.startswith(("tests/", "samples/", "grammars/")) for n in names), names


def test_unpacked_wheel_runs_outside_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    """The wheel alone (no source checkout on the path) parses with its packaged grammar."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = clean_env(PYTHONPATH=str(site))
    where = run(
        [
            sys.executable,
            "-c",
            "import gradcli, gradcli.language.grammar_tables as g; print(gradcli.__file__); print(g.grammar_text()[:2])",
        ],
        work,
        env=env,
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.splitlines()[0].startswith(str(site)), where.stdout
    result = run([sys.executable, "-m", "gradcli", "diff", "x**2 + 2*x + 1", "--at", "x=3"], work, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "8\n"


def test_console_script_diff(tmp_path: Path) -> None:
    result = run([console_script(), "diff", "x**2 + 2*x + 1", "--at", "x=3"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "8\n"
    assert result.stderr == ""


def test_python_m_version(tmp_path: Path) -> None:
    result = run([sys.executable, "-m", "gradcli", "--version"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"gradcli {gradcli.__version__}"
    script = run([console_script(), "--version"], tmp_path)
    assert script.stdout == result.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "stdout"),
    [
        (["eval", "0.1 + 0.2"], None, "0.30000000000000004\n"),
        (["eval", "x**2 + 2*x + 1", "--at", "x=3"], None, "16\n"),
        (["diff", "x*y + sin(y)", "--at", "x=2,y=0"], None, "d/dx = 0\nd/dy = 3\n"),
        (["hessian", "x^2*y", "--at", "x=1", "--at", "y=2"], None, "4 2\n2 0\n"),
        (["jacobian", "x*y, x+y", "--at", "x=1,y=2"], None, "2 1\n1 1\n"),
        (["diff", "x^2", "--at", "x=[1,2,3]"], None, "[2, 4, 6]\n"),
        (["diff", "--at", "x=3", "--", "-x^2"], None, "-6\n"),
        (["diff", "-", "--at", "x=2"], "a = x^3\na + 1  # a comment\n", "12\n"),
        (["eval", "θ^2", "--at", "θ=3"], None, "9\n"),
    ],
)
def test_plain_output_through_a_pipe(tmp_path: Path, args: list[str], stdin: str | None, stdout: str) -> None:
    result = run([console_script(), *args], tmp_path, input=stdin, env=clean_env(NO_COLOR="1"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == stdout


def test_json_through_a_pipe(tmp_path: Path) -> None:
    result = run([console_script(), "diff", "x*y + sin(y)", "--at", "x=2,y=0", "--format", "json"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "expression": "x*y + sin(y)",
        "point": {"x": 2, "y": 0},
        "value": 0,
        "gradient": {"x": 0, "y": 3},
    }


def test_table_when_asked(tmp_path: Path) -> None:
    result = run([console_script(), "diff", "x^2", "--at", "x=3", "--format", "table"], tmp_path, env=clean_env(NO_COLOR="1"))
    assert result.returncode == 0, result.stderr
    assert "d/dx" in result.stdout and "6" in result.stdout
    assert "\x1b[" not in result.stdout  # NO_COLOR


def test_program_file_relative_to_cwd(tmp_path: Path) -> None:
    (tmp_path / "f.grad").write_text("# a program\na = x + w\na * b\n", encoding="utf-8")
    result = run([console_script(), "diff", "@f.grad", "--at", "x=1,w=2,b=3"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "d/dx = 3\nd/dw = 3\nd/db = 3\n"


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["eval", "sinn(x)", "--at", "x=1"], 2, "gradcli: error: unknown function sinn; did you mean sin?\n  sinn(x)\n  ^^^^\n"),
        (["diff", "x+", "--at", "x=1"], 2, "syntax error at column 3"),
        (["eval", "log(x - 2)", "--at", "x=1"], 3, "log(x - 2) is undefined at x=1: its argument is -1, outside (0, inf)"),
        (["eval", "x + y", "--at", "x=1"], 3, "no value for y"),
    ],
)
def test_errors_through_a_pipe(tmp_path: Path, args: list[str], code: int, words: str) -> None:
    result = run([console_script(), *args], tmp_path)
    assert result.returncode == code
    assert result.stdout == ""
    assert words in result.stderr
    assert "Traceback" not in result.stderr
