"""Many points at once: `--points FILE` (CSV or JSON Lines) and `--grid`, streamed in chunks.

Each chunk of rows becomes one array per variable and goes through the tape in
one vectorized pass; output is written as each chunk finishes, so memory stays
flat and `head` returns at once. A row where the expression is undefined gets
nan and is counted; a malformed row is an error naming its line (or, with
skip_bad, skipped and counted). No output row is ever shifted or lost.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from ..api import Expression
from ..engine import evaluate
from ..engine.primitives import CONSTANTS, mixes_elements
from ..engine.primitives.core import NoTaylorRule
from ..errors import DomainError, InputOutputError, ShapeError, UsageError, input_file_error

CHUNK = 65536


class RowError(UsageError):
    """Malformed input rows: exit 2, naming the lines, after every other row has been written."""


@dataclass
class Chunk:
    lines: list[int]  # the input line number of each row
    columns: dict[str, np.ndarray]  # variable → values (one per row; or an object array of arrays)
    extra: list[dict[str, str]]  # passthrough columns, per row
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # per-row shape of array variables
    malformed: set[int] = field(default_factory=set)  # rows (indices) that stand in for malformed lines


@dataclass
class Stats:
    rows: int = 0
    undefined: list[int] = field(default_factory=list)  # input lines where the expression is undefined
    undefined_count: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    skipped_count: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)
    malformed_count: int = 0
    header: list[str] | None = None  # a CSV file's columns, known even when no row follows

    def raise_if_malformed(self, rows_written: bool) -> None:
        """End the run with exit 2 naming the first malformed line, once every other row is done."""
        if not self.malformed_count:
            return
        line, why = sorted(self.malformed)[0]
        if not rows_written:
            more = " (--skip-bad skips such rows)"
        elif self.malformed_count > 1:
            more = f" (and {self.malformed_count - 1} more; their output rows are nan, or use --skip-bad)"
        else:
            more = " (its output row is nan; --skip-bad skips such rows)"
        raise RowError(f"line {line} of the points file {why}{more}")


def detect_format(path: str, first_line: str) -> str:
    lower = path.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    return "jsonl" if first_line.lstrip().startswith("{") else "csv"


def _number(text: str) -> float:
    t = text.strip()
    if t in CONSTANTS:
        return CONSTANTS[t]
    if t.startswith("-") and t[1:].strip() in CONSTANTS:
        return -CONSTANTS[t[1:].strip()]
    return float(t)


def read_csv(stream: IO[str], variables: Sequence[str], skip_bad: bool, stats: Stats, chunk: int = CHUNK) -> Iterator[Chunk]:
    """CSV rows in chunks. A clean chunk (numbers only, no blank lines or quoting) is parsed by numpy in
    C; any other chunk goes through the csv module row by row, so a bad row is found with its line."""
    import itertools

    csv.field_size_limit(2**31 - 1)  # a quoted field is as long as it is (the default stops at 128 KiB); C long on every OS
    lines_in = iter(stream)
    header: list[str] | None = None
    line = 0
    for text in lines_in:
        line += 1
        if text.strip():
            header = [h.strip() for h in next(csv.reader([text]))]
            break
    if header is None:
        return
    stats.header = header
    missing = [v for v in variables if v not in header]
    if missing:
        raise UsageError(f"the points file has no column for {', '.join(missing)} (its header: {', '.join(header)})")
    index = [header.index(v) for v in variables]
    extra_cols = [(k, h) for k, h in enumerate(header) if h not in variables]
    width = len(header)
    while True:
        block = list(itertools.islice(lines_in, chunk))
        if not block:
            return
        first = line + 1
        line += len(block)
        fast = _fast_chunk(block, first, width, index, variables, extra_cols)
        if fast is not None:
            yield fast
            continue
        rows: list[list[str]] = []
        numbers: list[int] = []
        reader = csv.reader(block)
        read = 0  # source lines the reader has consumed: a quoted field may span several
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # a bare CR in a field, a field over the size limit: this row only
                ln, read = first + read, reader.line_num
                text = block[ln - first].rstrip("\r\n") if ln - first < len(block) else ""
                if _bad(stats, skip_bad, ln, text, f"is not CSV ({exc})"):
                    rows.append([""] * width)
                    numbers.append(-ln)
                continue
            ln, read = first + read, reader.line_num
            if not row or not any(c.strip() for c in row):
                continue
            if len(row) != width:
                if _bad(stats, skip_bad, ln, ",".join(row), f"has {len(row)} columns, the header has {width}"):
                    rows.append([""] * width)
                    numbers.append(-ln)  # a placeholder: negative marks a malformed line
                continue
            rows.append(row)
            numbers.append(ln)
        if rows:
            yield _csv_chunk(rows, numbers, variables, index, extra_cols, skip_bad, stats)


def _fast_chunk(
    block: list[str], first: int, width: int, index: list[int], variables: Sequence[str], extra_cols: list[tuple[int, str]]
) -> Chunk | None:
    """numpy's C reader for a clean chunk: no quoting, no blank lines, every row as wide as the header."""
    text = "".join(block)
    if '"' in text or "\n\n" in text or not block[-1].strip() or not block[0].strip():
        return None
    if text.count(",") != len(block) * (width - 1):
        return None  # some row has the wrong number of columns: the row-by-row reader names it
    try:
        values = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, dtype=float, usecols=index)
    except (ValueError, MemoryError):
        return None  # the row-by-row reader takes it (and names a bad row)
    if values.shape != (len(block), len(index)):
        return None
    columns = {v: np.ascontiguousarray(values[:, k]) for k, v in enumerate(variables)}
    if not extra_cols:
        extra: list[dict[str, str]] = [{} for _ in block]
    else:  # no quoting in a clean chunk: a split is the CSV reading (loadtxt's string arrays cost width × longest cell)
        names = [name for _, name in extra_cols]
        ks = [k for k, _ in extra_cols]
        extra = []
        for line in block:
            cells = line.rstrip("\r\n").split(",")
            extra.append(dict(zip(names, [cells[k] for k in ks])))
    return Chunk(list(range(first, first + len(block))), columns, extra)


