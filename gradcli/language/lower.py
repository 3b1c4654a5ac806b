"""AST → tape, with an explicit stack (no recursion), resolving names against the table.

User functions (`f(t) = t^2 + 1`) are inlined: a call pushes the function's body onto the same
stack with its parameters bound to the arguments' instructions, so a 10,000-deep chain of calls
needs no recursion, and hash-consing shares repeated calls. Subscripts (`x[1:]`) are constant
integers, folded here, so each slice is one instruction with a hashable param.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.primitives import BESSEL_SYNTAX, CONSTANTS, FUNCTIONS, PRIMITIVES
from ..engine.primitives.core import MAX_AXES
from ..engine.tape import Tape
from ..errors import GrammarError
from .nodes import (
    Assignment,
    BadTarget,
    Call,
    Definition,
    Index,
    Name,
    Node,
    Number,
    NumberVector,
    Operator,
    Outputs,
    Program,
    Slice,
    Span,
    Vector,
)
from .syntax import caret_lines

_SUPERSCRIPTS = str.maketrans({c: f"^{d}" for d, c in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")})
COMPARISONS = frozenset({"lt", "le", "gt", "ge", "eq", "ne"})
# Names people type for functions the table has under another name, or that are one step from one:
# each is (primitive, reciprocal?): sec(x) is 1/cos(x) on the tape, so it needs no derivative rule of its own.
ALIASES: dict[str, tuple[str, bool]] = {"ln": ("log", False), "sec": ("cos", True), "csc": ("sin", True), "cot": ("tan", True)}
CONSTANT_ALIASES = {"π": "pi"}
# scipy's Bessel names (j0 … k1, jv yv iv kv) are also everyday variable names (y1, k0, i1), so they name
# the function only where the grammar says "call": `j0(x)`; a bare `y1` stays a variable. A program that
# uses one both ways (`y1 * y1(x)`) is an error rather than a guess, and a user function of that name wins.
CALL_ONLY_ALIASES: dict[str, str] = dict(BESSEL_SYNTAX)
_ARITH = {"add", "sub", "mul", "div", "pow", "neg"}


@dataclass(frozen=True)
class Lowered:
    tape: Tape
    outputs: tuple[int, ...]
    output_names: tuple[str, ...]
    variables: tuple[str, ...]  # free variables in order of first appearance
    text: str  # the statements without comments, joined by "; "


@dataclass
class _Function:
    definition: Definition
    closure: dict[str, int]  # the program's assignments when the function was defined


class _Scope:
    """Where names resolve: a function body's parameters and the assignments it was defined after,
    or (closure None) the program's own assignments."""

    __slots__ = ("names", "closure", "function")

    def __init__(self, names: dict[str, int], closure: dict[str, int] | None = None, function: str = "") -> None:
        self.names, self.closure, self.function = names, closure, function


def _error(program: Program, span: Span, message: str) -> GrammarError:
    return GrammarError(message, caret_lines(program.source, span.line, span.column, span.end - span.start))


