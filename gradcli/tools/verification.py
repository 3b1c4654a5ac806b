"""The engine of `gradcli verify`: does a hand-derived derivative agree with automatic differentiation?

A claim is a formula in gradcli's own grammar (never Python), compared with the
reverse-mode derivative of the expression at explicit points and/or at seeded
random points. Agreement at N points is evidence, not a proof, and the result
says exactly that. On a disagreement the counterexample carries a third,
independent witness — a central-difference estimate — so a user who doubts
the automatic derivative can see which of the two the numbers side with.

    >>> r = verify("x**2 + 2*x + 1", ["2*x + 2"], samples=50)
    >>> r.ok, r.checked
    (True, 50)

This module does no printing and knows nothing of Typer or Rich: the CLI turns
a `VerifyResult` into text, and `VerifyResult.to_json()` gives SPEC §3's object.

Choices made here, in one place:

- Random points are uniform in `ranges`, `DEFAULT_RANGE` = (-2, 2) for a
  variable without one: both signs, so a claim right only for x > 0 (`1` for
  the derivative of `abs(x)`) is caught; magnitudes around 1, where float64
  round-off is small and a wrong factor of x or 2 shows. The seed defaults
  to 0 so a run is repeatable.
- A point is skipped (counted, not an error) when the expression, its
  derivative or the claim raises DomainError there, or gives nan, or when
  the expression or its derivative is ±inf. A claim that is ±inf where the
  automatic derivative is finite is *not* skipped: that is a disagreement.
- If every point is skipped nothing was shown, and `verify` raises
  EvaluationError (exit 3, "cannot be evaluated at the point") rather than
  returning ok=False, which would be exit 1, "found a mismatch" — a mismatch
  wasn't found either.
- The counterexample is the *worst* failing point: among the points (and
  partials) that fail the tolerance, the one with the largest
  |claim − autodiff|, ties to the first. Worst rather than first so the
  numbers shown are unmistakable, not a near-miss at a point where both are
  almost 0.
- Points are checked one at a time through the `Expression` API. A batch
  evaluation on an array of points would be faster, but is only right for
  elementwise programs (`sum`, `norm`, `@` would mix the points) and one
  domain error would abort the whole batch; a few thousand points take
  well under a second or two this way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..api import Expression
from ..api import compile as compile_expression
from ..engine.numeric import default_step, directional
from ..errors import DomainError, EvaluationError, GradcliError, GrammarError, ShapeError, UsageError
from ..numfmt import format_number, format_value, json_value

DEFAULT_RANGE: tuple[float, float] = (-2.0, 2.0)
DEFAULT_SAMPLES = 100  # when neither points nor a sample count is given
DEFAULT_RTOL = 1e-8
DEFAULT_ATOL = 1e-10

# `x=…` or, for a mixed second partial, `x,y=…`: names as in the grammar (NAME: /(?!\d)\w+/),
# then a single '=' — `x==1` or `x<=1` are formulas, not keys.
_KEY = re.compile(r"^\s*((?!\d)\w+(?:\s*,\s*(?!\d)\w+)*)\s*=(?!=)(.*)\Z", re.DOTALL)

# Why a point was skipped, in the words the statement uses.
_SKIP_WORDS = {
    "expression": "the expression is undefined there",
    "derivative": "its derivative is not finite there",
    "claim": "the claim is undefined there",
}

Partial = tuple[str, ...]  # ("x",) is ∂f/∂x; ("x", "x") is ∂²f/∂x²; ("x", "y") is ∂²f/∂x∂y


@dataclass(frozen=True)
class Claim:
    """One claimed partial derivative: which one, the text the user typed, and its compiled formula."""

    partial: Partial
    text: str
    formula: Expression


@dataclass(frozen=True)
class Counterexample:
    """The worst point where the claim and automatic differentiation disagree, with a numeric third witness.

    `numeric` is None when the finite-difference estimate itself could not be
    taken (the step leaves the domain, or the variable is a large array).
    """

    point: dict[str, np.ndarray]
    partial: Partial
    claim: np.ndarray
    autodiff: np.ndarray
    numeric: np.ndarray | None
    abs_error: float

    @property
    def variable(self) -> str:
        """The partial as a claim key would name it: "x", or "x,y" for a mixed one."""
        return _key_text(self.partial)

    def to_json(self) -> dict[str, Any]:
        return {
            "point": {k: json_value(v) for k, v in self.point.items()},
            "variable": self.variable,
            "claim": json_value(self.claim),
            "autodiff": json_value(self.autodiff),
            "numeric": None if self.numeric is None else json_value(self.numeric),
            "abs_error": json_value(self.abs_error),
        }


@dataclass(frozen=True)
class VerifyResult:
    """What a verification showed. `statement` says it in words, honestly: agreement at N points.

    checked: points where every claimed partial was compared; skipped: points
    where something was undefined (by reason in `skip_reasons`); samples: the
    number of random points asked for (included in checked + skipped) and
    points: the number of explicit ones. The error maxima run over every
    element of every claimed partial at every checked point; a relative error
    where the automatic derivative is exactly 0 is 0 if the claim is 0 too
    and inf otherwise.
    """

    ok: bool
    checked: int
    skipped: int
    samples: int
    points: int
    max_abs_error: float
    max_rel_error: float
    counterexample: Counterexample | None
    partials: tuple[Partial, ...]
    ranges: dict[str, tuple[float, float]]  # the ranges sampled from (empty without random samples)
    seed: int | None
    rtol: float
    atol: float
    order: int
    skip_reasons: dict[str, int] = field(default_factory=dict)
    statement: str = ""
    outputs: tuple[str, ...] = ()  # a program with several outputs: their labels, each verified
    output: str | None = None  # and the one the counterexample (if any) belongs to

    def to_json(self) -> dict[str, Any]:
        """SPEC §3's verify object; "samples" is the number of points actually compared (`checked`)."""
        several = {"outputs": list(self.outputs), "output": self.output} if self.outputs else {}
        return {
            **several,
            "ok": self.ok,
            "samples": self.checked,
            "max_abs_error": json_value(self.max_abs_error),
            "counterexample": None if self.counterexample is None else self.counterexample.to_json(),
            "max_rel_error": json_value(self.max_rel_error),
            "skipped": self.skipped,
            "skip_reasons": dict(self.skip_reasons),
            "partials": [_key_text(p) for p in self.partials],
            "order": self.order,
            "range": {k: [json_value(a), json_value(b)] for k, (a, b) in self.ranges.items()},
            "seed": self.seed,
            "rtol": json_value(self.rtol),
            "atol": json_value(self.atol),
            "statement": self.statement,
        }