def _csv_chunk(
    rows: list[list[str]],
    lines: list[int],
    variables: Sequence[str],
    index: list[int],
    extra_cols: list[tuple[int, str]],
    skip_bad: bool,
    stats: Stats,
) -> Chunk:
    cells = [[r[k] for k in index] for r in rows]
    malformed: set[int] = {k for k, ln in enumerate(lines) if ln < 0}
    try:
        if malformed:
            raise ValueError
        values = np.array(cells, dtype=float).reshape(len(rows), len(index))  # parsed in C, fast
    except ValueError:
        good, good_lines, keep = [], [], []
        for r, cell_row, ln in zip(rows, cells, lines):
            if ln < 0:
                good.append([np.nan] * len(index))
                good_lines.append(-ln)
                keep.append(r)
                continue
            try:
                good.append([_number(c) for c in cell_row])
            except ValueError:
                bad = next(c for c in cell_row if not _is_number(c))
                if _bad(stats, skip_bad, ln, ",".join(r), f"has {bad.strip()!r}, which is not a number"):
                    malformed.add(len(good))
                    good.append([np.nan] * len(index))
                    good_lines.append(ln)
                    keep.append(r)
                continue
            good_lines.append(ln)
            keep.append(r)
        malformed = {k for k in malformed if k < len(good)}
        values = np.array(good, dtype=float).reshape(len(good), len(index))
        rows, lines = keep, good_lines
    columns = {v: values[:, k] for k, v in enumerate(variables)}
    extra = [{name: (r[k] if k < len(r) else "") for k, name in extra_cols} for r in rows] if extra_cols else [{} for _ in rows]
    return Chunk(lines, columns, extra, {}, malformed)


def _is_number(text: str) -> bool:
    try:
        _number(text)
    except ValueError:
        return False
    return True


def _bad(stats: Stats, skip_bad: bool, line: int, text: str, why: str) -> bool:
    """Count a malformed line. True: keep its place with a row of nan (reported, exit 2 at the end)."""
    shown = text if len(text) <= 80 else text[:77] + "…"
    said = f"{why}: {shown}" if text else why
    if skip_bad:
        stats.skipped_count += 1
        if len(stats.skipped) < 5:
            stats.skipped.append((line, said))
        return False
    stats.malformed_count += 1
    if len(stats.malformed) < 5:
        stats.malformed.append((line, said))
    return True


def read_jsonl(stream: IO[str], variables: Sequence[str], skip_bad: bool, stats: Stats, chunk: int = CHUNK) -> Iterator[Chunk]:
    objs: list[dict[str, Any]] = []
    lines: list[int] = []
    for line, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        why = None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            obj, why = None, f"is not JSON ({exc.msg})"
        except ValueError:  # an integer of more digits than Python converts (4300)
            obj, why = None, "has an integer too long to read"
        except RecursionError:
            obj, why = None, "is nested too deeply to read"
        if why is None and not isinstance(obj, dict):
            why = "is not a JSON object"
        if why is None:
            missing = [v for v in variables if v not in obj]
            if missing:
                why = f"has no value for {', '.join(missing)}"
        if why is None:
            try:
                converted = {v: _json_value(obj[v]) for v in variables}
            except ValueError as exc:
                why = str(exc)
        if why is not None:
            if _bad(stats, skip_bad, line, text.strip(), why):
                objs.append({v: np.asarray(np.nan) for v in variables} | {"__malformed__": True})
                lines.append(line)
            continue
        objs.append({**obj, **converted})
        lines.append(line)
        if len(objs) >= chunk:
            yield _json_chunk(objs, lines, variables)
            objs, lines = [], []
    if objs:
        yield _json_chunk(objs, lines, variables)


