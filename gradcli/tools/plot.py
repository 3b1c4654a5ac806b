"""`gradcli plot`: a function and its derivative over a range, in the terminal or to an image.

Points where the function is undefined become gaps (nan), never an abort;
kinks (jumps in the derivative) are marked. The terminal plot uses uniplot;
images use matplotlib, an optional extra, imported only when asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..api import Expression
from ..engine import evaluate
from ..engine.primitives import mixes_elements
from ..errors import UsageError


@dataclass
class Curve:
    variable: str
    x: np.ndarray
    f: np.ndarray
    df: np.ndarray
    kinks: list[float]  # x positions where the derivative jumps
    undefined: list[tuple[float, float]]  # x intervals where f is undefined


def sample(
    expr: Expression, point: Mapping[str, np.ndarray], var: str, lo: float, hi: float, n: int = 400, output: int | None = None
) -> Curve:
    """f and f' along `var`; a program with several outputs names the one to draw (`output`)."""
    if output is None and len(expr.output_names) > 1:
        labels = ", ".join(expr.output_names)
        count = len(expr.output_names)
        raise UsageError(f"plot draws one function; this program has {count} outputs ({labels}): plot them one by one")
    if output is None:
        output = 0
    if not lo < hi:
        raise UsageError("the range must have LOW < HIGH")
    if var not in expr.variables:
        raise UsageError(f"{var} is not a variable of the expression (its variables: {', '.join(expr.variables) or 'none'})")
    others = [v for v in expr.variables if v != var and v not in point]
    if others:
        raise UsageError(f"plot varies {var}; fix the other variables with --at ({', '.join(f'{v}=…' for v in others)})")
    for v in expr.variables:
        if v != var and np.ndim(point[v]) != 0:
            raise UsageError(f"plot needs scalar values for the other variables; {v} is an array")
    x = np.linspace(lo, hi, n)
    out_index = range(len(expr.output_names))[output]
    batched = not mixes_elements(expr.tape.ops, expr.tape.params)  # otherwise point by point: the grid axis would mix
    if batched:
        f, df = _values(expr, {**point, var: x}, var, out_index)
    else:
        pairs = [_values(expr, {**point, var: np.asarray(xi)}, var, out_index) for xi in x]
        f = np.array([float(np.sum(p[0])) for p in pairs])
        df = np.array([float(np.sum(p[1])) for p in pairs])
    f, df = np.broadcast_to(f, x.shape).astype(float), np.broadcast_to(df, x.shape).astype(float)
    return Curve(var, x, f, df, _kinks(x, df), _gaps(x, f))


def _values(expr: Expression, point: dict[str, np.ndarray], var: str, out: int) -> tuple[np.ndarray, np.ndarray]:
    point = {k: np.asarray(v, dtype=float) for k, v in point.items()}
    tape, (g,) = expr.gradient_tape(point, (var,), out)
    refs = [expr.lowered.outputs[out]] + ([g] if g is not None else [])
    values = evaluate.run(tape, point, refs, on_domain="nan")
    df = values[1] if g is not None else np.zeros_like(values[0])
    return values[0], df


def _kinks(x: np.ndarray, df: np.ndarray) -> list[float]:
    """Where the derivative jumps: a step far larger than the steps two places away on either side
    (a kink that falls on a grid point shows as two big steps in a row, reported once)."""
    with np.errstate(all="ignore"):
        step = np.abs(np.diff(df))
        finite = np.abs(df[np.isfinite(df)])
        scale = float(np.max(finite)) if finite.size else 1.0
        flagged = []
        for i in range(len(step)):
            if not np.isfinite(step[i]):
                continue
            around = [step[j] for j in (i - 2, i + 2) if 0 <= j < len(step) and np.isfinite(step[j])]
            if step[i] > 1e-6 * max(scale, 1.0) and step[i] > 20 * (max(around, default=0.0) + 1e-12):
                flagged.append(i)
    found: list[float] = []
    k = 0
    while k < len(flagged):
        j = k
        while j + 1 < len(flagged) and flagged[j + 1] == flagged[j] + 1:
            j += 1
        lo, hi = flagged[k], flagged[j] + 1
        found.append(float((x[lo] + x[hi]) / 2))
        k = j + 1
    return found


