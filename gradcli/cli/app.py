"""The command line: options in, a report out. No math lives here."""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any

import numpy as np
import typer

from .. import __version__
from ..errors import GradcliError


class _Group(typer.core.TyperGroup):
    """The app's group: every command's usage line names its argument `EXPR`, not Typer's `{EXPR}`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for command in self.commands.values():
            if type(command) is typer.core.TyperCommand:
                command.__class__ = _Command


class _Command(typer.core.TyperCommand):
    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """An expression that starts with "-" (`diff -x^2`) reads as options: say to put it after --."""
        given = list(args)  # the parser consumes the list it is handed
        try:
            return super().parse_args(ctx, args)
        except Exception as exc:
            name = getattr(exc, "option_name", None)
            if type(exc).__name__ == "NoSuchOption" and isinstance(name, str) and not name.startswith("--"):
                token = next((a for a in given if a.startswith(name) and not a.startswith("--")), name)
                exc.message += (  # type: ignore[attr-defined]
                    f'; if {token} is the expression, put it after --: gradcli {self.name} [OPTIONS] -- "{token}"'
                )
            raise


app = typer.Typer(
    cls=_Group,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 10_000},  # help as wide as the terminal
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help=(
        "gradcli: evaluate and differentiate math expressions exactly (automatic differentiation).\n\n"
        'Example: gradcli diff "x**2 + 2*x + 1" --at x=3  →  8\n\n'
        "Kinks follow PyTorch: relu'(0)=0, abs'(0)=0, max(a,a) and min(a,a) split the gradient evenly, "
        "clip at a bound passes the gradient to x, floor/ceil/round/sign have derivative 0. "
        "Exit codes: 0 ok, 1 check/verify mismatch, 2 bad usage or syntax, 3 not evaluable at the point, "
        "70 internal error (a bug: please report it), 74 input/output error (disk full, unreadable file), "
        "130 interrupted (Ctrl-C). A closed pipe (| head) ends quietly with 0."
    ),
)


class Format(str, Enum):
    auto = "auto"
    table = "table"
    plain = "plain"
    json = "json"
    latex = "latex"  # diff --symbolic only
    csv = "csv"  # with --points or --grid


class Mode(str, Enum):
    reverse = "reverse"
    forward = "forward"


class JacobianMode(str, Enum):
    auto = "auto"
    reverse = "reverse"
    forward = "forward"


Expr = Annotated[str, typer.Argument(metavar="EXPR", help='The expression, "-" to read stdin, or @FILE for a program file.')]
At = Annotated[
    list[str] | None,
    typer.Option("--at", "-a", metavar="NAME=VALUE", help="Point: --at x=3 --at y=2, --at x=3,y=2, --at x=[1,2,3], --at t=pi/4."),
]
Wrt = Annotated[
    str | None, typer.Option("--wrt", metavar="x,y", help="Variables to differentiate by, comma-separated (default: all).")
]
Fmt = Annotated[Format, typer.Option("--format", "-f", help="auto: a table on a terminal, plain text otherwise.")]
Points = Annotated[
    str | None,
    typer.Option("--points", metavar="FILE", help="Rows of points: CSV with a header, or JSON Lines; - is stdin."),
]
Grid = Annotated[
    list[str] | None,
    typer.Option(
        "--grid", metavar="x=a:b:n,…", help="Every point of a grid (the Cartesian product), streamed; repeat it or use commas."
    ),
]
SkipBad = Annotated[bool, typer.Option("--skip-bad", help="Skip malformed rows (counted on stderr) instead of failing.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No warnings, notes or progress bar on stderr; errors still.")]


def _quiet(quiet: bool) -> None:
    from . import commands

    commands.QUIET = quiet


def _note(text: str) -> None:
    from .commands import note

    note(text)


class JitMode(str, Enum):
    auto = "auto"
    on = "on"
    off = "off"


JitOpt = Annotated[
    JitMode,
    typer.Option(
        "--jit",
        help='--points/--grid as one compiled loop (needs numba: pip install "gradcli[jit]"); auto: for big batches.',
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gradcli {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """gradcli: a gradient calculator and checker."""


def _guard(body: Callable[[], None]) -> None:
    """Errors become messages and exit codes in one place: commands.guarded."""
    from . import commands

    try:
        code = commands.guarded(body)
    finally:
        commands.QUIET = False  # --quiet is per command line
    if code:
        raise typer.Exit(code)


def _exit(code: int) -> Exception:
    """A stop with an exit code from inside a command body (commands.guarded passes it through)."""
    from .commands import Exit

    return Exit(code)


def _point_format(command: str, fmt: Format, latex: bool = False) -> None:
    """A --format this command can't write at a single point is an error that lists the ones it has."""
    if fmt is Format.csv or (fmt is Format.latex and not latex):
        from ..errors import UsageError

        batch = command in ("eval", "diff", "hessian", "jacobian", "check")
        extra = "; csv with --points or --grid" if batch else ""
        extra += "; latex with --symbolic" if command == "diff" else ""
        raise UsageError(f"{command} has no --format {fmt.value} here: its formats are auto, table, plain, json{extra}")