# -- claims -------------------------------------------------------------------


def parse_claims(
    expression: Expression,
    claims: Sequence[str],
    wrt: Sequence[str] | None = None,
    order: int = 1,
    of_output: tuple[int, int] | None = None,
) -> list[Claim]:
    """Read `--claim` strings: `formula` (for the single variable of wrt), `x=formula`, and at order 2 `x,y=formula`.

    A leading `NAME=` is a key only when NAME is a variable of the expression
    or of wrt; otherwise the text is a program of its own (`a = 2; a*x`). A
    single `NAME=formula` with an unknown NAME is refused rather than read as
    an assignment, since the user surely meant a partial.
    """
    if order < 1:
        raise UsageError("the order of a derivative must be at least 1")
    if not claims:
        raise UsageError('nothing to verify: give a claim, e.g. --claim "2*x + 2" or --claim x="2*x*y"')
    wrt_names = _wrt_names(expression, wrt)
    known = _ordered_union(expression.variables, wrt_names)
    claims = _as_printed(claims, known)
    parsed: list[Claim] = []
    seen: dict[Partial, str] = {}
    for raw in claims:
        key, text = _split_key(raw, known)
        if key is None:
            if len(wrt_names) != 1:
                which = ", ".join(wrt_names) if wrt_names else "none"
                raise UsageError(
                    f"the claim {raw!r} doesn't say which partial it is, and there are "
                    f"{len(wrt_names)} variables to differentiate by ({which}): pass --wrt NAME or write NAME=formula"
                )
            partial: Partial = (wrt_names[0],) * order
        elif len(key) == 1:
            partial = key * order
        elif order == 2 and len(key) == 2:
            partial = key
        else:
            want = "NAME=formula" if order != 2 else "NAME=formula or NAME,NAME=formula"
            raise UsageError(f"the claim {raw!r} names {len(key)} variables; at order {order} a claim key is {want}")
        formula = _compile_claim(raw, text)
        unknown = [v for v in formula.variables if v not in known]
        if unknown:
            raise UsageError(
                f"the claim {raw!r} uses {', '.join(unknown)}, which "
                f"{'is not a variable' if len(unknown) == 1 else 'are not variables'} of the expression"
                f" (its variables: {', '.join(known) or 'none'})"
            )
        k, m = of_output if of_output is not None else (0, 1)
        if len(formula.lowered.outputs) != m:
            got = len(formula.lowered.outputs)
            raise UsageError(
                f"the claim {raw!r} has {got} outputs; a claim is one formula"
                if m == 1
                else f"the claim {raw!r} has {got} formula(s), but the expression has {m} outputs: "
                "give one formula per output, separated by commas, in the same order"
            )
        if m > 1:
            formula = formula.output(k)
        if partial in seen:
            raise UsageError(f"two claims for {_label(partial)}: {seen[partial]!r} and {raw!r}")
        seen[partial] = raw
        parsed.append(Claim(partial, raw, formula))
    return parsed


