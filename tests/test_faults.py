"""SPEC §4's exit codes under faults, through the real installed program: a full disk (/dev/full),
an unreadable file (EIO from /proc/self/mem), Ctrl-C (SIGINT) while a long program is parsed,
and an internal error. Each is one line on stderr and the documented code, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gradcli.cli import commands
from gradcli.cli.app import app
from gradcli.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_IO

GRADCLI = [sys.executable, "-m", "gradcli"]
needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
needs_proc_mem = pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="no /proc/self/mem (EIO on read)")


def run(args: list[str], stdout_path: str | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    if stdout_path is None:
        return subprocess.run([*GRADCLI, *args], capture_output=True, text=True, input=input, timeout=120)
    with open(stdout_path, "w") as out:
        return subprocess.run([*GRADCLI, *args], stdout=out, stderr=subprocess.PIPE, text=True, input=input, timeout=120)


@needs_dev_full
@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["diff", "--help"],
        ["eval", "x", "--at", "x=1"],  # the fast entry point
        ["eval", "x", "--at", "x=1", "--format", "table"],  # Typer and Rich
        ["trace", "x*y", "--at", "x=1,y=2"],
        ["diff", "x^2", "--points", "-"],  # a stream of chunks
    ],
    ids=lambda a: " ".join(a),
)
def test_a_full_disk_is_exit_74_with_one_line(args: list[str]) -> None:
    rows = "x\n" + "".join(f"{k}\n" for k in range(70_000)) if "--points" in args else None
    result = run(args, "/dev/full", input=rows)
    assert result.returncode == EXIT_IO, result.stderr
    assert result.stderr.strip().splitlines() == ["gradcli: error: input/output error: No space left on device"]


@needs_proc_mem
@pytest.mark.parametrize("args", [["diff", "@/proc/self/mem"], ["diff", "x", "--points", "/proc/self/mem"]])
def test_an_unreadable_file_is_exit_74_naming_it(args: list[str]) -> None:
    result = run(args)
    assert result.returncode == EXIT_IO
    assert "can't read /proc/self/mem" in result.stderr and "Traceback" not in result.stderr


def test_a_closed_pipe_ends_quietly() -> None:
    cmd = f"{' '.join(GRADCLI)} eval 'x' --grid x=0:1:1000000 | head -1"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert result.stdout == "x,value\n" and result.stderr == "" and result.returncode == 0


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
@pytest.mark.parametrize("delay", [0.5, 1.5])
def test_ctrl_c_is_exit_130_without_a_traceback(tmp_path: Path, delay: float) -> None:
    program = tmp_path / "big.grad"
    program.write_text(" + ".join(f"sin({k}*x)" for k in range(200_000)), encoding="utf-8")
    child = subprocess.Popen(
        [*GRADCLI, "diff", f"@{program}", "--at", "x=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - restore the default
    )
    time.sleep(delay)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode == EXIT_INTERRUPTED, err
    assert err.strip() == "gradcli: interrupted" and out == ""


def test_an_internal_error_is_exit_70_asking_for_a_report(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("a planted bug")

    monkeypatch.setattr(commands, "run_eval", broken)
    result = CliRunner().invoke(app, ["eval", "x", "--at", "x=1"])
    assert result.exit_code == EXIT_INTERNAL
    assert "internal error (ValueError: a planted bug); please report it" in result.stderr


def test_help_lists_every_exit_code() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    text = " ".join(result.stdout.split())
    codes = ("0 ok", "1 check/verify mismatch", "2 bad usage", "3 not evaluable", "70 internal", "74 input/output")
    for code in (*codes, "130 interrupted"):
        assert code in text, code


def test_closed_stdin_is_a_usage_error() -> None:
    for args in ("eval - --at x=1", "eval x --points -"):
        result = subprocess.run(["bash", "-c", f"{' '.join(GRADCLI)} {args} 0<&-"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert "stdin is closed" in result.stderr and "Traceback" not in result.stderr


def test_an_ascii_only_stdout_gets_escapes_not_an_error() -> None:
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    result = subprocess.run([*GRADCLI, "trace", "x*y", "--at", "x=1,y=2"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "\\u2202/\\u2202x = y = 2" in result.stdout


NAN_INF_COMMANDS = [
    ["check", "x^2", "--at", "x=inf"],
    ["check", "x*y", "--at", "x=inf,y=0", "--method", "richardson"],
    ["check", "x^2", "--at", "x=-inf", "--order", "2"],
    ["check", "sum(x^2)", "--at", "x=[inf,1,2]"],
    ["diff", "x*x - x", "--at", "x=inf"],
    ["hessian", "x*y", "--at", "x=inf,y=0"],
    ["verify", "x^2", "--claim", "2*x", "--at", "x=inf"],
    ["trace", "x*x - x", "--at", "x=inf"],
    ["plot", "1/x", "--range", "x=-1:1"],
]


@pytest.mark.parametrize("args", NAN_INF_COMMANDS, ids=[" ".join(a) for a in NAN_INF_COMMANDS])
def test_no_python_warning_reaches_stderr(args: list[str]) -> None:
    """nan and inf are answers, reported as such; numpy's RuntimeWarnings about them never leak to stderr
    (with warnings turned on, as -W default would: only gradcli's own handling can keep them out)."""
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    run = subprocess.run([sys.executable, "-m", "gradcli", *args], capture_output=True, text=True, env=env, check=False)
    assert "Warning" not in run.stderr.replace("gradcli: warning", ""), run.stderr
    assert "Traceback" not in run.stderr


def test_checking_itself_silences_numpy() -> None:
    """The math handles nan/inf itself (np.errstate), not only the CLI's net: the API doesn't warn either."""
    import warnings

    import gradcli
    from gradcli.tools.checking import check

    expr = gradcli.compile("x^2")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        check(expr, expr.bind({"x": float("inf")}), None, "central", 1, None, None, None, 0)


def _damage_cut_tables(data: dict) -> dict:  # type: ignore[type-arg]
    data["actions"] = data["actions"][: len(data["actions"]) // 2]
    data["rules"] = data["rules"][:3]
    return data


def _damage_one_row(data: dict) -> dict:  # type: ignore[type-arg]
    row = max(data["actions"], key=len)
    row.pop(next(iter(row)))  # a row cut short: the checksum, not an index, catches it
    return data


def _damage_target(data: dict) -> dict:  # type: ignore[type-arg]
    row = data["actions"][data["start"]]
    row[next(iter(row))] = 10**6
    return data


DAMAGES = [_damage_cut_tables, _damage_one_row, _damage_target, None]


@pytest.mark.parametrize("damage", DAMAGES, ids=["cut", "row", "target", "bytes"])
def test_a_damaged_parser_cache_is_rebuilt(tmp_path: Path, damage) -> None:  # noqa: ANN001
    """A truncated or edited parser cache is detected when it is loaded and rebuilt: right answers, no IndexError."""
    import marshal

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    args = [sys.executable, "-m", "gradcli", "eval", "sin(x)*2 + [1, 2]@[3, 4]; where(x > 0, 1, 2)", "--at", "x=1"]
    first = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    assert first.returncode == 0, first.stderr
    (cache,) = (tmp_path / "gradcli").iterdir()
    if damage is None:
        cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])  # a file cut in half
    else:
        cache.write_bytes(marshal.dumps(damage(marshal.loads(cache.read_bytes()))))
    again = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    assert (again.returncode, again.stdout, again.stderr) == (0, first.stdout, "")
    from gradcli.language import grammar_tables

    rebuilt = marshal.loads(cache.read_bytes())
    assert grammar_tables._consistent(rebuilt)  # written back whole
