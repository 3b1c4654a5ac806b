"""The Python API under the CLI: compile once, then values and derivatives at points.

    >>> import gradcli
    >>> f = gradcli.compile("x**2 * y + sin(y)")
    >>> f.gradient({"x": 3.0, "y": 0.0})
    {'x': array(0.), 'y': array(10.)}

Points are dicts of numbers or arrays. A derivative of an array-valued
expression is the derivative of the sum of its elements (the vector-Jacobian
product with ones), which for an elementwise expression evaluated on an array
of points is the derivative at each point.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from . import derivatives, evaluate
from .errors import EvaluationError, UnboundError, UsageError
from .gcpause import gc_paused
from .lower import Lowered, lower
from .primitives import CONSTANTS
from .syntax import parse
from .tape import Tape, specialise

Point = Mapping[str, Any]
T = TypeVar("T")


@gc_paused
def compile(source: str) -> Expression:  # noqa: A001 - the natural name, as re.compile
    """Parse and lower a program. Raises GrammarError (a GradcliError) on bad text."""
    return Expression(source, lower(parse(source)))


def _tangent(name: str, level: int) -> tuple[str, int, str]:
    return ("tangent", level, name)


@dataclass
class Expression:
    source: str
    lowered: Lowered
    _cache: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    @property
    def variables(self) -> tuple[str, ...]:
        """Free variables, in order of first appearance."""
        return self.lowered.variables

    @property
    def text(self) -> str:
        """The program without comments and blank lines, statements joined by "; "."""
        return self.lowered.text

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.lowered.output_names

    @property
    def tape(self) -> Tape:
        return self.lowered.tape

    # -- points ---------------------------------------------------------------

    def bind(self, at: Point | None = None) -> dict[str, np.ndarray]:
        """Check and convert a point: every free variable bound, no constants rebound."""
        at = dict(at or {})
        for name in at:
            if name in CONSTANTS:
                raise UsageError(f"{name} is a constant ({CONSTANTS[name]}) and can't be given a value")
        missing = [v for v in self.variables if v not in at]
        if missing:
            names = ", ".join(missing)
            hint = " ".join(f"--at {m}=…" for m in missing)
            raise UnboundError(f"no value for {names}: give {'it' if len(missing) == 1 else 'them'} with {hint}", missing)
        point: dict[str, np.ndarray] = {}
        for name, value in at.items():
            try:
                arr = np.asarray(value, dtype=float)
            except (TypeError, ValueError):
                raise UsageError(f"the value of {name} is not a number or an array of numbers") from None
            point[name] = arr
        return point

    def _shapes(self, point: Mapping[str, np.ndarray]) -> dict[Hashable, tuple[int, ...]]:
        return {v: np.shape(point[v]) for v in self.variables}

    def _memo(self, kind: tuple[Hashable, ...], point: Mapping[str, np.ndarray], build: Callable[[], T]) -> T:
        """A tape derived for the point's shapes: built once, with the GC paused (see gcpause.py)."""
        key = (*kind, tuple(sorted(self._shapes(point).items())))
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = gc_paused(build)()
        return found

    def specialised(self, point: Mapping[str, np.ndarray]) -> Tape:
        return self._memo(("primal",), point, lambda: specialise(self.tape, self._shapes(point)))

    # -- values -----------------------------------------------------------------

    def values(self, at: Point | None = None) -> list[np.ndarray]:
        """The value of every output."""
        point = self.bind(at)
        tape = self.specialised(point)
        return evaluate.run(tape, point, self.lowered.outputs)

    def evaluate(self, point: Mapping[str, np.ndarray], output: int = -1, complex_step: bool = False) -> np.ndarray:
        """One output at an already-bound point, which may be complex (a complex-step probe)."""
        tape = self.specialised(point)
        return evaluate.run(tape, point, [self.lowered.outputs[output]], complex_step=complex_step)[0]

    def value(self, at: Point | None = None) -> np.ndarray:
        """The value of the (last) output."""
        return self.values(at)[-1]

    # -- first derivatives ------------------------------------------------------

    def _wrt(self, wrt: Sequence[str] | str | None) -> tuple[str, ...]:
        if wrt is None:
            return self.variables
        names = (wrt,) if isinstance(wrt, str) else tuple(wrt)
        for n in names:
            if n in CONSTANTS:
                raise UsageError(f"{n} is a constant; it has no derivative to take")
        return names

    def _var_index(self, tape: Tape, name: str) -> int | None:
        return tape._index.get(("var", name))

    def gradient_tape(self, point: Mapping[str, np.ndarray], wrt: tuple[str, ...], output: int) -> tuple[Tape, list[int | None]]:
        def build() -> tuple[Tape, list[int | None]]:
            tape = derivatives.prepare(self.specialised(point), self._shapes(point))
            idx = [self._var_index(tape, w) for w in wrt]
            refs = derivatives.grad(tape, self.lowered.outputs[output], [i for i in idx if i is not None])
            by_var = dict(zip([i for i in idx if i is not None], refs))
            return tape, [by_var.get(i) if i is not None else None for i in idx]

        return self._memo(("grad", output, wrt), point, build)

    def _run_with_zeros(
        self,
        tape: Tape,
        inputs: Mapping[Hashable, np.ndarray],
        refs: Sequence[int | None],
        shapes: Sequence[tuple[int, ...]],
        also: Sequence[int] = (),
    ) -> list[np.ndarray]:
        """Values of `also` then of `refs`, in one pass; a structural zero (None) becomes zeros of its shape.

        Passing the primal output in `also` makes the pass check the user's program
        against every domain even where the derivative doesn't need its value.
        """
        live = [r for r in refs if r is not None]
        values = evaluate.run_split(tape, inputs, [*also, *live])
        out = values[: len(also)]
        got = iter(values[len(also) :])
        for r, shape in zip(refs, shapes):
            if r is None:
                out.append(np.zeros(shape))
            else:
                v = next(got)
                out.append(np.broadcast_to(v, shape).copy() if v.shape != shape else v)
        return out

    def gradient(
        self, at: Point | None = None, wrt: Sequence[str] | str | None = None, mode: str = "reverse", output: int = -1
    ) -> dict[str, np.ndarray]:
        """∂(output)/∂v for each v in wrt (default: all free variables), with v's shape."""
        return self.value_and_gradient(at, wrt, mode, output)[1]

    def value_and_gradient(
        self, at: Point | None = None, wrt: Sequence[str] | str | None = None, mode: str = "reverse", output: int = -1
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The output's value and its gradient, from one pass over the gradient tape (reverse mode)."""
        point = self.bind(at)
        names = self._wrt(wrt)
        out_index = range(len(self.lowered.outputs))[output]
        shapes = [np.shape(point.get(n, 0.0)) for n in names]
        if mode == "reverse":
            tape, refs = self.gradient_tape(point, names, out_index)
            value, *grads = self._run_with_zeros(tape, point, refs, shapes, also=(self.lowered.outputs[out_index],))
        elif mode == "forward":
            value = self.values(point)[out_index]
            grads = [self._forward_partial(point, n, out_index) for n in names]
        else:
            raise UsageError(f"unknown mode {mode!r}: use forward or reverse")
        return value, dict(zip(names, grads))

    def _jvp_tape(self, point: Mapping[str, np.ndarray], output: int, names: tuple[str, ...]) -> tuple[Tape, int | None]:
        def build() -> tuple[Tape, int | None]:
            tape = derivatives.prepare(self.specialised(point), self._shapes(point))
            seeds = {}
            for n in names:
                i = self._var_index(tape, n)
                if i is not None:
                    seeds[i] = tape.var(_tangent(n, 0), shape=tape.shapes[i])  # type: ignore[index]
            target = self.lowered.outputs[output]
            return tape, derivatives.jvp(tape, seeds, target + 1)[target]

        return self._memo(("jvp", output, names), point, build)

    def _forward_partial(self, point: Mapping[str, np.ndarray], name: str, output: int) -> np.ndarray:
        """Forward mode: one tangent pass per element of the variable."""
        shape = np.shape(point.get(name, 0.0))
        tape, ref = self._jvp_tape(point, output, (name,))
        if ref is None:
            return np.zeros(shape)
        size = int(np.prod(shape))
        out = np.empty(size)
        for k in range(size):
            seed = np.zeros(size)
            seed[k] = 1.0
            inputs = {**point, _tangent(name, 0): seed.reshape(shape)}
            out[k] = np.sum(evaluate.run(tape, inputs, [ref])[0])
        return out.reshape(shape)

    # -- second and higher derivatives ------------------------------------------

    def hessian(
        self, at: Point | None = None, wrt: Sequence[str] | str | None = None, output: int = -1
    ) -> dict[str, dict[str, np.ndarray]]:
        """H[a][b] = ∂²(output)/∂a∂b, by forward mode over the reverse-mode gradient."""
        point = self.bind(at)
        names = self._wrt(wrt)
        out_index = range(len(self.lowered.outputs))[output]
        self.values(point)
        tape, grads, tangents = self.hessian_tape(point, names, out_index)
        result: dict[str, dict[str, np.ndarray]] = {a: {} for a in names}
        for b in names:
            b_shape = np.shape(point.get(b, 0.0))
            size = int(np.prod(b_shape))
            cols: dict[str, list[np.ndarray]] = {a: [] for a in names}
            for k in range(size):
                inputs: dict[Hashable, np.ndarray] = dict(point)
                for n in names:
                    inputs[_tangent(n, 1)] = np.zeros(np.shape(point.get(n, 0.0)))
                seed = np.zeros(size)
                seed[k] = 1.0
                inputs[_tangent(b, 1)] = seed.reshape(b_shape)
                shapes = [np.shape(point.get(a, 0.0)) for a in names]
                col = self._run_with_zeros(tape, inputs, tangents, shapes)
                for a, v in zip(names, col):
                    cols[a].append(v)
            for a in names:
                a_shape = np.shape(point.get(a, 0.0))
                block = np.stack(cols[a], axis=-1).reshape(a_shape + b_shape) if size else np.zeros(a_shape + b_shape)
                result[a][b] = block
        return result

    def hessian_tape(
        self, point: Mapping[str, np.ndarray], names: tuple[str, ...], output: int
    ) -> tuple[Tape, list[int | None], list[int | None]]:
        def build() -> tuple[Tape, list[int | None], list[int | None]]:
            tape, grads = self.gradient_tape(point, names, output)
            tape = tape.copy()
            seeds = {}
            for n in names:
                i = self._var_index(tape, n)
                if i is not None:
                    seeds[i] = tape.var(_tangent(n, 1), shape=tape.shapes[i])  # type: ignore[index]
            tangent = derivatives.jvp(tape, seeds, len(tape))
            return tape, grads, [None if g is None else tangent[g] for g in grads]

        return self._memo(("hess", output, names), point, build)

    def derivative(
        self, at: Point | None = None, wrt: str | None = None, order: int = 1, mode: str = "reverse", output: int = -1
    ) -> np.ndarray:
        """dⁿ(output)/dwrtⁿ: the first derivative by `mode`, each further one by forward mode."""
        if order < 1:
            raise UsageError("the order of a derivative must be at least 1")
        names = self._wrt(wrt)
        if len(names) != 1:
            raise UsageError("a derivative of order > 1 per variable needs exactly one variable (--wrt)")
        (name,) = names
        point = self.bind(at)
        if order == 1:
            return self.gradient(point, name, mode, output)[name]
        if np.ndim(point.get(name, 0.0)) != 0:
            raise UsageError(f"derivatives of order {order} are for a scalar variable; {name} is an array (use hessian)")
        out_index = range(len(self.lowered.outputs))[output]
        self.values(point)
        tape, ref = self._nth_tape(point, name, order, out_index)
        if ref is None:
            return np.zeros(())
        inputs: dict[Hashable, np.ndarray] = dict(point)
        for level in range(order + 1):
            inputs[_tangent(name, level)] = np.asarray(1.0)
        return evaluate.run(tape, inputs, [ref])[0]

    def _nth_tape(self, point: Mapping[str, np.ndarray], name: str, order: int, output: int) -> tuple[Tape, int | None]:
        def build() -> tuple[Tape, int | None]:
            tape, (ref,) = self.gradient_tape(point, (name,), output)
            for level in range(1, order):
                if ref is None:
                    break
                tape = tape.copy()
                i = self._var_index(tape, name)
                assert i is not None
                seed = tape.var(_tangent(name, level), shape=tape.shapes[i])  # type: ignore[index]
                ref = derivatives.jvp(tape, {i: seed}, ref + 1)[ref]
            return tape, ref

        return self._memo(("nth", output, name, order), point, build)

    def jacobian(self, at: Point | None = None, wrt: Sequence[str] | str | None = None) -> dict[str, dict[str, np.ndarray]]:
        """J[output][v]: one reverse sweep per output."""
        point = self.bind(at)
        return {name: self.gradient(point, wrt, "reverse", k) for k, name in enumerate(self.output_names)}


__all__ = ["Expression", "compile", "EvaluationError"]