def _gaps(x: np.ndarray, f: np.ndarray) -> list[tuple[float, float]]:
    bad = ~np.isfinite(f)
    gaps = []
    i = 0
    while i < len(x):
        if bad[i]:
            j = i
            while j + 1 < len(x) and bad[j + 1]:
                j += 1
            gaps.append((float(x[i]), float(x[j])))
            i = j + 1
        else:
            i += 1
    return gaps


def y_range(curve: Curve, ylim: tuple[float, float] | None = None) -> tuple[float, float, bool]:
    """The y range to draw, and whether it clips the data. --ylim wins; otherwise each series' values
    within 5 interquartile ranges of its middle half, unless that keeps most of the full range anyway:
    so a pole (1/x at 0, its derivative -1/x² far steeper) doesn't squash f to a flat line, while a
    function that merely grows (exp) is drawn whole."""
    values = [v[np.isfinite(v)] for v in (curve.f, curve.df)]
    every = np.concatenate(values)
    if ylim is not None:
        return ylim[0], ylim[1], bool(every.size and (every.min() < ylim[0] or every.max() > ylim[1]))
    if not every.size:
        return -1.0, 1.0, False
    full = (float(every.min()), float(every.max()))
    lows, highs = [], []
    for v in values:
        if not v.size:
            continue
        q1, q3 = np.percentile(v, [25, 75])
        fence = 5 * (q3 - q1)
        lows.append(max(float(v.min()), q1 - fence))
        highs.append(min(float(v.max()), q3 + fence))
    lo, hi = min(lows), max(highs)
    if hi - lo <= 0 or (full[1] - full[0]) <= 4 * (hi - lo):
        lo, hi = full
        if hi == lo:
            lo, hi = lo - 1, hi + 1
        return lo, hi, False
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad, True


def to_terminal(
    curve: Curve, title: str, width: int = 72, height: int = 18, color: bool = False, ylim: tuple[float, float] | None = None
) -> str:
    from uniplot import plot_to_string

    lo, hi, clipped = y_range(curve, ylim)
    inside = lambda v: np.where((v >= lo) & (v <= hi), v, np.nan)  # noqa: E731  # off the scale: not drawn
    options = {} if color else {"character_set": "ascii", "force_ascii_characters": ["*", "o"]}  # told apart without colour
    text = plot_to_string(
        ys=[inside(curve.f), inside(curve.df)],
        xs=[curve.x, curve.x],
        lines=True,
        width=width,
        height=height,
        legend_labels=["f", f"df/d{curve.variable}"],  # with their markers (* and o without colour)
        title=title,
        color=color,
        y_min=lo,
        y_max=hi,
        **options,
    )
    return text if isinstance(text, str) else "\n".join(text)


def to_image(curve: Curve, title: str, path: str, ylim: tuple[float, float] | None = None) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("writing an image needs matplotlib: pip install 'gradcli[plot]'") from None
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(curve.x, curve.f, label="f", linestyle="-")
    ax.plot(curve.x, curve.df, label=f"df/d{curve.variable}", linestyle="--")  # told apart in grey too
    lo, hi, clipped = y_range(curve, ylim)
    if clipped or ylim is not None:
        ax.set_ylim(lo, hi)
    for k in curve.kinks:
        ax.axvline(k, linestyle=":", color="grey")
    for a, b in curve.undefined:
        ax.axvspan(a, b, color="grey", alpha=0.15, lw=0)
    ax.set_xlabel(curve.variable)
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    try:
        fig.savefig(path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"can't write {path}: {exc}") from None
    finally:
        plt.close(fig)


def notes(curve: Curve, ylim: tuple[float, float] | None = None) -> list[str]:
    from ..numfmt import format_number

    lines = []
    lo, hi, clipped = y_range(curve, ylim)
    if clipped:
        how = "by --ylim" if ylim is not None else "to leave out outliers; --ylim LOW:HIGH to choose"
        lines.append(f"y axis clipped to [{format_number(float(f'{lo:.4g}'))}, {format_number(float(f'{hi:.4g}'))}] {how}")
    if curve.kinks:
        lines.append(
            "kinks (the derivative jumps) near "
            + ", ".join(f"{curve.variable} ≈ {format_number(round(k, 6))}" for k in curve.kinks)
        )
    for a, b in curve.undefined:
        lines.append(f"undefined for {curve.variable} in [{format_number(round(a, 6))}, {format_number(round(b, 6))}]")
    return lines