def _json_value(v: Any) -> np.ndarray:
    if v is None or isinstance(v, bool) or (isinstance(v, list) and _has_non_number(v)):
        raise ValueError(f"{json.dumps(v)[:40]} is not a number or an array of numbers")
    if isinstance(v, str):
        try:
            return np.asarray(_number(v))
        except ValueError:
            raise ValueError(f"{json.dumps(v)[:40]} is not a number") from None
    try:
        arr = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{json.dumps(v)[:40]} is not a number or an array of numbers") from None
    return arr


def _has_non_number(v: list[Any]) -> bool:
    stack: list[Any] = [v]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif item is None or isinstance(item, (bool, str, dict)):
            return True
    return False


def _json_chunk(objs: list[dict[str, Any]], lines: list[int], variables: Sequence[str]) -> Chunk:
    columns: dict[str, np.ndarray] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for v in variables:
        items = [o[v] for o in objs]
        shaped = [a for a in items if np.ndim(a) > 0]
        if not shaped:
            columns[v] = np.array(items, dtype=float)
        else:
            shape = np.shape(shaped[0])
            col = np.empty(len(items), dtype=object)
            col[:] = items  # each row keeps its own shape
            columns[v] = col
            shapes[v] = shape
    extra = [{k: val for k, val in o.items() if k not in variables and k != "__malformed__"} for o in objs]
    malformed = {k for k, o in enumerate(objs) if "__malformed__" in o}
    return Chunk(lines, columns, extra, shapes, malformed)


MAX_GRID = 10**15  # points: a year of streaming at the fastest; past it a grid is surely a typo


