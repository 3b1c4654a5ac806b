"""`gradcli repl`: the line grammar, the session (definitions, bindings, ans), the prompt_toolkit prompt
driven through a pipe, stdin scripts, and every CLI command reachable from a line with the CLI's output.

Oracles: the CLI itself (a line must print what `gradcli ARGS` prints, run separately through Typer's
CliRunner), closed forms for the numbers (d/dx sin(x)·y = y·cos x), and prompt_toolkit's own history
file reader for the history written.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gradcli.cli import repl
from gradcli.cli.app import app
from gradcli.cli.cmdline import classify, given_names, translate
from gradcli.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {"eval", "diff", "hessian", "jacobian", "check", "trace", "graph", "verify", "plot", "repl"}


def run_lines(capsys: pytest.CaptureFixture[str], *lines: str) -> tuple[repl.Session, list[int], str, str]:
    session = repl.Session()
    codes = [session.run(line) for line in lines]
    out, err = capsys.readouterr()
    return session, codes, out, err


def cli(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, prog_name="gradcli")
    return result.exit_code, result.stdout


# The line grammar.
@pytest.mark.parametrize(
    "text, kind, name",
    [
        ("", "empty", ""),
        ("   # a comment", "empty", ""),
        (":vars", "meta", ":vars"),
        (":clear a b", "meta", ":clear"),
        ("quit", "quit", ""),
        ("help", "help", "help"),
        ("help diff", "help", "help"),
        ("a = 3", "define", "a"),
        ("W = [[1,2],[3,4]]", "define", "W"),
        ("f(t) = t^2 + 1", "define", "f"),
        ("g(u, v) = u*v", "define", "g"),
        ("x == 3", "expression", ""),
        ("x <= 3", "expression", ""),
        ("a = 3; a*x", "expression", ""),
        ("a = 3;", "define", "a"),  # a program with statements is evaluated, not kept
        ("diff sin(x)*y at x=1", "command", "diff"),
        ("diff", "command", "diff"),
        ("trace(W)", "expression", ""),  # a command word directly followed by "(" is a call
        ("sin(x)", "expression", ""),
        ("help(x)", "expression", ""),
    ],
)
def test_classify(text: str, kind: str, name: str) -> None:
    line = classify(text, COMMANDS)
    assert (line.kind, line.name) == (kind, name)


def test_a_command_name_is_not_a_variable() -> None:
    with pytest.raises(UsageError, match="diff is a command name"):
        classify("diff = 3", COMMANDS)


@pytest.mark.parametrize(
    "text, args, expression",
    [
        ("diff sin(x)*y at x=1, y=2", ["--at", "x=1, y=2"], "sin(x)*y"),
        ('diff "sin(x)*y" --at x=1,y=2', ["--at", "x=1,y=2"], "sin(x)*y"),
        ("diff sin(x) * y at x = 1 wrt x", ["--at", "x = 1", "--wrt", "x"], "sin(x) * y"),
        ("diff x*y --wrt x at x=1, y=2 --format json", ["--wrt", "x", "--at", "x=1, y=2", "--format", "json"], "x*y"),
        ("diff --order=2 x^3 at x=2", ["--order=2", "--at", "x=2"], "x^3"),
        ("diff -x^2 at x=3", ["--at", "x=3"], "-x^2"),  # not an option: diff has no -x
        ("diff -s x^2", ["-s"], "x^2"),  # a flag takes no value
        ("diff x --at", ["--at"], "x"),  # the CLI says the value is missing
        ("diff -- -x at x=1", [], "-x at x=1"),  # after --, everything is the expression
        ("eval", [], None),
        ('verify "x^2" --claim "2*x" at x=3', ["--claim", "2*x", "--at", "x=3"], "x^2"),
    ],
)
def test_translate(text: str, args: list[str], expression: str | None) -> None:
    from gradcli.cli.repl import Commands

    line = classify(text, COMMANDS)
    options = Commands().options(line.name) if any(w.startswith("-") for w in text.split()[1:]) else None
    got = translate(line, options)
    assert (got.args, got.expression) == (args, expression)


def test_translate_errors_are_clear() -> None:
    with pytest.raises(UsageError, match="at needs what follows it"):
        translate(classify("diff x^2 at", COMMANDS), None)
    with pytest.raises(UsageError, match="no closing quotation"):
        translate(classify('diff "x^2', COMMANDS), None)


def test_given_names() -> None:
    assert given_names(["--at", "x=1, W=[[1,2],[3,4]]", "--grid=y=0:1:3", "--range", "t=-1:1"]) == {"x", "W", "y", "t"}


# The session: every command as on the command line.
def test_a_friendly_line_prints_what_the_cli_prints(capsys: pytest.CaptureFixture[str]) -> None:
    _, codes, out, err = run_lines(capsys, "diff sin(x)*y at x=1, y=2", 'diff "sin(x)*y" --at x=1,y=2 --format json')
    code, expected = cli(["diff", "sin(x)*y", "--at", "x=1,y=2"])
    _, expected_json = cli(["diff", "sin(x)*y", "--at", "x=1,y=2", "--format", "json"])
    assert codes == [0, 0] and code == 0 and err == ""
    assert out == expected + expected_json
    assert expected.splitlines() == [f"d/dx = {2 * math.cos(1)!r}", f"d/dy = {math.sin(1)!r}"]


# One line per command (and --help for every command of the app, so commands added later are reached too).
COMMAND_LINES = [
    ("eval x^2 + 1 at x=3", ["eval", "x^2 + 1", "--at", "x=3"]),
    ("diff x^3 at x=2 --order 2", ["diff", "x^3", "--at", "x=2", "--order", "2"]),
    ("diff x*y --symbolic", ["diff", "x*y", "--symbolic"]),
    ("hessian x^2*y at x=1, y=2", ["hessian", "x^2*y", "--at", "x=1, y=2"]),
    ("jacobian x*y, x+y at x=1, y=2 --format json", ["jacobian", "x*y, x+y", "--at", "x=1, y=2", "--format", "json"]),
    ("check sin(x)*y at x=1, y=2 --method complex", ["check", "sin(x)*y", "--at", "x=1, y=2", "--method", "complex"]),
    ('verify x^2 --claim "2*x" --samples 5', ["verify", "x^2", "--claim", "2*x", "--samples", "5"]),
    ("trace x*y + sin(x) at x=1, y=2", ["trace", "x*y + sin(x)", "--at", "x=1, y=2"]),
    ("graph x*y + sin(x) --format dot", ["graph", "x*y + sin(x)", "--format", "dot"]),
    ("plot x^2 --range x=-1:1 --width 30 --height 6", ["plot", "x^2", "--range", "x=-1:1", "--width", "30", "--height", "6"]),
    ("diff -x^2 at x=3", ["diff", "--at", "x=3", "--", "-x^2"]),
    ("diff --at x=3 -- -x^2", ["diff", "--at", "x=3", "--", "-x^2"]),
]


@pytest.mark.parametrize("line, args", COMMAND_LINES, ids=[c for c, _ in COMMAND_LINES])
def test_every_command_runs_from_a_line(capsys: pytest.CaptureFixture[str], line: str, args: list[str]) -> None:
    _, codes, out, _ = run_lines(capsys, line)
    code, expected = cli(args)
    assert codes == [code] and out == expected and out.strip()


def test_the_lines_cover_every_command() -> None:
    covered = {c.split()[0] for c, _ in COMMAND_LINES}
    assert covered == repl.Commands().names() & COMMANDS - {"repl"}


@pytest.mark.parametrize("command", sorted(repl.Commands().names() - {"repl"}))
def test_every_command_of_the_app_has_its_help_on_a_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # both help texts wrapped at one width
    _, codes, out, _ = run_lines(capsys, f"help {command}")
    done = subprocess.run([sys.executable, "-m", "gradcli", command, "--help"], capture_output=True, text=True, timeout=60)
    expected = done.stdout.replace("Usage: python -m gradcli ", "Usage: gradcli ", 1)
    assert codes == [0] and done.returncode == 0 and out == expected and "--" in out


def test_bad_options_and_usage_errors_are_the_clis(capsys: pytest.CaptureFixture[str]) -> None:
    _, codes, out, err = run_lines(capsys, "diff x^2 --frobnicate", "diff x^2 --order 0 at x=1", "eval", "1 + 1")
    assert codes[:3] == [2, 2, 2] and codes[3] == 0
    assert "No such option" in err and "--frobnicate" in err and "Missing argument" in err
    assert out == "2\n"  # the session went on


# Definitions, bindings, ans.
def test_bindings_definitions_and_ans(capsys: pytest.CaptureFixture[str]) -> None:
    session, codes, out, err = run_lines(
        capsys,
        "x = 3",
        "x^2 + 1",  # a bare expression at the bindings: 10
        "ans * 2",  # 20
        "diff x^2 + 2*x + 1",  # 2x + 2 = 8
        "ans",  # the derivative printed: 8
        "W = [[1,2],[3,4]]",
        "v = [1, 1]",
        "W @ v",  # [3, 7]
        "b = x * 2",  # constant at the bindings: bound to 6
        "g = t^2 + b",  # a formula: kept as text
        "diff g at t=2",  # d/dt = 4, d/db = 1 (b is a bound variable)
        "eval g at t=2",  # 4 + 6
        "g * 10 at t=1" if False else "eval g*10 at t=1",
    )
    assert codes == [0] * 13, err
    assert out.splitlines() == ["10", "20", "8", "8", "[3, 7]", "d/dt = 4", "d/db = 1", "10", "70"]
    assert session.bindings == {"x": "3", "ans": "70", "W": "[[1, 2], [3, 4]]", "v": "[1, 1]", "b": "6"}
    assert [d.text for d in session.definitions.values()] == ["g = t^2 + b"]


def test_vars_funcs_and_clear(capsys: pytest.CaptureFixture[str]) -> None:
    session, codes, out, _ = run_lines(capsys, "a = 3", "g = x + a", ":vars", ":funcs", ":clear a", ":vars", ":clear", ":vars")
    assert codes == [0] * 8
    assert out.splitlines() == ["a = 3", "g = x + a", "no functions yet: f(t) = t^2 + 1 defines one", "g = x + a",
                                "no variables yet: a = 3 binds one, g = x^2 + 1 defines one"]  # fmt: skip
    assert session.bindings == {} and session.definitions == {}


def test_a_binding_changes_only_what_uses_it(capsys: pytest.CaptureFixture[str]) -> None:
    # y is bound but unused by "2+2": no --at y (which would warn), and the CLI's exact output.
    _, codes, out, err = run_lines(capsys, "y = 5", "2 + 2", "eval x at x=1", "eval y at y=2")
    assert codes == [0, 0, 0, 0] and out == "4\n1\n2\n" and err == ""  # a value on the line wins over the session's


def test_only_the_definitions_an_expression_uses_are_prepended(capsys: pytest.CaptureFixture[str]) -> None:
    session, codes, out, err = run_lines(capsys, "g = x^2", "h = g + z", "2 + 3", "eval h at x=3, z=1")
    assert codes == [0, 0, 0, 0], err
    assert out == "5\n10\n"
    assert session.argv("eval", [], "h + 1")[1] == "g = x^2\nh = g + z\nh + 1"
    assert session.argv("eval", [], "2") == ["eval", "2"]


def test_user_functions_are_kept_as_program_text(capsys: pytest.CaptureFixture[str]) -> None:
    """f(t) = t^2 + 1 is stored as text and put before an expression that calls f, once the language has
    user functions; until then the definition is refused with the parser's caret and a note."""
    session, codes, out, err = run_lines(capsys, "f(t) = t^2 + 1", "diff f(x) at x=3")
    if repl._has_functions():
        assert codes == [0, 0] and out == "6\n"
        assert session.argv("eval", [], "f(2)")[1] == "f(t) = t^2 + 1\nf(2)"
    else:
        assert codes[0] == 2 and "no function definitions" in err and "^" in err
        assert session.definitions == {}