def _point_jit(jit: JitMode) -> None:
    """--jit on compiles batches; at one point (even of arrays) there is nothing to compile, so it is refused."""
    if jit is JitMode.on:
        from ..errors import UsageError

        raise UsageError("--jit on compiles --points and --grid batches; at a single point (--at) use --jit off or auto")


def _emit(report: Any, fmt: Format) -> None:
    from .commands import emit

    emit(report, fmt.value)


def _setup(expression: str, at: list[str] | None, need_point: bool = True) -> tuple[Any, dict[str, Any]]:
    from .commands import setup

    return setup(expression, at, need_point)


def _batch(
    expression: str,
    at: list[str] | None,
    points: str | None,
    grid: list[str] | None,
    kind: str,
    wrt: list[str] | None,
    skip_bad: bool,
    fmt: Format,
    jit: str = "auto",
    derivative_rows: bool = False,
) -> None:
    """--points / --grid: stream rows through the tape a chunk at a time (see batch.py)."""
    import numpy as np

    from ..batch import stream as batch
    from ..errors import UsageError

    if points is not None and grid is not None:
        raise UsageError("give either --points or --grid, not both")
    if fmt is Format.latex or fmt is Format.table:
        raise UsageError("--points and --grid write CSV (--format csv) or JSON Lines (--format json)")
    expr, fixed = _setup(expression, at, need_point=False)
    free = [v for v in expr.variables if v not in fixed]
    stats = batch.Stats()
    if hasattr(sys.stdout, "reconfigure"):  # passthrough bytes that weren't UTF-8 go back out as they came
        sys.stdout.reconfigure(errors="surrogateescape")
    probe = None
    if grid is not None:
        spec = batch.parse_grid(",".join(grid))
        chunks = batch.grid_chunks(spec, free)
        total = int(np.prod([n for _, _, n in spec.values()]))
    else:
        assert points is not None
        chunks, probe = batch.chunks_from(points, free, skip_bad, stats)
        total = None
    chunks = batch.with_fixed(chunks, fixed)
    by = wrt or free
    if kind[0] == "d" and kind[1:].isdigit() and len(by) > 1:  # diff --order N ≥ 3: no mixed columns
        columns = ", ".join(f"d{kind[1:]}_{v}" for v in by)
        _note(
            f"gradcli: note: --order {kind[1:]} rows hold each variable's pure partial ({columns});"
            " the mixed partials are in the derivative tensor at one point (--at)"
        )
    fast = _jit_kernel(jit, expr, kind, wrt, total, probe)
    writer = batch.Writer(sys.stdout, "json" if fmt is Format.json else "csv", expr, kind)
    writer.derivative_rows = derivative_rows
    with _progress(total, probe) as advance:
        batch.run_batch(expr, chunks, kind, wrt, writer, stats, advance, fast, skip_bad)
    writer.finish(stats, wrt)
    if writer.unlisted:
        shown = ", ".join(f"{k} (line {ln})" for k, ln in list(writer.unlisted.items())[:5])
        _note(
            f"gradcli: warning: JSON Lines keys first seen after the CSV header are not in the CSV: {shown};"
            " --format json keeps every key"
        )
    _batch_warnings(stats)
    stats.raise_if_malformed(rows_written=True)


def _jit_kernel(mode: str, expr: Any, kind: str, wrt: list[str] | None, total: int | None, probe: Any) -> Any:
    """--jit: the compiled kernel's row function, or None for the numpy path (tools/jit.py decides; numba is
    imported only when a kernel is really built)."""
    if mode == "off":
        return None
    if mode == "auto":
        import importlib.util

        if importlib.util.find_spec("numba") is None:  # without the extra, auto is the numpy path: nothing more imported
            return None
    from ..tools import jit as jitting

    rows = total
    if rows is None and probe is not None:
        size = probe()[1]
        rows = size // 24 if size else None  # a CSV or JSON Lines row of numbers: about 24 bytes or more
    if not jitting.use_jit(mode, expr, kind, rows, wrt):
        return None
    return jitting.kernel(expr, kind, wrt).rows


def _batch_warnings(stats: Any) -> None:
    if stats.undefined_count:
        lines = ", ".join(map(str, stats.undefined)) + (", …" if stats.undefined_count > len(stats.undefined) else "")
        _note(f"gradcli: warning: the expression is undefined on {stats.undefined_count} row(s), written as nan: line {lines}")
    if stats.skipped_count:
        shown = "; ".join(f"line {ln} {why}" for ln, why in sorted(stats.skipped))
        from .commands import printable

        _note(f"gradcli: warning: skipped {stats.skipped_count} malformed row(s): {printable(shown)}")


