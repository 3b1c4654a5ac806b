"""Results as JSON objects, plain text and Rich tables (SPEC §3). No math here."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..numfmt import format_number, format_value, json_value


@dataclass
class Report:
    """What a command found: `data` is the JSON object; `plain` and `rows` are its text forms."""

    data: dict[str, Any]
    plain: list[str]
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)  # lines printed above a table
    footer: list[str] = field(default_factory=list)  # and below it


def _point(point: Mapping[str, np.ndarray]) -> dict[str, Any]:
    return {k: json_value(v) for k, v in point.items()}


def _all_scalar(values: list[np.ndarray]) -> bool:
    return all(np.ndim(v) == 0 for v in values)


def value_report(expression: str, point: Mapping[str, np.ndarray], names: tuple[str, ...], values: list[np.ndarray]) -> Report:
    single = len(values) == 1
    data: dict[str, Any] = {
        "expression": expression,
        "point": _point(point),
        "value": json_value(values[0]) if single else {n: json_value(v) for n, v in zip(names, values)},
    }
    if not single:
        data["outputs"] = list(names)
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
    """diff: one output gives "gradient", several give "jacobian" (each output's gradient of its sum)."""
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
            if grad
            else base.plain
        )
        rows += [(_d(v), format_value(g)) for v, g in grad.items()]
    else:
        data["outputs"] = outs
        data["jacobian"] = {o: {v: json_value(g) for v, g in jacobian[o].items()} for o in outs}
        flat = [g for o in outs for g in jacobian[o].values()]
        if not flat:
            plain = base.plain
        elif _all_scalar(flat):
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
    hessians: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]],
) -> Report:
    """One Hessian per output: "hessian" is {a: {b: h}} for one output, {output: {a: {b: h}}} for several."""
    base = value_report(expression, point, names, values)
    data = dict(base.data)
    outs = list(hessians)
    as_json = {o: {a: {b: json_value(h) for b, h in row.items()} for a, row in hessians[o].items()} for o in outs}
    if len(outs) == 1:
        data["hessian"] = as_json[outs[0]]
        hessian = hessians[outs[0]]
        variables = list(hessian)
        flat = [h for row in hessian.values() for h in row.values()]
        if _all_scalar(flat):
            plain = [" ".join(format_value(hessian[a][b]) for b in variables) for a in variables]
            rows = [(a, *(format_value(hessian[a][b]) for b in variables)) for a in variables]
            return Report(data, plain, expression, ("", *variables), rows)
    else:
        data["outputs"] = outs
        data["hessian"] = as_json
    entries = [
        (f"d2{'(' + o + ')' if len(outs) > 1 else ''}/d{a}d{b}", format_value(h))
        for o in outs
        for a, row in hessians[o].items()
        for b, h in row.items()
    ]
    return Report(data, [f"{k} = {v}" for k, v in entries], expression, ("", "value"), entries)


def derivative_report(
    expression: str,
    point: Mapping[str, np.ndarray],
    names: tuple[str, ...],
    values: list[np.ndarray],
    wrt: tuple[str, ...],
    order: int,
    tensors: list[np.ndarray],
) -> Report:
    """--order N: per output, dⁿ/dxⁿ for one variable, the derivative tensor (nested by variable) for several."""
    import itertools

    base = value_report(expression, point, names, values)
    data = dict(base.data)
    data["order"] = order
    per_output = []
    partials: list[dict[str, Any]] = []
    entries = []
    for label, t in zip(names, tensors):
        if len(wrt) == 1:
            per_output.append({wrt[0]: json_value(t)})
            entries.append((label, _d(wrt[0], order=order), t))
            continue
        nested: dict[str, Any] = {}
        for idx in itertools.product(range(len(wrt)), repeat=order):
            node = nested
            for j in idx[:-1]:
                node = node.setdefault(wrt[j], {})
            node[wrt[idx[-1]]] = json_value(t[idx])
        per_output.append(nested)
        distinct = {}
        for idx in itertools.combinations_with_replacement(range(len(wrt)), order):  # each mixed partial once
            distinct[partial_label(wrt, idx)] = json_value(t[idx])
            entries.append((label, partial_label(wrt, idx), t[idx]))
        partials.append(distinct)
    several = len(names) > 1
    if several:
        data["outputs"] = list(names)
    data["derivative"] = dict(zip(names, per_output)) if several else per_output[0]
    if partials:
        data["partials"] = dict(zip(names, partials)) if several else partials[0]
    rows = [(k if not several else k.replace("/", f"({o})/", 1), format_value(v)) for o, k, v in entries]
    plain = [format_value(entries[0][2])] if len(rows) == 1 else [f"{k} = {v}" for k, v in rows]
    return Report(data, plain, expression, ("", "value"), [*base.rows, *rows])


