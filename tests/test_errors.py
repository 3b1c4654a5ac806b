"""Bad input through the CLI (SPEC §4): the exit code, the words the message must contain, and
never a Python traceback. test_cli_basic.py has the headline rows; these are the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from gradcli.cli.app import app

runner = CliRunner()


def run(args: list[str], input: str | None = None) -> Result:
    return runner.invoke(app, args, input=input)


def assert_clean(result: Result) -> None:
    """No traceback, no exception escaping the CLI, nothing on stdout for an error."""
    assert "Traceback" not in result.stdout
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code != 0:
        assert result.stdout == ""
        assert result.stderr.startswith("gradcli: error: ")


# (args, stdin, exit code, words the message must contain)
ERROR_ROWS: list[tuple[list[str], str | None, int, list[str]]] = [
    # syntax errors: a caret under the column and what was expected there
    (["eval", "x+", "--at", "x=1"], None, 2, ["syntax error at column 3", "unexpected end of input", "expected", "  x+\n    ^"]),
    (["eval", "(x", "--at", "x=1"], None, 2, ["syntax error at column 3", "expected ')'", "^"]),
    (["eval", "x)", "--at", "x=1"], None, 2, ["syntax error at column 2", "unexpected ')'", "expected", "  x)\n   ^"]),
    (["eval", "x ** * 2", "--at", "x=1"], None, 2, ["column 6", "unexpected '*'", "expected", "a name or a number"]),
    (["eval", "2x y", "--at", "x=1,y=1"], None, 2, ["column 4", "unexpected 'y'", "expected"]),
    (["eval", "1,"], None, 2, ["syntax error", "unexpected end of input", "expected"]),
    (["eval", ",1"], None, 2, ["column 1", "unexpected ','", "expected"]),
    (["eval", "x = "], None, 2, ["syntax error", "expected"]),
    (["eval", "[1, 2"], None, 2, ["syntax error", "expected", "']'"]),
    (["eval", "x +\n* 2", "--at", "x=1"], None, 2, ["line 1, column 4", "unexpected end of line", "1 | x +"]),
    (["eval", "a = 1\nb = a +* 2\nb"], None, 2, ["line 2, column 8", "unexpected '*'", "2 | b = a +* 2"]),
    (["eval", "x % 2", "--at", "x=1"], None, 2, ["syntax error", "unexpected character '%'"]),
    # unknown functions suggest the nearest name
    (["eval", "sinn(x)", "--at", "x=1"], None, 2, ["unknown function sinn", "did you mean sin?", "^^^^"]),
    (["eval", "coshh(x)", "--at", "x=1"], None, 2, ["unknown function coshh", "did you mean cosh?"]),
    (["eval", "cosj(x)", "--at", "x=1"], None, 2, ["unknown function cosj", "did you mean cos?"]),
    (["eval", "sqr(x)", "--at", "x=1"], None, 2, ["unknown function sqr", "did you mean sqrt?"]),
    (["eval", "tanhh(x)", "--at", "x=1"], None, 2, ["unknown function tanhh", "did you mean tanh?"]),
    (["eval", "sigmod(x)", "--at", "x=1"], None, 2, ["unknown function sigmod", "did you mean sigmoid?"]),
    (["eval", "logsumexpp([x])", "--at", "x=1"], None, 2, ["unknown function logsumexpp", "did you mean logsumexp?"]),
    (["eval", "zzzqqq(x)", "--at", "x=1"], None, 2, ["unknown function zzzqqq"]),
    (["eval", "pi(2)"], None, 2, ["pi is a constant, not a function"]),
    (["eval", "sin + 1"], None, 2, ["sin is a function", "sin(…)"]),
    # wrong argument counts
    (["eval", "sin(x, y)", "--at", "x=1,y=1"], None, 2, ["sin takes 1 argument, got 2"]),
    (["eval", "sin()"], None, 2, ["sin takes 1 argument, got 0"]),
    (["eval", "atan2(x)", "--at", "x=1"], None, 2, ["atan2 takes 2 arguments, got 1"]),
    (["eval", "where(x > 1, x)", "--at", "x=1"], None, 2, ["where takes 3 arguments, got 2"]),
    (["eval", "clip(x, 0)", "--at", "x=1"], None, 2, ["clip takes 3 arguments, got 2"]),
    (["eval", "hypot(x)", "--at", "x=1"], None, 2, ["hypot takes", "got 1"]),  # max(x) reduces one array (issue 13)
    (["eval", "min()"], None, 2, ["min takes", "got 0"]),
    (["eval", "log(x, 2, 3)", "--at", "x=1"], None, 2, ["log takes 1 or 2 arguments, got 3"]),
    # unbound names list the missing --at
    (["eval", "x*y*z", "--at", "x=1"], None, 3, ["no value for y, z", "--at y=", "--at z="]),
    (["eval", "x*y"], None, 3, ["no value for x, y", "--at x=", "--at y="]),
    (["diff", "a = x + w\na*b", "--at", "x=1,w=2"], None, 3, ["no value for b", "--at b="]),
    (["eval", "θ + 1"], None, 3, ["no value for θ", "--at θ="]),
    # binding a constant
    (["eval", "pi*x", "--at", "pi=3", "--at", "x=1"], None, 2, ["pi is a constant"]),
    (["eval", "x", "--at", "e=1,x=2"], None, 2, ["e is a constant"]),
    (["diff", "x", "--at", "x=1,inf=2"], None, 2, ["inf is a constant"]),
    (["eval", "pi = 3\npi"], None, 2, ["pi is a constant", "can't be assigned"]),
    # malformed --at
    (["eval", "x", "--at", "x"], None, 2, ["malformed --at 'x'", "NAME=VALUE"]),
    (["eval", "x", "--at", "=3"], None, 2, ["malformed --at '=3'", "NAME=VALUE"]),
    (["eval", "x", "--at", "x="], None, 2, ["malformed --at 'x='"]),
    (["eval", "x", "--at", "x=abc"], None, 2, ["malformed --at 'x=abc'", "abc"]),
    (["eval", "x", "--at", "x=[1,2"], None, 2, ["malformed --at 'x=[1,2'", "syntax error"]),
    (["eval", "x", "--at", "x=1,,y=2"], None, 2, ["malformed --at"]),
    (["eval", "x", "--at", "1x=3"], None, 2, ["malformed --at '1x=3'", "not a variable name"]),
    (["eval", "x", "--at", "x=1/0"], None, 2, ["malformed --at 'x=1/0'", "divisor is 0"]),
    (["eval", "x", "--at", "x=1e999"], None, 2, ["malformed --at", "too large"]),
    (["eval", "x", "--at", "x=__import__('os')"], None, 2, ["malformed --at", "no strings"]),
    # program files and empty programs
    (["eval", "@/nonexistent/dir/f.grad"], None, 2, ["no such file", "/nonexistent/dir/f.grad"]),
    (["eval", ""], None, 2, ["the expression is empty"]),
    (["eval", "   \n\t "], None, 2, ["the expression is empty"]),
    (["eval", "# only a comment"], None, 2, ["the expression is empty"]),
    (["eval", ";;"], None, 2, ["the expression is empty"]),
    (["eval", "-"], "", 2, ["the expression is empty"]),
    (["diff", "-", "--at", "x=1"], "\n\n", 2, ["the expression is empty"]),
    # comparisons belong in the condition of where
    (["eval", "x > 1", "--at", "x=1"], None, 2, ["comparisons are only allowed in the condition of where"]),
    (["eval", "x == 1", "--at", "x=1"], None, 2, ["comparisons are only allowed"]),
    (["eval", "sin(x <= 1)", "--at", "x=1"], None, 2, ["comparisons are only allowed", "^^^^^^"]),
    (["eval", "where(x > 1, x < 2, x)", "--at", "x=1"], None, 2, ["comparisons are only allowed"]),
    # domain errors name the sub-expression, the point, the argument and the domain
    (["eval", "sqrt(-1)"], None, 3, ["sqrt(-1) is undefined", "its argument is -1", "[0, inf)"]),
    (["eval", "sqrt(x) + 1", "--at", "x=-4"], None, 3, ["sqrt(x) is undefined at x=-4", "its argument is -4", "[0, inf)"]),
    (["eval", "1/x", "--at", "x=0"], None, 3, ["1/x is undefined at x=0", "divisor is 0"]),
    (["diff", "1/x", "--at", "x=0"], None, 3, ["1/x is undefined at x=0", "divisor is 0"]),
    (["eval", "acos(2)"], None, 3, ["acos(2) is undefined", "its argument is 2", "[-1, 1]"]),
    (["eval", "x^0.5", "--at", "x=-1"], None, 3, ["x^0.5 is undefined at x=-1", "-1", "0.5"]),
    (["eval", "(x - 2)^0.5", "--at", "x=1"], None, 3, ["(x - 2)^0.5 is undefined at x=1"]),
    (["diff", "log(x)", "--at", "x=0"], None, 3, ["log(x) is undefined at x=0", "(0, inf)"]),
    (["eval", "2 + log(3*x - y)", "--at", "x=1,y=4"], None, 3, ["log(3*x - y) is undefined at x=1, y=4", "-1", "(0, inf)"]),
    (["eval", "atanh(1)"], None, 3, ["atanh(1) is undefined", "(-1, 1)"]),
    (["eval", "log(2, 1)"], None, 3, ["log(2, 1) is undefined", "base"]),
    (["eval", "0^-1"], None, 3, ["0^-1 is undefined"]),
    (["eval", "gamma(-1)"], None, 3, ["gamma(-1) is undefined"]),
    # shape mismatches
    (["eval", "[1,2] + [1,2,3]"], None, 3, ["shape mismatch", "(2,)", "(3,)"]),
    (["diff", "sum(x*y)", "--at", "x=[1,2],y=[1,2,3]"], None, 3, ["shape mismatch", "x*y"]),
    (["eval", "x @ y", "--at", "x=[1,2]", "--at", "y=[1,2,3]"], None, 3, ["shape mismatch", "x @ y"]),
    # bytes and characters that are not part of the language
    (["eval", "x\x00+1", "--at", "x=1"], None, 2, ["syntax error at column 2", "'\\x00'", "x?+1"]),
    (["eval", "-", "--at", "x=1"], "x\x00", 2, ["syntax error", "'\\x00'"]),
    (["eval", "x\u200b+1", "--at", "x=1"], None, 2, ["syntax error at column 2", "\\u200b"]),
    (["eval", "x\u200d", "--at", "x=1"], None, 2, ["syntax error", "\\u200d"]),
    (["eval", "\ufeffx", "--at", "x=1"], None, 2, ["syntax error at column 1", "\\ufeff"]),
    (["eval", "😀 + 1"], None, 2, ["syntax error at column 1", "unexpected character"]),
    (["eval", "x + 😀", "--at", "x=1"], None, 2, ["syntax error at column 5", "unexpected character"]),
    (["eval", "\u202ex+1", "--at", "x=1"], None, 2, ["syntax error at column 1", "\\u202e"]),
    (["eval", "x\u200f+1", "--at", "x=1"], None, 2, ["syntax error at column 2", "\\u200f"]),
    (["eval", "x²", "--at", "x=1"], None, 2, ["x² is not a name", "x^2"]),
    # numbers too long for a float64
    (["eval", "9" * 5000], None, 2, ["too large for a float64", "5000 characters"]),
    (["eval", "x", "--at", "x=" + "9" * 5000], None, 2, ["malformed --at", "too large"]),
    # Python is not the language: plain syntax or name errors
    (["eval", "__import__('os')"], None, 2, ["syntax error", "no strings"]),
    (["eval", "__import__('os').system('echo hi')"], None, 2, ["syntax error"]),
    (["eval", "().__class__"], None, 2, ["syntax error at column 2", "unexpected ')'"]),
    (["eval", "x.__class__", "--at", "x=1"], None, 2, ["syntax error", "unexpected character '.'"]),
    (["eval", 'eval("1")'], None, 2, ["syntax error", "no strings"]),
    (["eval", "exec(x)", "--at", "x=1"], None, 2, ["unknown function exec"]),
    (["eval", "lambda: 1"], None, 2, ["syntax error", "unexpected ':'"]),  # ':' is a token since slices (x[1:])
    (["eval", "x if y else z", "--at", "x=1,y=1,z=1"], None, 2, ["syntax error", "unexpected 'if'"]),
    (["eval", "import os"], None, 2, ["syntax error"]),
    (["eval", "[i for i in x]", "--at", "x=1"], None, 2, ["syntax error"]),
    (["eval", "x; import os", "--at", "x=1"], None, 2, ["syntax error"]),
    (["eval", "open(x)", "--at", "x=1"], None, 2, ["unknown function open"]),
    # bad options
    (["diff", "x", "--at", "x=1", "--wrt", ","], None, 2, ["--wrt needs at least one variable"]),
    (["diff", "x", "--at", "x=1", "--wrt", "pi"], None, 2, ["pi is a constant"]),
]


@pytest.mark.parametrize(("args", "stdin", "code", "words"), ERROR_ROWS)
def test_error(args: list[str], stdin: str | None, code: int, words: list[str]) -> None:
    result = run(args, stdin)
    assert_clean(result)
    assert result.exit_code == code, result.stderr
    for w in words:
        assert w in result.stderr, (w, result.stderr)


def test_domain_error_message_is_exactly_the_spec() -> None:
    result = run(["eval", "log(x - 2)", "--at", "x=1"])
    assert_clean(result)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == (
        "gradcli: error: log(x - 2) is undefined at x=1: its argument is -1, outside (0, inf)"
    )


@pytest.mark.parametrize("command", ["eval", "diff", "hessian", "jacobian"])
def test_every_command_reports_domain_errors(command: str) -> None:
    result = run([command, "log(x - 2)", "--at", "x=1"])
    assert_clean(result)
    assert result.exit_code == 3
    assert "log(x - 2) is undefined at x=1: its argument is -1, outside (0, inf)" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "9" * 5000],
        ["eval", "x", "--at", "x=" + "9" * 5000],
        ["eval", "x + " + "1" * 5000 + " +", "--at", "x=1"],
    ],
)
def test_long_input_gives_a_short_message(args: list[str]) -> None:
    result = run(args)
    assert_clean(result)
    assert result.exit_code == 2
    assert len(result.stderr) < 600, result.stderr


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = run(["eval", f"@{tmp_path / 'nope.grad'}"])
    assert_clean(missing)
    assert missing.exit_code == 2
    assert "no such file" in missing.stderr
    directory = run(["eval", f"@{tmp_path}"])
    assert_clean(directory)
    assert directory.exit_code == 2
    assert "directory" in directory.stderr


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "binary.grad"
    path.write_bytes(b"\xff\xfe\x00x + 1")
    result = run(["eval", f"@{path}", "--at", "x=1"])
    assert_clean(result)
    assert result.exit_code == 2
    assert "UTF-8" in result.stderr


@pytest.mark.parametrize(
    ("src", "out"),
    [
        ("10^400", "inf"),
        ("2^10000", "inf"),
        ("-(10^400)", "-inf"),
        ("10^-400", "0"),
        ("exp(1000)", "inf"),
        ("1e308 * 10", "inf"),
        ("inf - inf", "nan"),
    ],
)
def test_overflow_is_ieee_not_a_crash(src: str, out: str) -> None:
    result = run(["eval", "--", src])
    assert_clean(result)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == out


def test_huge_exponent_derivative() -> None:
    result = run(["diff", "x^400", "--at", "x=10"])
    assert_clean(result)
    assert result.exit_code == 0
    assert result.stdout.strip() == "inf"


def test_unused_binding_is_only_a_warning() -> None:
    result = run(["eval", "x", "--at", "x=1,y=2"])
    assert_clean(result)
    assert result.exit_code == 0
    assert result.stdout.strip() == "1"
    assert "warning" in result.stderr and "y" in result.stderr