def grid_chunks(spec: dict[str, tuple[float, float, int]], variables: Sequence[str], chunk: int = CHUNK) -> Iterator[Chunk]:
    """The Cartesian product of linspaces, generated a chunk at a time (no axis is ever built whole)."""
    missing = [v for v in variables if v not in spec]
    if missing:
        raise UsageError(f"--grid gives no range for {', '.join(missing)}")
    names = list(spec)
    dims = [spec[v][2] for v in names]
    total = 1
    for n in dims:
        total *= n
    if total > MAX_GRID:
        raise UsageError(f"--grid has {total:.3g} points, more than gradcli streams ({MAX_GRID:.0e}): use fewer per axis")
    strides = [1] * len(dims)
    for k in range(len(dims) - 2, -1, -1):
        strides[k] = strides[k + 1] * dims[k + 1]
    for start in range(0, total, chunk):
        flat = np.arange(start, min(start + chunk, total), dtype=np.int64)
        columns = {}
        for v, stride in zip(names, strides):
            a, b, n = spec[v]
            i = (flat // stride) % n
            if n == 1:
                columns[v] = np.full(len(flat), a)
                continue
            col = i * ((b - a) / (n - 1)) + a  # as np.linspace computes it, its last point exactly b
            col[i == n - 1] = b
            columns[v] = col
        extra = [{} for _ in range(len(flat))]
        yield Chunk(list(range(start + 1, start + 1 + len(flat))), columns, extra)


def parse_grid(text: str) -> dict[str, tuple[float, float, int]]:
    from .points import scalar_constant, split_top_level

    spec: dict[str, tuple[float, float, int]] = {}
    for part in split_top_level(text):
        name, eq, rng = part.partition("=")
        bits = rng.split(":")
        try:
            a, b = scalar_constant(bits[0]), scalar_constant(bits[1])
            count = bits[2].strip()
        except (ValueError, IndexError):
            raise UsageError(f"malformed --grid {part.strip()!r}: expected NAME=LOW:HIGH:COUNT, e.g. x=0:2*pi:9") from None
        if not eq or not name.strip().isidentifier() or len(bits) != 3:
            raise UsageError(f"malformed --grid {part.strip()!r}: expected NAME=LOW:HIGH:COUNT with COUNT ≥ 1")
        n = _grid_count(part.strip(), count)
        for side, bound in (("LOW", a), ("HIGH", b)):
            if not math.isfinite(bound):
                raise UsageError(f"malformed --grid {part.strip()!r}: {side} is {bound}: a grid's bounds must be finite")
        spec[name.strip()] = (a, b, n)
    return spec


def _grid_count(part: str, count: str) -> int:
    """A grid's COUNT: a whole number of points ≥ 1, written in digits (1e9 is refused, with what it means)."""
    try:
        return _at_least_one(part, int(count))
    except ValueError:
        pass
    try:
        value = float(count)
    except ValueError:
        raise UsageError(f"malformed --grid {part!r}: COUNT {count!r} is not a whole number of points (e.g. 9)") from None
    if math.isfinite(value) and value.is_integer():
        raise UsageError(f"malformed --grid {part!r}: write COUNT in digits ({int(value)} points), not {count!r}")
    raise UsageError(f"malformed --grid {part!r}: COUNT must be a whole number of points ≥ 1, not {count}")


def _at_least_one(part: str, n: int) -> int:
    if n < 1:
        raise UsageError(f"malformed --grid {part!r}: COUNT must be a whole number of points ≥ 1, not {n}")
    return n


# -- evaluation -------------------------------------------------------------------------------------


# What a result column holds: ("value", output, None, None), ("grad", output, variable, None) or
# ("hess", output, a, b). Column names are made from it, and JSON objects are arranged by it.
Key = tuple[str, int, "str | None", "str | None"]


@dataclass
class Results:
    """Per-row results of a chunk: columns of values, each an array with the rows first."""

    keys: list[Key]
    values: list[np.ndarray]
    undefined: np.ndarray  # bool per row
    # Rows whose values don't fit the expression (an array of another length, a non-square matrix): row → why.
    # Such a row is malformed, as a line that isn't a number is: nan (or skipped), the rest of the run goes on.
    unfit: dict[int, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [column_name(k, self.outputs) for k in self.keys]

    @property
    def outputs(self) -> int:
        return 1 + max((k[1] for k in self.keys), default=0)


def column_name(key: Key, outputs: int) -> str:
    """value, d_x, d2_x_y for one output; value_2, d2_x (output 2's gradient), d2_2_x_y (its Hessian) for several."""
    kind, k, a, b = key
    if kind == "value":
        return "value" if outputs == 1 else f"value_{k + 1}"
    if kind == "grad":
        return f"d_{a}" if outputs == 1 else f"d{k + 1}_{a}"
    if order_of(kind):  # d5_x: the 5th derivative by x (d5_2_x: of output 2)
        return f"{kind}_{a}" if outputs == 1 else f"{kind}_{k + 1}_{a}"
    return f"d2_{a}_{b}" if outputs == 1 else f"d2_{k + 1}_{a}_{b}"


def order_of(kind: str) -> int | None:
    """The N of a kind "dN" (diff --order N ≥ 3: the N-th derivative by one variable per row), else None."""
    return int(kind[1:]) if kind[:1] == "d" and kind[1:].isdigit() else None


def compute(expr: Expression, chunk: Chunk, kind: str, wrt: Sequence[str] | None) -> Results:
    """eval / diff / hessian / jacobian for every row of the chunk."""
    n = len(chunk.lines)
    names = list(wrt) if wrt else list(expr.variables)
    # Rows holding arrays, or programs that mix elements (sum, @, [a, b]), go row by row within the chunk:
    # the batch axis would be mixed too.
    vectorized = not chunk.shapes and not mixes_elements(expr.tape.ops, expr.tape.params)
    if vectorized:
        return _compute_vectorized(expr, chunk, kind, names, n)
    return _compute_rows(expr, chunk, kind, names, n)


def _labels(expr: Expression, kind: str, names: list[str]) -> list[Key]:
    """Every output's value; then the gradient (Jacobian block) or the Hessian of each output."""
    outs = range(len(expr.output_names))
    value: list[Key] = [("value", k, None, None) for k in outs]
    if kind == "eval":
        return value
    if kind in ("diff", "jacobian"):
        return value + [("grad", k, v, None) for k in outs for v in names]
    if order_of(kind):
        return value + [(kind, k, v, None) for k in outs for v in names]
    return value + [("hess", k, a, b) for k in outs for a in names for b in names]


def _compute_vectorized(expr: Expression, chunk: Chunk, kind: str, names: list[str], n: int) -> Results:
    point = {v: chunk.columns[v] for v in expr.variables}
    labels = _labels(expr, kind, names)
    out_values: list[np.ndarray] = []
    violations: list[evaluate.Violation] = []
    outs = list(range(len(expr.output_names)))
    if kind == "eval":
        tape = expr.specialised(point)
        vals = evaluate.run(tape, point, list(expr.lowered.outputs), on_domain="nan", violations=violations)
        out_values = [np.broadcast_to(v, (n,)) for v in vals]
    elif kind in ("diff", "jacobian"):
        values, grads = [], []
        for k in outs:
            tape, refs = expr.gradient_tape(point, tuple(names), k)
            live = [r for r in refs if r is not None]
            got = evaluate.run(tape, point, [expr.lowered.outputs[k], *live], on_domain="nan", violations=violations)
            values.append(np.broadcast_to(got[0], (n,)))
            it = iter(got[1:])
            grads += [np.broadcast_to(next(it), (n,)) if r is not None else np.zeros(n) for r in refs]
        out_values = values + grads
    elif order_of(kind):
        vals = evaluate.run(expr.specialised(point), point, list(expr.lowered.outputs), on_domain="nan", violations=violations)
        out_values = [np.broadcast_to(v, (n,)) for v in vals]
        order = order_of(kind) or 0
        try:  # one Taylor pass per output and variable: along the all-ones direction, every row's own derivative
            for k in outs:
                for v in names:
                    c = expr.taylor_coefficients(point, {v: np.ones(n)}, order, k)[order] * math.factorial(order)
                    out_values.append(np.broadcast_to(c, (n,)))
        except NoTaylorRule:
            return _compute_rows(expr, chunk, kind, names, n)
    else:
        # Each Hessian entry: forward mode over the reverse gradient, seeded along one variable at a time.
        vals = evaluate.run(expr.specialised(point), point, list(expr.lowered.outputs), on_domain="nan", violations=violations)
        out_values = [np.broadcast_to(v, (n,)) for v in vals]
        for k in outs:
            tape, grads, tangents = expr.hessian_tape(point, tuple(names), k)
            cols: dict[tuple[str, str], np.ndarray] = {}
            for b in names:
                inputs: dict = dict(point)
                for v in names:
                    inputs[("tangent", 1, v)] = np.zeros(n) if v != b else np.ones(n)
                live = [t for t in tangents if t is not None]
                got = iter(evaluate.run(tape, inputs, live, on_domain="nan")) if live else iter(())
                for a, t in zip(names, tangents):
                    cols[(a, b)] = np.broadcast_to(next(got), (n,)) if t is not None else np.zeros(n)
            out_values += [cols[(a, b)] for a in names for b in names]
    undefined = _undefined_rows(violations, out_values[: len(outs)], n)
    return Results(labels, [np.array(v, dtype=float) for v in out_values], undefined)


def _undefined_rows(violations: list[evaluate.Violation], values: list[np.ndarray], n: int) -> np.ndarray:
    """Rows where a domain violation reaches some output (as nan): undefined there."""
    flags = np.zeros(n, dtype=bool)
    for v in violations:
        try:
            flags |= np.broadcast_to(v.mask, (n,))
        except ValueError:
            flags |= bool(np.any(v.mask))
    reached = np.zeros(n, dtype=bool)
    for value in values:
        reached |= np.isnan(np.asarray(value, dtype=float))
    return flags & reached


def _compute_rows(expr: Expression, chunk: Chunk, kind: str, names: list[str], n: int) -> Results:
    """Rows holding arrays (or programs that reduce over arrays): one pass per row, same results."""
    labels = _labels(expr, kind, names)
    per_label: list[list[Any]] = [[] for _ in labels]
    undefined = np.zeros(n, dtype=bool)
    unfit: dict[int, str] = {}
    for r in range(n):
        point = {v: np.asarray(chunk.columns[v][r], dtype=float) for v in expr.variables}
        try:
            cells = _row_cells(expr, point, kind, names)
        except DomainError:
            undefined[r] = True
            cells = None
        except ShapeError as exc:  # this row's shapes only: the other rows still run
            unfit[r] = exc.message
            cells = None
        for k in range(len(labels)):
            per_label[k].append(cells[k] if cells is not None else np.nan)
    values = []
    for col in per_label:
        if all(np.ndim(c) == 0 for c in col):
            values.append(np.array(col, dtype=float))
        else:
            arr = np.empty(n, dtype=object)
            arr[:] = [np.asarray(c) for c in col]
            values.append(arr)
    return Results(labels, values, undefined, unfit)


def _row_cells(expr: Expression, point: dict[str, np.ndarray], kind: str, names: list[str]) -> list[Any]:
    outs = range(len(expr.output_names))
    if kind == "eval":
        return list(expr.values(point))
    if kind == "diff":
        values, grads = [], []
        for k in outs:
            v, g = expr.value_and_gradient(point, names, "reverse", k)
            values.append(v)
            grads += [g[name] for name in names]
        return values + grads
    order = order_of(kind)
    if order:
        return list(expr.values(point)) + [expr.derivative(point, v, order, output=k) for k in outs for v in names]
    if kind == "jacobian":
        jac = expr.jacobian(point, names)
        return list(expr.values(point)) + [jac[o][name] for o in expr.output_names for name in names]
    hs = expr.hessians(point, names)
    return list(expr.values(point)) + [hs[o][a][b] for o in expr.output_names for a in names for b in names]


# -- output ---------------------------------------------------------------------------------------


def format_column(values: np.ndarray) -> list[str]:
    """Shortest round-trip text for a whole column: 8, 0.1, 1e-20, nan (Python's repr, tidied in bulk)."""
    if values.dtype == object:
        from ..numfmt import format_value

        return [f'"{format_value(v)}"' if np.ndim(v) else format_value(v) for v in values]  # CSV-quoted arrays
    # + 0.0 turns -0.0 into 0.0 (and nothing else), so a column never shows -0, as format_number doesn't.
    text = "\n".join(map(float.__repr__, (np.asarray(values, dtype=float) + 0.0).tolist()))
    text = _TIDY.sub("", text).replace("e+", "e").replace("e-0", "e-")
    return text.split("\n")


_TIDY = re.compile(r"\.0$", re.M)  # 8.0 → 8; then 1e+16 → 1e16 and 2.5e-07 → 2.5e-7, as numfmt.format_number


def csv_header(variables: list[str], passthrough: list[str], results: list[str]) -> list[str]:
    """The CSV header: variables, passthrough columns, results. A passthrough column named like a variable's
    or a result's column (an input column `value`) is written as `value_in` (`value_in2`, …): names never collide."""
    taken = set(variables) | set(results)
    renamed = []
    for name in passthrough:
        new, k = name, 1
        while new in taken:
            new = f"{name}_in" if k == 1 else f"{name}_in{k}"
            k += 1
        taken.add(new)
        renamed.append(new)
    return [*variables, *renamed, *results]


def _csv_line(cells: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


class Writer:
    """CSV (header once) or JSON Lines, flushed after every chunk."""

    def __init__(self, out: IO[str], fmt: str, expr: Expression, kind: str = "diff") -> None:
        self.out, self.fmt, self.expr, self.kind = out, fmt, expr, kind
        self.header_done = False
        self.extra_names: list[str] = []
        self.unlisted: dict[str, int] = {}  # JSON Lines keys first seen after the CSV header: key → first line
        # diff --order 2 by one scalar variable: rows say "order" and "derivative", as diff at one point does
        # (a Hessian only with several variables or an array one, as there).
        self.derivative_rows = False

    def finish(self, stats: Stats, wrt: Sequence[str] | None) -> None:
        """An input with no rows still gets its CSV header (the columns it would have had)."""
        if self.fmt == "json" or self.header_done:
            return
        variables = list(self.expr.variables)
        names = list(wrt) if wrt else variables
        keys = _labels(self.expr, self.kind, names)
        outputs = len(self.expr.output_names)
        extra = [h for h in (stats.header or []) if h not in variables]
        self.out.write(_csv_line(csv_header(variables, extra, [column_name(k, outputs) for k in keys])))
        self.out.flush()

    def write(self, chunk: Chunk, results: Results) -> None:
        n = len(chunk.lines)
        if self.fmt == "json":
            self._write_json(chunk, results, n)
        else:
            self._write_csv(chunk, results, n)
        self.out.flush()

    def _write_csv(self, chunk: Chunk, results: Results, n: int) -> None:
        variables = list(self.expr.variables)
        if not self.header_done:
            # Passthrough columns: those of the first well-formed row (CSV rows all have the header's).
            first = next((e for k, e in enumerate(chunk.extra) if k not in chunk.malformed), {})
            self.extra_names = [k for k in first if k not in variables]
            self.out.write(_csv_line(csv_header(variables, self.extra_names, results.names)))
            self.header_done = True
        extra_names = self.extra_names
        listed = set(extra_names) | set(variables)  # sets: a file may have 65,536 columns
        for k, e in enumerate(chunk.extra):  # a JSON Lines key the header doesn't have: said at the end, not lost silently
            for key in e:
                if key not in listed and key not in self.unlisted:
                    self.unlisted[key] = chunk.lines[k]
        # Each output row repeats its point, so rows can be read or joined on their own.
        numbers = [format_column(chunk.columns[v]) for v in variables]
        tail = [format_column(v) for v in results.values]
        if extra_names:
            extras = [_csv_line([str(e.get(k, "")) for k in extra_names]).rstrip("\n") for e in chunk.extra]
            rows = (",".join(r) for r in zip(*numbers, extras, *tail))
        else:
            rows = (",".join(r) for r in zip(*numbers, *tail))
        self.out.write("\n".join(rows) + "\n")

    def _write_json(self, chunk: Chunk, results: Results, n: int) -> None:
        from ..numfmt import json_value

        lines = []
        for r in range(n):
            point = {v: json_value(chunk.columns[v][r]) for v in self.expr.variables}
            obj: dict[str, Any] = {"point": point}
            cells = [(key, json_value(col[r])) for key, col in zip(results.keys, results.values)]
            obj.update(_schema(cells, self.expr, self.kind))
            if self.derivative_rows:
                _as_derivative(obj, len(self.expr.output_names) == 1)
            if chunk.extra[r]:
                obj["columns"] = {k: _strict_json(v) for k, v in chunk.extra[r].items()}
            if results.undefined[r]:
                obj["undefined"] = True
            if r in chunk.malformed:
                obj = {"line": chunk.lines[r], "error": "malformed row", **obj}
            lines.append(json.dumps(obj, ensure_ascii=False, allow_nan=False))
        self.out.write("\n".join(lines) + ("\n" if lines else ""))


def _as_derivative(obj: dict[str, Any], single: bool) -> None:
    """A one-variable scalar Hessian row rewritten as `diff --order 2` at a point writes it: order and derivative."""
    tables = [obj["hessian"]] if single else list(obj["hessian"].values())
    if not all(len(t) == 1 and not isinstance(row[a], list) for t in tables for a, row in t.items()):
        return  # several variables, or an array variable: a Hessian, as at one point
    second = [{a: row[a] for a, row in t.items()} for t in tables]
    hessian = obj.pop("hessian")
    obj["order"] = 2
    obj["derivative"] = second[0] if single else dict(zip(hessian, second))


def _strict_json(v: Any) -> Any:
    """A passthrough value as strict JSON: NaN and ±Infinity (which JSON Lines input may hold) as strings."""
    from ..numfmt import json_number

    if isinstance(v, float):
        return json_number(v)
    if isinstance(v, list):
        return [_strict_json(x) for x in v]
    if isinstance(v, dict):
        return {k: _strict_json(x) for k, x in v.items()}
    return v


def _schema(cells: list[tuple[Key, Any]], expr: Expression, command: str = "diff") -> dict[str, Any]:
    """A row's cells arranged as the command's own JSON at one point: value, then gradient / jacobian / hessian."""
    outs = expr.output_names
    single = len(outs) == 1
    out: dict[str, Any] = {}
    values = {k: v for (kind, k, _, _), v in cells if kind == "value"}
    out["value"] = values[0] if single else {outs[k]: v for k, v in values.items()}
    if not single or command == "jacobian":
        out["outputs"] = list(outs)
    grads = [(k, a, v) for (kind, k, a, _), v in cells if kind == "grad"]
    if command == "diff" and single:
        out["gradient"] = {a: v for _, a, v in grads}
    elif command in ("diff", "jacobian"):
        jac: dict[str, dict[str, Any]] = {o: {} for o in outs}
        for k, a, v in grads:
            jac[outs[k]][a] = v  # type: ignore[index]
        out["jacobian"] = jac
    order = order_of(command)
    if order:
        out["order"] = order
        per: list[dict[str, Any]] = [{} for _ in outs]
        for (kind, k, a, _), v in cells:
            if kind == command:
                per[k][a] = v  # type: ignore[index]
        out["derivative"] = per[0] if single else dict(zip(outs, per))
    if command == "hessian":
        tables: list[dict[str, dict[str, Any]]] = [{} for _ in outs]
        for (kind, k, a, b), v in cells:
            if kind == "hess":
                tables[k].setdefault(a, {})[b] = v  # type: ignore[index]
        out["hessian"] = tables[0] if single else dict(zip(outs, tables))
    return out


def run_batch(
    expr: Expression,
    chunks: Iterator[Chunk],
    kind: str,
    wrt: Sequence[str] | None,
    writer: Writer,
    stats: Stats,
    progress: Callable[[int], None] | None = None,
    fast: Callable[[dict[str, np.ndarray], int], tuple[list[Any], list[np.ndarray], np.ndarray]] | None = None,
    skip_bad: bool = False,
) -> Stats:
    """`fast`: a compiled kernel (tools/jit.py) for chunks of scalar rows: their keys, columns and undefined rows."""
    for chunk in chunks:
        if not chunk.lines:
            continue
        if fast is not None and not chunk.shapes:
            results = Results(*fast({v: chunk.columns[v] for v in expr.variables}, len(chunk.lines)))
        else:
            results = compute(expr, chunk, kind, wrt)
        if results.unfit:
            chunk, results = _unfit_rows(chunk, results, stats, skip_bad)
            if not chunk.lines:
                continue
        # A row where the expression is undefined, or that stands in for a malformed line, is nan throughout.
        blank = set(chunk.malformed) | set(np.flatnonzero(results.undefined).tolist())
        if blank:
            rows = sorted(blank)
            for col in results.values:
                if col.dtype == object:
                    for r in rows:
                        col[r] = np.full(np.shape(col[r]), np.nan)
                else:
                    col[rows] = np.nan
            results.undefined[sorted(chunk.malformed)] = False
        writer.write(chunk, results)
        stats.rows += len(chunk.lines)
        bad = np.flatnonzero(results.undefined)
        stats.undefined_count += len(bad)
        for b in bad[: max(0, 5 - len(stats.undefined))]:
            stats.undefined.append(chunk.lines[b])
        if progress is not None:
            progress(len(chunk.lines))
    return stats


def _unfit_rows(chunk: Chunk, results: Results, stats: Stats, skip_bad: bool) -> tuple[Chunk, Results]:
    """Rows whose shapes don't fit the expression, counted as malformed lines (named at the end, exit 2):
    kept as nan rows, or dropped with --skip-bad."""
    for r, why in sorted(results.unfit.items()):
        if _bad(stats, skip_bad, chunk.lines[r], "", f"has values the expression can't take: {why}"):
            chunk.malformed.add(r)
    if not skip_bad:
        return chunk, results
    keep = [r for r in range(len(chunk.lines)) if r not in results.unfit]
    moved = {r: k for k, r in enumerate(keep)}
    kept = Chunk(
        [chunk.lines[r] for r in keep],
        {v: col[keep] for v, col in chunk.columns.items()},
        [chunk.extra[r] for r in keep],
        chunk.shapes,
        {moved[r] for r in chunk.malformed if r in moved},
    )
    return kept, Results(results.keys, [col[keep] for col in results.values], results.undefined[keep])


def open_points(path: str) -> tuple[str, Iterator[str], int | None]:
    """The rows' format, the lines (stdin for "-"), and the file's size in bytes when known."""
    import itertools
    import os
    import sys

    if path == "-":
        stream: IO[str] = sys.stdin
        if stream is None:
            raise UsageError("--points - reads stdin, but stdin is closed")
        if isinstance(stream, io.TextIOWrapper):  # read stdin exactly as a file (below), whatever the locale
            stream.reconfigure(encoding="utf-8-sig", errors="surrogateescape", newline="")
        size = None
    else:
        try:
            # utf-8-sig: spreadsheets write a byte-order mark before the header. Bytes that aren't UTF-8
            # become lone surrogates, so only the rows holding them are malformed (and a passthrough
            # column is written back byte for byte).
            stream = open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")  # noqa: SIM115
            size = os.path.getsize(path)
        except OSError as exc:
            raise input_file_error(exc, path, "points file") from None
    head: list[str] = []
    lines = _reading(stream, "stdin" if path == "-" else path)
    for line in lines:
        head.append(line.removeprefix("\ufeff") if not head else line)
        if line.strip():
            break
    fmt = detect_format(path, head[-1] if head else "")
    return fmt, itertools.chain(head, lines), size


def _reading(stream: IO[str], name: str) -> Iterator[str]:
    """The stream's lines; a read that fails (EIO) is an input/output error naming the file (exit 74)."""
    try:
        yield from stream
    except OSError as exc:
        raise InputOutputError(f"can't read {name}: {exc.strerror or exc}") from None


class _Lines:
    """An iterable of lines that counts the characters read, for the progress bar."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines, self.read = lines, 0

    def __iter__(self) -> Iterator[str]:
        for line in self.lines:
            self.read += len(line)
            yield line


def chunks_from(
    path: str, variables: Sequence[str], skip_bad: bool, stats: Stats
) -> tuple[Iterator[Chunk], Callable[[], tuple[int, int | None]]]:
    """Chunks of the points file, and a probe giving (characters read, total size) for progress."""
    fmt, lines, size = open_points(path)
    counted = _Lines(lines)
    reader = read_jsonl if fmt == "jsonl" else read_csv
    try:
        chunks = reader(counted, variables, skip_bad, stats)  # type: ignore[arg-type]
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    return chunks, lambda: (counted.read, size)


def with_fixed(chunks: Iterator[Chunk], fixed: dict[str, np.ndarray]) -> Iterator[Chunk]:
    """Variables given with --at are the same on every row."""
    for c in chunks:
        n = len(c.lines)
        for name, value in fixed.items():
            if np.ndim(value) == 0:
                c.columns[name] = np.full(n, float(value))
            else:
                col = np.empty(n, dtype=object)
                col[:] = [value] * n
                c.columns[name] = col
                c.shapes[name] = np.shape(value)
        yield c