def partial_label(wrt: tuple[str, ...], idx: tuple[int, ...]) -> str:
    """d3/dx2dy for the variable positions (0, 0, 1): the order over each variable with its power."""
    counts = {j: idx.count(j) for j in sorted(set(idx))}
    return f"d{len(idx)}/" + "".join(f"d{wrt[j]}{c if c > 1 else ''}" for j, c in counts.items())


def _monomial(names: tuple[str, ...], point: Mapping[str, np.ndarray], powers: tuple[int, ...], latex: bool) -> str:
    """(x - 1)^2*y for the powers (2, 1) about x = 1, y = 0; LaTeX: \\left(x - 1\\right)^{2} y."""
    factors = []
    for name, k in zip(names, powers):
        if k == 0:
            continue
        a = float(np.asarray(point.get(name, 0.0)))
        shown = name
        if latex:  # θ, alpha → \theta, \alpha; x1 → x_{1}
            from ..tools.symbolic import latex_name

            shown = latex_name(name)
        base = shown if a == 0 else f"({shown} {'-' if a > 0 else '+'} {format_number(abs(a))})"
        if latex:
            base = base.replace("(", "\\left(").replace(")", "\\right)")
            factors.append(base if k == 1 else f"{base}^{{{k}}}")
        else:
            factors.append(base if k == 1 else f"{base}^{k}")
    return (" " if latex else "*").join(factors)


def taylor_polynomial_text(
    names: tuple[str, ...], point: Mapping[str, np.ndarray], coefficients: Mapping[tuple[int, ...], float], latex: bool
) -> str:
    """c0 + c1*(x - a) + … by increasing degree, zero terms left out (0 if all are)."""
    text = ""
    for powers, c in sorted(coefficients.items(), key=lambda kv: (sum(kv[0]), tuple(-p for p in kv[0]))):
        if c == 0:
            continue
        term = _monomial(names, point, powers, latex)
        mag = abs(c)
        number = format_number(mag) if not math.isnan(c) else "nan"
        if latex:
            number = number.replace("inf", "\\infty")
            body = number if not term else term if mag == 1 else f"{number} {term}"
        else:
            body = number if not term else term if mag == 1 else f"{number}*{term}"
        negative = c < 0
        if not text:
            text = f"-{body}" if negative else body
        else:
            text += f" - {body}" if negative else f" + {body}"
    return text or "0"


def taylor_report(
    expression: str,
    point: Mapping[str, np.ndarray],
    wrt: tuple[str, ...],
    order: int,
    coefficients: Mapping[tuple[int, ...], float],
    latex: bool = False,
) -> Report:
    """`taylor`: the coefficients ∂^j f(a)/j! by multi-index and the polynomial in (x − a) as text or LaTeX."""
    text = taylor_polynomial_text(wrt, point, coefficients, latex=False)
    shown = taylor_polynomial_text(wrt, point, coefficients, latex=True) if latex else text
    ordered = sorted(coefficients.items(), key=lambda kv: (sum(kv[0]), tuple(-p for p in kv[0])))
    data: dict[str, Any] = {
        "expression": expression,
        "point": _point(point),
        "order": order,
        "variables": list(wrt),
        "coefficients": [{"powers": list(j), "coefficient": json_value(c)} for j, c in ordered],
        "polynomial": text,
        "latex": taylor_polynomial_text(wrt, point, coefficients, latex=True),
    }
    rows = [("[" + ", ".join(map(str, j)) + "]", _monomial(wrt, point, j, False) or "1", format_number(c)) for j, c in ordered]
    return Report(data, [shown], expression, ("powers", "term", "coefficient"), rows, header=[text])


