"""`gradcli check`: automatic derivatives against numerical ones, with the numbers to judge by.

Every entry passes when |ad − numeric| ≤ atol + rtol·|numeric|; the step, the
tolerances and the error estimate are part of the result, so a reader can see
why an entry passed. Points on a kink or a domain edge are found on the tape
and explained rather than reported as a bare mismatch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from ..api import Expression
from ..engine import evaluate
from ..engine.numeric import EPS, METHODS, TOLERANCES, Estimate, default_step, directional
from ..engine.primitives import PRIMITIVES
from ..engine.tape import Tape
from ..errors import GradcliError, UsageError
from ..numfmt import format_number

# Arrays with more elements than this are checked along a random direction (vᵀJu) as well as at their worst entries.
PROJECT_ABOVE = 1000


@dataclass
class Row:
    variable: str  # "x", "W[0, 1]", "d2/dxdy", "x·u"
    autodiff: float
    numeric: float
    abs_error: float
    rel_error: float
    estimate: float | None  # the numerical method's own error estimate
    ok: bool
    bound: float  # atol + rtol·|numeric| (+ the differences' rounding floor, see check): the error allowed
    floor: float = 0.0  # the rounding error of the differences themselves, c·ε·Σ|f|/h, part of the bound
    kink: bool = False  # on a kink: judged against the one-sided slopes instead
    one_sided: tuple[float, float] | None = None  # (left, right) slopes along this entry, at a kink
    var: str = ""  # the variable this entry moves

    @property
    def badness(self) -> float:
        """The error as a fraction of what is allowed (> 1 fails)."""
        return self.abs_error / self.bound if self.bound > 0 else (0.0 if self.abs_error == 0 else np.inf)


@dataclass
class Singularity:
    """A point where a primitive is not differentiable (a kink, a jump) or its slope is infinite."""

    expression: str  # the sub-expression, as the user wrote it
    primitive: str
    arguments: list[float]
    convention: str
    variables: frozenset[str] = frozenset()  # the variables it depends on
    one_sided: dict[str, tuple[float, float]] = field(default_factory=dict)  # entry → (left, right) slopes


@dataclass
class CheckResult:
    ok: bool
    method: str
    order: int
    rtol: float
    atol: float
    rows: list[Row]
    steps: dict[str, float]  # the step used per variable (its largest, for arrays)
    singular: list[Singularity]
    notes: list[str]
    projection_seed: int | None = None

    @property
    def worst(self) -> Row | None:
        return max(self.rows, key=lambda r: r.badness, default=None)

    def summary(self) -> str:
        if not self.rows:
            return "nothing to check: the expression has no variables"
        n = len(self.rows)
        failed = sum(not r.ok for r in self.rows)
        kinks = sum(r.kink for r in self.rows)
        head = f"ok: all {n} entries agree" if self.ok else f"FAILED: {failed} of {n} entries disagree"
        if kinks:
            head += f" ({kinks} at a kink, accepted between the one-sided slopes)"
        judged = [r for r in self.rows if not r.kink]
        if not judged:
            return head
        worst = max(judged, key=lambda r: r.badness)
        error, bound = (format_number(float(f"{v:.3g}")) for v in (worst.abs_error, worst.bound))
        relation = "≤" if worst.abs_error <= worst.bound else ">"
        rounding = " + rounding floor" if worst.floor > 0.1 * (worst.bound - worst.floor) else ""
        return f"{head}; worst {worst.variable}: |ad − numeric| = {error} {relation} atol + rtol·|numeric|{rounding} = {bound}"


def check(
    expr: Expression,
    point: Mapping[str, np.ndarray],
    wrt: list[str] | None = None,
    method: str = "central",
    order: int = 1,
    step: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
) -> CheckResult:
    """Compare automatic and numerical derivatives of every output at `point` (already bound)."""
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    if order not in (1, 2):
        raise UsageError("check compares first derivatives (--order 1) or the Hessian (--order 2)")
    if step is not None and not (step > 0 and np.isfinite(step)):
        raise UsageError("--step must be a positive number")
    names = list(wrt) if wrt is not None else list(expr.variables)
    if order == 2 and any(np.ndim(point[n]) for n in names if n in point):
        raise UsageError("check --order 2 compares the Hessian for scalar variables; use --order 1 for arrays")
    for given, flag in ((rtol, "--rtol"), (atol, "--atol")):
        if given is not None and not (given >= 0 and np.isfinite(given)):
            raise UsageError(f"{flag} must be a non-negative number")
    for name in names:
        if name not in point:
            raise UsageError(f"--wrt {name}: {name} is not a variable of the expression")

    values = [expr.evaluate(point, k) for k in range(len(expr.output_names))]  # domain errors first
    notes: list[str] = []
    # Σ|f| per output: a difference of two values of f can't be more exact than their rounding, about
    # ε·Σ|elements| each (an output summed over 300,000 elements, or a sum of squares near 10⁵).
    with np.errstate(all="ignore"):
        magnitude = [float(np.sum(np.abs(v))) for v in values]
    if any(np.ndim(v) for v in values):
        if sum(np.size(v) for v in values) <= MAX_SPLIT_OUTPUT:
            expr = expr.elements(point)  # every element of an array output on its own: the whole Jacobian
            magnitude = [float(abs(e)) for v in values for e in np.ravel(v)]
        else:
            notes.append(
                f"array outputs of more than {MAX_SPLIT_OUTPUT} elements: checked as the gradient of the sum of each"
                " output (the Jacobian's column sums), not element by element"
            )
    singular = find_singularities(expr, point)
    if method == "complex":
        method, note = _complex_applicable(expr, point, singular, order)
        if note:
            notes.append(note)
    default_rtol, default_atol = TOLERANCES[method]  # after a fallback, the defaults of the method used
    rounding = ROUNDING.get(method, 0.0) if rtol is None and atol is None else 0.0  # --rtol/--atol: exactly those
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol

    rows: list[Row] = []
    steps: dict[str, float] = {}
    projection_seed: int | None = None
    outputs = range(len(expr.output_names))
    for out in outputs:
        label = "" if len(expr.output_names) == 1 else f"d({expr.output_names[out]})/"
        probe = _probe(expr, point, out, method, order, names)
        if order == 1:
            ad = expr.gradient(point, names, "reverse", out)
            targets = [(name, name) for name in names]
        else:
            hess = expr.hessian(point, names, out)
            targets = [(a, b) for a in names for b in names]
        for target in targets:
            var = target[-1]  # the variable the numerical derivative moves
            x = np.asarray(point[var], dtype=float)
            values = ad[var] if order == 1 else hess[target[0]][var]
            for idx, direction, text in _directions(x, seed):
                projected = text == "·u"
                scale = float(np.max(np.abs(x), initial=0.0) if projected else abs(x[idx]))
                h = step if step is not None else default_step(method, scale)
                if projected and step is None and method != "complex":
                    # Along a unit u each element moves only by h·uᵢ ≈ h/√n, while the rounding of f is ε·Σ|f| with
                    # Σ|f| ∝ n: a step n^(1/4) times larger cuts that rounding and still moves each element less
                    # than an element-wise check would (so the truncation error stays below it).
                    h *= x.size**0.25
                g = partial(probe, target, direction)
                bound = lambda v: atol + rtol * abs(v)  # noqa: E731
                est = _estimate(g, method, h, f"{var}{text}", notes, None if step is not None else bound)
                steps[var] = max(steps.get(var, 0.0), est.step)
                if projected:
                    projection_seed = seed
                    ad_value = float(np.sum(np.asarray(values) * direction.reshape(np.shape(values))))
                else:
                    ad_value = float(np.asarray(values)[idx] if np.ndim(values) else values)
                name = _row_name(label, target, var + text, order)
                floor = rounding * EPS * magnitude[out] / est.step if order == 1 and est.step > 0 else 0.0
                row = _row(name, ad_value, est, rtol, atol, floor if np.isfinite(floor) else 0.0)
                row.var = var
                if singular:
                    _judge_kink(row, g, default_step("forward", scale), order)
                rows.append(row)
    _attach_slopes(expr, point, singular, rows)
    ok = all(r.ok for r in rows)
    return CheckResult(ok, method, order, rtol, atol, rows, steps, singular, notes, projection_seed)


MAX_SPLIT_OUTPUT = 100  # array outputs up to this many elements are checked element by element


def _row_name(label: str, target: tuple[str, ...], text: str, order: int) -> str:
    if order == 1:
        return f"{label}{text}" if label else text
    return f"d2{label[1:-1]}/d{target[0]}d{text}" if label else f"d2/d{target[0]}d{text}"


# The rounding error of a difference quotient, in units of ε·Σ|f|/h: central (f₊ − f₋)/2h carries two
# roundings of about 2ε·Σ|f| each (a few ulps per element, and the sum), over 2h; one-sided ones over h.
ROUNDING = {"central": 4.0, "forward": 8.0, "backward": 8.0}


def _row(name: str, ad: float, est: Estimate, rtol: float, atol: float, floor: float = 0.0) -> Row:
    num = est.value
    abs_err = abs(ad - num) if np.isfinite(ad) and np.isfinite(num) else (0.0 if ad == num else np.inf)
    rel_err = abs_err / abs(num) if num != 0 else (0.0 if abs_err == 0 else np.inf)
    bound = atol + rtol * abs(num) + floor if np.isfinite(num) else np.inf
    return Row(name, ad, num, abs_err, rel_err, est.error, bool(abs_err <= bound), bound, floor=floor)


def _estimate(
    g: Callable[[float | complex], float | complex],
    method: str,
    h: float,
    name: str,
    notes: list[str],
    bound: Callable[[float], float] | None = None,
) -> Estimate:
    """The numerical derivative; where the method steps outside the domain, a one-sided one that doesn't.

    With `bound` (the default step, not --step), a step whose own error estimate exceeds the tolerance is
    shrunk by 4, up to 8 times, keeping the estimate that looks most accurate: near a pole or a fast
    change (1/x at x = 1e-7) the step scaled by max(1, |x|) is far too large.
    """
    failure: GradcliError | None = None
    try:
        est: Estimate | None = directional(g, method, h)
    except GradcliError as exc:
        est, failure = None, exc
    if est is not None:
        # Only an estimate that is plainly unreliable (its own error over 0.1% of it) gets a smaller step.
        if bound is None or est.error is None or est.error <= max(bound(est.value), 1e-3 * abs(est.value)):
            return est
        best = est
        for k in range(1, 9):
            try:
                trial = directional(g, method, h / 4**k)
            except GradcliError:
                break
            if trial.error is not None and (best.error is None or trial.error < best.error):
                best = trial
            if trial.error is not None and trial.error <= bound(trial.value):
                break
        if best is not est:
            notes.append(
                f"the default step for {name} was too coarse (error estimate over the tolerance); used h = {best.step:.3g}"
            )
        return best
    for side in ("forward", "backward"):
        if side == method:
            continue
        try:
            est = directional(g, side, default_step(side, h / default_step(method, 1.0)))
        except GradcliError:
            continue
        notes.append(f"{method} differences for {name} step outside the domain ({failure.message}); used {side} differences")
        return est
    raise failure


def _directions(x: np.ndarray, seed: int) -> list[tuple[tuple[int, ...], np.ndarray, str]]:
    """The unit directions to probe: each element, or for big arrays a seeded random direction."""
    name_of = lambda idx: ("[" + ", ".join(map(str, idx)) + "]") if idx else ""  # noqa: E731
    if x.size <= PROJECT_ABOVE:
        out = []
        for idx in np.ndindex(x.shape) if x.ndim else [()]:
            e = np.zeros(x.shape)
            e[idx] = 1.0
            out.append((tuple(idx), e, name_of(tuple(idx))))
        return out
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(x.shape)
    u /= np.linalg.norm(u)
    return [((), u, "·u")]


def _probe(
    expr: Expression, point: Mapping[str, np.ndarray], out: int, method: str, order: int, names: list[str]
) -> Callable[[tuple[str, ...], np.ndarray, float | complex], float | complex]:
    """g(t): the function (order 1) or an AD gradient entry (order 2) at point + t·direction."""
    complex_step = method == "complex"

    def moved(var: str, direction: np.ndarray, t: float | complex) -> dict[str, np.ndarray]:
        p = dict(point)
        base = np.asarray(p[var], dtype=complex if complex_step else float)
        with np.errstate(all="ignore"):  # inf + t·0 is nan: the check reports it, numpy need not warn
            p[var] = base + t * direction
        return p

    if order == 1:

        def g(target: tuple[str, ...], direction: np.ndarray, t: float | complex) -> float | complex:
            v = expr.evaluate(moved(target[-1], direction, t), out, complex_step)
            return complex(np.sum(v)) if complex_step else float(np.sum(v))

        return g

    def g2(target: tuple[str, ...], direction: np.ndarray, t: float | complex) -> float | complex:
        a, b = target
        p = moved(b, direction, t)
        tape, refs = expr.gradient_tape(point, tuple(names), out)
        ref = refs[names.index(a)]
        if ref is None:
            return 0.0
        v = evaluate.run(tape, p, [ref], complex_step=complex_step)[0]
        return complex(v) if complex_step else float(v)

    return g2


def find_singularities(expr: Expression, point: Mapping[str, np.ndarray]) -> list[Singularity]:
    """Instructions of the user's program that sit on a kink, jump or domain edge at the point."""
    tape = expr.specialised(point)
    values = evaluate.run(tape, point, list(expr.lowered.outputs), keep_all=True)
    live = evaluate.needed(tape, expr.lowered.outputs)
    found: list[Singularity] = []
    for i in range(tape.n_checked):
        if not live[i] or tape.ops[i] in ("var", "const"):
            continue
        prim = PRIMITIVES[tape.ops[i]]
        if prim.singular is None:
            continue
        args = [values[a] for a in tape.args[i]]
        with np.errstate(all="ignore"):
            mask = np.asarray(prim.singular(*args, tape.params[i]) if prim.uses_param else prim.singular(*args))
        if not np.any(mask):
            continue
        where = np.unravel_index(int(np.argmax(mask)), mask.shape) if mask.ndim else ()
        scalars = [float(np.broadcast_to(a, mask.shape)[where]) if mask.ndim else float(np.sum(a)) for a in args]
        depends = _inputs_of(tape, i)
        found.append(Singularity(tape.text(i), prim.syntax or prim.infix or prim.name, scalars, prim.kink, depends))
    return found


