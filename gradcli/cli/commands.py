"""What the point commands do once their options are parsed, and how errors become exit codes.

Kept free of Typer and Rich so the fast entry point (entry.py) can run the
common commands without paying for the full CLI framework at start-up; the
Typer commands in cli.py call the same functions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any


class Exit(Exception):
    """Stop with an exit code (the message, if any, has been printed)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


QUIET = False  # --quiet: no warnings, notes or progress on stderr (errors are still said)


def note(text: str) -> None:
    """A warning or note on stderr, unless --quiet."""
    if not QUIET:
        say(text, err=True)


def say(text: str, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def printable(text: str) -> str:
    """Text from the user's input made safe for a terminal: a control character (BEL, ESC of an escape
    sequence that would retitle the terminal) is shown as its escape, \\x07, never sent raw."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == "\n" else repr(ch)[1:-1] for ch in text)


def fail(message: str, code: int, detail: str | None = None) -> None:
    say(f"gradcli: error: {printable(message)}", err=True)
    if detail:
        say(printable(detail), err=True)
    raise Exit(code)


def guarded(body: Callable[[], None]) -> int:
    """The one place errors become messages and exit codes (SPEC §4). Returns the exit code."""
    import warnings

    from ..errors import EXIT_INTERNAL, EXIT_INTERRUPTED, GradcliError

    try:
        try:
            with warnings.catch_warnings():
                # A nan or inf is part of the answer (printed, counted, or an error naming it): numpy's
                # RuntimeWarnings about it are noise on stderr. The math silences them with np.errstate;
                # this is the net for any it misses.
                warnings.simplefilter("ignore", RuntimeWarning)
                body()
            sys.stdout.flush()  # a full disk shows here, while the error can still be told
        except GradcliError as exc:
            fail(exc.cli_message or exc.message, exc.exit_code, exc.detail)
        except Exit:
            raise
        except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as Unix tools do
            silence_stdout()
            return 0
        except OSError as exc:
            fail_io(exc)
        except KeyboardInterrupt:
            say("gradcli: interrupted", err=True)
            return EXIT_INTERRUPTED
        except (MemoryError, RecursionError) as exc:
            fail(f"the expression is too large to evaluate here ({type(exc).__name__})", 3)
        except Exception as exc:  # never a traceback for the user
            fail(
                f"internal error ({type(exc).__name__}: {exc}); please report it with the command that caused it",
                EXIT_INTERNAL,
            )
    except Exit as stop:
        return stop.code
    return 0


def silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's own flush at exit can't fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def fail_io(exc: OSError) -> None:
    """An input/output error (ENOSPC, EIO) that reached the top: one line, exit 74."""
    from ..errors import EXIT_IO

    silence_stdout()
    what = exc.strerror or str(exc) or type(exc).__name__
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    try:
        say(f"gradcli: error: input/output error: {what}{where}", err=True)
    except OSError:
        pass
    raise Exit(EXIT_IO)


# Called with every report emitted: the REPL keeps the last result as `ans`. Empty for the CLI.
listeners: list[Callable[[Any], None]] = []


def emit(report: Any, fmt: str) -> None:
    """A report as JSON, a Rich table, or plain lines; auto is a table on a terminal."""
    from .report import to_json

    for listen in listeners:
        listen(report)
    if fmt == "auto":
        fmt = "table" if sys.stdout.isatty() else "plain"
    if fmt == "json":
        say(to_json(report))
    elif fmt == "table":
        from .report import print_table

        print_table(report)
    else:
        sys.stdout.write("".join(line + "\n" for line in report.plain))
        sys.stdout.flush()


def setup(
    expression: str, at: list[str] | None, need_point: bool = True, wrt: list[str] | None = None
) -> tuple[Any, dict[str, Any]]:
    """The compiled program and the bound point (--at values not in the program are warned about,
    unless --wrt names them: their derivative is zero, with their shape)."""
    from ..api import compile
    from ..batch.points import parse_at, read_program
    from ..engine.primitives import CONSTANTS

    source = read_program(expression)
    expr = compile(source)
    point = parse_at(at)
    unused = [n for n in point if n not in expr.variables and n not in CONSTANTS and n not in (wrt or ())]
    for n in unused:
        note(f"gradcli: warning: {n} is not a variable of the expression; its value is ignored")
    used = {k: v for k, v in point.items() if k not in unused}
    if not need_point and not all(v in used for v in expr.variables):
        expr.bind({**{v: 0.0 for v in expr.variables}, **used})  # constants can't be bound, even in part
        return expr, used
    return expr, expr.bind(used, also_known=unused)


def wrt_names(wrt: str | None) -> list[str] | None:
    if wrt is None:
        return None
    names = [w.strip() for w in wrt.split(",") if w.strip()]
    if not names:
        from ..errors import UsageError

        raise UsageError("--wrt needs at least one variable name")
    return names


def _nothing_to_differentiate(expr: Any, names: list[str] | None) -> None:
    if not (names or expr.variables):
        from .report import nothing_to_differentiate

        note(f"gradcli: note: {nothing_to_differentiate(expr.text)}")


def run_eval(expression: str, at: list[str] | None, fmt: str) -> None:
    from .report import value_report

    expr, point = setup(expression, at)
    emit(value_report(expr.text, point, expr.output_names, expr.values(point)), fmt)


def run_diff(expression: str, at: list[str] | None, wrt: str | None, order: int, mode: str, fmt: str) -> None:
    import numpy as np

    from .report import derivative_report, gradient_report, hessian_report

    if fmt == "latex":
        from ..errors import UsageError

        raise UsageError("--format latex is for diff --symbolic")
    names = wrt_names(wrt)
    expr, point = setup(expression, at, wrt=names)
    source = expr.text
    variables = tuple(names or expr.variables)
    _nothing_to_differentiate(expr, names)
    outs = range(len(expr.output_names))
    if order == 1:
        values, jac = [], {}
        for k, o in enumerate(expr.output_names):
            value, jac[o] = expr.value_and_gradient(point, variables, mode, k)
            values.append(value)
        report = gradient_report(source, point, expr.output_names, values, jac)
    elif order == 2 and (len(variables) != 1 or np.ndim(point.get(variables[0], 0.0)) != 0):
        report = hessian_report(source, point, expr.output_names, expr.values(point), expr.hessians(point, variables))
    elif not variables:
        report = derivative_report(source, point, expr.output_names, expr.values(point), (), order, [0.0 for _ in outs])
    elif len(variables) == 1:
        tensors = [expr.derivative(point, variables[0], order, output=k) for k in outs]
        report = derivative_report(source, point, expr.output_names, expr.values(point), variables, order, tensors)
    else:
        tensors = [expr.derivative_tensor(point, variables, order, k) for k in outs]
        report = derivative_report(source, point, expr.output_names, expr.values(point), variables, order, tensors)
    for note in expr.notes:
        say(f"gradcli: note: {note}", err=True)
    emit(report, fmt)


def run_hessian(expression: str, at: list[str] | None, wrt: str | None, fmt: str) -> None:
    from .report import hessian_report

    names = wrt_names(wrt)
    expr, point = setup(expression, at, wrt=names)
    _nothing_to_differentiate(expr, names)
    values = expr.values(point)
    emit(hessian_report(expr.text, point, expr.output_names, values, expr.hessians(point, names)), fmt)


def run_jacobian(expression: str, at: list[str] | None, wrt: str | None, fmt: str, mode: str = "auto") -> None:
    from .report import jacobian_report

    names = wrt_names(wrt)
    expr, point = setup(expression, at, wrt=names)
    _nothing_to_differentiate(expr, names)
    values = expr.values(point)
    used = expr.jacobian_mode(point, names, mode)
    jac = expr.jacobian(point, names, used)
    emit(jacobian_report(expr.text, point, expr.output_names, values, jac, used), fmt)


def run_taylor(expression: str, at: list[str] | None, wrt: str | None, order: int, fmt: str) -> None:
    from ..errors import UsageError
    from .report import taylor_report

    names = wrt_names(wrt)
    expr, point = setup(expression, at, wrt=names)
    if len(expr.output_names) != 1:
        shown = ", ".join(expr.output_names)
        raise UsageError(f"taylor expands one output; the program has {len(expr.output_names)} ({shown})")
    variables = tuple(names or expr.variables)
    coefficients = expr.taylor_polynomial(point, variables, order)
    for note in expr.notes:
        say(f"gradcli: note: {note}", err=True)
    report = taylor_report(expr.text, point, variables, order, coefficients, latex=fmt == "latex")
    emit(report, "plain" if fmt == "latex" else fmt)
