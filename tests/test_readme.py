"""README.md's ```console examples, run for real: every `$ gradcli ...` line is executed with the
installed console script from the repository root and its output compared with the lines the
README shows under it (up to the next `$ ` line or the end of the block).

What is compared: stdout followed by stderr, as a terminal shows them when the program writes its
results first and its warnings or errors last (`gradcli: warning: ...` after the CSV rows,
`gradcli: error: ...` alone). Trailing whitespace on each line and trailing blank lines are
ignored; nothing else is. Exit codes are not shown in the README, so they are only reported.

The runs are piped, not on a terminal: `--format auto` then prints plain text, the progress bar
of `--points` stays off and `plot` draws without colour, which is what the README shows. COLUMNS,
NO_COLOR and TERM are fixed so Rich and uniplot lay out the same everywhere.

An example is skipped, with the reason in the test report, when it can't be checked as one
command and its output (see `skip_reason`). A `$ printf FORMAT > FILE` line is not an example but
a setup step: the file is written to a temporary directory and the later commands of the same
block that name it run there (see `setup_files`). So is a `$ python -c "CODE"` line whose code names
a file a later command reads (`--at A=@spd.csv`): it runs in that directory first (see `setup_scripts`),
for data too big for printf, such as a 50×50 matrix.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

FENCE = re.compile(r"^```console[ \t]*\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
PROMPT = "$ "
ID_WIDTH = 60


@dataclass(frozen=True)
class Example:
    line: int  # 1-based line number of the `$ ` line in README.md
    command: str  # the text after `$ `
    expected: str
    setup: tuple[str, ...]  # the `$ ` lines before it in the same block


def readme_examples(text: str) -> list[Example]:
    """Every `$ ...` command of the ```console blocks that runs gradcli, with the lines under it."""
    examples: list[Example] = []
    for block in FENCE.finditer(text):
        first_line = text.count("\n", 0, block.start("body")) + 1
        commands: list[tuple[int, str, list[str]]] = []  # (line number, command, output lines)
        for offset, line in enumerate(block["body"].splitlines()):
            if line.startswith(PROMPT):
                commands.append((first_line + offset, line[len(PROMPT) :].strip(), []))
            elif commands:
                commands[-1][2].append(line)
        for k, (number, command, output) in enumerate(commands):
            if runs_gradcli(command):
                setup = tuple(c for _, c, _ in commands[:k])
                examples.append(Example(number, command, "\n".join(output), setup))
    return examples


def runs_gradcli(command: str) -> bool:
    """`gradcli ...`, or a shell pipeline with gradcli in it (collected so that it is skipped visibly)."""
    return command.startswith("gradcli ") or re.search(r"(^|[|;&]\s*)gradcli\s", command) is not None


def unquoted_shell_syntax(command: str) -> str | None:
    """The first pipe, redirection, list operator or substitution outside quotes, else None."""
    quote: str | None = None
    k = 0
    while k < len(command):
        c = command[k]
        if c == "\\" and quote != "'":
            k += 2
            continue
        if quote is None and c in "'\"":
            quote = c
        elif c == quote:
            quote = None
        elif quote != "'" and (c == "`" or command.startswith("$(", k)):
            return command[k : k + 2]
        elif quote is None and c in "|<>;&":
            return c
        k += 1
    return None


def skip_reason(example: Example) -> str | None:
    """Why an example can't be checked by running it and comparing its output, else None."""
    if not example.command.startswith("gradcli "):
        # `seq ... | gradcli ...`, `printf ... | gradcli ...`: the input comes from another program.
        return "a shell pipeline feeding gradcli: not one gradcli command"
    syntax = unquoted_shell_syntax(example.command)
    if syntax is not None:
        # Pipes (`| head -3`), redirections and substitutions need a shell and other programs;
        # the README's text is then their output, not gradcli's.
        return f"uses shell syntax {syntax!r}: not one gradcli command"
    args = shlex.split(example.command)
    if any(a in ("-o", "--output") or a.startswith(("--output=", "-o")) for a in args[1:]):
        # `graph -o FILE`, `plot -o FILE.png`: the product is a file (an image), stdout only says "wrote FILE".
        return "writes its result to a file (-o/--output)"
    return None


PRINTF_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


def printf_setup(command: str) -> tuple[str, str] | None:
    """(file name, contents) of `printf FORMAT > FILE` with plain backslash escapes, else None."""
    if not command.startswith("printf "):
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if len(words) != 4 or words[2] != ">" or "%" in words[1] or "/" in words[3]:
        return None
    contents = re.sub(r"\\(.)", lambda m: PRINTF_ESCAPES.get(m[1], m[0]), words[1])
    return words[3], contents


def setup_files(example: Example) -> dict[str, str]:
    """The files that earlier `printf ... > FILE` lines of the block create and this command names."""
    args = shlex.split(example.command)
    files: dict[str, str] = {}
    for step in example.setup:
        made = printf_setup(step)
        if made is not None and any(a == made[0] or a.endswith(f"=@{made[0]}") for a in args):  # FILE or --at X=@FILE
            files[made[0]] = made[1]
    return files


def setup_scripts(example: Example) -> list[str]:
    """The code of earlier `python -c CODE` lines of the block that write a file this command names."""
    args = shlex.split(example.command)
    names = {a.split("=@", 1)[1] for a in args if "=@" in a} | set(args[1:])
    scripts: list[str] = []
    for step in example.setup:
        try:
            words = shlex.split(step)
        except ValueError:
            continue
        if len(words) == 3 and words[:2] == ["python", "-c"] and any(f"'{n}'" in words[2] for n in names):
            scripts.append(words[2])
    return scripts


def gradcli_command() -> list[str]:
    """The console script next to the running Python, else `python -m gradcli`."""
    bindir = Path(sys.executable).parent
    for name in ("gradcli", "gradcli.exe"):
        if (bindir / name).is_file():
            return [str(bindir / name)]
    return [sys.executable, "-m", "gradcli"]


def cli_env() -> dict[str, str]:
    """The caller's environment without colour or TTY overrides (as tests/test_install.py and
    tests/test_trace.py run the CLI), with a fixed width, no colour and a dumb terminal."""
    drop = ("PYTHONPATH", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CLICOLOR_FORCE", "COLUMNS", "LINES")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(COLUMNS="100", NO_COLOR="1", TERM="dumb", PYTHONIOENCODING="utf-8")
    return env


def normalise(text: str) -> str:
    """Trailing whitespace off every line, trailing blank lines off the end."""
    return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n")


def example_id(example: Example) -> str:
    text = example.command.removeprefix("gradcli ")
    return text if len(text) <= ID_WIDTH else text[: ID_WIDTH - 3] + "..."


EXAMPLES = readme_examples(README.read_text(encoding="utf-8"))


def test_readme_has_examples() -> None:
    """The parser still finds the README's examples, so the test below can't pass by checking nothing."""
    checked = [e for e in EXAMPLES if skip_reason(e) is None]
    assert len(checked) >= 20, [e.command for e in EXAMPLES]
    assert all(e.expected.strip() for e in checked), [e.command for e in checked if not e.expected.strip()]


@pytest.mark.parametrize(
    "example",
    [
        pytest.param(e, marks=[pytest.mark.skip(reason=f"README.md:{e.line}: {r}")] if (r := skip_reason(e)) else [])
        for e in EXAMPLES
    ],
    ids=[example_id(e) for e in EXAMPLES],
)
def test_readme_example(example: Example, tmp_path: Path) -> None:
    cwd = ROOT
    files = setup_files(example)
    scripts = setup_scripts(example)
    if files or scripts:
        # The command reads files an earlier `printf ... > FILE` line made: write them to a temporary
        # directory, never into the repository, and run there with samples/ reachable as from the root.
        cwd = tmp_path
        for name, contents in files.items():
            (tmp_path / name).write_text(contents, encoding="utf-8", newline="")
        try:
            (tmp_path / "samples").symlink_to(ROOT / "samples", target_is_directory=True)
        except OSError:
            shutil.copytree(ROOT / "samples", tmp_path / "samples")
        for code in scripts:
            subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=cli_env(), check=True, timeout=60)
    args = [*gradcli_command(), *shlex.split(example.command)[1:]]
    done = subprocess.run(
        args,
        cwd=cwd,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    actual = normalise(done.stdout + done.stderr)
    expected = normalise(example.expected)
    assert actual == expected, (
        f"README.md:{example.line}: $ {example.command}\n"
        f"exit code {done.returncode}\n"
        f"--- README shows:\n{expected}\n"
        f"--- gradcli prints:\n{actual}"
    )