_PARTIAL_LINE = re.compile(r"^\s*d/d((?!\d)\w+)\s*=(?!=)(.*)\Z", re.DOTALL)


def _as_printed(claims: Sequence[str], known: Sequence[str]) -> list[str]:
    """Claims as `diff --symbolic` prints them: `d/dx = F` is `x=F`, and a binding `t1 = G` (its name no
    variable, used by another claim) is a statement put before every claim that uses it. A whole printed
    output (bindings, then `d/dx = …` lines) is one claim per partial."""
    lines: list[str] = []
    for raw in claims:
        parts = [p for p in raw.splitlines() if p.strip()]
        printed = len(parts) > 1 and any(_PARTIAL_LINE.match(p) for p in parts)
        printed = printed and all(_PARTIAL_LINE.match(p) or _binding(p, known) for p in parts)
        lines += parts if printed else [raw]
    bindings: list[tuple[str, str]] = []
    rest: list[str] = []
    for raw in lines:
        m = _PARTIAL_LINE.match(raw)
        if m and "\n" not in raw:
            raw = f"{m.group(1)}={m.group(2)}"
        b = _binding(raw, known)
        if b and any(re.search(rf"(?<!\w){re.escape(b[0])}(?!\w)", other) for other in lines if other is not raw):
            bindings.append(b)
        else:
            rest.append(raw)
    if not bindings:
        return rest
    out = []
    for raw in rest:
        m = _KEY.match(raw)
        key, text = (m.group(1) + "=", m.group(2)) if m and all(n.strip() in known for n in m.group(1).split(",")) else ("", raw)
        used = [f"{n} = {g}" for n, g in bindings]
        out.append(key + "\n".join([*used, text.strip()]))
    return out


def _binding(line: str, known: Sequence[str]) -> tuple[str, str] | None:
    """`t1 = formula` with t1 no variable of the expression: a shared part `diff --symbolic` bound."""
    m = _KEY.match(line)
    if not m or "," in m.group(1) or m.group(1).strip() in known or re.search(r"[;\n]", m.group(2)):
        return None
    return m.group(1).strip(), m.group(2).strip()


def _split_key(raw: str, known: Sequence[str]) -> tuple[Partial | None, str]:
    m = _KEY.match(raw)
    if not m:
        return None, raw
    names = tuple(n.strip() for n in m.group(1).split(","))
    if all(n in known for n in names):
        return names, m.group(2)
    if len(names) == 1 and re.search(r"[;\n]", m.group(2)):
        return None, raw  # a program that begins with an assignment: `a = 2; a*x`
    bad = [n for n in names if n not in known]
    raise UsageError(
        f"the claim {raw!r} is for ∂/∂{bad[0]}, but {bad[0]} is not a variable of the expression"
        f" (its variables: {', '.join(known) or 'none'})"
    )