def _suggest(name: str, user: dict[str, _Function] | None = None) -> str:
    import difflib  # only when a name is unknown

    names = sorted(FUNCTIONS) + sorted(ALIASES) + sorted(CALL_ONLY_ALIASES) + sorted(user or ()) + sorted(CONSTANTS)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(name.lower(), names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _arity_text(counts: list[int]) -> str:
    words = [str(c) if c >= 0 else "any number of" for c in sorted(counts)]
    text = " or ".join(words)
    return f"{text} argument" + ("" if words == ["1"] else "s")


def unique_labels(labels: list[str]) -> tuple[str, ...]:
    """Output labels that never collide: the k-th repeat of a label gets "#k" (x, x → x, x#2).

    `#` starts a comment, so no output's own text can end in "#k": a made label never meets a real one.
    """
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return tuple(out)


class _Lowerer:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.tape = Tape(program.source)
        self.env: dict[str, int] = {}
        self.free: list[str] = []
        self.used_free: set[str] = set()
        self.functions: dict[str, _Function] = {}
        self.assigned = {s.target for s in program.statements if isinstance(s, Assignment)}
        self.top = _Scope(self.env)
        self._bare: set[str] | None = None  # names used as variables, found when a call-only alias is met

    def error(self, span: Span, message: str) -> GrammarError:
        return _error(self.program, span, message)

    # -- statements ---------------------------------------------------------------------------

    def run(self) -> Lowered:
        program = self.program
        self._collect_functions()
        last = program.statements[-1]
        outputs: list[int] = []
        for stmt in program.statements:
            if isinstance(stmt, BadTarget):
                raise self.error(
                    stmt.target.span, "the left side of = must be a name (a = …) or a function head of names (f(t) = …)"
                )
            if isinstance(stmt, Definition):
                if stmt is last:
                    message = f"the program ends with the definition of {stmt.name}: add an expression that uses it"
                    raise self.error(stmt.span, message)
                self.functions[stmt.name].closure = dict(self.env)
            elif isinstance(stmt, Assignment):
                target = stmt.target
                if target in CONSTANTS or target in CONSTANT_ALIASES:
                    raise self.error(stmt.span, f"{target} is a constant and can't be assigned")
                if target in FUNCTIONS or target in ALIASES:
                    raise self.error(stmt.span, f"{target} is a function name and can't be assigned")
                if target in self.used_free:
                    raise self.error(stmt.span, f"{target} is used before it is assigned")
                self.env[target] = self.expr(stmt.value)
                if stmt is last:
                    outputs = [self.env[target]]
            elif isinstance(stmt, Outputs):
                refs = [self.expr(item) for item in stmt.items]
                if stmt is last:
                    outputs = refs
        tape = self.tape
        tape.n_checked = len(tape)
        if isinstance(last, Assignment):
            names: tuple[str, ...] = (last.target,)
        else:
            assert isinstance(last, Outputs)
            names = unique_labels([" ".join(program.source[n.span.start : n.span.end].split()) for n in last.items])
        text = "; ".join(" ".join(program.source[s.span.start : s.span.end].split()) for s in program.statements)
        return Lowered(tape, tuple(outputs), names, tuple(self.free), text)

    def _collect_functions(self) -> None:
        """Every definition up front (a body may call a function defined below it), then a cycle check."""
        for stmt in self.program.statements:
            if not isinstance(stmt, Definition):
                continue
            name = stmt.name
            if name in FUNCTIONS or name in ALIASES:
                raise self.error(stmt.head, f"{name} is a built-in function; give your function another name")
            if name in CONSTANTS or name in CONSTANT_ALIASES:
                raise self.error(stmt.head, f"{name} is a constant, not a function name")
            if name in self.functions:
                raise self.error(stmt.head, f"{name} is defined twice; give each function one definition")
            if name in self.assigned:
                raise self.error(stmt.head, f"{name} is both a function and an assigned variable; rename one of them")
            seen: set[str] = set()
            for p in stmt.params:
                if p.id in CONSTANTS or p.id in CONSTANT_ALIASES:
                    raise self.error(p.span, f"{p.id} is a constant and can't be a parameter")
                if p.id in seen:
                    raise self.error(p.span, f"{name} names its parameter {p.id} twice")
                seen.add(p.id)
            self.functions[name] = _Function(stmt, {})
        if self.functions:
            self._check_cycles()

    def _check_cycles(self) -> None:
        calls: dict[str, list[str]] = {}
        for name, fn in self.functions.items():
            found: list[str] = []
            stack: list[Any] = [fn.definition.body]
            while stack:
                node = stack.pop()
                kind = type(node)
                if kind is Call:
                    if node.func in self.functions and node.func not in found:
                        found.append(node.func)
                    stack.extend(node.args)
                elif kind is Operator:
                    stack.extend(node.args)
                elif kind is Vector:
                    stack.extend(node.items)
                elif kind is Index:
                    stack.append(node.base)
            calls[name] = found
        # Iterative depth-first search; a grey node met again closes a cycle.
        state: dict[str, int] = {}  # 1 on the path, 2 done
        for root in self.functions:
            if root in state:
                continue
            path: list[str] = [root]
            iters = [iter(calls[root])]
            state[root] = 1
            while iters:
                nxt = next(iters[-1], None)
                if nxt is None:
                    state[path.pop()] = 2
                    iters.pop()
                    continue
                if state.get(nxt) == 1:
                    cycle = path[path.index(nxt) :] + [nxt]
                    who = f"{nxt} calls itself" if len(cycle) == 2 else f"{', '.join(cycle[:-2])} and {cycle[-2]} call each other"
                    raise self.error(
                        self.functions[nxt].definition.head,
                        f"{who} ({' → '.join(cycle)}): functions are inlined, so they can't be recursive",
                    )
                if nxt not in state:
                    state[nxt] = 1
                    path.append(nxt)
                    iters.append(iter(calls[nxt]))

    # -- expressions ----------------------------------------------------------------------------

    def expr(self, root: Node) -> int:
        # Post-order walk on an explicit stack: (node, in_condition, expanded?, scope).
        stack: list[tuple[Any, bool, bool, _Scope]] = [(root, False, False, self.top)]
        done: list[int] = []
        tape = self.tape
        while stack:
            node, in_cond, expanded, scope = stack.pop()
            kind = type(node)
            if kind is Number:
                done.append(tape.const(node.value))
                continue
            if kind is Name:
                done.append(self.name(node, scope))
                continue
            if kind is Operator and node.op == "neg" and type(node.args[0]) is Number:
                done.append(tape.const(-node.args[0].value))  # -2 is a number, so x^-2 has a constant exponent
                continue
            if kind is NumberVector:
                done.append(tape.const(np.array(node.values, dtype=float)))
                continue
            if kind is Vector and not expanded:
                numbers = _numbers(node.items)
                if numbers is not None:  # [0.5, -2, …]: one constant, however long (issue 12)
                    done.append(tape.const(numbers))
                    continue
            if kind is Index:
                if expanded:
                    done.append(tape.emit("getitem", (done.pop(),), param=self.subscript(node, scope), span=node.span))
                else:
                    self.subscript(node, scope)  # errors in the subscript before those in the base
                    stack.append((node, in_cond, True, scope))
                    stack.append((node.base, in_cond, False, scope))
                continue
            children = node.items if kind is Vector else node.args
            if not expanded:
                if kind is Operator and node.op in COMPARISONS and not in_cond:
                    raise self.error(node.span, "comparisons are only allowed in the condition of where(cond, a, b)")
                stack.append((node, in_cond, True, scope))
                if kind is Call:
                    if node.func in CALL_ONLY_ALIASES and node.func not in self.functions:
                        node = self.call_only_alias(node)
                        stack[-1] = (node, in_cond, True, scope)
                    self.check_call(node)
                    if node.func == "where":  # comparisons are allowed in its condition
                        for k in range(len(children) - 1, -1, -1):
                            stack.append((children[k], in_cond or k == 0, False, scope))
                        continue
                for child in reversed(children):
                    stack.append((child, in_cond, False, scope))
                continue
            n = len(children)
            if n:
                args = done[-n:]
                del done[-n:]
            else:
                args = []
            if kind is Operator:
                done.append(tape.emit(node.op, args, span=node.span))
                continue
            if kind is Call and node.func in self.functions:
                fn = self.functions[node.func]
                params = {p.id: a for p, a in zip(fn.definition.params, args)}
                stack.append((fn.definition.body, in_cond, False, _Scope(params, fn.closure, node.func)))
                continue
            done.append(_emit_node(node, tape, args))
        assert len(done) == 1
        return done[0]

    def name(self, node: Name, scope: _Scope) -> int:
        name = node.id
        if name in scope.names:
            return scope.names[name]
        if scope.closure is not None:
            if name in scope.closure:
                return scope.closure[name]
            if name in self.assigned:
                raise self.error(
                    node.span,
                    f"{scope.function} uses {name}, which is assigned after {scope.function} is defined:"
                    f" define {scope.function} after it, or pass {name} as a parameter",
                )
        if name in CONSTANTS:
            return self.tape.const(CONSTANTS[name])
        if name in CONSTANT_ALIASES:
            return self.tape.const(CONSTANTS[CONSTANT_ALIASES[name]])
        if name in FUNCTIONS or name in ALIASES or name in self.functions:
            raise self.error(node.span, f"{name} is a function; call it as {name}(…)")
        if any(ord(ch) in _SUPERSCRIPTS for ch in name):
            plain = name.translate(_SUPERSCRIPTS)
            raise self.error(node.span, f"{name} is not a name; write powers with ^, e.g. {plain}")
        if name not in self.used_free:
            self.used_free.add(name)
            self.free.append(name)
        return self.tape.var(name, node.span)

    def call_only_alias(self, node: Call) -> Call:
        """`j0(x)` as besselj0(x), unless the program also uses j0 as a variable (then neither reading is safe)."""
        if self._bare is None:
            self._bare = _bare_names(self.program)
        full = CALL_ONLY_ALIASES[node.func]
        if node.func in self._bare:
            raise self.error(
                node.func_span,
                f"{node.func} is a variable of this program and also scipy's name of {full}:"
                f" call the function {full}(…), or write {node.func}*(…) for a product",
            )
        return node._replace(func=full)

    def check_call(self, node: Call) -> None:
        n = len(node.args)
        fn = self.functions.get(node.func)
        if fn is not None:
            want = len(fn.definition.params)
            if n != want:
                raise self.error(node.span, f"{node.func} takes {_arity_text([want])}, got {n}")
            return
        if node.func in ALIASES:
            if n != 1:
                raise self.error(node.span, f"{node.func} takes 1 argument, got {n}")
            return
        overloads = FUNCTIONS.get(node.func)
        if overloads is None:
            if node.func in CONSTANTS or node.func in CONSTANT_ALIASES:
                raise self.error(node.func_span, f"{node.func} is a constant, not a function")
            hint = _suggest(node.func, self.functions)
            if not hint and n == 1:
                hint = f"; for a product write {node.func}*(…)"
            raise self.error(node.func_span, f"unknown function {node.func}{hint}")
        if n in overloads or (node.func in ("min", "max") and n >= 2):
            return
        raise self.error(node.span, f"{node.func} takes {_arity_text(list(overloads))}, got {n}")

    # -- subscripts ---------------------------------------------------------------------------

    def subscript(self, node: Index, scope: _Scope) -> tuple[Any, ...]:
        """x[…]'s subscripts as the getitem param: an int per indexed axis or a (start, stop, step) triple."""
        out: list[Any] = []
        for item in node.items:
            if type(item) is Slice:
                parts = tuple(None if p is None else self.integer(p, scope) for p in (item.start, item.stop, item.step))
                if parts[2] == 0:
                    raise self.error(item.step.span, "a slice step can't be zero")  # type: ignore[union-attr]
                out.append(parts)
            else:
                out.append(self.integer(item, scope))
        return tuple(out)

    def integer(self, node: Node, scope: _Scope) -> int:
        """A subscript's value: a constant expression of numbers, constants and assigned constants."""
        value = self.constant(node, scope)
        if not (np.isfinite(value) and value == int(value)):
            raise self.error(node.span, f"an index must be an integer; this one is {value:g}")
        return int(value)

    def constant(self, root: Node, scope: _Scope) -> float:
        stack: list[tuple[Any, bool]] = [(root, False)]
        done: list[float] = []
        while stack:
            node, expanded = stack.pop()
            kind = type(node)
            if kind is Number:
                done.append(node.value)
                continue
            if kind is Name:
                done.append(self.constant_name(node, scope))
                continue
            if kind is Operator and node.op in _ARITH or kind is Call and _scalar_function(node):
                children = node.args
                if not expanded:
                    stack.append((node, True))
                    stack.extend((c, False) for c in reversed(children))
                    continue
                n = len(children)
                args = done[len(done) - n :]
                del done[len(done) - n :]
                prim = PRIMITIVES[node.op] if kind is Operator else FUNCTIONS[node.func][n]
                with np.errstate(all="ignore"):
                    done.append(float(prim.apply([np.asarray(a) for a in args])))
                continue
            what = "len(…)" if kind is Call and node.func == "len" else "this"
            raise self.error(
                node.span,
                f"an index must be a constant integer, and {what} is known only at evaluation:"
                " count from the end with negative numbers (x[-1], x[:-1])",
            )
        return done[0]

    def constant_name(self, node: Name, scope: _Scope) -> float:
        name = node.id
        if name in CONSTANTS or name in CONSTANT_ALIASES:
            return CONSTANTS[CONSTANT_ALIASES.get(name, name)]
        ref = scope.names.get(name)
        if ref is None and scope.closure is not None:
            ref = scope.closure.get(name)
        value = None if ref is None else _fold(self.tape, ref)
        if value is None:
            raise self.error(node.span, f"an index must be a constant integer, and {name} is a variable")
        return value


def _bare_names(program: Program) -> set[str]:
    """Every name the program uses as a variable: assigned, a parameter, or read bare."""
    out: set[str] = set()
    stack: list[Any] = []
    for stmt in program.statements:
        if isinstance(stmt, Assignment):
            out.add(stmt.target)
            stack.append(stmt.value)
        elif isinstance(stmt, Definition):
            out.update(p.id for p in stmt.params)
            stack.append(stmt.body)
        elif isinstance(stmt, Outputs):
            stack.extend(stmt.items)
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is Name:
            out.add(node.id)
        elif kind is Call or kind is Operator:
            stack.extend(node.args)
        elif kind is Vector:
            stack.extend(node.items)
        elif kind is Index:
            stack.append(node.base)
            for item in node.items:
                if type(item) is Slice:
                    stack.extend(p for p in (item.start, item.stop, item.step) if p is not None)
                else:
                    stack.append(item)
    return out


def _scalar_function(node: Call) -> bool:
    """A built-in an index may use: elementwise (floor(7/2)), not one that needs a shape (len)."""
    prim = FUNCTIONS.get(node.func, {}).get(len(node.args))
    return prim is not None and prim.elementwise


def _fold(tape: Tape, root: int) -> float | None:
    """The value of a tape instruction built from constants alone (None if it reads a variable)."""
    needed = {root}
    stack = [root]
    while stack:
        i = stack.pop()
        if tape.ops[i] == "var":
            return None
        for a in tape.args[i]:
            if a not in needed:
                needed.add(a)
                stack.append(a)
    values: dict[int, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for i in sorted(needed):
            if tape.ops[i] == "const":
                values[i] = tape.params[i]
            else:
                values[i] = np.asarray(PRIMITIVES[tape.ops[i]].apply([values[a] for a in tape.args[i]], tape.params[i]))
    out = values[root]
    return float(out) if out.shape == () else None


def lower(program: Program) -> Lowered:
    return _Lowerer(program).run()


def _numbers(items: tuple[Node, ...]) -> np.ndarray | None:
    """The values of a vector literal whose items are all numbers or negated numbers, else None."""
    if not items:
        return None
    out = []
    append = out.append
    for item in items:
        kind = type(item)
        if kind is Number:
            append(item.value)
        elif kind is Operator and item.op == "neg" and type(item.args[0]) is Number:  # type: ignore[union-attr]
            append(-item.args[0].value)  # type: ignore[union-attr]
        else:
            return None
    return np.array(out, dtype=float)


def _emit_node(node: Node, tape: Tape, args: list[int]) -> int:
    if isinstance(node, Vector):
        consts = [tape.const_value(a) for a in args]
        first = consts[0] if consts else None
        if first is not None and first.ndim < MAX_AXES and all(c is not None and c.shape == first.shape for c in consts):
            return tape.const(np.stack(consts))  # type: ignore[arg-type]  # [[1, 2], [3, 4]] or [pi, e]: a constant too
        return tape.emit("stack", args, span=node.span)
    if isinstance(node, Operator):
        return tape.emit(node.op, args, span=node.span)
    assert isinstance(node, Call)
    if node.func in ALIASES:
        name, reciprocal = ALIASES[node.func]
        inner = tape.emit(name, args, span=node.span)
        return tape.emit("div", (tape.const(1.0), inner), span=node.span) if reciprocal else inner
    prim = FUNCTIONS[node.func].get(len(args))
    if prim is None:  # min/max of more than two: a chain of binary ones
        acc = tape.emit(node.func, args[:2], span=node.span)
        for a in args[2:]:
            acc = tape.emit(node.func, (acc, a), span=node.span)
        return acc
    return tape.emit(prim.name, args, span=node.span)