# Errors never end the session.
@pytest.mark.parametrize(
    "bad, message, code",
    [
        ("x+", "syntax error at column 3", 2),
        ("sinn(1)", "unknown function sinn; did you mean sin?", 2),
        ("log(-1)", "log(-1) is undefined", 3),
        ("q^2", "no value for q", 3),
        ("pi = 3", "pi is a constant", 2),
        ("sin = 3", "sin is a built-in function", 2),
        (":varz", "did you mean :vars?", 2),
        ('diff "x', "no closing quotation", 2),
        ("repl", "this is the REPL already", 2),
        ("eval - ", "can't be the expression", 2),
        ("a = 1 +", "syntax error at column 8", 2),
    ],
)
def test_errors_are_shown_and_the_session_goes_on(capsys: pytest.CaptureFixture[str], bad: str, message: str, code: int) -> None:
    _, codes, out, err = run_lines(capsys, bad, "1 + 1")
    assert codes == [code, 0] and message in err and out.endswith("2\n")
    assert "Traceback" not in err


def test_an_unbound_variable_gets_the_sessions_way_to_bind_it(capsys: pytest.CaptureFixture[str]) -> None:
    _, codes, _, err = run_lines(capsys, "y = 2", "diff y*z", "diff y*z at z=1")
    assert codes == [0, 3, 0]
    assert err.splitlines() == ["gradcli: error: no value for z: give it with --at z=…",
                                "gradcli: note: z = … binds z for the rest of the session"]  # fmt: skip