def _element_labels(label: str, shape: tuple[int, ...]) -> list[str]:
    from ..api import element_label

    if shape == ():
        return [label]
    return [element_label(label, idx) for idx in np.ndindex(*shape)]


def jacobian_report(
    expression: str,
    point: Mapping[str, np.ndarray],
    names: tuple[str, ...],
    values: list[np.ndarray],
    jacobian: Mapping[str, Mapping[str, np.ndarray]],
    mode: str,
) -> Report:
    """`jacobian`: blocks of shape S + T in JSON; as text, the whole matrix (a row per output element,
    a column per input element, in order)."""
    base = value_report(expression, point, names, values)
    data = dict(base.data)
    data["outputs"] = list(names)
    data["mode"] = mode
    data["jacobian"] = {o: {v: json_value(b) for v, b in row.items()} for o, row in jacobian.items()}
    variables = list(jacobian[names[0]]) if names else []
    in_shapes = [np.shape(point[v]) if v in point else () for v in variables]
    columns = [c for v, t in zip(variables, in_shapes) for c in _element_labels(v, t)]
    table_rows: list[tuple[str, ...]] = []
    plain = []
    for o, value in zip(names, values):
        s = np.shape(value)
        n_rows = int(np.prod(s))
        parts = [np.reshape(jacobian[o][v], (n_rows, int(np.prod(t)))) for v, t in zip(variables, in_shapes)]
        matrix = np.concatenate(parts, axis=1) if parts else np.zeros((n_rows, 0))
        for label, r in zip(_element_labels(o, s), matrix):
            cells = [format_value(x) for x in r]
            plain.append(" ".join(cells))
            table_rows.append((label, *cells))
    if not columns:  # no variables: nothing to differentiate, so the values
        plain = base.plain
    return Report(data, plain, expression, ("", *columns), table_rows, [f"mode: {mode}"] if mode else [])


def nothing_to_differentiate(expression: str) -> str:
    return f"{expression} has no free variables: there is nothing to differentiate (its derivative is 0)"


def to_json(report: Report) -> str:
    import json  # plain output, the common case, needs none of it

    return json.dumps(report.data, ensure_ascii=False, allow_nan=False)


def print_table(report: Report) -> None:
    """A Rich table on stdout; Rich is imported only when a table is asked for."""
    from rich.cells import cell_len
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    for line in report.header:
        console.print(escape(line), soft_wrap=True)
    columns = len(report.columns) or max((len(r) for r in report.rows), default=1)
    widths = [
        max([cell_len(c) for c in report.columns[k : k + 1]] + [cell_len(r[k]) for r in report.rows if k < len(r)] + [0])
        for k in range(columns)
    ]
    if sum(widths) + 3 * columns + 1 > console.width and len(report.columns) > 1:
        # Too wide for the terminal: one block per row, "column: value", so no number is ever cut short.
        if report.title:
            console.print(escape(report.title), soft_wrap=True)
        for row in report.rows:
            console.print(f"[bold]{escape(row[0])}[/bold]" if row[0] else "", soft_wrap=True)
            for col, cell in zip(report.columns[1:], row[1:]):
                console.print(f"  {escape(col)}: {escape(cell)}" if col else f"  {escape(cell)}", soft_wrap=True)
    else:
        table = Table(title=escape(report.title), title_justify="left", show_header=any(report.columns))
        for k, col in enumerate(report.columns):
            style = "bold" if k == 0 else None
            table.add_column(escape(col), justify="left" if k == 0 else "right", style=style, overflow="fold")
        for row in report.rows:
            table.add_row(*(escape(c) for c in row))
        console.print(table)
    for line in report.footer:
        console.print(escape(line), soft_wrap=True)