class _progress:
    """A Rich progress bar on stderr while the rows go to a file or a pipe: rows, rows/s and, for a points
    file, bytes read of its size (for a grid, rows of the total), with the time left. It is transient (cleared
    when done), and not shown at all when stdout is the same terminal, where the rows would print under it."""

    def __init__(self, total_rows: int | None, probe: Any) -> None:
        self.total_rows, self.probe, self.bar = total_rows, probe, None

    def __enter__(self) -> Callable[[int], None]:
        from . import commands

        if not sys.stderr.isatty() or sys.stdout.isatty() or commands.QUIET:
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.fields[rows]:,} rows"), BarColumn(), TextColumn("{task.fields[done]}"),
            TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[eta]}"), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True,
        )  # fmt: skip
        self.bar.start()
        self.rows = 0
        import time

        self.t0 = time.perf_counter()
        self.task = self.bar.add_task("rows", total=self.total_rows, rows=0, done="", rate="", eta="")

        def advance(n: int) -> None:
            import time

            self.rows += n
            elapsed = max(time.perf_counter() - self.t0, 1e-9)
            fields = {"rows": self.rows, "rate": f"{self.rows / elapsed:,.0f} rows/s"}
            read, size = self.probe() if self.probe is not None else (0, None)
            if self.total_rows is not None:
                done, total, fields["done"] = self.rows, self.total_rows, f"of {self.total_rows:,}"
            elif size:
                done, total = min(read, size), size
                fields["done"] = f"{_bytes(done)} of {_bytes(size)}"
            else:
                self.bar.update(self.task, completed=self.rows, **fields)
                return
            left = (total - done) * elapsed / max(done, 1)  # at the rate so far: known from the first chunk
            fields["eta"] = f"{int(left) // 60}:{int(left) % 60:02d} left"
            self.bar.update(self.task, completed=done, total=total, **fields)

        return advance

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.stop()


def _bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n} GB"


def _wrt_names(wrt: str | None) -> list[str] | None:
    from .commands import wrt_names

    return wrt_names(wrt)


@app.command("eval")
def eval_cmd(
    expression: Expr,
    at: At = None,
    points: Points = None,
    grid: Grid = None,
    skip_bad: SkipBad = False,
    jit: JitOpt = JitMode.auto,
    format: Fmt = Format.auto,
    quiet: Quiet = False,
) -> None:
    """Evaluate the expression (every output of a multi-output program).

    Example: gradcli eval "x**2 + 2*x + 1" --at x=3  →  16
    """

    def body() -> None:
        _quiet(quiet)
        if points is not None or grid is not None:
            _batch(expression, at, points, grid, "eval", None, skip_bad, format, jit.value)
            return
        from .commands import run_eval

        _point_format("eval", format)
        _point_jit(jit)
        run_eval(expression, at, format.value)

    _guard(body)


@app.command("diff")
def diff_cmd(
    expression: Expr,
    at: At = None,
    wrt: Wrt = None,
    order: Annotated[int, typer.Option("--order", "-n", min=1, metavar="N", help="Derivative order (2 gives the Hessian).")] = 1,
    mode: Annotated[Mode, typer.Option("--mode", help="reverse (one sweep for all partials) or forward.")] = Mode.reverse,
    symbolic: Annotated[
        bool, typer.Option("--symbolic", "-s", help="Print the derivative as a formula (--format latex for LaTeX).")
    ] = False,
    points: Points = None,
    grid: Grid = None,
    skip_bad: SkipBad = False,
    jit: JitOpt = JitMode.auto,
    format: Fmt = Format.auto,
    quiet: Quiet = False,
) -> None:
    """Value and derivatives: the gradient, or with --order N the N-th derivative.

    For an array-valued output the gradient is that of the sum of its elements (PyTorch's
    backward(ones)), so diff "x^2" --at x=[1,2,3] gives the slope at each point; the full matrix
    of every output element by every input element is `gradcli jacobian`. With several variables,
    --order 2 gives the Hessian and --order N the N-th derivative tensor (scalar variables).

    Example: gradcli diff "x*y + sin(y)" --at x=2,y=0  →  d/dx = 0, d/dy = 3
    """

    def body() -> None:
        _quiet(quiet)
        if points is not None or grid is not None:
            if symbolic or mode is Mode.forward:
                from ..errors import UsageError

                raise UsageError(
                    "--points/--grid compute values, gradients (--order 1), Hessians (--order 2) and N-th derivatives"
                    " by each variable (--order N) in reverse mode"
                )
            kind = "diff" if order == 1 else "hessian" if order == 2 else f"d{order}"
            _batch(expression, at, points, grid, kind, _wrt_names(wrt), skip_bad, format, jit.value, derivative_rows=order == 2)
            return
        from .report import symbolic_report

        _point_format("diff", format, latex=symbolic)
        _point_jit(jit)
        if symbolic:
            if order != 1:
                from ..errors import UsageError

                raise UsageError("--symbolic prints first derivatives; drop --order")
            from ..tools.symbolic import derivative_formulas

            expr, point = _setup(expression, at, need_point=False)
            formulas = derivative_formulas(expr, point or None, _wrt_names(wrt), latex=format is Format.latex)
            latex = format is Format.latex
            _emit(symbolic_report(expr.text, formulas, latex), Format.plain if latex else format)
            return
        from .commands import run_diff

        run_diff(expression, at, wrt, order, mode.value, format.value)

    _guard(body)


