"""Evaluate a tape with numpy: one loop, values freed after their last use.

Instructions below `tape.n_checked` (the user's own program) are checked
against their primitive's domain; derivative instructions follow IEEE
arithmetic, so an infinite slope (sqrt at 0) comes out as inf, not an error.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import DomainError
from ..gcpause import gc_paused
from ..numfmt import format_number, format_value
from .primitives import PRIMITIVES, mixes_elements
from .tape import Tape


def needed(tape: Tape, outputs: Sequence[int]) -> list[bool]:
    """Instructions that some output depends on (a backward marking loop)."""
    live = [False] * len(tape)
    for o in outputs:
        live[o] = True
    for i in range(max(outputs, default=-1), -1, -1):
        if live[i]:
            for a in tape.args[i]:
                live[a] = True
    return live


class Plan:
    """What evaluating some outputs takes, worked out once per tape: the live steps in order and,
    after each, the values no longer needed (freed so a million-point batch doesn't pile up arrays).

    A step may also name an argument whose buffer it can overwrite (`reuse`, else -1): numpy does
    the same for `x*x + 2*x` written by hand (temporary elision), and on big batches a fresh
    array costs as much as the arithmetic (page faults on every new megabyte).
    """

    __slots__ = ("steps", "outputs")

    def __init__(self, tape: Tape, outputs: Sequence[int], keep_all: bool) -> None:
        live = needed(tape, outputs)
        upto = max(outputs, default=-1) + 1
        signs = sign_analysis(tape, min(upto, tape.n_checked))  # only checked instructions use them
        ops, params, n_checked, shapes = tape.ops, tape.params, tape.n_checked, tape.shapes
        last_use = [-1] * len(tape)
        viewed = [False] * len(tape)  # read by an instruction that might return a view of it
        for i, args in enumerate(tape.args):
            if live[i]:
                if args and not PRIMITIVES[ops[i]].elementwise:  # elementwise ones make fresh arrays (tested)
                    for a in args:
                        viewed[a] = True
                for a in args:
                    last_use[a] = i
        if not keep_all:
            for o in outputs:
                last_use[o] = -2  # never freed
        steps = []
        for i in range(upto):
            if not live[i]:
                continue
            op = ops[i]
            args = tape.args[i]
            if op == "const" or op == "var":
                steps.append((i, op, None, args, params[i], (), (), -1))
                continue
            frees = () if keep_all else tuple({a for a in args if last_use[a] == i})
            prim = PRIMITIVES[op]
            rules = _rules(tape, prim, args, signs) if i < n_checked else ()
            reuse = -1
            if frees and not rules and shapes is not None and shapes[i] and _ufunc(prim):
                for k, a in enumerate(args):
                    # a fresh array made here (not an input or constant), of the result's shape, read by no view
                    if a in frees and not viewed[a] and shapes[a] == shapes[i] and ops[a] in PRIMITIVES:
                        if PRIMITIVES[ops[a]].elementwise:
                            reuse = k
                            break
            steps.append((i, op, prim, args, params[i], rules, frees, reuse))
        self.steps = steps
        self.outputs = tuple(outputs)


def _fits(buf: Any, argv: list[Any]) -> bool:
    """The planned buffer really is a float array the result fills (other arguments: its shape or scalars)."""
    if type(buf) is not np.ndarray or buf.dtype != _FLOAT:
        return False
    shape = buf.shape
    return all(v.shape == shape or not v.shape for v in argv)


def _ufunc(prim: Any) -> bool:
    """An elementwise numpy ufunc: it makes a fresh array (never a view) and can write into `out=`."""
    return isinstance(prim.impl, np.ufunc) and prim.elementwise and not prim.uses_param


_FLOAT = np.dtype(np.float64)
INPLACE_FROM = 32768  # elements: numpy's own threshold for eliding temporaries (256 KiB); small arrays are cheap

POSITIVE, NONNEGATIVE, UNKNOWN = 2, 1, 0


def sign_analysis(tape: Tape, upto: int) -> list[int]:
    """What is known of each value's sign, in one pass: enough to skip domain checks that can't fire."""
    signs = [UNKNOWN] * upto
    for i in range(upto):
        op, args = tape.ops[i], tape.args[i]
        if op == "const":
            v = tape.params[i]
            if v.shape == ():
                v = float(v)  # far cheaper than numpy's reductions on a 0-d array
                signs[i] = POSITIVE if v > 0 else NONNEGATIVE if v >= 0 else UNKNOWN
            else:
                signs[i] = POSITIVE if np.all(v > 0) else NONNEGATIVE if np.all(v >= 0) else UNKNOWN
        elif op != "var" and PRIMITIVES[op].sign:
            signs[i] = POSITIVE if PRIMITIVES[op].sign == "positive" else NONNEGATIVE
        elif op == "pow":
            e = tape.const_value(args[1])
            even = e is not None and e.shape == () and float(e) % 2 == 0
            signs[i] = POSITIVE if signs[args[0]] == POSITIVE else NONNEGATIVE if even else UNKNOWN
        elif op in ("add", "mul", "div", "logaddexp", "max"):
            a, b = (signs[x] for x in args)
            if op == "max":
                signs[i] = max(a, b)
            elif op == "logaddexp":
                signs[i] = UNKNOWN
            elif op == "add":
                signs[i] = min(a, b) if a and b else UNKNOWN
                if a and b and (a == POSITIVE or b == POSITIVE):
                    signs[i] = POSITIVE
            else:
                signs[i] = min(a, b)
        elif op in ("sum", "mean", "prod"):
            signs[i] = signs[args[0]]  # sums, means and products of positives stay positive
    return signs


def _rules(tape: Tape, prim: Any, args: tuple[int, ...], signs: list[int]) -> tuple[Any, ...]:
    """The domain rules that can fire, given which arguments are constants and what signs are known."""
    consts = [tape.const_value(a) for a in args]
    keep = []
    for d in prim.domain:
        if d.safe_if is not None:
            k, needs = d.safe_if
            known = signs[args[k]]
            if known == POSITIVE or (known == NONNEGATIVE and needs == "nonnegative"):
                continue
        if all(c is not None for c in consts):
            if np.any(d.bad(*consts)):
                keep.append(d)
        elif d.relevant is None or d.relevant(*consts):
            keep.append(d)
    return tuple(keep)


def plan(tape: Tape, outputs: Sequence[int], keep_all: bool = False) -> Plan:
    key = (tuple(outputs), keep_all)
    found = tape.plans.get(key)
    if found is None:
        found = tape.plans[key] = gc_paused(Plan)(tape, outputs, keep_all)
    return found


def run(
    tape: Tape,
    inputs: Mapping[Hashable, np.ndarray],
    outputs: Sequence[int],
    on_domain: str = "raise",
    complex_step: bool = False,
    keep_all: bool = False,
    violations: list[Violation] | None = None,
) -> list[np.ndarray]:
    """Values of `outputs`. A domain violation puts nan where it happens; then on_domain="raise"
    raises DomainError if that nan reaches an output (so `where(x > 0, log(x), 0)` is fine at x = -1,
    as in PyTorch), and on_domain="nan" leaves it there. `violations` collects them for the caller.

    complex_step evaluates with complex inputs through each primitive's analytic
    continuation (domains are checked on real parts). keep_all keeps every
    value, for views of the whole trace, instead of freeing each after its last use.
    """
    values: list[Any] = [None] * len(tape)
    found: list[Violation] = [] if violations is None else violations
    with np.errstate(all="ignore"):
        for i, op, prim, args, param, rules, frees, reuse in plan(tape, outputs, keep_all).steps:
            if prim is None:
                values[i] = param if op == "const" else inputs[param]
                continue
            argv = [values[a] for a in args]
            if reuse >= 0 and not complex_step and argv[reuse].size >= INPLACE_FROM and _fits(argv[reuse], argv):
                out = prim.impl(*argv, out=argv[reuse])
            elif rules:
                real = [np.real(a) for a in argv] if complex_step else argv
                bad = _check(i, rules, real, found)
                out = prim.apply(argv, param, complex_step)
                if bad is not None:
                    out = np.where(bad, np.nan, out)
            else:
                out = prim.apply(argv, param, complex_step)
            values[i] = out
            for a in frees:
                values[a] = None
    if found and on_domain == "raise":
        if any(np.any(np.isnan(values[o])) for o in outputs if values[o] is not None):
            v = found[0]
            raise DomainError(_domain_message(tape, v.index, v.domain, v.args, v.mask, inputs))
    if keep_all:
        return [None if v is None else np.asarray(v) for v in values]
    return [np.asarray(values[o]) for o in outputs]


class Violation:
    """A primitive applied outside its domain: where (mask), which rule, and the arguments."""

    __slots__ = ("index", "domain", "args", "mask")

    def __init__(self, index: int, domain: Any, args: list[np.ndarray], mask: np.ndarray) -> None:
        self.index, self.domain, self.args, self.mask = index, domain, args, mask


def _check(i: int, domains: Sequence[Any], args: list[np.ndarray], found: list[Violation]) -> np.ndarray | None:
    mask = None
    for d in domains:
        bad = np.asarray(d.bad(*args))
        if not bad.any():
            continue
        found.append(Violation(i, d, args, np.asarray(bad)))
        mask = bad if mask is None else (mask | bad)
    return mask


def _domain_message(
    tape: Tape, i: int, domain: Any, args: list[np.ndarray], bad: np.ndarray, inputs: Mapping[Hashable, np.ndarray]
) -> str:
    bad = np.asarray(bad)
    where = np.unravel_index(int(np.argmax(bad)), bad.shape) if bad.ndim else ()
    scalars = [np.broadcast_to(a, bad.shape)[where] if bad.ndim else np.asarray(a)[()] for a in args]
    point = describe_point(inputs, bad.shape, where)
    at = f" at {point}" if point else ""
    return f"{tape.text(i)} is undefined{at}: {domain.reason(*scalars)}"


def describe_point(inputs: Mapping[Hashable, np.ndarray], shape: tuple[int, ...], where: tuple[int, ...]) -> str:
    parts = []
    for name, value in inputs.items():
        if not isinstance(name, str):
            continue
        v = np.real(np.asarray(value))
        if v.ndim == 0:
            parts.append(f"{name}={format_number(v)}")
        elif shape and v.shape == shape:
            parts.append(f"{name}={format_number(v[where])}")
        else:
            text = format_value(v)
            parts.append(f"{name}={text if len(text) <= 60 else text[:57] + '…'}")
    if shape and where:
        parts.append(f"(element {', '.join(map(str, where))})" if len(where) > 1 else f"(element {where[0]})")
    return ", ".join(parts)


# Below this many points per batch, splitting across threads costs more than it saves.
SPLIT_ABOVE = 200_000


def _heavy_elementwise(tape: Tape) -> bool:
    """No instruction mixes elements, and enough costly kernels to pay for threads (cached per tape)."""
    found = tape.plans.get("heavy")
    if found is None:
        mixing = mixes_elements(tape.ops, tape.params)
        found = tape.plans["heavy"] = not mixing and sum(op in _EXPENSIVE for op in tape.ops) >= 3
    return found


# Kernels that cost tens of nanoseconds per element in numpy: worth spreading across cores.
_EXPENSIVE = frozenset({"sin", "cos", "tan", "exp", "expm1", "log", "log1p", "log2", "log10", "tanh", "sinh", "cosh",
                        "asin", "acos", "atan", "atan2", "asinh", "acosh", "atanh", "erf", "erfc", "gamma", "lgamma",
                        "digamma", "sigmoid", "softplus", "pow", "cbrt", "logaddexp", "xlogy", "hypot"})  # fmt: skip


def run_split(
    tape: Tape, inputs: Mapping[Hashable, np.ndarray], outputs: Sequence[int], workers: int | None = None
) -> list[np.ndarray]:
    """`run` on a batch of points split across threads (numpy releases the GIL inside its kernels).

    Used only where it can't change a result: every input is a 1-d array of the same length N (one
    point per element), N is large, and no instruction mixes elements. Otherwise it is `run`.
    """
    first = next((v for k, v in inputs.items() if isinstance(k, str)), None)
    n = first.shape[0] if isinstance(first, np.ndarray) and first.ndim == 1 else 0
    if n < SPLIT_ABOVE:  # the common case: decided without looking any further
        return run(tape, inputs, outputs)
    import os

    workers = workers or min(os.cpu_count() or 1, 8)
    eligible = (
        workers > 1
        and all(np.ndim(v) == 1 and np.shape(v)[0] == n for k, v in inputs.items() if isinstance(k, str))
        and all(np.ndim(v) == 0 for k, v in inputs.items() if not isinstance(k, str))
        and _heavy_elementwise(tape)
    )
    if not eligible:
        return run(tape, inputs, outputs)
    from concurrent.futures import ThreadPoolExecutor

    bounds = np.linspace(0, n, workers + 1).astype(int)
    parts = [{k: (v[a:b] if isinstance(k, str) else v) for k, v in inputs.items()} for a, b in zip(bounds[:-1], bounds[1:])]
    plan(tape, outputs)  # built once, before the threads share it
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda p: run(tape, p, outputs), parts))
    except DomainError:
        return run(tape, inputs, outputs)  # again whole, so the message names the element in the whole batch
    joined = []
    for k in range(len(outputs)):
        pieces = [r[k] for r in results]
        if all(np.ndim(p) == 0 for p in pieces):
            joined.append(pieces[0])  # the same constant in every part (a derivative that doesn't vary)
        else:
            sizes = [b - a for a, b in zip(bounds[:-1], bounds[1:])]
            joined.append(np.concatenate([np.broadcast_to(p, (m,)) for p, m in zip(pieces, sizes)]))
    return joined
