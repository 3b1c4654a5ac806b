"""Reading what the user typed: `--at` bindings and the program text (argument, `-`, `@FILE`)."""

from __future__ import annotations

import sys

import numpy as np

from ..errors import GradcliError, UsageError, input_file_error


def split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets: "x=[1,2],y=3" → ["x=[1,2]", "y=3"]."""
    parts, depth, start = [], 0, 0
    for k, ch in enumerate(text):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:k])
            start = k + 1
    parts.append(text[start:])
    return parts


def _shorten(text: str, limit: int = 60) -> str:
    """A long --at item (a 5000-digit number) is shown by its ends, not in full."""
    return text if len(text) <= limit else f"{text[:30]}…{text[-10:]}"


def parse_at(items: list[str] | None) -> dict[str, np.ndarray]:
    """`--at x=3 --at y=2`, `--at x=3,y=2`, `--at x=[1,2,3]`, `--at t=pi/4`.

    A value is any gradcli expression without free variables, evaluated by the
    same grammar (never by Python).
    """
    from ..api import compile
    from ..language.syntax import normal_name

    point: dict[str, np.ndarray] = {}
    for item in items or []:
        for part in split_top_level(item):
            name, eq, value = part.partition("=")
            name, value = normal_name(name.strip()), value.strip()  # --at ｘ=1 names x, as the expression does
            shown = _shorten(part.strip())
            if not eq or not name or not value:
                raise UsageError(f"malformed --at {shown!r}: expected NAME=VALUE, e.g. --at x=3 or --at x=[1,2,3]")
            if not name.isidentifier():
                raise UsageError(f"malformed --at {shown!r}: {name!r} is not a variable name")
            if name in point:
                raise UsageError(f"--at gives {name} twice; give each variable one value")
            if value.startswith("@"):
                point[name] = read_array(value[1:], f"--at {name}=")
                continue
            try:
                expr = compile(value)
            except GradcliError as exc:
                raise UsageError(f"malformed --at {shown!r}: the value is not a number ({exc.message})") from None
            if expr.variables:
                used = ", ".join(expr.variables)
                hint = ""
                if "nan" in expr.variables:  # nan is no constant of the language: a file gives it (NaN in JSON, nan in CSV)
                    hint = f"; nan is not a constant of the language: give such a value in a file, --at {name}=@values.json"
                raise UsageError(
                    f"malformed --at {shown!r}: the value must be a number, an array or a constant expression,"
                    f" but it uses the variable{'s' if len(expr.variables) > 1 else ''} {used}{hint}"
                )
            try:
                point[name] = expr.value({})
            except GradcliError as exc:
                raise UsageError(f"malformed --at {shown!r}: {exc.message}") from None
    return point


def scalar_constant(text: str) -> float:
    """A bound of --grid or --range: a number or a constant expression (`pi`, `-pi/2`, `2*pi`), read by
    gradcli's grammar. ValueError if it is anything else, so callers keep their own messages."""
    try:
        return float(text)
    except ValueError:
        pass
    from ..api import compile

    try:
        expr = compile(text)
        if expr.variables:
            raise ValueError(f"{text!r} uses {', '.join(expr.variables)}")
        value = np.asarray(expr.value({}), dtype=float)
    except GradcliError as exc:
        raise ValueError(exc.message) from None
    if value.shape != ():
        raise ValueError(f"{text!r} is not a single number")
    return float(value)


def read_array(path: str, what: str) -> np.ndarray:
    """`--at x=@FILE`: an array from .npy, .csv or .json (`-` reads stdin, its format detected)."""
    import io
    import json

    shown = f"{what}@{path}"
    if not path:
        raise UsageError(f"{shown} needs a file name: {what}@FILE (.npy, .csv or .json) or {what}@- for stdin")
    if path == "-":
        if sys.stdin is None:
            raise UsageError(f"{shown} reads stdin, but stdin is closed")
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
    else:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise input_file_error(exc, path, prefix=f"{shown}: ") from None
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if suffix == "npy" or data.startswith(b"\x93NUMPY"):
        try:
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise UsageError(f"{shown}: not a readable .npy file ({exc})") from None
        if arr.dtype.kind not in "biuf":
            raise UsageError(f"{shown}: the .npy array holds {arr.dtype}, not real numbers")
        return np.asarray(arr, dtype=float)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{shown}: not UTF-8 text (nor a .npy file)") from None
    if suffix == "json" or (suffix != "csv" and text.lstrip()[:1] in ("[", "{")):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{shown}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise UsageError(f"{shown}: the JSON must be a number or nested lists of numbers of one shape (not ragged)") from None
        return arr
    return _read_csv_array(text, shown)


def _read_csv_array(text: str, shown: str) -> np.ndarray:
    """Rows of comma-separated numbers; a first line that isn't numbers is a header and skipped."""
    lines = [(k, line) for k, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise UsageError(f"{shown}: the file has no numbers")
    rows: list[list[float]] = []
    for n, (k, line) in enumerate(lines):
        try:
            rows.append([float(cell) for cell in line.split(",")])
        except ValueError:
            if n == 0:
                continue  # a header
            raise UsageError(f"{shown}: line {k} is not comma-separated numbers: {_shorten(line.strip())!r}") from None
        if len(rows[-1]) != len(rows[0]):
            raise UsageError(f"{shown}: line {k} has {len(rows[-1])} values, the first row {len(rows[0])}")
    if not rows:
        raise UsageError(f"{shown}: the file has a header but no rows of numbers")
    arr = np.asarray(rows, dtype=float)
    if arr.shape[1] == 1:
        return arr[:, 0]  # one column: a vector
    return arr[0] if arr.shape[0] == 1 else arr


def read_program(arg: str) -> str:
    """The expression itself, `-` for stdin, or `@FILE` for a program file."""
    if arg == "-":
        if sys.stdin is None:
            raise UsageError('the expression "-" is read from stdin, but stdin is closed')
        text = sys.stdin.read()
    elif arg.startswith("@") and len(arg) > 1:
        from pathlib import Path  # only for program files: start-up time

        path = Path(arg[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{path} is not UTF-8 text") from None
        except OSError as exc:
            raise input_file_error(exc, path) from None
    else:
        text = arg
    if not text.strip():
        raise UsageError("the expression is empty")
    return text