@app.command("taylor")
def taylor_cmd(
    expression: Expr,
    at: At = None,
    wrt: Wrt = None,
    order: Annotated[int, typer.Option("--order", "-n", min=0, metavar="N", help="The degree of the polynomial.")] = 5,
    format: Fmt = Format.auto,
) -> None:
    """The Taylor polynomial at a point: the coefficients f^(k)(a)/k! and the polynomial in (x - a), as
    SymPy's series; with several variables, every term to total degree N. --format latex prints LaTeX,
    --format json the coefficients by multi-index.

    Example: gradcli taylor "exp(x)" --at x=0 --order 3  →  1 + x + 0.5*x^2 + 0.16666666666666666*x^3
    """

    def body() -> None:
        from .commands import run_taylor

        _point_format("taylor", format, latex=True)
        run_taylor(expression, at, wrt, order, format.value)

    _guard(body)


@app.command("hessian")
def hessian_cmd(
    expression: Expr,
    at: At = None,
    wrt: Wrt = None,
    points: Points = None,
    grid: Grid = None,
    skip_bad: SkipBad = False,
    jit: JitOpt = JitMode.auto,
    format: Fmt = Format.auto,
    quiet: Quiet = False,
) -> None:
    """The Hessian matrix (forward mode over reverse mode).

    Example: gradcli hessian "x^2*y" --at x=1,y=2  →  the rows 4 2 and 2 0
    """

    def body() -> None:
        _quiet(quiet)
        if points is not None or grid is not None:
            _batch(expression, at, points, grid, "hessian", _wrt_names(wrt), skip_bad, format, jit.value)
            return
        from .commands import run_hessian

        _point_format("hessian", format)
        _point_jit(jit)
        run_hessian(expression, at, wrt, format.value)

    _guard(body)


@app.command("jacobian")
def jacobian_cmd(
    expression: Expr,
    at: At = None,
    wrt: Wrt = None,
    mode: Annotated[
        JacobianMode,
        typer.Option("--mode", help="reverse: a sweep per output element; forward: a pass per input element; auto: fewer."),
    ] = JacobianMode.auto,
    points: Points = None,
    grid: Grid = None,
    skip_bad: SkipBad = False,
    jit: JitOpt = JitMode.auto,
    format: Fmt = Format.auto,
    quiet: Quiet = False,
) -> None:
    """The Jacobian of every output by every variable, as jax.jacobian: an output of shape S and a
    variable of shape T give a block of shape S + T (JSON); as text, the whole matrix, a row per
    output element and a column per input element. Several outputs ("f, g"), vector outputs
    ("[f, g]", "exp(z)/sum(exp(z))") and array variables mix freely.

    Reverse mode takes one sweep per output element, forward mode one pass per input element;
    --mode auto (the default) takes whichever needs fewer, as jacrev/jacfwd would be chosen.

    Example: gradcli jacobian "x*y, x+y" --at x=1,y=2  →  the rows 2 1 and 1 1
    """

    def body() -> None:
        _quiet(quiet)
        if points is not None or grid is not None:
            _batch(expression, at, points, grid, "jacobian", _wrt_names(wrt), skip_bad, format, jit.value)
            return
        from .commands import run_jacobian

        _point_format("jacobian", format)
        _point_jit(jit)
        run_jacobian(expression, at, wrt, format.value, mode.value)

    _guard(body)


class Method(str, Enum):
    central = "central"
    forward = "forward"
    backward = "backward"
    complex = "complex"
    richardson = "richardson"


