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

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np

from .engine import derivatives, evaluate
from .engine.primitives import CONSTANTS, mixes_elements
from .engine.primitives.core import NoTaylorRule
from .engine.tape import Tape, specialise
from .errors import EvaluationError, UnboundError, UsageError
from .gcpause import gc_paused
from .language.lower import CONSTANT_ALIASES, Lowered, lower
from .language.syntax import parse

Point = Mapping[str, Any]
T = TypeVar("T")
MAX_TAPE = 2_000_000  # instructions: about a gigabyte of tape, the most a nested derivative may build
MAX_ENTRIES = 1_000_000  # entries of a derivative tensor, distinct partials or Taylor polynomial coefficients
MAX_COEFFICIENTS = 100_000_000  # Taylor coefficients carried per instruction (orders × directions × elements)
MAX_TAYLOR_WORK = 1_000_000_000  # about the multiply-adds of one instruction's series: coefficients × (order + 1)
MAX_PLAN = 1_000_000  # terms of the interpolation that turns directional series into mixed partials
MAX_DERIVATIVE_ORDER = 1500  # past it even seeds of 2^9 leave D^n f·s^n/n! below the floats (see _seed_shift)


def _budget(what: str, size: int, limit: int, unit: str) -> None:
    """Refuse up front (UsageError, exit 2) what would take more than `limit`: not a hang or a swap storm."""
    if size > limit:
        shown = f"{size:.3g}" if size < 10**300 else f"about 10^{int(size.bit_length() * math.log10(2))}"
        raise UsageError(
            f"{what} would need {shown} {unit} (the most allowed is {limit:.0e}); use a lower order or fewer variables"
        )


_ALL = {"a gradient": "jacobian()", "a Hessian": "hessians()", "a derivative": "derivative_tensor(..., output=k) per output"}


def element_label(label: str, idx: tuple[int, ...]) -> str:
    """out[i, j] for element (i, j) of an output; (W @ x)[0] when the label is more than a name or a call."""
    plain = label.isidentifier() or (label.endswith(")") and label.split("(", 1)[0].isidentifier() and label.count("(") == 1)
    return f"{label if plain else '(' + label + ')'}[{', '.join(map(str, idx))}]"


def unknown_variable(name: str, variables: Sequence[str]) -> str:
    """The message for a --wrt name that is no variable of the program, with the nearest one."""
    import difflib  # only on this error path

    close = difflib.get_close_matches(name, variables, n=1, cutoff=0.5) or [v for v in variables if v.lower() == name.lower()]
    hint = f"; did you mean {close[0]}?" if close else ""
    have = f"its free variables are {', '.join(variables)}" if variables else "it has no free variables"
    return f"{name} is not a variable of the expression ({have}){hint}"


def split_name(name: str, known: set[str] | frozenset[str]) -> list[str] | None:
    """`xy` → ["x", "y"] when x and y are names the program knows: the fewest pieces (at least two), else None.

    For the hint on an unbound name that was meant as a product (gradcli reads `xy` as one name)."""
    n = len(name)
    best: list[list[str] | None] = [[]] + [None] * n  # best[k]: the fewest known pieces spelling name[:k]
    for end in range(1, n + 1):
        for start in range(end):
            piece = name[start:end]
            prev = best[start]
            if prev is not None and piece in known and (best[end] is None or len(prev) + 1 < len(best[end])):  # type: ignore[arg-type]
                best[end] = [*prev, piece]
    found = best[n]
    return found if found is not None and len(found) >= 2 else None


@gc_paused
def compile(source: str) -> Expression:  # noqa: A001 - the natural name, as re.compile
    """Parse and lower a program. Raises GrammarError (a GradcliError) on bad text, UsageError for a non-string."""
    if not isinstance(source, str):
        raise UsageError(f"gradcli.compile takes the program as a string, not {type(source).__name__}")
    return Expression(source, lower(parse(source)))


def _tangent(name: str, level: int) -> tuple[str, int, str]:
    return ("tangent", level, name)