def _compile_claim(raw: str, text: str) -> Expression:
    if not text.strip():
        raise UsageError(f"the claim {raw!r} has no formula")
    try:
        return compile_expression(text)
    except GrammarError as exc:
        raise GrammarError(f"in the claim {raw!r}: {exc.message}", exc.detail) from None


def _wrt_names(expression: Expression, wrt: Sequence[str] | str | None) -> tuple[str, ...]:
    if wrt is None:
        return expression.variables
    names = (wrt,) if isinstance(wrt, str) else tuple(wrt)
    return tuple(dict.fromkeys(n.strip() for n in names))


def _ordered_union(*groups: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for g in groups for n in g))


# -- points -------------------------------------------------------------------


def sample_points(
    names: Sequence[str], samples: int, ranges: Mapping[str, tuple[float, float]] | None = None, seed: int | None = 0
) -> tuple[list[dict[str, np.ndarray]], dict[str, tuple[float, float]]]:
    """`samples` points uniform in each variable's range (DEFAULT_RANGE if none), from numpy's default_rng(seed).

    Random points are scalars: array-valued variables are checked at explicit points only.
    """
    if samples < 0:
        raise UsageError(f"the number of samples must be at least 0, not {samples}")
    used: dict[str, tuple[float, float]] = {}
    for name in names:
        lo, hi = (ranges or {}).get(name, DEFAULT_RANGE)
        lo, hi = float(lo), float(hi)
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise UsageError(
                f"the range of {name} must be finite with low ≤ high, not [{format_number(lo)}, {format_number(hi)}]"
            )
        used[name] = (lo, hi)
    rng = np.random.default_rng(seed)
    # Draw variable by variable, all samples at once: the point set for x doesn't change when y's range does.
    columns = {name: rng.uniform(lo, hi, size=samples) for name, (lo, hi) in used.items()}
    points = [{name: np.asarray(columns[name][k]) for name in used} for k in range(samples)]
    return points, used


# -- verification ---------------------------------------------------------------


