"""The `gradcli` program: a fast path for the everyday commands, Typer for everything else.

Typer (and the pydantic it brings) costs a few hundred milliseconds before a
command runs; `gradcli diff EXPR --at x=3` needs none of it. Plain and JSON
output of eval, diff, hessian and jacobian with the common options are parsed
here and run through the very functions the Typer commands call (commands.py);
anything else — help, tables, other commands or options, any doubt — goes to
the Typer app, which gives the same results and the full error messages.
"""

from __future__ import annotations

import sys

_FAST = {"eval", "diff", "hessian", "jacobian"}
_VALUED = {"--at": "at", "-a": "at", "--wrt": "wrt", "--order": "order", "-n": "order", "--mode": "mode",
           "--format": "format", "-f": "format"}  # fmt: skip
_ALLOWED = {"eval": {"at", "format"}, "diff": {"at", "wrt", "order", "mode", "format"},
            "hessian": {"at", "wrt", "format"}, "jacobian": {"at", "wrt", "mode", "format"}}  # fmt: skip


def _parse(argv: list[str]) -> dict[str, object] | None:
    """The options of a simple invocation, or None to leave it to Typer."""
    if not argv or argv[0] not in _FAST:
        return None
    command, rest = argv[0], argv[1:]
    opts: dict[str, object] = {"command": command, "at": []}
    positional: list[str] = []
    k = 0
    while k < len(rest):
        arg = rest[k]
        if arg == "--":
            positional += rest[k + 1 :]
            break
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in _VALUED:
            key = _VALUED[name]
            if key not in _ALLOWED[command]:
                return None
            if eq:
                value = inline
            elif k + 1 < len(rest):
                k += 1
                value = rest[k]
            else:
                return None
            if key == "at":
                opts["at"].append(value)  # type: ignore[union-attr]
            elif key in opts:
                return None  # repeated: let Typer decide
            else:
                opts[key] = value
        elif arg.startswith("-") and arg != "-":
            return None  # --help, --points, --symbolic, an unknown option, a negative expression without --
        else:
            positional.append(arg)
        k += 1
    if len(positional) != 1:
        return None
    fmt = opts.get("format", "auto")
    if fmt not in ("auto", "plain", "json") or (fmt == "auto" and sys.stdout.isatty()):
        return None  # tables are drawn by Rich through Typer
    order = opts.get("order", "1")
    mode = opts.get("mode", "auto" if command == "jacobian" else "reverse")
    modes = ("auto", "reverse", "forward") if command == "jacobian" else ("reverse", "forward")
    if not (isinstance(order, str) and order.isdecimal() and int(order) >= 1) or mode not in modes:
        return None
    opts.update(expression=positional[0], format=fmt, order=int(order), mode=mode)
    return opts


def run() -> None:
    """The console script: every way out is an exit code of SPEC §4, never a traceback."""
    from .commands import Exit, fail_io, silence_stdout

    for stream in (sys.stdout, sys.stderr):  # a terminal or pipe that can't show a character gets \u… for it
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        _dispatch(sys.argv[1:])
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        sys.exit(0)
    except OSError as exc:  # --help or --version into a full disk, before any command ran
        try:
            fail_io(exc)
        except Exit as stop:
            sys.exit(stop.code)
    except KeyboardInterrupt:  # Ctrl-C while Python or Typer was starting
        sys.stderr.write("gradcli: interrupted\n")
        sys.exit(130)


def _terminal(stream: object) -> bool:
    """Whether a standard stream is a terminal (a closed one, None, is not)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _dispatch(argv: list[str], prog_name: str | None = None) -> None:
    if argv == ["--version"]:
        from .. import __version__

        sys.stdout.write(f"gradcli {__version__}\n")
        return
    if argv == ["repl"] or (not argv and _terminal(sys.stdin) and _terminal(sys.stdout)):
        from .repl import main  # the interactive calculator, without Typer's start-up before its prompt

        sys.exit(main())
    opts = _parse(argv)
    if opts is None:
        from .app import app

        app(args=argv, prog_name=prog_name)  # sys.argv[1:] from the console script; the REPL passes a line's
        return
    from . import commands

    command, expression, at, fmt = opts["command"], opts["expression"], opts["at"], opts["format"]
    wrt = opts.get("wrt")
    if command == "eval":
        body = lambda: commands.run_eval(expression, at, fmt)  # noqa: E731
    elif command == "diff":
        body = lambda: commands.run_diff(expression, at, wrt, opts["order"], opts["mode"], fmt)  # noqa: E731
    elif command == "hessian":
        body = lambda: commands.run_hessian(expression, at, wrt, fmt)  # noqa: E731
    else:
        body = lambda: commands.run_jacobian(expression, at, wrt, fmt, opts["mode"])  # noqa: E731
    code = commands.guarded(body)  # type: ignore[arg-type]
    sys.exit(code)