@app.command("check")
def check_cmd(
    expression: Expr,
    at: At = None,
    wrt: Wrt = None,
    method: Annotated[Method, typer.Option("--method", "-m", help="How the numerical derivative is taken.")] = Method.central,
    order: Annotated[int, typer.Option("--order", "-n", min=1, max=2, metavar="N", help="1: gradient; 2: Hessian.")] = 1,
    step: Annotated[
        float | None, typer.Option("--step", help="Override the step h (default: chosen per method and point).")
    ] = None,
    rtol: Annotated[float | None, typer.Option("--rtol", help="Relative tolerance (default per method).")] = None,
    atol: Annotated[float | None, typer.Option("--atol", help="Absolute tolerance (default per method).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random direction used for large arrays.")] = 0,
    points: Points = None,
    skip_bad: SkipBad = False,
    format: Fmt = Format.auto,
    quiet: Quiet = False,
) -> None:
    """Compare automatic derivatives with numerical ones; exit 1 on a mismatch.

    An entry passes when |ad - numeric| <= atol + rtol*|numeric|. Defaults: central rtol 1e-6 atol 1e-8;
    forward/backward 1e-4, 1e-6; complex 1e-12, 1e-14; richardson 1e-9, 1e-11.

    Example: gradcli check "sin(x*y)" --at x=1,y=2 --method complex
    """

    def body() -> None:
        _quiet(quiet)
        from ..tools.checking import check
        from .report import check_report

        if points is not None:
            options = (_wrt_names(wrt), method.value, order, step, rtol, atol, seed)
            if not _check_rows(expression, at, points, skip_bad, options, format):
                raise _exit(1)
            return
        _point_format("check", format)
        expr, point = _setup(expression, at)
        result = check(expr, point, _wrt_names(wrt), method.value, order, step, rtol, atol, seed)
        _emit(check_report(expr.text, point, result), format)
        if not result.ok:
            raise _exit(1)

    _guard(body)


@app.command("trace")
def trace_cmd(
    expression: Expr,
    at: At = None,
    mode: Annotated[Mode, typer.Option("--mode", help="reverse: adjoints; forward: tangents.")] = Mode.reverse,
    seed_dir: Annotated[
        list[str] | None,
        typer.Option(
            "--seed-dir", metavar="NAME=VALUE", help="Forward mode: the seed direction (default: one column per input)."
        ),
    ] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Also spell out the chain-rule steps in words.")] = False,
    format: Fmt = Format.auto,
) -> None:
    """The evaluation trace: each tape instruction with its value, local partials and adjoint (or tangent).

    With several outputs ("f, g"): the rows of every output, shared ones once, and one adjoint column and
    one gradient per output.

    Example: gradcli trace "x*w + b" --at x=1,w=2,b=3
    """

    def body() -> None:
        from ..batch.points import parse_at
        from ..tools.trace import explain as explain_steps
        from ..tools.trace import trace
        from .report import trace_report

        _point_format("trace", format)
        expr, point = _setup(expression, at)
        seeds = None
        if seed_dir:
            from ..errors import UsageError

            if mode is not Mode.forward:  # reverse mode's seed is the output's 1: a direction would be ignored
                raise UsageError("--seed-dir is the tangent direction of forward mode: add --mode forward")
            seeds = {}
            for given in seed_dir:  # each --seed-dir is one direction, one tangent column
                direction = parse_at([given])
                for name in direction:
                    if name not in expr.variables:
                        raise UsageError(f"--seed-dir {name}: {name} is not a variable of the expression")
                if given in seeds:
                    raise UsageError(f"--seed-dir {given} is given twice")
                seeds[given] = direction
        t = trace(expr, point, mode.value, seeds)
        _emit(trace_report(expr.text, point, t, explain_steps(t) if explain else None), format)

    _guard(body)


_GRAPH_SUFFIXES = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid", ".svg": "svg", ".png": "png"}


def _graph_format(given: Any, output: str | None) -> Any:
    """--format, or with -o FILE the format its suffix names (g.png is PNG); a clash is an error."""
    import os

    suffix = os.path.splitext(output)[1].lower() if output else ""
    implied = _GRAPH_SUFFIXES.get(suffix)
    if given is None:
        return GraphFormat(implied or "tree")
    if implied is not None and given.value != implied:
        from ..errors import UsageError

        raise UsageError(f"{output} names a {implied} file, but --format is {given.value}: drop --format or change the name")
    return given


class GraphFormat(str, Enum):
    tree = "tree"
    dot = "dot"
    mermaid = "mermaid"
    svg = "svg"
    png = "png"


@app.command("graph")
def graph_cmd(
    expression: Expr,
    at: At = None,
    format: Annotated[
        GraphFormat | None,
        typer.Option(
            "--format", "-f", help="tree (default), dot, mermaid; svg/png need Graphviz's dot program. With -o, from the suffix."
        ),
    ] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", metavar="FILE", help="Write to FILE instead of stdout.")] = None,
    quiet: Quiet = False,
) -> None:
    """The computational graph; with --at, nodes carry values and gradients and the gradient's flow is drawn.

    With several outputs ("f, g") every output is a root, marked with its label, and each gradient is given per output.

    Example: gradcli graph "x*w + b" --at x=1,w=2,b=3 -o g.svg
    """
    fmt_given = format

    def body() -> None:
        _quiet(quiet)
        from ..tools.graph import build, render

        format = _graph_format(fmt_given, output)
        expr, point = _setup(expression, at, need_point=False)
        missing = [v for v in expr.variables if v not in point]
        if point and missing:
            from ..errors import UnboundError

            raise UnboundError(f"graph --at needs every variable; no value for {', '.join(missing)} (or drop --at)", missing)
        g = build(expr, point if point else None)
        data = render(g, format.value)
        if output is None and format is GraphFormat.svg:
            data = data.decode("utf-8") if isinstance(data, bytes) else data
        if output is None:
            if isinstance(data, bytes):
                from ..errors import UsageError

                raise UsageError(f"--format {format.value} is binary: write it to a file with -o FILE")
            if format is GraphFormat.tree:
                trees: list[list[str]] = []  # one tree per output: each starts at depth 0
                for line in data.splitlines(keepends=True):
                    if not trees or not line.startswith(" "):
                        trees.append([])
                    trees[-1].append(line)
                for lines in trees:
                    _print_tree("".join(lines))
            else:
                typer.echo(data, nl=False)
        else:
            from pathlib import Path

            try:
                Path(output).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
            except OSError as exc:
                from ..errors import UsageError

                raise UsageError(f"can't write {output}: {exc.strerror}") from None
            _note(f"wrote {output}")

    _guard(body)


