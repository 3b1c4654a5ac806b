"""What a primitive is: its fields (forward, derivative rules, domain, print form) and helpers the families share."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...numfmt import format_number
from ..refs import Ref, op
from ..shapes import Shape, broadcast_shapes

Partials = Callable[..., tuple[Any, ...]]


def broadcast(*shapes: Shape, param: Hashable = None) -> Shape:
    return broadcast_shapes(*shapes)


def scalar(*shapes: Shape, param: Hashable = None) -> Shape:
    return ()


MAX_AXES = 64  # numpy's limit on an array's dimensions (NPY_MAXDIMS): a deeper literal can't be built


class TooManyAxes(ValueError):
    """A vector literal nested deeper than numpy's arrays go: said as is, without the operands' shapes."""


class NoTaylorRule(Exception):
    """This primitive (at this point) has no Taylor rule: the caller nests the first-order transform instead."""

    def __init__(self, op: str, why: str = "") -> None:
        super().__init__(op, why)
        self.op, self.why = op, why


class SeriesRule:
    """A Taylor rule of primitives/series.py, named in a table entry and looked up when Taylor mode first runs it,
    so series.py stays off the start-up path of everything else. Call it as the rule itself."""

    __slots__ = ("name", "args", "kwargs", "made", "_rule")

    def __init__(self, name: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None, made: bool = False) -> None:
        self.name, self.args, self.kwargs, self.made = name, args, kwargs or {}, made
        self._rule: Callable[..., Any] | None = None

    def __call__(self, *args: Any) -> Any:
        rule = self._rule
        if rule is None:
            from . import series

            found = getattr(series, self.name)
            rule = self._rule = found(*self.args, **self.kwargs) if self.made else found
        return rule(*args)

    def __repr__(self) -> str:
        return f"series.{self.name}" + (f"{self.args!r}" if self.made else "")


def rule(name: str) -> SeriesRule:
    """The Taylor rule `series.<name>`."""
    return SeriesRule(name)


def rule_from(factory: str, *args: Any, **kwargs: Any) -> SeriesRule:
    """The Taylor rule `series.<factory>(*args, **kwargs)`, made on first use."""
    return SeriesRule(factory, args, kwargs, made=True)


@dataclass(frozen=True, eq=False, repr=False)  # no __eq__/__hash__/__repr__ to generate at start-up: compared by identity
class Domain:
    """Where a primitive is defined: `bad(*args)` marks violations, `reason(*scalars)` explains one."""

    bad: Callable[..., np.ndarray]
    reason: Callable[..., str]
    # Given the constant arguments (None where an argument varies), can this rule ever fire?
    # x^2 can't have a negative base with a fractional exponent, so it isn't checked on every evaluation.
    relevant: Callable[..., bool] | None = None
    # The rule can't fire when argument `arg` is known "positive", "nonnegative" or "nonzero" (evaluate.py's
    # sign analysis): sqrt(x^2 + y^2) and 1/(1 + exp(-x)) need no check at run time.
    safe_if: tuple[int, str] | None = None
    # `bad` as a code template for export and compiled kernels (tools/export.py): numpy names, {0} the first argument.
    code: str | None = None


def interval(lo: float, hi: float, lo_open: bool, hi_open: bool, arg: int = 0, role: str = "argument") -> Domain:
    text = ("(" if lo_open else "[") + f"{format_number(lo)}, {format_number(hi)}" + (")" if hi_open else "]")

    def bad(*xs: np.ndarray) -> np.ndarray:
        x = xs[arg]
        return ((x <= lo) if lo_open else (x < lo)) | ((x >= hi) if hi_open else (x > hi))

    safe = None
    if lo == 0.0 and hi == math.inf:
        safe = (arg, "positive" if lo_open else "nonnegative")
    # An open infinite end excludes inf itself, as `bad` does (log(inf) is undefined): 1e309 is how a template writes inf.
    ends = ["-1e309" if lo == -math.inf else repr(lo), "1e309" if hi == math.inf else repr(hi)]
    sides = [f"({{{arg}}} {'<=' if lo_open else '<'} {ends[0]})" if lo_open or lo != -math.inf else "",
             f"({{{arg}}} {'>=' if hi_open else '>'} {ends[1]})" if hi_open or hi != math.inf else ""]  # fmt: skip
    code = " | ".join(s for s in sides if s) or None
    return Domain(bad, lambda *v: f"its {role} is {format_number(v[arg])}, outside {text}", safe_if=safe, code=code)


def _poles(x: np.ndarray) -> np.ndarray:
    return (x <= 0) & (x == np.floor(x))


NONPOSITIVE_INTEGERS = Domain(
    _poles,
    lambda v: f"its argument is {format_number(v)}, a pole (0, -1, -2, … are excluded)",
    code="({0} <= 0) & ({0} == floor({0}))",
)


@dataclass(frozen=True, eq=False, repr=False)  # each is one object, compared by identity: half the code generation
class Primitive:
    name: str
    arity: int  # -1: any number of arguments (vector literals)
    impl: Callable[..., Any]
    partials: Partials | None = None  # elementwise: (*args, ans) -> one partial per argument
    jvp: Callable[..., Ref | None] | None = None  # (args, ans, tangents, param) -> output tangent
    vjp: Callable[..., tuple[Ref | None, ...]] | None = None  # (args, ans, cotangent, param) -> one per argument
    shape: Callable[..., Shape] = broadcast
    domain: tuple[Domain, ...] = ()
    syntax: str | None = None  # the name a program calls it by; None for operators and internals
    infix: str | None = None  # operator symbol when printed infix
    precedence: int = 9  # print precedence: 1 + -, 2 * / @, 3 unary -, 4 ^, 9 atoms and calls
    commutative: bool = False
    uses_param: bool = False
    kink: str = ""  # the convention at non-differentiable points
    # Where the primitive is not differentiable (a kink or jump) or its slope is infinite (a domain edge):
    # `check` names such points instead of letting a numerical disagreement look like a bug.
    singular: Callable[..., np.ndarray] | None = None
    # For complex-step differentiation: the analytic continuation near the real line, where numpy's own
    # complex version differs (abs, max: choose by the real part) or is missing (hypot, atan2, cbrt).
    complex_impl: Callable[..., Any] | None = None
    sign: str = ""  # "positive" or "nonnegative" whatever the arguments (lets evaluate.py skip domain checks)
    # A zero tangent or cotangent times one of this primitive's partials stays zero even where the partial is
    # infinite (the chain rule through x^y·log x at x = 0): derivatives.py multiplies by `mul0` there.
    zero_wins: bool = False
    # Call arguments from this position on must be integer constants (an axis, a size): Tape.emit moves them
    # into the param, as an `Ints`, so `sum(W, 0)` is the instruction sum_axis(W; 0) and shapes stay static.
    static_from: int | None = None
    call_arities: tuple[int, ...] = ()  # a variadic primitive (arity -1) callable by name with these counts
    # Arguments with no derivative, as (position, role): differentiating through one is an error naming it
    # (jv's order, gammainc's shape parameter) rather than a silent zero.
    nondiff: tuple[tuple[int, str], ...] = ()
    # Taylor mode (series.py): (args, out, param, ctx) -> stepper of coefficients; None: derived from `partials`
    # where they close (engine/taylor.py), else derivatives of high order nest the first-order transform.
    taylor: Callable[..., Any] | None = None
    doc: str = ""
    internal: bool = field(default=False)  # emitted by derivative rules only
    # The forward as a code template for `export` and compiled kernels (tools/export.py): an expression over
    # numpy's function names, {0}, {1} the arguments, {p} the parameter. None: derived from a ufunc `impl`.
    code: str | None = None

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"

    @property
    def elementwise(self) -> bool:
        """Element i of the result depends only on element i of the arguments (batches may be split)."""
        return self.shape is broadcast

    def apply(self, values: list[np.ndarray], param: Hashable = None, complex_step: bool = False) -> np.ndarray:
        impl = self.complex_impl if complex_step and self.complex_impl is not None else self.impl
        return impl(*values, param) if self.uses_param else impl(*values)

    def code_form(self) -> str | None:
        """The code template (see `code`), or None when export can't write this primitive yet."""
        if self.code is not None:
            return self.code
        if isinstance(self.impl, np.ufunc) and self.impl.nin == self.arity:
            return f"{self.impl.__name__}({', '.join('{' + str(k) + '}' for k in range(self.arity))})"
        return None

    def domain_ok(self, values: list[np.ndarray]) -> bool:
        return not any(np.any(d.bad(*values)) for d in self.domain)