def test_a_syntax_error_has_its_caret_under_the_column(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, _, err = run_lines(capsys, "g = x^2", "diff g + * 2 at x=1")
    lines = err.splitlines()
    assert lines[0].startswith("gradcli: error: syntax error at column 5")  # the column in the line as typed
    assert lines[1] == "  g + * 2" and lines[2] == "      ^"


# Scripts on stdin (the pipeable form), through the real program.
def repl_process(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "gradcli", *args], input=script, capture_output=True, text=True, timeout=120, env=full
    )


def test_a_script_on_stdin(tmp_path: Path) -> None:
    script = "a = 2\n# a comment\n\ndiff sin(a*x) at x=0 wrt x\nlog(-1)\nans + 1\n:quit\n1/0\n"
    done = repl_process(script, "repl", env={"XDG_STATE_HOME": str(tmp_path)})
    assert done.stdout == "2\n3\n"  # a·cos(a·0) = 2, then ans + 1; nothing after :quit
    assert "log(-1) is undefined" in done.stderr
    assert done.returncode == 3  # the first failing line's code
    assert not (tmp_path / "gradcli").exists()  # a script writes no history


def test_a_clean_script_exits_0_and_plain_gradcli_without_a_terminal_still_shows_help() -> None:
    done = repl_process("x = 3\nx^2\n", "repl")
    assert (done.returncode, done.stdout) == (0, "9\n")
    help_run = repl_process("x^2\n")
    assert "Usage" in help_run.stdout + help_run.stderr and "9" not in help_run.stdout