def _print_tree(text: str) -> None:
    """The tree view: a Rich tree on a terminal, indented text otherwise."""
    if not sys.stdout.isatty():
        typer.echo(text, nl=False)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    lines = text.splitlines()
    root = Tree(escape(lines[0]))
    stack = [(0, root)]
    for line in lines[1:]:
        depth = (len(line) - len(line.lstrip(" "))) // 2
        while stack and stack[-1][0] >= depth:
            stack.pop()
        node = stack[-1][1].add(escape(line.strip()))
        stack.append((depth, node))
    Console().print(root)


@app.command("repl")
def repl_cmd() -> None:
    """An interactive calculator: every command on a line (diff sin(x)*y at x=1, y=2), bare expressions,
    definitions that last for the session (a = 3, f(t) = t^2 + 1), ans, history and Tab completion.

    Plain `gradcli` on a terminal starts it too. With stdin not a terminal, the lines are read as a
    script: each result printed, an error reported without stopping the rest, and the exit code that
    of the first line that failed.
    """
    from .repl import main as repl_main

    code = repl_main()
    if code:
        raise typer.Exit(code)


def _rows_of(expr: Any, fixed: dict[str, Any], path: str, skip_bad: bool) -> list[dict[str, Any]]:
    """Every row of a points file as a point (for verify, which checks them all and reports once)."""
    from ..batch import stream as batch

    stats = batch.Stats()
    free = [v for v in expr.variables if v not in fixed]
    chunks, _ = batch.chunks_from(path, free, skip_bad, stats)
    rows = []
    for chunk in batch.with_fixed(chunks, fixed):
        for r in range(len(chunk.lines)):
            if r not in chunk.malformed:
                rows.append({v: chunk.columns[v][r] for v in expr.variables})
    _batch_warnings(stats)
    stats.raise_if_malformed(rows_written=False)
    return rows