def _short(x: float | None) -> str:
    """Errors and estimates to 3 significant digits; they are magnitudes, not values to reuse."""
    if x is None:
        return "—"
    return format_value(float(f"{x:.3g}")) if np.isfinite(x) else format_value(x)


_METHOD_TEXT = {
    "central": "central differences",
    "forward": "forward differences",
    "backward": "backward differences",
    "complex": "complex step",
    "richardson": "Richardson extrapolation of central differences",
}


def check_report(expression: str, point: Mapping[str, np.ndarray], result: Any, shown_per_variable: int = 10) -> Report:
    """`check`: a row per entry (small arrays) or the worst entries (large ones), then the verdict."""
    rows_json = [
        {
            "variable": r.variable,
            "autodiff": json_value(r.autodiff),
            "numeric": json_value(r.numeric),
            "abs_error": json_value(r.abs_error),
            "rel_error": json_value(r.rel_error),
            "error_estimate": None if r.estimate is None else json_value(r.estimate),
            "ok": r.ok,
            "kink": r.kink,
        }
        for r in result.rows
    ]
    data: dict[str, Any] = {
        "expression": expression,
        "point": _point(point),
        "ok": result.ok,
        "method": result.method,
        "order": result.order,
        "rtol": result.rtol,
        "atol": result.atol,
        "step": {k: json_value(v) for k, v in result.steps.items()},
        "rows": rows_json,
        "summary": result.summary(),
        "notes": list(result.notes),
        "kinks": [
            {
                "expression": s.expression,
                "primitive": s.primitive,
                "arguments": [json_value(a) for a in s.arguments],
                "convention": s.convention,
                "one_sided": {v: {"left": json_value(lr[0]), "right": json_value(lr[1])} for v, lr in s.one_sided.items()},
            }
            for s in result.singular
        ],
    }
    if result.projection_seed is not None:
        data["projection_seed"] = result.projection_seed
    shown = _shown_rows(result.rows, shown_per_variable)
    table_rows = [
        (
            r.variable,
            format_value(r.autodiff),
            format_value(r.numeric),
            _short(r.abs_error),
            _short(r.rel_error),
            _short(r.estimate),
            ("ok (kink)" if r.kink else "ok") if r.ok else "FAIL",
        )
        for r in shown
    ]
    steps = ", ".join(f"{v}: {_short(h)}" for v, h in result.steps.items())
    header = [
        f"method: {_METHOD_TEXT[result.method]}"
        + (" of the AD gradient (Hessian check)" if result.order == 2 else "")
        + (f"; step h = {steps}" if steps else ""),
        f"pass when |ad − numeric| ≤ atol + rtol·|numeric|, rtol = {format_number(result.rtol)},"
        f" atol = {format_number(result.atol)}",
    ]
    if result.projection_seed is not None:
        header.append(f"large arrays checked along a random unit direction u (seed {result.projection_seed}): uᵀ∇f")
    hidden = len(result.rows) - len(shown)
    footer = list(result.notes) + [_kink_text(s, result) for s in result.singular]
    if hidden:
        footer.append(
            f"{hidden} more entries not shown (all pass)"
            if all(r.ok for r in result.rows if r not in shown)
            else f"{hidden} more entries not shown"
        )
    footer.append(result.summary())
    columns = ("entry", "autodiff", "numeric", "abs error", "rel error", "estimate", "")
    plain = header + _aligned([columns, *table_rows]) + footer
    return Report(data, plain, expression, columns, table_rows, header, footer)


def _shown_rows(rows: list[Any], per_variable: int) -> list[Any]:
    """All rows of small arrays; for big ones the failures and the worst few, in their original order."""
    groups: dict[str, list[Any]] = {}
    for r in rows:
        groups.setdefault(r.variable.split("[")[0], []).append(r)
    keep: set[int] = set()
    for group in groups.values():
        if len(group) <= per_variable:
            keep.update(id(r) for r in group)
        else:
            worst = sorted(group, key=lambda r: -r.badness)[:5]
            keep.update(id(r) for r in worst)
            keep.update(id(r) for r in group if not r.ok)
    return [r for r in rows if id(r) in keep]