def _inputs_of(tape: Tape, i: int) -> frozenset[str]:
    """The variables instruction i depends on (a marking walk down its arguments)."""
    seen = {i}
    stack = [i]
    names = set()
    while stack:
        j = stack.pop()
        if tape.ops[j] == "var" and isinstance(tape.params[j], str):
            names.add(tape.params[j])
        for a in tape.args[j]:
            if a not in seen:
                seen.add(a)
                stack.append(a)
    return frozenset(names)


def _complex_applicable(
    expr: Expression, point: Mapping[str, np.ndarray], singular: list[Singularity], order: int
) -> tuple[str, str | None]:
    """Complex step needs analyticity at the point; otherwise say why and fall back to central differences."""
    if singular:
        s = singular[0]
        return "central", (
            f"complex step is inapplicable here: {s.expression} is not analytic at this point "
            f"({s.primitive} at {', '.join(format_number(a) for a in s.arguments)}); used central differences"
        )
    try:
        probe = {k: np.asarray(v, dtype=complex) for k, v in point.items()}
        for k in range(len(expr.output_names)):
            expr.evaluate(probe, k, complex_step=True)
    except (GradcliError, TypeError, ValueError) as exc:
        return "central", f"complex step is inapplicable here ({exc}); used central differences"
    return "complex", None