def _check_rows(expression: str, at: list[str] | None, path: str, skip_bad: bool, options: tuple, fmt: Format) -> bool:
    """check at every row of a points file: one output row each (the verdict and the worst entry)."""
    import json

    from ..batch import stream as batch
    from ..numfmt import format_number, json_value
    from ..tools.checking import check

    expr, fixed = _setup(expression, at, need_point=False)
    stats = batch.Stats()
    free = [v for v in expr.variables if v not in fixed]
    chunks, _ = batch.chunks_from(path, free, skip_bad, stats)
    all_ok = True
    verdicts = ["ok", "worst", "autodiff", "numeric", "abs_error", "rel_error", "kinks"]
    extra_names: list[str] | None = None  # passthrough columns, named by the rule of the other commands

    def header(chunk: Any) -> list[str]:
        if stats.header is not None:  # CSV: the header's other columns
            names = [h for h in stats.header if h not in expr.variables]
        else:  # JSON Lines: the first well-formed row's other keys, as batch.Writer does
            first = next((e for k, e in enumerate(chunk.extra) if k not in chunk.malformed), {}) if chunk else {}
            names = [k for k in first if k not in expr.variables]
        if fmt is not Format.json:
            typer.echo(_csv_cells(batch.csv_header(list(expr.variables), names, verdicts)))
        return names

    for chunk in batch.with_fixed(chunks, fixed):
        if extra_names is None:
            extra_names = header(chunk)
        for r, line in enumerate(chunk.lines):
            raw = {v: chunk.columns[v][r] for v in expr.variables}
            passthrough = [str(chunk.extra[r].get(k, "")) for k in extra_names]
            if r in chunk.malformed:
                result = None
            else:
                try:
                    result = check(expr, expr.bind(raw), *options)
                except GradcliError as exc:  # undefined at this row: reported, the others go on
                    result, error = None, exc.message
            if result is None:
                all_ok = False
                message = "malformed row" if r in chunk.malformed else error
                if fmt is Format.json:
                    bad: dict[str, Any] = {"line": line, "ok": False, "error": message}
                    if chunk.extra[r]:
                        bad["columns"] = {k: batch._strict_json(v) for k, v in chunk.extra[r].items()}
                    typer.echo(json.dumps(bad, allow_nan=False))
                else:
                    typer.echo(
                        ",".join(
                            [
                                *(
                                    format_number(float(np.real(raw[v]))) if np.ndim(raw[v]) == 0 else '""'
                                    for v in expr.variables
                                ),
                                *([_csv_cells(passthrough)] if passthrough else []),
                                "error",
                                "",
                                "",
                                "",
                                "",
                                "",
                                "",
                            ]
                        )
                    )
                continue
            all_ok &= result.ok
            worst = result.worst
            if fmt is Format.json:
                entries = [
                    {
                        "variable": w.variable,
                        "autodiff": json_value(w.autodiff),
                        "numeric": json_value(w.numeric),
                        "abs_error": json_value(w.abs_error),
                        "rel_error": json_value(w.rel_error),
                        "ok": w.ok,
                    }
                    for w in result.rows
                ]
                point_json = {v: json_value(x) for v, x in raw.items()}
                obj = {"line": line, "point": point_json, "ok": result.ok, "method": result.method, "rows": entries}
                if chunk.extra[r]:
                    obj["columns"] = {k: batch._strict_json(v) for k, v in chunk.extra[r].items()}
                typer.echo(json.dumps(obj, allow_nan=False))
            else:
                cells = [format_number(float(raw[v])) if np.ndim(raw[v]) == 0 else '"array"' for v in expr.variables]
                cells += [_csv_cells(passthrough)] if passthrough else []
                cells += ["ok" if result.ok else "FAIL", worst.variable if worst else ""]
                cells += (
                    [format_number(x) for x in (worst.autodiff, worst.numeric, worst.abs_error, worst.rel_error)]
                    if worst
                    else [""] * 4
                )
                cells.append(str(len(result.singular)))
                typer.echo(",".join(cells))
    if extra_names is None:  # no rows: the header all the same
        header(None)
    _batch_warnings(stats)
    stats.raise_if_malformed(rows_written=False)
    return all_ok


def _csv_cells(cells: list[str]) -> str:
    """Cells as one CSV line without its newline (quoted where a cell needs it)."""
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue()


def _parse_ranges(items: list[str] | None) -> dict[str, tuple[float, float]]:
    from ..batch.points import scalar_constant, split_top_level
    from ..errors import UsageError

    ranges: dict[str, tuple[float, float]] = {}
    for item in items or []:
        for part in split_top_level(item):
            name, eq, span = part.partition("=")
            lo, colon, hi = span.partition(":")
            try:
                a, b = scalar_constant(lo), scalar_constant(hi)
            except ValueError:
                a = b = float("nan")
            if not eq or not colon or not name.strip().isidentifier() or not (a < b):
                raise UsageError(f"malformed --range {part.strip()!r}: expected NAME=LOW:HIGH with LOW < HIGH, e.g. x=-pi:pi")
            ranges[name.strip()] = (a, b)
    return ranges


@app.command("verify")
def verify_cmd(
    expression: Expr,
    claim: Annotated[
        list[str],
        typer.Option(
            "--claim",
            "-c",
            metavar="[NAME=]FORMULA",
            help='The claimed derivative: "2*x + 2", x="2*x*y" per partial, or a number.',
        ),
    ],
    at: At = None,
    wrt: Wrt = None,
    order: Annotated[int, typer.Option("--order", "-n", min=1, metavar="N", help="The order of the claimed derivative.")] = 1,
    samples: Annotated[
        int | None, typer.Option("--samples", min=0, metavar="N", help="Random points to check at (default 100 without --at).")
    ] = None,
    range_: Annotated[
        list[str] | None, typer.Option("--range", metavar="NAME=LOW:HIGH", help="Where random points are drawn (default -2:2).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random points.")] = 0,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance against automatic differentiation.")] = 1e-8,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance.")] = 1e-10,
    points: Points = None,
    skip_bad: SkipBad = False,
    format: Fmt = Format.auto,
    quiet: Quiet = False,
) -> None:
    """Check a hand-derived derivative against automatic differentiation; exit 1 with a counterexample if wrong.

    Example: gradcli verify "x**2 + 2*x + 1" --claim "2*x + 2"
    """

    def body() -> None:
        _quiet(quiet)
        from ..tools.verification import verify
        from .report import verify_report

        _point_format("verify", format)
        expr, point = _setup(expression, at, need_point=False)
        given = [point] if point else []
        if points is not None:
            given += _rows_of(expr, point, points, skip_bad)
        result = verify(
            expr,
            claim,
            wrt=_wrt_names(wrt),
            order=order,
            points=given,
            samples=samples,
            ranges=_parse_ranges(range_),
            seed=seed,
            rtol=rtol,
            atol=atol,
        )
        _emit(verify_report(expr.text, result), format)
        if not result.ok:
            raise _exit(1)

    _guard(body)


