"""Reading what the user typed: `--at` bindings and the program text (argument, `-`, `@FILE`)."""

from __future__ import annotations

import sys

import numpy as np

from ..errors import GradcliError, InputOutputError, UsageError


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

    point: dict[str, np.ndarray] = {}
    for item in items or []:
        for part in split_top_level(item):
            name, eq, value = part.partition("=")
            name, value = name.strip(), value.strip()
            shown = _shorten(part.strip())
            if not eq or not name or not value:
                raise UsageError(f"malformed --at {shown!r}: expected NAME=VALUE, e.g. --at x=3 or --at x=[1,2,3]")
            if not name.isidentifier():
                raise UsageError(f"malformed --at {shown!r}: {name!r} is not a variable name")
            if name in point:
                raise UsageError(f"--at gives {name} twice; give each variable one value")
            try:
                expr = compile(value)
            except GradcliError as exc:
                raise UsageError(f"malformed --at {shown!r}: the value is not a number ({exc.message})") from None
            if expr.variables:
                raise UsageError(
                    f"malformed --at {shown!r}: the value must be a number, an array or a constant expression,"
                    f" not use {', '.join(expr.variables)}"
                )
            try:
                point[name] = expr.value({})
            except GradcliError as exc:
                raise UsageError(f"malformed --at {shown!r}: {exc.message}") from None
    return point


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
        except FileNotFoundError:
            raise UsageError(f"no such file: {path}") from None
        except IsADirectoryError:
            raise UsageError(f"{path} is a directory, not a program file") from None
        except UnicodeDecodeError:
            raise UsageError(f"{path} is not UTF-8 text") from None
        except OSError as exc:
            raise InputOutputError(f"can't read {path}: {exc.strerror}") from None
    else:
        text = arg
    if not text.strip():
        raise UsageError("the expression is empty")
    return text