# The prompt, through prompt_toolkit's pipe input.
def drive(keys: str, history: Path, session: repl.Session | None = None) -> repl.Session:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    session = session or repl.Session()
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        assert repl.interactive(session, input=pipe, output=DummyOutput(), history=history) == 0
    return session


def test_the_prompt_runs_lines_keeps_history_and_survives_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from prompt_toolkit.history import FileHistory

    path = tmp_path / "state" / "gradcli" / "history"
    session = drive("a = 2\rx+\rhalf-typed\x03diff a*x^2 --wrt x at x=3\r\x04", path)
    out, err = capsys.readouterr()
    assert out == "12\n" and "syntax error at column 3" in err  # Ctrl-C dropped the half-typed line
    assert session.bindings["ans"] == "12"
    stored = list(FileHistory(str(path)).load_history_strings())
    assert stored == ["diff a*x^2 --wrt x at x=3", "x+", "a = 2"]  # newest first, as prompt_toolkit reads it


def test_tab_completes_at_the_prompt(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Completion runs asynchronously in prompt_toolkit, so the keys after Tab are sent once it is done."""
    import threading
    import time

    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    session = repl.Session()
    session.commands.names()  # loaded before the prompt, so the one second below is only for the completion
    codes: list[int] = []
    with create_pipe_input() as pipe:
        runner = threading.Thread(
            target=lambda: codes.append(repl.interactive(session, input=pipe, output=DummyOutput(), history=tmp_path / "h"))
        )
        runner.start()
        pipe.send_text("sigm\t")
        time.sleep(1.0)
        pipe.send_text("0)\r:q\r")
        runner.join(timeout=60)
    assert codes == [0]
    assert capsys.readouterr().out == "0.5\n"  # sigm<Tab> → sigmoid(


def test_history_is_read_back_with_the_up_arrow(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "history"
    drive("2 + 5\r\x04", path)
    drive("\x1b[A\r\x04", path)  # a new session: Up brings back the last line of the last one
    assert capsys.readouterr().out == "7\n7\n"


def test_ctrl_r_searches_the_history(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "history"
    drive("2 + 5\r9 * 9\r\x04", path)
    drive("\x122 +\r\r\x04", path)  # Ctrl-R "2 +" finds the older line; Enter takes it, Enter runs it
    assert capsys.readouterr().out == "7\n81\n7\n"


def test_the_plain_prompt_fallback(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    typed = iter(["x = 4", "sqrt(x)", KeyboardInterrupt, "x+", "exit"])

    def read(prompt: str) -> str:
        assert prompt == repl.PROMPT
        item = next(typed)
        if item is KeyboardInterrupt:
            raise KeyboardInterrupt
        return item  # type: ignore[return-value]

    assert repl.plain_loop(repl.Session(), read) == 0
    out, err = capsys.readouterr()
    assert "2\n" in out and "syntax error" in err
    from prompt_toolkit.history import FileHistory

    assert list(FileHistory(str(tmp_path / "gradcli" / "history")).load_history_strings())[:2] == ["exit", "x+"]


def test_history_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert repl.history_path() == tmp_path / "gradcli" / "history"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/dir")  # not absolute: ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path))
    assert repl.history_path() == tmp_path / ".local" / "state" / "gradcli" / "history"


# Completion candidates and the live check.
def completions(session: repl.Session, text: str) -> dict[str, tuple[str, str]]:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    found = repl.completer(session).get_completions(Document(text), CompleteEvent(completion_requested=True))
    return {c.text: (c.display_text, c.display_meta_text) for c in found}


def test_completion_of_functions_shows_their_signature() -> None:
    from gradcli.engine.primitives import FUNCTIONS

    got = completions(repl.Session(), "si")
    expected = {n for n in FUNCTIONS if n.startswith("si")}
    assert set(got) == {n + "(" for n in expected} and {"sin", "sinh", "sign", "sigmoid"} <= expected
    assert got["sin("] == ("sin(x)", "function of 1 argument")
    assert completions(repl.Session(), "2 + atan")["atan2("] == ("atan2(x, y)", "function of 2 arguments")
    assert completions(repl.Session(), "lo")["log("][0] == "log(x) | log(x, y)"


def test_completion_of_commands_constants_and_session_names(capsys: pytest.CaptureFixture[str]) -> None:
    session, _, _, _ = run_lines(capsys, "alpha = 3", "area = r^2")
    assert set(completions(session, "di")) >= {"diff"}
    assert "diff" not in completions(session, "x + di")  # a command only starts a line
    assert completions(session, "p")["pi"][1].startswith("constant = 3.14159")
    got = completions(session, "2*a")
    assert got["alpha"] == ("alpha", "= 3") and got["area"] == ("area", "= r^2")
    assert "at" not in got  # `at` is a keyword of command lines only
    assert "at" in completions(session, "diff x a")
    assert set(completions(session, ":c")) == {":clear"}


def test_user_functions_complete_with_their_parameters_and_are_prepended_where_used() -> None:
    """Independent of the language's support for them: the session's bookkeeping of a function definition."""
    session = repl.Session()
    session.definitions["f"] = repl.Definition("f", "f(t) = t^2 + k", "t^2 + k", ("t",))
    session.definitions["k"] = repl.Definition("k", "k = 2*z", "2*z")
    session.definitions["h"] = repl.Definition("h", "h(u) = f(u) + 1", "f(u) + 1", ("u",))
    assert completions(session, "2 + f")["f("] == ("f(t)", "= t^2 + k")
    assert [d.name for d in session.used_definitions({"h"})] == ["k", "f", "h"]  # each after what it uses
    assert [d.name for d in session.used_definitions({"t"})] == []  # a parameter name is not a use
    program = session.argv("eval", [], "h(3)")[1]
    assert program == "k = 2*z\nf(t) = t^2 + k\nh(u) = f(u) + 1\nh(3)"


def test_a_formula_defined_before_what_it_uses_still_comes_after_it(capsys: pytest.CaptureFixture[str]) -> None:
    session, codes, out, err = run_lines(capsys, "g = k + 1", "k = 2*z", "eval g at z=3")
    assert codes == [0, 0, 0] and out.startswith("7\n"), err  # 2·3 + 1: k is assigned before g reads it
    session.definitions["p"] = repl.Definition("p", "p = q", "q")  # a cycle can't be typed (see below); still,
    session.definitions["q"] = repl.Definition("q", "q = p", "p")
    assert [d.name for d in session.used_definitions({"p"})] == ["q", "p"]  # a cycle is cut, not followed forever


def test_self_reference_and_cycles_are_refused_and_named(capsys: pytest.CaptureFixture[str]) -> None:
    """x = x + 1 with x unbound, s = s + x with s a formula, a = b then b = a: each refused, saying why."""
    session, codes, out, err = run_lines(capsys, "x = x + 1", "s = y", "s = s + y", "a = b", "b = a")
    assert codes == [2, 0, 2, 0, 2], err
    lines = err.splitlines()
    assert "x itself" in lines[0] and "no value yet" in lines[0]
    assert "s = y" in lines[1] and "refer to itself" in lines[1]
    assert "cycle (b uses a, a uses b)" in lines[2]
    assert "x" not in session.definitions and session.definitions["s"].body == "y" and "b" not in session.definitions
    session, codes, out, err = run_lines(capsys, "g = k + 1", "k = 2*m", "m = g*2", "eval g at m=5")
    assert codes == [0, 0, 2, 0] and "cycle (m uses g, g uses k, k uses m)" in err and out.startswith("11\n"), err
    session, codes, out, err = run_lines(capsys, "a = 2", "a = a + 1", "eval a")  # a value updated from itself is fine
    assert codes == [0, 0, 0] and out.startswith("3\n"), err


def test_a_function_is_not_silently_replaced_by_a_value(capsys: pytest.CaptureFixture[str]) -> None:
    session, codes, out, err = run_lines(capsys, "f(t) = t^2", "f = 3", ":clear f", "f = 3", "g = x + 1", "g(t) = t")
    assert codes == [0, 2, 0, 0, 0, 2], err
    assert "f is a function (f(t) = t^2)" in err and ":clear f" in err and "g is a formula (g = x + 1)" in err
    assert session.bindings["f"] == "3" and session.definitions["g"].params is None


def test_completion_of_options_and_their_choices() -> None:
    session = repl.Session()
    got = completions(session, "diff x^2 --o")
    assert set(got) == {"--order"} and "Derivative order" in got["--order"][1]
    assert set(completions(session, "diff x^2 --mode ")) == {"reverse", "forward"}
    assert set(completions(session, "diff x^2 --format p")) == {"plain"}


def test_the_live_check() -> None:
    session = repl.Session()
    assert session.problem("sin(x") is not None and "syntax error" in session.problem("sin(x")  # type: ignore[operator]
    assert session.problem("sin(x)") is None
    assert session.problem("diff x^2 + at x=1") is not None
    assert session.problem("diff x^2 at x=1") is None
    assert session.problem("a = 3 *") is not None
    assert session.problem(":vars") is None


def test_the_repl_module_is_not_loaded_by_other_commands() -> None:
    """Start-up of every other command is unchanged: neither the REPL nor prompt_toolkit is imported."""
    probe = (
        "import sys, runpy; sys.argv = ['gradcli', 'diff', 'x^2', '--at', 'x=3']\n"
        "try:\n    runpy.run_module('gradcli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('prompt_toolkit', 'gradcli.cli.repl', 'typer'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines() == ["6", "[]"], done.stderr


# A real terminal: plain `gradcli` on a pty starts the REPL (stdlib pty, as a terminal emulator would drive it).
def test_plain_gradcli_on_a_terminal_is_the_repl(tmp_path: Path) -> None:
    import pty
    import select
    import time

    master, slave = pty.openpty()
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "NO_COLOR": "1"}
    child = subprocess.Popen([sys.executable, "-m", "gradcli"], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    seen = bytearray()

    def wait_for(marker: bytes) -> None:
        deadline = time.monotonic() + 60
        while marker not in seen:
            assert time.monotonic() < deadline, bytes(seen[-300:])
            if select.select([master], [], [], 1)[0]:
                seen.extend(os.read(master, 65536))
        del seen[: seen.index(marker) + len(marker)]

    try:
        wait_for(b"gradcli>")
        os.write(master, b"x = 3\r")
        wait_for(b"gradcli>")
        os.write(master, b"diff x^2 + 2*x --format json\r")
        wait_for(b'"gradient": {"x": 8}')  # 2x + 2 at the session's x = 3
        wait_for(b"gradcli>")
        os.write(master, b"\x04")
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
        os.close(master)
    from prompt_toolkit.history import FileHistory

    stored = list(FileHistory(str(tmp_path / "gradcli" / "history")).load_history_strings())
    assert stored == ["diff x^2 + 2*x --format json", "x = 3"]


def test_a_closed_stdin_is_a_usage_error_and_plain_gradcli_still_helps() -> None:
    repl_run = subprocess.run([sys.executable, "-m", "gradcli", "repl"], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=60, preexec_fn=lambda: os.close(0))  # fmt: skip
    assert repl_run.returncode == 2 and "stdin is closed" in repl_run.stderr and "Traceback" not in repl_run.stderr
    plain = subprocess.run([sys.executable, "-m", "gradcli"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60, preexec_fn=lambda: os.close(0))  # fmt: skip
    assert "Usage" in plain.stdout + plain.stderr and "Traceback" not in plain.stderr


def test_ctrl_d_at_once_leaves_without_waiting_for_the_terminal(tmp_path: Path) -> None:
    """Review 23: a terminal that doesn't answer prompt_toolkit's cursor-position request (ESC[6n) made Ctrl-D
    wait for its 1 s timeout (seconds under load). Here nothing answers it, and the REPL still leaves at once."""
    import pty
    import select
    import time

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "PROMPT_TOOLKIT_NO_CPR"}
    env.update({"XDG_STATE_HOME": str(tmp_path), "TERM": "xterm", "NO_COLOR": "1"})
    child = subprocess.Popen([sys.executable, "-m", "gradcli", "repl"], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    seen = bytearray()
    try:
        deadline = time.monotonic() + 60
        while b"gradcli>" not in seen:
            assert time.monotonic() < deadline, bytes(seen[-300:])
            if select.select([master], [], [], 1)[0]:
                seen.extend(os.read(master, 65536))
        sent = time.monotonic()
        os.write(master, b"\x04")
        while child.poll() is None and time.monotonic() < sent + 30:
            if select.select([master], [], [], 0.02)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        assert child.wait(timeout=30) == 0
        took = time.monotonic() - sent
        assert took < 0.9, f"{took:.2f} s from Ctrl-D to exit"  # prompt_toolkit's CPR wait alone is 1 s
    finally:
        if child.poll() is None:
            child.kill()
        os.close(master)