def _special(name: str) -> Callable[..., Any]:
    """scipy.special, imported on first use: start-up time matters for a CLI."""

    def f(*xs: Any) -> Any:
        import scipy.special

        return getattr(scipy.special, name)(*xs)

    return f


def _zero(n: int) -> Partials:
    return lambda *args: (None,) * n


def _fit_down(g: Ref, like: Ref) -> Ref:
    return g if g.shape == like.shape else op.unbroadcast(g, like)


def _unbroadcast(g: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Sum a cotangent over the axes that broadcasting added or stretched."""
    g = np.asarray(g)
    shape = np.shape(ref)
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g.reshape(shape)


def _zeros(like: Ref) -> Ref:
    return Ref(like.tape, like.tape.const(np.zeros(like.shape)))


def _or_zero(t: Ref | None, like: Ref) -> Ref:
    return _zeros(like) if t is None else t


def _linear_jvp(name: str, linear_in: tuple[int, ...]) -> Callable[..., Ref | None]:
    """JVP of a primitive linear in each of `linear_in` separately (the rest only give shapes)."""

    def jvp(args: tuple[Ref, ...], ans: Ref, t: tuple[Ref | None, ...], param: Hashable) -> Ref | None:
        total = None
        for k in linear_in:
            if t[k] is None:
                continue
            term = getattr(op, name)(*(t[k] if j == k else a for j, a in enumerate(args)), param=param)
            total = term if total is None else total + term
        return total

    return jvp


class Ints(tuple):  # type: ignore[type-arg]
    """Integer parameters (axes, sizes) of an instruction; prints as the call arguments they came from."""

    def __str__(self) -> str:
        return ", ".join(map(str, self))

    def __repr__(self) -> str:
        return f"Ints({tuple(self)!r})"