@app.command("plot")
def plot_cmd(
    expression: Expr,
    range_: Annotated[str, typer.Option("--range", metavar="NAME=LOW:HIGH", help="The variable to vary and its range.")],
    at: At = None,
    points: Annotated[int, typer.Option("--points", min=10, max=100000, help="Samples across the range.")] = 400,
    output: Annotated[
        str | None, typer.Option("--output", "-o", metavar="FILE", help="Write a PNG/SVG image (needs gradcli[plot]).")
    ] = None,
    width: Annotated[int, typer.Option("--width", min=20, help="Terminal plot width in characters.")] = 72,
    height: Annotated[int, typer.Option("--height", min=5, help="Terminal plot height in lines.")] = 18,
    ylim: Annotated[
        str | None,
        typer.Option("--ylim", metavar="LOW:HIGH", help="The y range (default: the data's, outliers such as a pole left out)."),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Plot the function and its derivative over a range; gaps where it is undefined, kinks marked.

    Example: gradcli plot "1/x" --range x=-1:1 --ylim -5:5
    """

    def body() -> None:
        _quiet(quiet)
        from ..tools.plot import notes, sample, to_image, to_terminal

        ranges = _parse_ranges([range_])
        if len(ranges) != 1:
            from ..errors import UsageError

            raise UsageError("plot varies one variable: --range NAME=LOW:HIGH")
        ((var, (lo, hi)),) = ranges.items()
        y_limits = _parse_ylim(ylim)
        expr, point = _setup(expression, at, need_point=False)
        curve = sample(expr, point, var, lo, hi, points)
        if output:
            to_image(curve, expr.text, output, y_limits)
            _note(f"wrote {output}")
        else:
            color = _colour(sys.stdout)
            sys.stdout.write(to_terminal(curve, expr.text, width, height, color, y_limits) + "\n")  # echo would strip colour
        for line in notes(curve, y_limits):
            typer.echo(line)

    _guard(body)


class Lang(str, Enum):
    python = "python"
    numpy = "numpy"
    c = "c"
    latex = "latex"


@app.command("export")
def export_cmd(
    expression: Expr,
    lang: Annotated[
        Lang, typer.Option("--lang", "-l", help="python (floats, math), numpy (arrays), c (doubles), latex.")
    ] = Lang.python,
    grad: Annotated[
        bool, typer.Option("--grad", help="The value and the gradient (def f_and_grad(x, y): return value, (dx, dy)).")
    ] = False,
    hessian: Annotated[bool, typer.Option("--hessian", help="The value, the gradient and the Hessian.")] = False,
    jacobian: Annotated[bool, typer.Option("--jacobian", help="Every output and every output's gradient.")] = False,
    wrt: Wrt = None,
    output: Annotated[str | None, typer.Option("--output", "-o", metavar="FILE", help="Write to FILE instead of stdout.")] = None,
) -> None:
    """Write the program (and with --grad, --hessian or --jacobian its derivatives) as a standalone function:
    straight-line code, one assignment per instruction of the optimized tape, kink and domain conventions
    as comments.

    Example: gradcli export "x**2 * y + sin(y)" --grad --lang python -o f.py
    """

    def body() -> None:
        from ..errors import UsageError
        from ..tools.export import emit

        flags = [k for k, on in (("grad", grad), ("hessian", hessian), ("jacobian", jacobian)) if on]
        if len(flags) > 1:
            raise UsageError(f"give one of --grad, --hessian, --jacobian (got {', '.join('--' + f for f in flags)})")
        expr, _ = _setup(expression, None, need_point=False)
        text = emit(expr, lang.value, flags[0] if flags else "value", _wrt_names(wrt))
        if output is None:
            typer.echo(text, nl=False)
            return
        from pathlib import Path

        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"can't write {output}: {exc.strerror}") from None
        typer.echo(f"wrote {output}", err=True)

    from ..gcpause import gc_paused

    _guard(gc_paused(body))  # setup and emit both: no collection walks the huge tape between them (issue 15)


def _parse_ylim(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    lo, colon, hi = text.partition(":")
    try:
        a, b = float(lo), float(hi)
    except ValueError:
        a = b = float("nan")
    if not colon or not (a < b) or not (np.isfinite(a) and np.isfinite(b)):
        from ..errors import UsageError

        raise UsageError(f"malformed --ylim {text!r}: expected LOW:HIGH with LOW < HIGH, e.g. --ylim -5:5")
    return a, b


def _colour(stream: Any) -> bool:
    """Colour on a terminal, as no-color.org and force-color.org say: a non-empty NO_COLOR turns it off,
    a non-empty FORCE_COLOR on (even when piped); an empty one counts as unset."""
    import os

    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(stream.isatty())