class _Skip(Exception):
    """This point doesn't count: something is undefined there."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


def verify(
    expression: str | Expression,
    claims: Sequence[str],
    *,
    wrt: Sequence[str] | str | None = None,
    order: int = 1,
    points: Sequence[Mapping[str, Any]] = (),
    samples: int | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    seed: int | None = 0,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    _of_output: tuple[int, int] | None = None,
) -> VerifyResult:
    """Compare each claimed partial with automatic differentiation at every point.

    A program with several outputs is verified output by output: each claim then has one
    formula per output, comma-separated, in order; the result is the first failing output's
    (or, when all agree, the union of their error maxima).

    points are explicit (from --at); `samples` random points are added, drawn
    in `ranges` (default DEFAULT_RANGE). With neither points nor samples,
    DEFAULT_SAMPLES random points. A point passes when, elementwise,
    |claim − autodiff| ≤ atol + rtol·|autodiff|.

    Raises UsageError/GrammarError for a bad claim or options, EvaluationError
    when no point could be checked, and lets an evaluation error at an
    explicit point other than a domain error (unbound name, shapes) through.
    """
    expr = compile_expression(expression) if isinstance(expression, str) else expression
    m = len(expr.lowered.outputs)
    options: dict[str, Any] = dict(wrt=wrt, order=order, points=points, samples=samples, ranges=ranges, seed=seed)
    if m > 1 and _of_output is None:
        # Each output against its own formula of every claim ("2*x, 3*x^2"), at the same points.
        results = [verify(expr.output(k), claims, **options, rtol=rtol, atol=atol, _of_output=(k, m)) for k in range(m)]
        return _merged(results, expr.output_names)
    if not (rtol >= 0 and atol >= 0):
        raise UsageError("rtol and atol must be non-negative numbers")
    parsed = parse_claims(expr, claims, wrt, order, _of_output)
    wrt_names = _wrt_names(expr, wrt)
    sampled_names = _ordered_union(expr.variables, wrt_names)
    for name in ranges or {}:
        if name not in sampled_names:
            raise UsageError(f"a range is given for {name}, which is not a variable of the expression")
    explicit = [dict(p) for p in points]
    n_samples = samples if samples is not None else (0 if explicit else DEFAULT_SAMPLES)
    random_points, used_ranges = sample_points(sampled_names, n_samples, ranges, seed) if n_samples else ([], {})
    if not explicit and not random_points:
        raise UsageError("no points to check at: give --at points or --samples N")

    checker = _Checker(expr, parsed, order, rtol, atol)
    for k, point in enumerate([*explicit, *random_points]):
        try:
            checker.check(point)
        except _Skip as skip:
            checker.skip(skip)
        except ShapeError as exc:
            if k < len(explicit):
                raise
            raise ShapeError(
                f"{exc.message} (at a random point, where every variable is a number: "
                "check array-valued variables at --at points instead)",
                exc.detail,
            ) from None

    if checker.checked == 0:
        reasons = "; ".join(f"{n} {'point' if n == 1 else 'points'}: {_SKIP_WORDS[r]}" for r, n in checker.skip_reasons.items())
        raise EvaluationError(
            f"nothing was verified: all {checker.skipped} points were skipped ({reasons})",
            checker.first_skip_message,
        )

    counterexample = checker.counterexample()
    result = VerifyResult(
        ok=counterexample is None,
        checked=checker.checked,
        skipped=checker.skipped,
        samples=n_samples,
        points=len(explicit),
        max_abs_error=checker.max_abs,
        max_rel_error=checker.max_rel,
        counterexample=counterexample,
        partials=tuple(c.partial for c in parsed),
        ranges=used_ranges,
        seed=seed if n_samples else None,
        rtol=rtol,
        atol=atol,
        order=order,
        skip_reasons=dict(checker.skip_reasons),
    )
    return _with_statement(result)


def _merged(results: list[VerifyResult], labels: tuple[str, ...]) -> VerifyResult:
    failing = next((k for k, r in enumerate(results) if not r.ok), None)
    base = results[0 if failing is None else failing]
    merged = replace(
        base,
        max_abs_error=max(r.max_abs_error for r in results),
        max_rel_error=max(r.max_rel_error for r in results),
        outputs=labels,
        output=None if failing is None else labels[failing],
    )
    if failing is None:
        statement = f"every output ({', '.join(labels)}): {base.statement}"
    else:
        statement = f"output {labels[failing]}: {base.statement}"
    return replace(merged, statement=statement)


def _finite_or_skip(value: np.ndarray, reason: str) -> None:
    if not np.all(np.isfinite(value)):
        raise _Skip(reason)


class _Checker:
    """The per-point loop's state: counts, error maxima, and the worst failure seen so far."""

    def __init__(self, expr: Expression, claims: list[Claim], order: int, rtol: float, atol: float) -> None:
        self.expr, self.claims, self.order, self.rtol, self.atol = expr, claims, order, rtol, atol
        self.checked = 0
        self.skipped = 0
        self.skip_reasons: dict[str, int] = {}
        self.first_skip_message: str | None = None
        self.max_abs = 0.0
        self.max_rel = 0.0
        self.worst: tuple[float, dict[str, np.ndarray], Claim, np.ndarray, np.ndarray] | None = None

    def skip(self, skip: _Skip) -> None:
        self.skipped += 1
        self.skip_reasons[skip.reason] = self.skip_reasons.get(skip.reason, 0) + 1
        if self.first_skip_message is None and skip.message:
            self.first_skip_message = skip.message

    def check(self, raw_point: Mapping[str, Any]) -> None:
        point = self.expr.bind(raw_point)
        ad = self._autodiff(point)
        claimed = []
        for claim in self.claims:
            try:
                value = np.asarray(claim.formula.value(point), dtype=float)
            except DomainError as exc:
                raise _Skip("claim", exc.message) from None
            if np.any(np.isnan(value)):
                raise _Skip("claim")
            target = ad[claim.partial]
            try:
                value = np.broadcast_to(value, target.shape)
            except ValueError:
                raise ShapeError(
                    f"the claim {claim.text!r} has shape {np.shape(value)}, but {_label(claim.partial)} has shape {target.shape}"
                ) from None
            claimed.append(value)
        # Only now, with nothing undefined, does the point count.
        self.checked += 1
        for claim, value in zip(self.claims, claimed):
            target = ad[claim.partial]
            with np.errstate(all="ignore"):
                diff = np.abs(value - target)
                rel = np.where(target != 0, diff / np.abs(target), np.where(diff == 0, 0.0, np.inf))
                excess = diff / (self.atol + self.rtol * np.abs(target))
            excess = np.where(diff == 0, 0.0, excess)  # 0/0 when both tolerances are 0 and the values agree
            if diff.size:
                self.max_abs = max(self.max_abs, float(np.max(diff)))
                self.max_rel = max(self.max_rel, float(np.max(rel)))
                failing = excess > 1.0
                if np.any(failing):
                    worst = float(np.max(diff[failing]))
                    if self.worst is None or worst > self.worst[0]:
                        self.worst = (worst, dict(point), claim, np.array(value), np.array(target))

    def _autodiff(self, point: dict[str, np.ndarray]) -> dict[Partial, np.ndarray]:
        """Every claimed partial at the point by AD: reverse mode, forward-over-reverse for order 2."""
        wanted = _ordered_union(*(c.partial for c in self.claims))
        if self.order == 1:
            try:  # one pass over the gradient tape gives the value (checked against every domain) too
                value, grad = self.expr.value_and_gradient(point, wanted, "reverse")
            except DomainError as exc:
                raise _Skip("expression", exc.message) from None
            _finite_or_skip(value, "expression")
            ad = {(n,): np.asarray(grad[n], dtype=float) for n in wanted}
        else:
            try:
                value = self.expr.value(point)
            except DomainError as exc:
                raise _Skip("expression", exc.message) from None
            _finite_or_skip(value, "expression")
            arrays = [n for n in wanted if np.ndim(point.get(n, 0.0)) != 0]
            if arrays:
                raise UsageError(f"derivatives of order {self.order} are checked for scalar variables; {arrays[0]} is an array")
            try:
                if self.order == 2:
                    hess = self.expr.hessian(point, wanted)
                    ad = {c.partial: np.asarray(hess[c.partial[0]][c.partial[1]], dtype=float) for c in self.claims}
                else:
                    ad = {
                        c.partial: np.asarray(self.expr.derivative(point, c.partial[0], self.order), dtype=float)
                        for c in self.claims
                    }
            except DomainError as exc:
                raise _Skip("derivative", exc.message) from None
        for v in ad.values():
            _finite_or_skip(v, "derivative")
        return ad

    def counterexample(self) -> Counterexample | None:
        if self.worst is None:
            return None
        _, point, claim, value, target = self.worst
        numeric = _numeric_witness(self.expr, point, claim.partial)
        return Counterexample(
            point=point,
            partial=claim.partial,
            claim=value,
            autodiff=target,
            numeric=numeric,
            abs_error=float(np.max(np.abs(value - target))) if value.size else 0.0,
        )


