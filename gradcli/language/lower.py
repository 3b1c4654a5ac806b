"""AST → tape, with an explicit stack (no recursion), resolving names against the table."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.primitives import CONSTANTS, FUNCTIONS
from ..engine.tape import Tape
from ..errors import GrammarError
from .nodes import Assignment, Call, Name, Node, Number, Operator, Outputs, Program, Span, Vector
from .syntax import caret_lines

_SUPERSCRIPTS = str.maketrans({c: f"^{d}" for d, c in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")})
COMPARISONS = frozenset({"lt", "le", "gt", "ge", "eq", "ne"})


@dataclass(frozen=True)
class Lowered:
    tape: Tape
    outputs: tuple[int, ...]
    output_names: tuple[str, ...]
    variables: tuple[str, ...]  # free variables in order of first appearance
    text: str  # the statements without comments, joined by "; "


def _error(program: Program, span: Span, message: str) -> GrammarError:
    return GrammarError(message, caret_lines(program.source, span.line, span.column, span.end - span.start))


def _suggest(name: str) -> str:
    import difflib  # only when a name is unknown

    names = sorted(FUNCTIONS) + sorted(CONSTANTS)
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


def lower(program: Program) -> Lowered:
    tape = Tape(program.source)
    env: dict[str, int] = {}
    free: list[str] = []
    used_free: set[str] = set()
    last = program.statements[-1]
    outputs: list[int] = []
    for stmt in program.statements:
        if isinstance(stmt, Assignment):
            if stmt.target in CONSTANTS:
                raise _error(program, stmt.span, f"{stmt.target} is a constant and can't be assigned")
            if stmt.target in FUNCTIONS:
                raise _error(program, stmt.span, f"{stmt.target} is a function name and can't be assigned")
            if stmt.target in used_free:
                raise _error(program, stmt.span, f"{stmt.target} is used before it is assigned")
            env[stmt.target] = _lower_expr(program, stmt.value, tape, env, free, used_free)
            if stmt is last:
                outputs = [env[stmt.target]]
        elif isinstance(stmt, Outputs):
            refs = [_lower_expr(program, item, tape, env, free, used_free) for item in stmt.items]
            if stmt is last:
                outputs = refs
    tape.n_checked = len(tape)
    if isinstance(last, Assignment):
        names: tuple[str, ...] = (last.target,)
    else:
        names = unique_labels([" ".join(program.source[n.span.start : n.span.end].split()) for n in last.items])
    text = "; ".join(" ".join(program.source[s.span.start : s.span.end].split()) for s in program.statements)
    return Lowered(tape, tuple(outputs), names, tuple(free), text)


def _lower_expr(program: Program, root: Node, tape: Tape, env: dict[str, int], free: list[str], used_free: set[str]) -> int:
    # Post-order walk: (node, in_condition, expanded?) on an explicit stack.
    stack: list[tuple[Node, bool, bool]] = [(root, False, False)]
    done: list[int] = []
    while stack:
        node, in_cond, expanded = stack.pop()
        kind = type(node)
        if kind is Number:
            done.append(tape.const(node.value))
            continue
        if kind is Name:
            done.append(_lower_name(program, node, tape, env, free, used_free))
            continue
        children = node.items if kind is Vector else node.args
        if not expanded:
            if kind is Operator and node.op in COMPARISONS and not in_cond:
                raise _error(program, node.span, "comparisons are only allowed in the condition of where(cond, a, b)")
            stack.append((node, in_cond, True))
            if kind is Call:
                _check_call(program, node)
                if node.func == "where":  # comparisons are allowed in its condition
                    for k in range(len(children) - 1, -1, -1):
                        stack.append((children[k], in_cond or k == 0, False))
                    continue
            for k in range(len(children) - 1, -1, -1):
                stack.append((children[k], in_cond, False))
            continue
        n = len(children)
        args = done[len(done) - n :] if n else []
        del done[len(done) - n :]
        done.append(_emit_node(node, tape, args))
    assert len(done) == 1
    return done[0]


def _lower_name(program: Program, node: Name, tape: Tape, env: dict[str, int], free: list[str], used_free: set[str]) -> int:
    name = node.id
    if name in env:
        return env[name]
    if name in CONSTANTS:
        return tape.const(CONSTANTS[name])
    if name in FUNCTIONS:
        raise _error(program, node.span, f"{name} is a function; call it as {name}(…)")
    if any(ord(ch) in _SUPERSCRIPTS for ch in name):
        plain = name.translate(_SUPERSCRIPTS)
        raise _error(program, node.span, f"{name} is not a name; write powers with ^, e.g. {plain}")
    if name not in used_free:
        used_free.add(name)
        free.append(name)
    return tape.var(name, node.span)


def _check_call(program: Program, node: Call) -> None:
    overloads = FUNCTIONS.get(node.func)
    if overloads is None:
        if node.func in CONSTANTS:
            raise _error(program, node.func_span, f"{node.func} is a constant, not a function")
        raise _error(program, node.func_span, f"unknown function {node.func}{_suggest(node.func)}")
    n = len(node.args)
    if n in overloads or (node.func in ("min", "max") and n >= 2):
        return
    got = f"got {n}"
    raise _error(program, node.span, f"{node.func} takes {_arity_text(list(overloads))}, {got}")


def _emit_node(node: Node, tape: Tape, args: list[int]) -> int:
    if isinstance(node, Vector):
        return tape.emit("stack", args, span=node.span)
    if isinstance(node, Operator):
        if node.op == "neg" and isinstance(node.args[0], Number):
            return tape.const(-node.args[0].value)  # -2 is a number, so x^-2 has a constant exponent
        return tape.emit(node.op, args, span=node.span)
    assert isinstance(node, Call)
    prim = FUNCTIONS[node.func].get(len(args))
    if prim is None:  # min/max of more than two: a chain of binary ones
        acc = tape.emit(node.func, args[:2], span=node.span)
        for a in args[2:]:
            acc = tape.emit(node.func, (acc, a), span=node.span)
        return acc
    return tape.emit(prim.name, args, span=node.span)