def _kink_text(s: Any, result: Any) -> str:
    where = ", ".join(format_number(a) for a in s.arguments)
    text = (
        f"kink: {s.expression} is not differentiable here ({s.primitive} at {where}); gradcli uses {s.convention or 'the limit'}."
    )
    for var, (left, right) in s.one_sided.items():
        row = next((r for r in result.rows if r.variable == var), None)
        sides = f" One-sided slopes in {var}: {_side(left)} from the left, {_side(right)} from the right"
        if row is None:
            text += sides + "."
            continue
        if row.kink:
            verdict = "AD's value lies between them, so it is accepted"
        elif row.ok:
            verdict = "the numerical estimate agrees with AD here"
        else:
            verdict = "AD's value is outside them: a real mismatch"
        text += f"{sides}; AD gives {_short(row.autodiff)}, the numerical estimate {_short(row.numeric)}: {verdict}."
    return text


def _side(slope: float) -> str:
    return "undefined (outside the domain)" if np.isnan(slope) else _short(slope)


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def trace_report(expression: str, point: Mapping[str, np.ndarray], t: Any, explanation: list[str] | None) -> Report:
    """`trace`: one row per tape instruction — operation, value, local partials, adjoint or tangents.

    JSON, one output: {"expression", "point", "mode", "rows": [{"name", "op", "expression", "source",
    "value", "partials": [{"wrt", "formula", "value"}], and "adjoint": v (reverse) or "tangents":
    {seed: t} (forward)}], and "gradient": {var: g} (reverse) or "seeds": {seed: {var: d}} (forward)}.

    Several outputs: the same object covering all of them, with "outputs": [label, …] (program order)
    after "mode"; each row also has "outputs": [the labels of the outputs it is] (usually []; `x, x`
    makes one row two outputs); in reverse mode each row's "adjoint" is {label: ∂label/∂row} and
    "gradient" is {label: {var: g}}, every output a key. Tangents are per seed direction already, so
    forward mode keeps its shape. Plain and table output: one adjoint column per output, then the
    outputs' rows and a gradient line per output below the table.
    """
    reverse = t.mode == "reverse"
    several = len(t.outputs) > 1
    labels = list(t.seeds) if not reverse else []
    rows_json = []
    table_rows = []
    for r in t.rows:
        item: dict[str, Any] = {
            "name": r.name,
            "op": r.op,
            "expression": r.expression,
            "source": r.source,
            "value": json_value(r.value),
            "partials": [{"wrt": p.wrt, "formula": p.formula, "value": json_value(p.value)} for p in r.partials],
        }
        if several:
            item["outputs"] = list(r.outputs)
        if reverse:
            adjoints = {label: json_value(r.adjoints[label]) for label in t.outputs}
            item["adjoint"] = adjoints if several else adjoints[t.outputs[0]]
        else:
            item["tangents"] = {label: json_value(v) for label, v in r.tangents.items()}
        rows_json.append(item)
        partials = "; ".join(
            f"∂/∂{p.wrt} = {p.formula}" + ("" if p.formula == format_value(p.value) else f" = {format_value(p.value)}")
            for p in r.partials
        )
        lhs = r.name if r.op in ("input", "const") else f"{r.name} = {r.expression}"
        cells = [lhs, format_value(r.value), partials]
        if reverse:
            cells += [format_value(r.adjoints[label]) for label in t.outputs]
        else:
            cells += [format_value(r.tangents[label]) for label in labels]
        table_rows.append(tuple(cells))
    data: dict[str, Any] = {"expression": expression, "point": _point(point), "mode": t.mode}
    if several:
        data["outputs"] = list(t.outputs)
    data["rows"] = rows_json
    if reverse:
        gradients = {label: {v: json_value(g) for v, g in grad.items()} for label, grad in t.gradients.items()}
        data["gradient"] = gradients if several else gradients[t.outputs[0]]
    else:
        data["seeds"] = {label: {v: json_value(d) for v, d in dirs.items()} for label, dirs in t.seeds.items()}
    if explanation is not None:
        data["explanation"] = explanation
    from ..tools.trace import short_labels

    short = short_labels(t.outputs)  # a long label is #k in the headers, spelled out once below the table
    if reverse:
        adjoint_columns = [f"adjoint v̄ ({s})" for s in short] if several else ["adjoint v̄"]
        columns: tuple[str, ...] = ("v", "value", "local partials", *adjoint_columns)
    else:
        columns = ("v", "value", "local partials", *(f"tangent ({lb})" for lb in labels))
    footer = []
    if several:
        named = [label if s == label else f"{s} = {label}" for s, label in zip(short, t.outputs)]
        footer.append("outputs: " + ", ".join(f"{n} is {row}" for n, row in zip(named, t.output_rows)))
    footer += list(explanation or [])
    if reverse:
        for s, grad in zip(short, t.gradients.values()):
            of = f" of {s}" if several else ""
            footer.append(f"gradient{of}: " + ", ".join(f"d/d{v} = {format_value(g)}" for v, g in grad.items()))
    plain = _aligned([columns, *table_rows]) + footer
    return Report(data, plain, expression, columns, table_rows, [], footer)


