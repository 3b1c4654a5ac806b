"""On a terminal: the progress bar (rows/s, bytes of the file, cleared when done, never under the rows
themselves) and Rich tables that never cut a number short, however narrow the terminal. Each runs gradcli
in a real subprocess on a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_tty(args: list[str], columns: int = 80, stdout_file: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run gradcli with stderr (and stdout, unless a file is given) on a pseudo-terminal; the terminal's bytes."""
    master, slave = pty.openpty()
    full_env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm", **(env or {})}
    out = open(stdout_file, "w") if stdout_file else slave  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "gradcli", *args], stdout=out, stderr=slave, env=full_env)
    os.close(slave)
    buf = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    proc.wait()
    os.close(master)
    if stdout_file:
        out.close()  # type: ignore[union-attr]
    assert proc.returncode == 0, buf.decode(errors="replace")
    return buf.decode("utf-8", errors="replace")


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("points") / "big.csv"
    path.write_text("x\n" + "\n".join(str(i / 7) for i in range(300_000)) + "\n")
    return path


def test_progress_bar_shows_rate_and_bytes_and_is_cleared(big_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    shown = on_tty(["diff", "sin(x)*exp(x)", "--points", str(big_csv)], 120, stdout_file=out)
    assert "rows/s" in shown and " MB of " in shown, shown[-400:]
    assert "-:--:--" not in shown  # a file's size gives a time left
    last = shown.rstrip("\n").rsplit("rows/s", 1)[1]
    assert "\x1b[2K" in last  # transient: the bar's line is erased at the end
    assert out.read_text().splitlines()[0] == "x,value,d_x" and len(out.read_text().splitlines()) == 300_001


def test_no_progress_bar_above_rows_on_the_same_terminal(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("x\n1\n2\n")
    shown = ANSI.sub("", on_tty(["diff", "x^2", "--points", str(path)], 80)).replace("\r", "")
    assert shown.splitlines() == ["x,value,d_x", "1,1,2", "2,4,4"]  # no "0 rows ━━━" line before the CSV


NARROW = [
    ["check", "x**2 + 2*x + 1", "--at", "x=3.3"],
    ["diff", "x*y", "--at", "x=1.234567891234,y=3.987654321987"],
    ["check", "sin(x*y)", "--at", "x=1.1,y=2.3", "--method", "richardson"],
    ["hessian", "exp(x*y)", "--at", "x=1.1,y=2.3"],
]


@pytest.mark.parametrize("args", NARROW, ids=[" ".join(a) for a in NARROW])
@pytest.mark.parametrize("columns", [30, 50])
def test_tables_never_cut_a_number(args: list[str], columns: int) -> None:
    plain = subprocess.run(
        [sys.executable, "-m", "gradcli", *args, "-f", "plain"], capture_output=True, text=True, check=True
    ).stdout
    numbers = set(re.findall(r"-?\d+\.\d{6,}(?:e-?\d+)?", plain))
    assert numbers, plain
    shown = ANSI.sub("", on_tty([*args, "-f", "table"], columns, env={"NO_COLOR": "1"})).replace("\r", "")
    assert "…" not in shown
    for number in numbers:
        assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", shown), (number, shown)
