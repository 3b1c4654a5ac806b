"""Results as JSON objects, plain text and Rich tables (SPEC §3). No math here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .numfmt import format_value, json_value


@dataclass
class Report:
    """What a command found: `data` is the JSON object; `plain` and `rows` are its text forms."""

    data: dict[str, Any]
    plain: list[str]
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)


def _point(point: Mapping[str, np.ndarray]) -> dict[str, Any]:
    return {k: json_value(v) for k, v in point.items()}


def _all_scalar(values: list[np.ndarray]) -> bool:
    return all(np.ndim(v) == 0 for v in values)


def value_report(expression: str, point: Mapping[str, np.ndarray], names: tuple[str, ...], values: list[np.ndarray]) -> Report:
    single = len(values) == 1
    data = {
        "expression": expression,
        "point": _point(point),
        "value": json_value(values[0]) if single else {n: json_value(v) for n, v in zip(names, values)},
    }
    plain = [format_value(values[0])] if single else [f"{n} = {format_value(v)}" for n, v in zip(names, values)]
    rows = [(n, format_value(v)) for n, v in zip(names, values)]
    return Report(data, plain, expression, ("output", "value"), rows)


def _d(name: str, of: str | None = None, order: int = 1) -> str:
    top = "d" if order == 1 else f"d{order}"
    bottom = f"d{name}" if order == 1 else f"d{name}{order}"
    return f"{top}{'(' + of + ')' if of else ''}/{bottom}"


def gradient_report(
    expression: str,
    point: Mapping[str, np.ndarray],
    names: tuple[str, ...],
    values: list[np.ndarray],
    jacobian: Mapping[str, Mapping[str, np.ndarray]],
) -> Report:
    """diff and jacobian: one output gives "gradient", several give "jacobian"."""
    base = value_report(expression, point, names, values)
    data = dict(base.data)
    outs = list(jacobian)
    rows = list(base.rows)
    if len(outs) == 1:
        grad = jacobian[outs[0]]
        data["gradient"] = {v: json_value(g) for v, g in grad.items()}
        plain = (
            [format_value(g) for g in grad.values()]
            if len(grad) == 1
            else [f"{_d(v)} = {format_value(g)}" for v, g in grad.items()]
        )
        rows += [(_d(v), format_value(g)) for v, g in grad.items()]
    else:
        data["jacobian"] = {o: {v: json_value(g) for v, g in jacobian[o].items()} for o in outs}
        flat = [g for o in outs for g in jacobian[o].values()]
        if _all_scalar(flat):
            plain = [" ".join(format_value(g) for g in jacobian[o].values()) for o in outs]
        else:
            plain = [f"{_d(v, o)} = {format_value(g)}" for o in outs for v, g in jacobian[o].items()]
        rows += [(_d(v, o), format_value(g)) for o in outs for v, g in jacobian[o].items()]
    return Report(data, plain, expression, ("", "value"), rows)


def hessian_report(
    expression: str,
    point: Mapping[str, np.ndarray],
    names: tuple[str, ...],
    values: list[np.ndarray],
    hessian: Mapping[str, Mapping[str, np.ndarray]],
) -> Report:
    base = value_report(expression, point, names, values)
    data = dict(base.data)
    data["hessian"] = {a: {b: json_value(h) for b, h in row.items()} for a, row in hessian.items()}
    variables = list(hessian)
    flat = [h for row in hessian.values() for h in row.values()]
    if _all_scalar(flat):
        plain = [" ".join(format_value(hessian[a][b]) for b in variables) for a in variables]
        rows = [(a, *(format_value(hessian[a][b]) for b in variables)) for a in variables]
        columns: tuple[str, ...] = ("", *variables)
    else:
        plain = [f"d2/d{a}d{b} = {format_value(hessian[a][b])}" for a in variables for b in variables]
        rows = [(f"d2/d{a}d{b}", format_value(hessian[a][b])) for a in variables for b in variables]
        columns = ("", "value")
    return Report(data, plain, expression, columns, rows)


def nth_derivative_report(
    expression: str,
    point: Mapping[str, np.ndarray],
    names: tuple[str, ...],
    values: list[np.ndarray],
    wrt: str,
    order: int,
    d: np.ndarray,
) -> Report:
    base = value_report(expression, point, names, values)
    data = dict(base.data)
    data["order"] = order
    data["derivative"] = {wrt: json_value(d)}
    label = _d(wrt, order=order)
    return Report(data, [format_value(d)], expression, ("", "value"), [*base.rows, (label, format_value(d))])


def to_json(report: Report) -> str:
    return json.dumps(report.data, ensure_ascii=False, allow_nan=False)


def print_table(report: Report) -> None:
    """A Rich table on stdout; Rich is imported only when a table is asked for."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(report.title), title_justify="left", show_header=any(report.columns))
    for k, col in enumerate(report.columns):
        table.add_column(escape(col), justify="left" if k == 0 else "right", style="bold" if k == 0 else None)
    for row in report.rows:
        table.add_row(*(escape(c) for c in row))
    Console().print(table)