@dataclass
class Expression:
    source: str
    lowered: Lowered
    _cache: dict[Hashable, Any] = field(default_factory=dict, repr=False)
    # Outputs that are single elements of array outputs (see elements()): a zero cotangent there means
    # "not this element", so gradients multiply as mul0 (0·inf = 0), as Jacobian rows do.
    basis: bool = field(default=False, repr=False)
    # What a caller may want to tell the user: e.g. a primitive without a Taylor rule made --order N nest instead.
    notes: list[str] = field(default_factory=list, repr=False)

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

    def elements(self, point: Mapping[str, np.ndarray]) -> Expression:
        """The program with every array-valued output split into its elements (labels out[i, j]), so a
        tool that compares scalar outputs (check) sees the whole Jacobian, not only its column sums."""
        shapes = self.specialised(point).shapes
        assert shapes is not None
        tape = self.tape.copy()
        outputs: list[int] = []
        labels: list[str] = []
        for o, label in zip(self.lowered.outputs, self.output_names):
            shape = tuple(shapes[o])
            for idx in np.ndindex(*shape):
                ref = o
                for i in idx:
                    ref = tape.emit("index", (ref,), param=int(i))
                outputs.append(ref)
                labels.append(element_label(label, idx) if shape else label)
        lowered = replace(self.lowered, tape=tape, outputs=tuple(outputs), output_names=tuple(labels))
        return Expression(self.source, lowered, basis=True)

    def output(self, k: int) -> Expression:
        """The program with output k alone (same tape and free variables): for tools that take one output."""
        lowered = replace(self.lowered, outputs=(self.lowered.outputs[k],), output_names=(self.output_names[k],))
        return Expression(self.source, lowered)

    # -- points ---------------------------------------------------------------

    def bind(self, at: Point | None = None, also_known: Sequence[str] = ()) -> dict[str, np.ndarray]:
        """Check and convert a point: every free variable bound, no constants rebound.

        `also_known`: names given but not used (the CLI's ignored --at values), for the x*y hint only."""
        if at is not None and not isinstance(at, Mapping):
            raise UsageError(f"a point is a mapping of variable names to values, like {{'x': 1.0}}, not {type(at).__name__}")
        at = dict(at or {})
        for name in at:
            if name in CONSTANTS:
                raise UsageError(f"{name} is a constant ({CONSTANTS[name]}) and can't be given a value")
        missing = [v for v in self.variables if v not in at]
        if missing:
            names = ", ".join(missing)
            them = "it" if len(missing) == 1 else "them"
            hint = " ".join(f"--at {m}=…" for m in missing)
            known = set(self.variables) | set(at) | set(also_known) | set(CONSTANTS) | set(CONSTANT_ALIASES)
            products = [split_name(m, known - {m}) for m in missing]  # xy when x and y are known: meant as x*y?
            meant = "; ".join(f"did you mean {'*'.join(p)}?" for p in products if p)
            meant = f" ({meant})" if meant else ""
            example = ", ".join(f"{m!r}: …" for m in missing)
            cli = f"no value for {names}: give {them} with {hint}{meant}"  # what the command line says instead
            raise UnboundError(f"no value for {names}: the point must give {them} ({{{example}}}){meant}", missing, cli)
        point: dict[str, np.ndarray] = {}
        for name, value in at.items():
            try:
                given = np.asarray(value)
                if given.dtype.kind in "cSV" or (  # complex, bytes; None (which float() would make nan)
                    given.dtype.kind == "O" and any(v is None or isinstance(v, (bytes, complex)) for v in given.flat)
                ):  # (a numeric string, "1.5", reads as its number, as before)
                    raise TypeError
                arr = np.asarray(given, dtype=float)
            except (TypeError, ValueError):
                raise UsageError(f"the value of {name} is not a number or an array of numbers") from None
            except OverflowError:
                raise UsageError(f"the value of {name} is too large for a float64") from None
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

    def derived(self, key: tuple[Hashable, ...], build: Callable[[], T]) -> T:
        """Something a tool derives from the program once (--jit's kernel source): built on first use, then kept."""
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = build()
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

    def value(self, at: Point | None = None) -> Any:
        """The value of the output; a tuple of every output's value for a program with several."""
        values = self.values(at)
        return values[0] if len(values) == 1 else tuple(values)

    # -- first derivatives ------------------------------------------------------

    def _wrt(self, wrt: Sequence[str] | str | None, point: Point | None = None) -> tuple[str, ...]:
        """The variables to differentiate by: free variables, or names the point binds (their derivative is 0)."""
        if wrt is None:
            return self.variables
        names = (wrt,) if isinstance(wrt, str) else tuple(wrt)
        for n in names:
            if n in CONSTANTS:
                raise UsageError(f"{n} is a constant; it has no derivative to take")
            if n not in self.variables and (point is None or n not in point):
                raise UsageError(unknown_variable(n, self.variables))
        if len(set(names)) != len(names):
            raise UsageError(f"--wrt names a variable twice: {', '.join(names)}")
        return names

    def _output(self, output: int | None, what: str) -> int:
        """Which output a single-output question is about; None is only right for a one-output program."""
        n = len(self.lowered.outputs)
        if output is None:
            if n != 1:
                raise UsageError(
                    f"the program has {n} outputs ({', '.join(self.output_names)}): pass output=k for {what}, or use {_ALL[what]}"
                )
            return 0
        try:
            return range(n)[output]
        except IndexError:
            raise UsageError(f"output {output} doesn't exist: the program has {n} output(s)") from None

    def _var_index(self, tape: Tape, name: str) -> int | None:
        return tape._index.get(("var", name))

    def gradient_tape(self, point: Mapping[str, np.ndarray], wrt: tuple[str, ...], output: int) -> tuple[Tape, list[int | None]]:
        def build() -> tuple[Tape, list[int | None]]:
            tape = derivatives.prepare(self.specialised(point), self._shapes(point))
            idx = [self._var_index(tape, w) for w in wrt]
            refs = derivatives.grad(tape, self.lowered.outputs[output], [i for i in idx if i is not None], zero_wins=self.basis)
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
        self,
        at: Point | None = None,
        wrt: Sequence[str] | str | None = None,
        mode: str = "reverse",
        output: int | None = None,
        batch: bool = False,
    ) -> dict[str, np.ndarray]:
        """∂(Σ output)/∂v for each v in wrt (default: all free variables), with v's shape.

        With `batch=True` every variable carries a leading batch axis and the result one gradient per point.
        """
        return self.value_and_gradient(at, wrt, mode, output, batch)[1]

    def value_and_gradient(
        self,
        at: Point | None = None,
        wrt: Sequence[str] | str | None = None,
        mode: str = "reverse",
        output: int | None = None,
        batch: bool = False,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The output's value and its gradient, from one pass over the gradient tape (reverse mode)."""
        point = self.bind(at)
        out_index = self._output(output, "a gradient")
        names = self._wrt(wrt, point)
        if mode not in ("reverse", "forward"):
            raise UsageError(f"unknown mode {mode!r}: use forward or reverse")
        if batch:
            return self._batched(
                point,
                lambda p: self.value_and_gradient(p, names, mode, out_index),
                lambda: self._whole_batch_gradient(point, names, mode, out_index),
            )
        shapes = [np.shape(point.get(n, 0.0)) for n in names]
        if mode == "reverse":
            tape, refs = self.gradient_tape(point, names, out_index)
            value, *grads = self._run_with_zeros(tape, point, refs, shapes, also=(self.lowered.outputs[out_index],))
        else:
            value = self.values(point)[out_index]
            grads = [self._forward_columns(point, n, out_index, summed=True)[0] for n in names]
        return value, dict(zip(names, grads))

    def _whole_batch_gradient(
        self, point: Mapping[str, np.ndarray], names: tuple[str, ...], mode: str, out_index: int
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """An elementwise program on a batch of scalar points: one pass; a constant output still gets a value per point."""
        value, grads = self.value_and_gradient(point, names, mode, out_index)
        size = len(next(iter(point.values())))
        return np.broadcast_to(value, (size,)).copy(), grads

    def _jvp_tape(self, point: Mapping[str, np.ndarray], name: str) -> tuple[Tape, list[int | None]]:
        """Tangents of every output with only `name` moving (other inputs have no tangent at all)."""

        def build() -> tuple[Tape, list[int | None]]:
            tape = derivatives.prepare(self.specialised(point), self._shapes(point))
            outs = self.lowered.outputs
            i = self._var_index(tape, name)
            if i is None:
                return tape, [None] * len(outs)
            seed = tape.var(_tangent(name, 0), shape=tape.shapes[i])  # type: ignore[index]
            tangent = derivatives.jvp(tape, {i: seed}, max(outs) + 1, zero_wins=True)
            return tape, [tangent[o] for o in outs]

        return self._memo(("jvp", name), point, build)

    def _forward_columns(
        self, point: Mapping[str, np.ndarray], name: str, output: int | None = None, summed: bool = False
    ) -> list[np.ndarray]:
        """Forward mode: ∂(output k)/∂name as a block of shape S_k + T, one tangent pass per element of name,
        for every output (or only `output`); `summed`: ∂(Σ output)/∂name, of shape T, without the block."""
        shape = np.shape(point.get(name, 0.0))
        tape, refs = self._jvp_tape(point, name)
        outs = range(len(refs)) if output is None else [output]
        refs = [refs[k] for k in outs]
        out_shapes = [tuple(self.specialised(point).shapes[self.lowered.outputs[k]]) for k in outs]  # type: ignore[index]
        size = int(np.prod(shape))
        cols: list[list[np.ndarray]] = [[] for _ in refs]
        for k in range(size):
            seed = np.zeros(size)
            seed[k] = 1.0
            inputs = {**point, _tangent(name, 0): seed.reshape(shape)}
            for col, got in zip(cols, self._run_with_zeros(tape, inputs, refs, out_shapes)):
                col.append(np.sum(got) if summed else got)
        return [_columns_to_block(col, () if summed else s, shape) for col, s in zip(cols, out_shapes)]

    # -- Jacobians ---------------------------------------------------------------

    def jacobian(
        self, at: Point | None = None, wrt: Sequence[str] | str | None = None, mode: str = "auto", batch: bool = False
    ) -> dict[str, dict[str, np.ndarray]]:
        """J[output][v] = ∂output/∂v with shape S + T (output shape S, variable shape T), as jax.jacobian.

        Reverse mode takes one sweep per output element, forward mode one per input element; `auto`
        takes the fewer (as jacrev/jacfwd). With `batch=True`, one Jacobian per point of a leading batch axis.
        """
        point = self.bind(at)
        names = self._wrt(wrt, point)
        if batch:
            return self._batched(
                point,
                lambda p: self.jacobian(p, names, mode),
                lambda: {label: self.gradient(point, names, "reverse", k) for k, label in enumerate(self.output_names)},
            )
        values = self.values(point)  # checks every output against its domains
        out_shapes = [np.shape(v) for v in values]
        mode = self.jacobian_mode(point, names, mode)
        if mode == "forward":
            by_var = {n: self._forward_columns(point, n) for n in names}
            return {label: {n: by_var[n][k] for n in names} for k, label in enumerate(self.output_names)}
        if mode != "reverse":
            raise UsageError(f"unknown mode {mode!r}: use auto, forward or reverse")
        return {label: self._reverse_rows(point, names, k, out_shapes[k]) for k, label in enumerate(self.output_names)}

    def jacobian_mode(self, at: Point | None, wrt: Sequence[str] | str | None = None, mode: str = "auto") -> str:
        """`auto` → reverse when the outputs have no more elements than the inputs, else forward."""
        if mode != "auto":
            return mode
        point = self.bind(at)
        out_shapes = [tuple(self.specialised(point).shapes[o]) for o in self.lowered.outputs]  # type: ignore[index]
        n_out = sum(int(np.prod(s)) for s in out_shapes)
        n_in = sum(int(np.prod(np.shape(point.get(n, 0.0)))) for n in self._wrt(wrt, point))
        return "reverse" if n_out <= n_in else "forward"

    def _vjp_tape(self, point: Mapping[str, np.ndarray], names: tuple[str, ...], output: int) -> tuple[Tape, list[int | None]]:
        """The reverse sweep of one output seeded by a cotangent input of the output's shape."""

        def build() -> tuple[Tape, list[int | None]]:
            tape = derivatives.prepare(self.specialised(point), self._shapes(point))
            out = self.lowered.outputs[output]
            seed = tape.var(("cotangent", output), shape=tape.shapes[out])  # type: ignore[index]
            idx = [self._var_index(tape, w) for w in names]
            present = [i for i in idx if i is not None]
            by_var = dict(zip(present, derivatives.grad(tape, out, present, seed=seed, zero_wins=True)))
            return tape, [by_var.get(i) if i is not None else None for i in idx]

        return self._memo(("vjp", output, names), point, build)

    def _reverse_rows(
        self, point: Mapping[str, np.ndarray], names: tuple[str, ...], output: int, out_shape: tuple[int, ...]
    ) -> dict[str, np.ndarray]:
        in_shapes = [np.shape(point.get(n, 0.0)) for n in names]
        if out_shape == ():
            return self.gradient(point, names, "reverse", output)
        tape, refs = self._vjp_tape(point, names, output)
        size = int(np.prod(out_shape))
        rows: list[list[np.ndarray]] = [[] for _ in names]
        for e in range(size):
            cot = np.zeros(size)
            cot[e] = 1.0
            inputs = {**point, ("cotangent", output): cot.reshape(out_shape)}
            for row, got in zip(rows, self._run_with_zeros(tape, inputs, refs, in_shapes)):
                row.append(got)
        blocks = {}
        for n, r, t in zip(names, rows, in_shapes):
            blocks[n] = np.stack(r).reshape(out_shape + t) if r else np.zeros(out_shape + t)  # size 0: no rows
        return blocks

    # -- second and higher derivatives ------------------------------------------

    def hessian(
        self,
        at: Point | None = None,
        wrt: Sequence[str] | str | None = None,
        output: int | None = None,
        batch: bool = False,
    ) -> dict[str, dict[str, np.ndarray]]:
        """H[a][b] = ∂²(Σ output)/∂a∂b with shape T_a + T_b, by forward mode over the reverse-mode gradient.

        With `batch=True`, one Hessian per point of a leading batch axis (as jax.vmap(jax.hessian(f))).
        """
        point = self.bind(at)
        out_index = self._output(output, "a Hessian")
        names = self._wrt(wrt, point)
        if batch:
            return self._batched(
                point,
                lambda p: self.hessian(p, names, out_index),
                lambda: self._hessian_blocks(point, names, out_index, per_point=True),
            )
        return self._hessian_blocks(point, names, out_index)

    def _hessian_blocks(
        self, point: Mapping[str, np.ndarray], names: tuple[str, ...], out_index: int, per_point: bool = False
    ) -> dict[str, dict[str, np.ndarray]]:
        """Blocks T_a + T_b, one tangent pass per element of b; `per_point` (an elementwise program on a
        batch of scalar points): one pass per variable, seeded with ones, gives each point's Hessian."""
        self.values(point)
        tape, grads, tangents = self.hessian_tape(point, names, out_index)
        shapes = [np.shape(point.get(n, 0.0)) for n in names]
        result: dict[str, dict[str, np.ndarray]] = {a: {} for a in names}
        if not per_point and len(names) > 1 and all(s == () for s in shapes) and not mixes_elements(tape.ops, tape.params):
            # Scalar variables of an elementwise program: every tangent direction at once, as a trailing axis
            # of one-hot seeds, so one pass gives every column (2,000 variables: one pass, not 2,000).
            m, width = len(names), 128  # directions per pass: memory stays at 128 numbers per instruction
            for lo in range(0, m, width):
                hi = min(m, lo + width)
                eye = np.eye(hi - lo)
                seeds = {_tangent(n, 1): eye[k - lo] if lo <= k < hi else np.zeros(hi - lo) for k, n in enumerate(names)}
                rows = self._run_with_zeros(tape, {**point, **seeds}, tangents, [(hi - lo,)] * m)
                for a, row in zip(names, rows):
                    row = np.broadcast_to(row, (hi - lo,))
                    for k in range(lo, hi):
                        result[a][names[k]] = np.asarray(row[k - lo])
            return result
        for b, b_shape in zip(names, shapes):
            if per_point:
                inputs = {**point, **{_tangent(n, 1): np.zeros(s) if n != b else np.ones(s) for n, s in zip(names, shapes)}}
                for a, v in zip(names, self._run_with_zeros(tape, inputs, tangents, shapes)):
                    result[a][b] = v
                continue
            size = int(np.prod(b_shape))
            cols: list[list[np.ndarray]] = [[] for _ in names]
            for k in range(size):
                inputs: dict[Hashable, np.ndarray] = dict(point)
                for n, s in zip(names, shapes):
                    inputs[_tangent(n, 1)] = np.zeros(s)
                seed = np.zeros(size)
                seed[k] = 1.0
                inputs[_tangent(b, 1)] = seed.reshape(b_shape)
                for col, v in zip(cols, self._run_with_zeros(tape, inputs, tangents, shapes)):
                    col.append(v)
            for a, a_shape, col in zip(names, shapes, cols):
                result[a][b] = _columns_to_block(col, a_shape, b_shape)
        return result

    def hessians(
        self, at: Point | None = None, wrt: Sequence[str] | str | None = None, batch: bool = False
    ) -> dict[str, dict[str, dict[str, np.ndarray]]]:
        """The Hessian of every output, by label."""
        point = self.bind(at)
        names = self._wrt(wrt, point)
        return {label: self.hessian(point, names, k, batch) for k, label in enumerate(self.output_names)}

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
            tangent = derivatives.jvp(tape, seeds, len(tape), zero_wins=True)
            return tape, grads, [None if g is None else tangent[g] for g in grads]

        return self._memo(("hess", output, names), point, build)

    def derivative(
        self,
        at: Point | None = None,
        wrt: str | None = None,
        order: int = 1,
        mode: str = "reverse",
        output: int | None = None,
    ) -> np.ndarray:
        """dⁿ(output)/dwrtⁿ: the first derivative by `mode`, each further one by forward mode."""
        if order < 1:
            raise UsageError("the order of a derivative must be at least 1")
        point = self.bind(at)
        names = self._wrt(wrt, point)
        if len(names) != 1:
            raise UsageError("a derivative of order > 1 per variable needs exactly one variable (wrt, --wrt)")
        (name,) = names
        out_index = self._output(output, "a derivative")
        if order == 1:
            return self.gradient(point, name, mode, out_index)[name]
        if order >= 3 or np.ndim(point.get(name, 0.0)) != 0:
            found = self._taylor_derivative(point, name, order, out_index)
            if found is not None:
                return found
        if np.ndim(point.get(name, 0.0)) != 0:
            raise UsageError(f"derivatives of order {order} are for a scalar variable; {name} is an array (use hessian)")
        return self.derivative_tensor(point, names, order, out_index)

    def derivative_tensor(
        self, at: Point | None = None, wrt: Sequence[str] | str | None = None, order: int = 1, output: int | None = None
    ) -> np.ndarray:
        """T[i₁…iₙ] = ∂ⁿ(Σ output)/∂v_{i₁}…∂v_{iₙ} over scalar variables (shape (len(wrt),)·n; () for one variable).

        Order ≥ 3 by Taylor mode, else (and for a primitive without a Taylor rule) the reverse gradient
        differentiated n − 1 times in forward mode; each mixed partial is computed once (distinct_partials).
        """
        point = self.bind(at)
        names = self._wrt(wrt, point)
        out_index = self._output(output, "a derivative")
        if order < 1:
            raise UsageError("the order of a derivative must be at least 1")
        arrays = [n for n in names if np.ndim(point.get(n, 0.0)) != 0]
        if arrays:
            why = f"derivative tensors of order {order} are for scalar variables; {arrays[0]} is an array"
            error = UsageError(f"{why} (use gradient, hessian or jacobian)")
            # The command line has no `gradient` command: its gradient is diff (order 1).
            error.cli_message = f"{why} (use diff for the gradient, hessian, or jacobian)"
            raise error
        n = len(names)
        if n > 1:
            _budget(f"a derivative tensor of order {order} in {n} variables", n**order, MAX_ENTRIES, "entries")
        by_sorted = self.distinct_partials(point, names, order, out_index)
        if n == 1:
            return np.asarray(by_sorted[(0,) * order])
        result = np.empty((n,) * order)
        for idx in np.ndindex(*result.shape):  # the tensor is symmetric: every ordering of a multi-index
            result[idx] = by_sorted[tuple(sorted(idx))]
        return result

    def distinct_partials(
        self, point: Mapping[str, np.ndarray], names: tuple[str, ...], order: int, out_index: int
    ) -> dict[tuple[int, ...], float]:
        """∂ⁿ(Σ output) for each sorted multi-index of variable positions (each mixed partial once).

        Order ≥ 3 by Taylor mode (interpolating univariate series, see _taylor_tensor); a primitive without
        a Taylor rule, and order 2, by the nested transform.
        """
        import itertools

        count = math.comb(len(names) + order - 1, order)
        _budget(f"the partials of order {order} in {len(names)} variables", count, MAX_ENTRIES, "distinct partials")
        self.values(point)
        if order >= 3:
            try:
                return self._taylor_tensor(point, names, order, out_index)
            except NoTaylorRule as exc:
                self._fallback_note(exc, order)
        tape, refs = self._nth_tape(point, names, order, out_index)
        n = len(names)
        by_sorted: dict[tuple[int, ...], float] = {}
        for combo in itertools.combinations_with_replacement(range(n), order - 1):
            inputs: dict[Hashable, np.ndarray] = dict(point)
            for level in range(order - 1):
                for j, v in enumerate(names):
                    inputs[_tangent(v, level + 1)] = np.asarray(1.0 if j == combo[level] else 0.0)
            column = self._run_with_zeros(tape, inputs, refs, [()] * n)
            for i, v in enumerate(column):
                by_sorted[tuple(sorted((i, *combo)))] = float(v)
        return by_sorted

    # -- Taylor mode ---------------------------------------------------------------

    def taylor_coefficients(
        self,
        point: Mapping[str, np.ndarray],
        seeds: Mapping[str, np.ndarray],
        order: int,
        output: int,
        directions: int | None = None,
    ) -> np.ndarray:
        """Coefficients 0..order of the output along point + seeds·t, shape (order+1, [directions,] *output shape).

        One pass of univariate Taylor propagation (engine/taylor.py); raises taylor.NoTaylorRule where a
        primitive on the way has no rule.
        """
        seeds = {v: s for v, s in seeds.items() if v in self.variables}
        tape = self.specialised(point)
        size = max((math.prod(s) for s in tape.shapes or ()), default=1)
        coefficients = (order + 1) * (directions or 1) * size
        what = f"Taylor mode to order {order} ({directions or 1} direction(s), arrays of {size} elements)"
        _budget(what, coefficients, MAX_COEFFICIENTS, "coefficients per instruction")
        _budget(what, coefficients * (order + 1), MAX_TAYLOR_WORK, "operations per instruction")
        from .engine import taylor  # Taylor mode only: its rules (primitives/series.py) stay off the start-up path

        return taylor.propagate(tape, point, seeds, order, [self.lowered.outputs[output]], directions)[0]

    def _fallback_note(self, exc: NoTaylorRule, order: int) -> None:
        why = f" ({exc.why})" if exc.why else ""
        note = f"{exc.op} has no Taylor rule here{why}: order {order} nests the first-order transform instead (slower)"
        if note not in self.notes:
            self.notes.append(note)

    def _taylor_derivative(self, point: Mapping[str, np.ndarray], name: str, order: int, out_index: int) -> np.ndarray | None:
        """dⁿ/dxⁿ by one Taylor pass; for an array x of an elementwise program, the derivative at each element
        (the series along the all-ones direction). None where a primitive has no Taylor rule (a note says so)."""
        x = np.asarray(point.get(name, 0.0))
        if x.ndim and mixes_elements(self.tape.ops, self.tape.params):
            raise UsageError(
                f"derivatives of order {order} by an array variable ({name}) are per element, for programs that don't "
                "mix elements; use hessian, or give the points with --points"
            )
        self.values(point)
        try:
            shift = _seed_shift(order)
            c = self.taylor_coefficients(point, {name: np.full_like(x, 2.0**shift)}, order, out_index)
        except NoTaylorRule as exc:
            if x.ndim:
                why = f"{exc.op} has no Taylor rule here"
                raise UsageError(f"{why}, so order {order} by an array variable is not available") from None
            self._fallback_note(exc, order)
            return None
        top = _times(c[order], math.factorial(order), 1 << (shift * order))
        if x.ndim:
            shape = np.shape(self.values(point)[out_index])
            return np.broadcast_to(top, shape).copy()
        return np.asarray(np.sum(top))

    def _taylor_tensor(
        self, point: Mapping[str, np.ndarray], names: tuple[str, ...], order: int, out_index: int
    ) -> dict[tuple[int, ...], float]:
        """Every distinct partial of order n from one Taylor pass along the C(m+n−1, n) directions i with |i| = n
        (Griewank, Utke & Walther 2000): the n-th coefficient along i is Σ_{|j|=n} i^j ∂^j f / j!, a linear system
        in the partials, solved once per (m, n)."""
        present = [k for k, v in enumerate(names) if v in self.variables]
        by_sorted = {combo: 0.0 for combo in _combinations(len(names), order)}
        if not present:
            return by_sorted
        indices, solve = _interpolation(len(present), order)
        shift = _seed_shift(order)
        dirs = np.asarray(indices, dtype=float) * 2.0**shift
        seeds = {names[k]: dirs[:, m] for m, k in enumerate(present)}
        c = self.taylor_coefficients(point, seeds, order, out_index, directions=len(indices))
        top = np.broadcast_to(c[order], (len(indices), *c.shape[2:])).reshape(len(indices), -1).sum(axis=1)
        coefficients = solve(top)
        for j, a in zip(indices, coefficients):
            combo = tuple(k for m, k in enumerate(present) for _ in range(j[m]))
            by_sorted[combo] = float(_times(a, math.prod(math.factorial(e) for e in j), 1 << (shift * order)))
        return by_sorted

    def taylor_polynomial(
        self, at: Point | None = None, wrt: Sequence[str] | str | None = None, order: int = 5, output: int | None = None
    ) -> dict[tuple[int, ...], float]:
        """Taylor coefficients ∂^j f(a)/j! of the (scalar) output for every exponent tuple j over `wrt`
        (scalar variables) with |j| ≤ order: f(a + h) ≈ Σ_j c_j h^j. An array output is a UsageError."""
        if order < 0:
            raise UsageError("the order of a Taylor polynomial must be at least 0")
        point = self.bind(at)
        names = self._wrt(wrt, point)
        out_index = self._output(output, "a derivative")
        arrays = [n for n in names if np.ndim(point.get(n, 0.0)) != 0]
        if arrays:
            raise UsageError(f"Taylor polynomials are for scalar variables; {arrays[0]} is an array")
        count = math.comb(len(names) + order, order)
        _budget(f"a Taylor polynomial of degree {order} in {len(names)} variables", count, MAX_ENTRIES, "coefficients")
        result = self.values(point)[out_index]
        if np.size(result) != 1:  # summing the elements silently would expand a different function
            raise UsageError(
                f"a Taylor polynomial is of a scalar; this expression is an array of shape {np.shape(result)} "
                "(expand one element, e.g. (...)[0], or sum(...))"
            )
        value = float(np.sum(result))
        m = len(names)
        coefficients: dict[tuple[int, ...], float] = {(0,) * m: value}
        if m == 1 and names[0] in self.variables:
            try:
                c = self.taylor_coefficients(point, {names[0]: np.asarray(1.0)}, order, out_index)
                sums = c.reshape(order + 1, -1).sum(axis=1)
                return {(k,): float(sums[k]) for k in range(order + 1)}
            except NoTaylorRule as exc:
                self._fallback_note(exc, order)
        for k in range(1, order + 1):
            partials = self.distinct_partials(point, names, k, out_index) if k > 1 else None
            if partials is None:
                grad = self.gradient(point, names, "reverse", out_index)
                partials = {(i,): float(grad[v]) for i, v in enumerate(names)}
            for combo, v in partials.items():
                j = tuple(combo.count(i) for i in range(m))
                coefficients[j] = float(_times(v, 1, math.prod(math.factorial(e) for e in j)))
        return coefficients

    def _nth_tape(
        self, point: Mapping[str, np.ndarray], names: tuple[str, ...], order: int, output: int
    ) -> tuple[Tape, list[int | None]]:
        def build() -> tuple[Tape, list[int | None]]:
            tape, refs = self.gradient_tape(point, names, output)
            sizes = [len(self.tape), len(tape)]
            for level in range(1, order):
                live = [r for r in refs if r is not None]
                if not live:
                    break
                growth = sizes[-1] / max(sizes[-2], 1)
                if sizes[-1] * growth > MAX_TAPE:  # each nesting multiplies the tape: refuse before memory runs out
                    raise UsageError(
                        f"a derivative of order {order} by nesting would need a tape of about "
                        f"{sizes[-1] * growth ** (order - level):.3g} instructions (order {level} has {sizes[-1]:,}); "
                        f"the most this program allows here is order {level}"
                    )
                tape = tape.copy()
                seeds = {}
                for n in names:
                    i = self._var_index(tape, n)
                    if i is not None:
                        seeds[i] = tape.var(_tangent(n, level), shape=tape.shapes[i])  # type: ignore[index]
                tangent = derivatives.jvp(tape, seeds, max(live) + 1, zero_wins=True)
                refs = [None if r is None else tangent[r] for r in refs]
                sizes.append(len(tape))
            return tape, refs

        return self._memo(("nth", output, names, order), point, build)

    # -- batches of points ----------------------------------------------------------

    def _batched(self, point: Mapping[str, np.ndarray], one: Callable[[dict[str, np.ndarray]], T], whole: Callable[[], T]) -> T:
        """`one` at each point of a leading batch axis, results stacked along a new leading axis (as jax.vmap).

        Every bound variable must have the batch axis, of the same length. A program that doesn't mix
        elements, on scalar points, needs no loop: its gradient at the whole batch is the per-point one,
        and so are its Hessian's diagonals; everything else is evaluated point by point.
        """
        sizes = {n: np.shape(v)[0] if np.ndim(v) else None for n, v in point.items()}
        if not point or any(s is None for s in sizes.values()) or len(set(sizes.values())) != 1:
            shown = ", ".join(f"{n}: {np.shape(v)}" for n, v in point.items())
            raise UsageError(f"batch=True needs every variable with the same leading batch axis; got {shown or 'none'}")
        (size,) = set(sizes.values())
        if all(np.ndim(v) == 1 for v in point.values()) and not mixes_elements(self.tape.ops, self.tape.params):
            return whole()
        results = [one({n: v[b] for n, v in point.items()}) for b in range(size)]
        return _stack_results(results, size)


def _seed_shift(order: int) -> int:
    """p for seeds of 2^p: coefficient n is then D^n f·2^(pn)/n!, about D^n f/sqrt(n) at 2^p ≈ n/e (Stirling),
    where with seeds of 1 it underflows past n ≈ 170. Every coefficient k is homogeneous of degree k in the
    seed, so a power of two changes no rounding."""
    if order > MAX_DERIVATIVE_ORDER:
        raise UsageError(
            f"a derivative of order {order} is past what Taylor mode carries in floating point "
            f"(the highest order is {MAX_DERIVATIVE_ORDER})"
        )
    return min(9, max(0, round(math.log2(order / math.e)))) if order > 2 else 0  # 2^9: e^512 stays finite


def _times(a: Any, num: int, den: int) -> np.ndarray:
    """a·num/den for integers too large for a float (n! past 170): their ratio near 1, its exponent by ldexp."""
    b = num.bit_length() - den.bit_length()
    ratio = (num << max(0, -b)) / (den << max(0, b))
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(np.asarray(a, dtype=float) * ratio, b)


def _combinations(n: int, order: int) -> list[tuple[int, ...]]:
    import itertools

    return list(itertools.combinations_with_replacement(range(n), order))


_INTERPOLATION: dict[tuple[int, int], Any] = {}


def _compositions(total: int, parts: int) -> list[tuple[int, ...]]:
    """Tuples of `parts` positive integers summing to `total`."""
    import itertools

    return [
        tuple(b - a for a, b in zip((0, *cuts), (*cuts, total))) for cuts in itertools.combinations(range(1, total), parts - 1)
    ]


def _interpolation(m: int, order: int) -> tuple[list[tuple[int, ...]], Callable[[np.ndarray], np.ndarray]]:
    """The exponent tuples j (|j| = order) of m variables, and the solver of F(i) = Σ_j i^j a_j for the a_j,
    F given at the same tuples i used as directions (built once per (m, order)).

    i^j is 0 unless every variable of j is one of i's, so the system is block triangular by support: the
    partials whose variables are exactly S come from the directions of support S, once the partials of
    the smaller supports are subtracted, through one small matrix per support size (C(order−1, s−1)
    square). No dense solve of the whole C(m+order−1, order) system, which also conditions better.
    """
    import itertools

    found = _INTERPOLATION.get((m, order))
    if found is not None:
        return found
    plan = sum(  # per support of size s, each of its C(order−1, s−1) rows, over the partials of every sub-support
        math.comb(m, s)
        * math.comb(order - 1, s - 1)
        * sum(math.comb(s, t) * math.comb(order - 1, t - 1) for t in range(1, s + 1))
        for s in range(1, min(m, order) + 1)
    )
    _budget(f"mixed partials of order {order} in {m} variables", plan, MAX_PLAN, "interpolation terms")
    if m > 1 and order * math.log10(order) > 300:  # the system's entries i^j reach order^order
        top = max(n for n in range(2, order) if n * math.log10(n) <= 300)
        raise UsageError(
            f"mixed partials of order {order} come from a system with entries up to {order}^{order}, beyond floating "
            f"point; with several variables the highest order is {top}"
        )
    indices = [tuple(c.count(i) for i in range(m)) for c in _combinations(m, order)]
    position = {j: k for k, j in enumerate(indices)}
    blocks: dict[int, tuple[list[tuple[int, ...]], np.ndarray]] = {}
    for size in range(1, min(m, order) + 1):
        comps = _compositions(order, size)
        matrix = np.array([[math.prod(p**q for p, q in zip(row, col)) for col in comps] for row in comps], dtype=float)
        blocks[size] = (comps, np.linalg.inv(matrix) if len(comps) > 1 else 1.0 / matrix)
    plan = []  # per support, in increasing size: its rows (directions = partials), the lower terms of each row
    for size in range(1, min(m, order) + 1):
        comps, inverse = blocks[size]
        for support in itertools.combinations(range(m), size):
            rows = []
            for comp in comps:
                j = [0] * m
                for v, e in zip(support, comp):
                    j[v] = e
                rows.append(position[tuple(j)])
            lower = []
            for comp in comps:
                terms = []
                for sub_size in range(1, size):
                    for sub in itertools.combinations(range(size), sub_size):
                        for q in _compositions(order, sub_size):
                            j = [0] * m
                            for t, e in zip(sub, q):
                                j[support[t]] = e
                            terms.append((position[tuple(j)], math.prod(comp[t] ** e for t, e in zip(sub, q))))
                lower.append(terms)
            plan.append((rows, lower, inverse))

    def solve(f: np.ndarray) -> np.ndarray:
        a = np.zeros(len(indices))
        for rows, lower, inverse in plan:
            rhs = np.array([f[r] - sum(w * a[k] for k, w in terms) for r, terms in zip(rows, lower)])
            a[rows] = inverse @ rhs
        return a

    found = _INTERPOLATION[(m, order)] = (indices, solve)
    return found


def _columns_to_block(cols: list[np.ndarray], out_shape: tuple[int, ...], in_shape: tuple[int, ...]) -> np.ndarray:
    """Derivatives along each element of an input (each of shape out_shape) as one block out_shape + in_shape."""
    if not cols:
        return np.zeros(out_shape + in_shape)
    return np.stack(cols, axis=-1).reshape(out_shape + in_shape)


def _stack_results(results: list[Any], size: int) -> Any:
    """Per-point results (arrays, tuples and dicts of them) stacked into arrays with a leading batch axis."""
    if size == 0:
        raise UsageError("batch=True needs at least one point")
    first = results[0]
    if isinstance(first, dict):
        return {k: _stack_results([r[k] for r in results], size) for k in first}
    if isinstance(first, tuple):
        return tuple(_stack_results([r[k] for r in results], size) for k in range(len(first)))
    return np.stack([np.asarray(r) for r in results])


__all__ = ["Expression", "compile", "EvaluationError"]
