"""Command-line conventions: -h, an example in every command's help, EXPR in the usage line, help as wide
as the terminal, shell completion, --quiet, NO_COLOR / FORCE_COLOR only when non-empty, and a hint for an
expression that starts with "-"."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from gradcli.cli.app import app

runner = CliRunner()
COMMANDS = ["eval", "diff", "hessian", "jacobian", "check", "trace", "graph", "verify", "plot"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gradcli", *args], capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_an_example_and_short_help(command: str) -> None:
    long, short = runner.invoke(app, [command, "--help"]), runner.invoke(app, [command, "-h"])
    assert long.exit_code == 0 and short.exit_code == 0
    assert long.stdout == short.stdout
    assert "Example: gradcli " + command in long.stdout
    usage = long.stdout.splitlines()[0]
    assert usage.endswith(" EXPR") and "{" not in usage, usage


def test_help_uses_the_terminal_width() -> None:
    wide = run("diff", "--help", env={"COLUMNS": "160"})
    narrow = run("diff", "--help", env={"COLUMNS": "60"})
    assert max(map(len, wide.stdout.splitlines())) > 100
    assert max(map(len, narrow.stdout.splitlines())) <= 60
    assert len(wide.stdout.splitlines()) < len(narrow.stdout.splitlines())


def test_shell_completion_is_offered() -> None:
    helped = run("--help")
    assert "--install-completion" in helped.stdout and "--show-completion" in helped.stdout
    shown = run("--show-completion", "bash")
    assert shown.returncode == 0 and "complete" in shown.stdout and "COMP_WORDS" in shown.stdout


def test_a_leading_minus_expression_gets_a_hint() -> None:
    result = run("diff", "-x^2", "--at", "x=3")
    assert result.returncode == 2
    assert 'put it after --: gradcli diff [OPTIONS] -- "-x^2"' in result.stderr
    assert run("diff", "--at", "x=3", "--", "-x^2").stdout.strip() == "-6"
    typo = run("diff", "--att", "x=3", "x")  # a long option's typo is only that
    assert typo.returncode == 2 and "after --" not in typo.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "chatter"),
    [
        (["diff", "log(x)", "--points", "-"], "x\n1\n-1\n", "undefined on 1 row"),
        (["diff", "2"], None, "nothing to differentiate"),
        (["eval", "x", "--at", "x=1,y=2"], None, "is not a variable"),
        (["check", "log(x)", "--points", "-", "--skip-bad"], "x\n1\nfoo\n", "skipped 1 malformed"),
    ],
)
def test_quiet_silences_the_chatter_not_the_answer(args: list[str], stdin: str | None, chatter: str) -> None:
    loud = subprocess.run([sys.executable, "-m", "gradcli", *args], input=stdin, capture_output=True, text=True, check=False)
    quiet = subprocess.run(
        [sys.executable, "-m", "gradcli", *args, "--quiet"], input=stdin, capture_output=True, text=True, check=False
    )
    assert chatter in loud.stderr
    assert quiet.stderr == "" and quiet.stdout == loud.stdout and quiet.returncode == loud.returncode
    errors = run(args[0], "log(x)", "--at", "x=-1", "-q")
    assert "error" in errors.stderr and errors.returncode == 3  # errors are still said


def test_no_color_and_force_color_only_when_non_empty() -> None:
    from gradcli.cli.app import _colour

    class Tty:
        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    cases = [({}, True, True), ({"NO_COLOR": "1"}, True, False), ({"NO_COLOR": ""}, True, True),
             ({"FORCE_COLOR": "1"}, False, True), ({"FORCE_COLOR": ""}, False, False), ({}, False, False)]  # fmt: skip
    for env, tty, want in cases:
        with pytest.MonkeyPatch.context() as mp:
            for k in ("NO_COLOR", "FORCE_COLOR"):
                mp.delenv(k, raising=False)
            for k, v in env.items():
                mp.setenv(k, v)
            assert _colour(Tty(tty)) is want, (env, tty)
    # Through the program: a piped plot is coloured with FORCE_COLOR=1, plain with an empty one.
    forced = run("plot", "x^2", "--range", "x=-1:1", "--width", "20", "--height", "5", env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    plain = run("plot", "x^2", "--range", "x=-1:1", "--width", "20", "--height", "5", env={"FORCE_COLOR": "", "NO_COLOR": ""})
    assert "\x1b[" in forced.stdout and "\x1b[" not in plain.stdout