def symbolic_report(expression: str, formulas: Any, latex: bool = False) -> Report:
    """`diff --symbolic`: the derivative formulas, shared parts bound first; every output's, for several.

    As LaTeX, several lines are one `aligned` environment, partials written ∂f/∂x."""
    data: dict[str, Any] = {"expression": expression}
    if formulas.outputs:
        data["outputs"] = list(formulas.outputs)
    data["bindings"] = [{"name": n, "formula": f} for n, f in formulas.bindings]
    data["derivative"] = dict(formulas.derivatives)
    if formulas.outputs:
        entries = [(f"d({o})/d{v}", f) for o, row in formulas.derivatives.items() for v, f in row.items()]
    else:
        entries = [(f"d/d{v}", f) for v, f in formulas.derivatives.items()]
    single = len(entries) == 1 and not formulas.bindings
    lines = [f"{n} = {f}" for n, f in formulas.bindings]
    lines += [entries[0][1]] if single else [f"{k} = {f}" for k, f in entries]
    rows = [(n, f) for n, f in formulas.bindings] + entries
    if latex and not single:
        from ..tools.symbolic import latex_name

        if formulas.outputs:
            heads = [
                f"\\frac{{\\partial}}{{\\partial {latex_name(v)}}} \\left({o}\\right)"
                for o, row in formulas.derivatives.items()
                for v in row
            ]
        else:
            heads = [f"\\frac{{\\partial f}}{{\\partial {latex_name(v)}}}" for v in formulas.derivatives]
        body = [f"{latex_name(n)} &= {f}" for n, f in formulas.bindings] + [f"{h} &= {f}" for h, (_, f) in zip(heads, entries)]
        lines = ["\\begin{aligned}", *(line + " \\\\" for line in body[:-1]), body[-1], "\\end{aligned}"]
    return Report(data, lines, expression, ("", "formula"), rows)


def verify_report(expression: str, result: Any) -> Report:
    """`verify`: what was shown, the largest errors, and a counterexample when the claim is wrong."""
    data = {"expression": expression, **result.to_json()}
    rows = [
        ("verdict", "agrees" if result.ok else "WRONG"),
        ("points checked", str(result.checked)),
        ("points skipped", str(result.skipped)),
        ("max abs error", _short(result.max_abs_error)),
        ("max rel error", _short(result.max_rel_error)),
    ]
    c = result.counterexample
    if c is not None:
        rows += [
            ("counterexample", ", ".join(f"{k}={format_value(v)}" for k, v in c.point.items())),
            (f"claimed d/d{c.variable}", format_value(c.claim)),
            ("automatic", format_value(c.autodiff)),
            ("numeric (central)", "—" if c.numeric is None else format_value(c.numeric)),
        ]
    plain = [result.statement] + [f"{k}: {v}" for k, v in rows[1:]]
    return Report(data, plain, expression, ("", ""), rows, [], [result.statement])