# -- the numeric witness ----------------------------------------------------------

_MAX_WITNESS_ELEMENTS = 256  # finite differences per element pair: fine for a counterexample, not for a big array


def _numeric_witness(expr: Expression, point: dict[str, np.ndarray], partial: Partial) -> np.ndarray | None:
    """A central-difference estimate of the partial: of the value at order 1, of the AD derivative one order down above.

    Differencing the (order−1)-th AD derivative rather than the value n times
    keeps the estimate as accurate as a first difference; it is still a
    witness independent of the derivative being checked.
    """
    *inner, last = partial
    if not inner:
        func: Callable[[dict[str, np.ndarray]], np.ndarray] = lambda p: np.asarray(np.sum(expr.value(p)))
    elif len(inner) == 1 and len(partial) == 2:
        func = lambda p: np.asarray(expr.gradient(p, inner[0], "reverse")[inner[0]], dtype=float)
    else:
        func = lambda p: np.asarray(expr.derivative(p, inner[0], len(inner)), dtype=float)
    try:
        return _difference(func, point, last)
    except GradcliError:
        return None


def _shifted(
    func: Callable[[dict[str, np.ndarray]], np.ndarray],
    point: dict[str, np.ndarray],
    name: str,
    base: np.ndarray,
    j: tuple[int, ...],
) -> Callable[[float], np.ndarray]:
    """t ↦ func(point with element j of `name` moved by t), remembered: every output element reuses the same steps."""
    cache: dict[float, np.ndarray] = {}

    def shifted(t: float) -> np.ndarray:
        t = float(np.real(t))
        if t not in cache:
            moved = base.copy()
            moved[j] += t
            cache[t] = np.asarray(func({**point, name: moved}), dtype=float)
        return cache[t]

    return shifted