def _judge_kink(row: Row, g: Callable[[float], float], h: float, order: int) -> None:
    """At a kink no derivative exists: accept an AD value between the one-sided slopes along this entry.

    For the Hessian, a gradient that jumps at the point (one-sided slopes of order 1/h) has no second
    derivative there at all; gradcli's value is then its convention's, and accepted as such.
    """
    row.one_sided = (_one_sided(g, "backward", h), _one_sided(g, "forward", h))
    if row.ok:
        return
    jump = order == 2 and np.isfinite(row.autodiff) and any(np.isfinite(v) and abs(v) > 0.1 / h for v in row.one_sided)
    if jump or _between(row.autodiff, *row.one_sided):
        row.ok = True
        row.kink = True


def _attach_slopes(expr: Expression, point: Mapping[str, np.ndarray], singular: list[Singularity], rows: list[Row]) -> None:
    for s in singular:
        s.one_sided = {r.variable: r.one_sided for r in rows if r.one_sided is not None and r.var in s.variables}


def _one_sided(g: Callable[[float], float], side: str, h: float) -> float:
    try:
        with np.errstate(all="ignore"):
            return directional(g, side, h).value
    except GradcliError:
        return float("nan")  # that side is outside the domain


def _between(ad: float, left: float, right: float) -> bool:
    """AD's value is acceptable at a kink when it lies between the one-sided slopes; an infinite slope
    (sqrt at 0) when a one-sided difference is large and of the same sign."""
    sides = [v for v in (left, right) if np.isfinite(v)]
    if not sides:
        return False
    if np.isinf(ad):
        return any(np.sign(v) == np.sign(ad) and abs(v) > 1e3 for v in sides)
    lo, hi = min(sides), max(sides)
    tol = 1e-6 * max(1.0, abs(lo), abs(hi))
    return lo - tol <= ad <= hi + tol
