"""Every samples/*.grad runs as its header says: the `#   gradcli ...` command line and the
`#   expected:` block of `#     <line>` lines under it, compared exactly."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gradcli.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "samples").glob("*.grad"))

COMMAND = re.compile(r"^#\s+gradcli\s+(?P<args>.+?)\s*$")
EXPECTED = re.compile(r"^#\s+expected:\s*$")
EXPECTED_LINE = re.compile(r"^#     (?P<line>.*?)\s*$")


@dataclass(frozen=True)
class Sample:
    args: list[str]
    expected: list[str]


def read_sample(path: Path) -> Sample:
    """The command and the expected output from the header comments; fails if either is missing."""
    lines = path.read_text(encoding="utf-8").splitlines()
    args: list[str] | None = None
    expected: list[str] | None = None
    k = 0
    while k < len(lines):
        line = lines[k]
        if args is None and (m := COMMAND.match(line)):
            args = shlex.split(m["args"])
        elif expected is None and EXPECTED.match(line):
            expected = []
            k += 1
            while k < len(lines) and (e := EXPECTED_LINE.match(lines[k])):
                expected.append(e["line"])
                k += 1
            continue
        k += 1
    if args is None:
        pytest.fail(f"{path.name} has no '#   gradcli ...' command line")
    if not expected:
        pytest.fail(f"{path.name} has no '#   expected:' block of '#     <line>' lines")
    return Sample(args, expected)


def absolute(arg: str) -> str:
    """@samples/x.grad → @/abs/path/samples/x.grad, so the run doesn't depend on the cwd."""
    if arg.startswith("@") and not Path(arg[1:]).is_absolute():
        return "@" + str(ROOT / arg[1:])
    return arg


def test_there_are_samples() -> None:
    assert len(SAMPLES) >= 4


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample(path: Path) -> None:
    sample = read_sample(path)
    assert any(a == f"@samples/{path.name}" for a in sample.args), f"{path.name}'s command doesn't run {path.name}"
    result = CliRunner().invoke(app, [absolute(a) for a in sample.args])
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.output
    assert result.stdout.splitlines() == sample.expected


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_from_the_repo_root(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As the README shows it: run from the repository root with the relative @samples/... path."""
    monkeypatch.chdir(ROOT)
    sample = read_sample(path)
    result = CliRunner().invoke(app, sample.args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == sample.expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("# no command\n#   expected:\n#     1\nx\n", "no '#   gradcli"),
        ("#   gradcli eval @samples/f.grad\nx\n", "no '#   expected:'"),
        ("#   gradcli eval @samples/f.grad\n#   expected:\nx\n", "no '#   expected:'"),
    ],
)
def test_reader_rejects_incomplete_headers(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "f.grad"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(pytest.fail.Exception, match=re.escape(problem)):
        read_sample(path)