def _difference(
    func: Callable[[dict[str, np.ndarray]], np.ndarray], point: dict[str, np.ndarray], name: str
) -> np.ndarray | None:
    base = np.asarray(point.get(name, 0.0), dtype=float)
    out0 = np.asarray(func(point), dtype=float)
    if base.size * out0.size > _MAX_WITNESS_ELEMENTS:
        return None
    result = np.empty(out0.shape + base.shape)
    for j in np.ndindex(base.shape):
        shifted = _shifted(func, point, name, base, j)
        h = default_step("central", float(base[j]))
        for i in np.ndindex(out0.shape):
            result[i + j] = directional(lambda t, i=i, f=shifted: float(f(t)[i]), "central", h).value
    return result


# -- words --------------------------------------------------------------------------


def _key_text(partial: Partial) -> str:
    return partial[0] if len(set(partial)) == 1 else ",".join(partial)


def _label(partial: Partial) -> str:
    """∂f/∂x, ∂²f/∂x², ∂²f/∂x∂y, ∂³f/∂x³."""
    n = len(partial)
    sup = {1: "", 2: "²", 3: "³"}.get(n, f"^{n}")
    if len(set(partial)) == 1:
        return f"∂{sup}f/∂{partial[0]}{sup}"
    return f"∂{sup}f/" + "".join(f"∂{v}" for v in partial)


def _describe_point(point: Mapping[str, np.ndarray]) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in point.items())


def _points(n: int) -> str:
    return f"{n} {'point' if n == 1 else 'points'}"


def _with_statement(r: VerifyResult) -> VerifyResult:
    partials = " and ".join(_label(p) for p in r.partials) if len(r.partials) <= 2 else ", ".join(_label(p) for p in r.partials)
    where: list[str] = []
    if r.points:
        where.append(f"{r.points} given {'point' if r.points == 1 else 'points'}")
    if r.samples:
        ranges = ", ".join(f"{k}∈[{format_number(a)}, {format_number(b)}]" for k, (a, b) in r.ranges.items())
        where.append(f"{r.samples} random {'point' if r.samples == 1 else 'points'} in {ranges} (seed {r.seed})")
    total = r.points + r.samples
    if r.skipped:
        reasons = [f"{n} where {_SKIP_WORDS[k].removesuffix(' there')}" for k, n in r.skip_reasons.items()]
        why = _SKIP_WORDS[next(iter(r.skip_reasons))] if len(reasons) == 1 else "; ".join(reasons)
        at = f"{r.checked} of {_points(total)} ({' and '.join(where)}; {r.skipped} skipped: {why})"
    else:
        if len(where) > 1:
            at = f"{_points(total)} ({' and '.join(where)})"
        else:
            at = "the given point" if r.points == 1 else where[0]
    tolerance = f"rtol={format_number(r.rtol)}, atol={format_number(r.atol)}"
    if r.ok:
        subject = f"the claimed {partials} {'agrees' if len(r.partials) == 1 else 'agree'}"
        statement = (
            f"{subject} with automatic differentiation at {at}, within {tolerance} — agreement at these points, not a proof"
        )
    else:
        c = r.counterexample
        assert c is not None
        numeric = "" if c.numeric is None else f"; a central-difference estimate gives {format_value(c.numeric)}"
        statement = (
            f"the claim is wrong: at {_describe_point(c.point)}, {_label(c.partial)} is {format_value(c.autodiff)}"
            f" by automatic differentiation{numeric}; the claim gives {format_value(c.claim)}"
            f" (the worst of the points checked: {at}, {tolerance})"
        )
    return replace(r, statement=statement)


__all__ = [
    "DEFAULT_ATOL",
    "DEFAULT_RANGE",
    "DEFAULT_RTOL",
    "DEFAULT_SAMPLES",
    "Claim",
    "Counterexample",
    "VerifyResult",
    "parse_claims",
    "sample_points",
    "verify",
]
