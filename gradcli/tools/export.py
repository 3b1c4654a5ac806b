"""`gradcli export`: the optimized primal + derivative tape as a standalone function.

One generator for every target: the tape is built once (derivative simplification and the
tape's hash-consing are its CSE), the live instructions are taken in order from the evaluation
plan (which also knows which domain checks can fire), and each becomes one assignment. How a
primitive is written comes from its table entry (`Primitive.code_form()`: an expression over
numpy's function names); `_SPELL` says how each language writes those names, `_REWRITE` spells
the ones a language lacks in terms of others. Templates are parsed once each (they are ours,
never user text) and turned into a format string per language; nothing recurses over the program.

Targets: python (floats and `math`), numpy (arrays, elementwise), c (doubles, <math.h>), latex
(one aligned equation per instruction), numba and simd (the scalar bodies of --jit's exact loop
and of its fast loop, which vectorizes: tools/jit.py).
"""

from __future__ import annotations

import ast
import keyword
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from ..api import Expression
from ..engine import derivatives, evaluate
from ..engine.primitives import PRIMITIVES
from ..engine.tape import Tape
from ..errors import UsageError
from ..gcpause import gc_paused
from . import jit_simd

LANGUAGES = ("python", "numpy", "c", "latex")
KINDS = ("value", "grad", "hessian", "jacobian")


class ExportError(UsageError):
    """The program uses something export can't write in the asked language (exit 2)."""


# -- the tape to export -----------------------------------------------------------------------


@dataclass
class Built:
    """The tape and what to return from it: `shape` nests root indices (None: a structural zero)."""

    tape: Tape
    names: tuple[str, ...]  # the function's parameters: the program's free variables, in order
    roots: list[int | None]  # every returned number, flattened in order
    kind: str
    outputs: tuple[str, ...]
    wrt: tuple[str, ...]
    labels: list[tuple[Any, ...]] = field(default_factory=list)  # per root: ("value", k), ("grad", k, w), ("hess", a, b)


def build(expr: Expression, kind: str = "grad", wrt: Sequence[str] | None = None) -> Built:
    """The primal tape with the derivatives `kind` asks for appended, at scalar points."""
    if kind not in KINDS:
        raise UsageError(f"unknown export kind {kind!r}: use {', '.join(KINDS)}")
    names = tuple(expr.variables)
    point = {v: np.zeros(()) for v in names}
    for op, param in zip(expr.tape.ops, expr.tape.params):
        if op == "const" and param.ndim:  # a vector literal of numbers is one array constant
            raise ExportError("export doesn't support vector literals yet: it writes scalar, elementwise programs")
        if op not in ("var", "const") and not PRIMITIVES[op].elementwise:
            raise ExportError(f"export doesn't support {PRIMITIVES[op].syntax or op} yet: it writes scalar, elementwise programs")
    wrt_names = tuple(expr._wrt(list(wrt) if wrt else None, point))
    outs = list(expr.lowered.outputs)
    n_out = len(outs)
    if kind in ("grad", "hessian") and n_out != 1:
        raise UsageError(f"the program has {n_out} outputs ({', '.join(expr.output_names)}): use --jacobian for every gradient")
    tape = derivatives.prepare(expr.specialised(point), {v: () for v in names})
    index = [tape._index.get(("var", w)) for w in wrt_names]
    present = [i for i in index if i is not None]
    roots: list[int | None] = list(outs)
    labels: list[tuple[Any, ...]] = [("value", k) for k in range(n_out)]
    if kind in ("grad", "hessian", "jacobian"):
        grads_by_out = []
        for k, o in enumerate(outs):
            got = dict(zip(present, derivatives.grad(tape, o, present)))
            grads = [got.get(i) if i is not None else None for i in index]
            grads_by_out.append(grads)
            roots += grads
            labels += [("grad", k, w) for w in wrt_names]
        if kind == "hessian":
            grads = grads_by_out[0]
            upto = max([g for g in grads if g is not None], default=-1) + 1
            columns = {}
            for b, ib in zip(wrt_names, index):
                if ib is None or upto == 0:
                    columns[b] = [None] * len(grads)
                    continue
                tangent = derivatives.jvp(tape, {ib: tape.const(1.0)}, upto, zero_wins=True)
                columns[b] = [None if g is None else tangent[g] for g in grads]
            for ka, a in enumerate(wrt_names):
                for b in wrt_names:
                    roots.append(columns[b][ka])
                    labels.append(("hess", a, b))
    return Built(tape, names, roots, kind, tuple(expr.output_names), wrt_names, labels)


# -- templates --------------------------------------------------------------------------------

# How each language writes numpy's names; None: it can't. {0}, {1}: the arguments, {p}: the parameter.
_MATH = {n: f"math.{n}({{0}})" for n in ("exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "sin", "cos", "tan",
                                          "sinh", "cosh", "tanh", "erf", "erfc", "gamma")}  # fmt: skip
_MATH.update({f"arc{n}": f"math.a{n}({{0}})" for n in ("sin", "cos", "tan", "sinh", "cosh", "tanh")})
_SPELL: dict[str, dict[str, str | None]] = {
    "python": {
        **_MATH,
        "absolute": "abs({0})",
        "floor": "float(math.floor({0}))",
        "ceil": "float(math.ceil({0}))",
        "rint": "float(round({0}))",
        "maximum": "max({0}, {1})",
        "minimum": "min({0}, {1})",
        "gammaln": "math.lgamma({0})",
        "arctan2": "math.atan2({0}, {1})",
        "hypot": "math.hypot({0}, {1})",
        "power": "math.pow({0}, {1})",
        "isfinite": "math.isfinite({0})",
        "psi": "_digamma({0})",
        "polygamma": "_polygamma({0}, {1})",
        "remainder": "({0} % {1})",
        "fmod": "math.fmod({0}, {1})",
    },
    "numba": {
        **_MATH,
        "absolute": "abs({0})",
        "floor": "np.floor({0})",
        "ceil": "np.ceil({0})",
        "rint": "np.rint({0})",
        "cbrt": "np.cbrt({0})",
        "maximum": "max({0}, {1})",
        "minimum": "min({0}, {1})",
        "gammaln": "math.lgamma({0})",
        "arctan2": "math.atan2({0}, {1})",
        "hypot": "math.hypot({0}, {1})",
        "power": "math.pow({0}, {1})",
        "isfinite": "math.isfinite({0})",
        "psi": None,
        "polygamma": None,
        "remainder": "({0} % {1})",
        "fmod": "math.fmod({0}, {1})",
    },
    "c": {
        **{n: f"{n}({{0}})" for n in ("exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "cbrt", "sin", "cos", "tan",
                                      "sinh", "cosh", "tanh", "erf", "erfc", "floor", "ceil", "isfinite")},  # fmt: skip
        **{f"arc{n}": f"a{n}({{0}})" for n in ("sin", "cos", "tan", "sinh", "cosh", "tanh")},
        "absolute": "fabs({0})",
        "rint": "nearbyint({0})",
        "maximum": "fmax({0}, {1})",
        "minimum": "fmin({0}, {1})",
        "gamma": "tgamma({0})",
        "gammaln": "lgamma({0})",
        "arctan2": "atan2({0}, {1})",
        "hypot": "hypot({0}, {1})",
        "power": "pow({0}, {1})",
        "psi": "gradcli_digamma({0})",
        "polygamma": "gradcli_polygamma({0}, {1})",
        "remainder": "({0} - {1} * floor({0} / {1}))",
        "fmod": "fmod({0}, {1})",
    },
    "numpy": {
        "erf": "scipy.special.erf({0})",
        "erfc": "scipy.special.erfc({0})",
        "gamma": "scipy.special.gamma({0})",
        "gammaln": "scipy.special.gammaln({0})",
        "psi": "scipy.special.psi({0})",
        "polygamma": "scipy.special.polygamma({0}, {1})",
        **{n: f"scipy.special.{n}({{0}})" for n in ("j0", "j1", "y0", "y1", "i0", "i1", "k0", "k1", "erfinv", "erfcinv")},
        **{n: f"scipy.special.{n}({{0}}, {{1}})" for n in ("jv", "yv", "iv", "kv", "gammainc", "gammaincc")},
        "betainc": "scipy.special.betainc({0}, {1}, {2})",
    },
}
# "simd": the body of --jit's fast loop (tools/jit_simd.py): numba's, with exp/log/sin/cos/tanh it can vectorize.
_SPELL["simd"] = {**_SPELL["numba"], **{n: jit_simd.call(n) for n in jit_simd.FUNCTIONS}}
# Names written through others where a language lacks them (the table entry's numpy name is the meaning).
_REWRITE = {
    "sign": "where({0} > 0, 1.0, where({0} < 0, -1.0, {0}))",
    "logaddexp": "where({0} == {1}, {0} + 0.6931471805599453, maximum({0}, {1}) + log1p(exp(-absolute({0} - {1}))))",
    "cbrt": "where({0} < 0, -power(-{0}, 0.3333333333333333), power({0}, 0.3333333333333333))",
}
# Functions a language's library lacks, written out once at the top of the file when the code calls them.
_HELPERS = {
    "_digamma(": """
def _digamma(x):
    \"\"\"Γ'(x)/Γ(x): reflection below 0, recurrence up to 10, then the asymptotic series (error ~1e-15).\"\"\"
    if x <= 0 and x == math.floor(x):
        return math.nan
    if x < 0:
        return _digamma(1 - x) - math.pi / math.tan(math.pi * (x - round(x)))  # x - round(x): exact
    r = 0.0
    while x < 10:
        r -= 1 / x
        x += 1
    f = 1 / (x * x)
    return r + math.log(x) - 0.5 / x - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))))
""",
    "_polygamma(": """
def _polygamma(n, x):
    # polygamma psi^(n)(x), n >= 1: reflection below 0 (n = 1), the recurrence up to 20 + n, then the asymptotic series.
    if x <= 0 and x == math.floor(x):
        return math.nan
    if n == 1 and x < 0:
        return (math.pi / math.sin(math.pi * (x - round(x)))) ** 2 - _polygamma(1, 1 - x)  # x - round(x): exact
    f = math.factorial
    r = 0.0
    while x < 20 + n:
        r += 1 / x ** (n + 1)
        x += 1
    t = f(n - 1) / x**n + f(n) / (2 * x ** (n + 1))
    for k, b in ((1, 1 / 6), (2, -1 / 30), (3, 1 / 42), (4, -1 / 30), (5, 5 / 66), (6, -691 / 2730), (7, 7 / 6)):
        t += b * f(2 * k + n - 1) / (f(2 * k) * x ** (2 * k + n))
    return (1 if n % 2 else -1) * (f(n) * r + t)
""",
    "gradcli_polygamma(": """
/* polygamma psi^(n)(x), n >= 1: reflection below 0 (n = 1), the recurrence up to 20 + n, then the asymptotic series. */
static double gradcli_polygamma(int n, double x)
{
    static const double b[7] = {1.0 / 6, -1.0 / 30, 1.0 / 42, -1.0 / 30, 5.0 / 66, -691.0 / 2730, 7.0 / 6};
    if (x <= 0 && x == floor(x)) return NAN;
    if (n == 1 && x < 0) {
        double s = 3.141592653589793 / sin(3.141592653589793 * (x - nearbyint(x)));  /* x - nearbyint(x): exact */
        return s * s - gradcli_polygamma(1, 1 - x);
    }
    double r = 0.0;
    while (x < 20 + n) { r += pow(x, -(n + 1)); x += 1; }
    double fn = tgamma(n + 1.0);
    double t = tgamma((double)n) / pow(x, n) + fn / (2 * pow(x, n + 1));
    for (int k = 1; k <= 7; k++)
        t += b[k - 1] * tgamma(2.0 * k + n) / (tgamma(2.0 * k + 1) * pow(x, 2 * k + n));
    return (n % 2 ? 1 : -1) * (fn * r + t);
}
""",
    "gradcli_digamma(": """
/* digamma: reflection below 0, recurrence up to 10, then the asymptotic series (error ~1e-15). */
static double gradcli_digamma(double x)
{
    if (x <= 0 && x == floor(x)) return NAN;
    if (x < 0) return gradcli_digamma(1 - x) - 3.141592653589793 / tan(3.141592653589793 * (x - nearbyint(x)));
    double r = 0.0;
    while (x < 10) { r -= 1 / x; x += 1; }
    double f = 1 / (x * x);
    return r + log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}
""",
}


def _helpers(body: str, lang: str) -> list[str]:
    """The helpers the body calls, in its language (a C helper's name holds the Python one's: gradcli_digamma)."""
    c_helper = {call: call.startswith("gradcli_") for call in _HELPERS}
    return [text.strip("\n") for call, text in _HELPERS.items() if call in body and c_helper[call] == (lang == "c")]


_INFIX = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


def literal(value: float, lang: str) -> str:
    """A float as the language writes it; negatives parenthesised, so they drop into any operand."""
    if math.isnan(value):
        text = {"python": "math.nan", "numba": "math.nan", "simd": "math.nan", "numpy": "np.nan", "c": "NAN"}[lang]
    elif math.isinf(value):
        inf = {"python": "math.inf", "numba": "math.inf", "simd": "math.inf", "numpy": "np.inf", "c": "INFINITY"}[lang]
        text = inf if value > 0 else f"-{inf}"
    else:
        text = repr(float(value))
    return f"({text})" if text.startswith("-") else text


@cache
def template(code: str, lang: str) -> str:
    """A table template (numpy names) as a format string of the language, or ExportError naming what's missing."""
    source = code.replace("{p}", "_p")
    for k in range(4):
        source = source.replace("{" + str(k) + "}", f"_a{k}")
    tree = ast.parse(source, mode="eval").body
    text = _render(tree, lang)
    return text[1:-1] if _outer_parens(text) else text  # instructions' arguments are names: no parentheses needed


def _render(node: ast.AST, lang: str) -> str:
    """One template node in the language (templates are a few nodes deep: recursion over them is fine)."""
    if isinstance(node, ast.Name):
        if node.id == "_p":
            return "{p}"
        return "{" + node.id[2:] + "}"
    if isinstance(node, ast.Constant):
        return literal(float(node.value), lang).replace("{", "{{")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return f"(-{_render(node.operand, lang)})"
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = _render(node.left, lang), _render(node.right, lang)
        if isinstance(node.op, ast.Pow) and lang == "c":
            return f"pow({a}, {b})"
        return f"({a} {_BINOPS[type(node.op)]} {b})"
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
        a, b = _render(node.left, lang), _render(node.right, lang)
        word = {"python": ("and", "or"), "c": ("&&", "||")}.get(lang, ("&", "|"))[isinstance(node.op, ast.BitOr)]
        return f"({a} {word} {b})"
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        return f"({_render(node.left, lang)} {_COMPARE[type(node.ops[0])]} {_render(node.comparators[0], lang)})"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = node.func.id
        args = [_render(a, lang) for a in node.args]
        if name == "where":
            c, a, b = args
            if lang == "numpy":
                return f"np.where({c}, {a}, {b})"
            if lang == "c":
                return f"({c} ? {a} : {b})"
            return f"({a} if {c} else {b})"
        if name in _INFIX:
            return f"({args[0]} {_INFIX[name]} {args[1]})"
        if name == "negative":
            return f"(-{args[0]})"
        spelled = _spelling(name, lang)
        if spelled is None:
            raise ExportError(f"export --lang {lang} doesn't support {name} yet")
        fmt = spelled
        if spelled == "REWRITE":
            fmt = "(" + template(_REWRITE[name], lang) + ")"
        return fmt.format(*args, p="{p}")
    raise ExportError(f"export can't read the code template {ast.dump(node)}")  # a table entry's typo: a bug


def _spelling(name: str, lang: str) -> str | None:
    table = _SPELL[lang]
    if name in table:
        return table[name]
    if lang == "numpy" and isinstance(getattr(np, name, None), np.ufunc):
        return f"np.{name}({', '.join('{' + str(k) + '}' for k in range(_arity(name)))})"
    if name in _REWRITE:
        return "REWRITE"
    if lang == "numpy":
        return f"np.{name}({', '.join('{' + str(k) + '}' for k in range(_arity(name)))})"
    return None


def _arity(name: str) -> int:
    fn = getattr(np, name, None)
    return fn.nin if isinstance(fn, np.ufunc) else 1


@cache
def instruction_code(op: str, lang: str) -> str:
    """The format string of one primitive in one language (made once per pair)."""
    prim = PRIMITIVES[op]
    code = prim.code_form()
    if code is None:
        raise ExportError(f"export doesn't support {prim.syntax or op} yet")
    try:
        return template(code, lang)
    except ExportError:
        raise ExportError(f"export --lang {lang} doesn't support {prim.syntax or op} yet") from None


# -- straight-line code -----------------------------------------------------------------------


@dataclass
class Lines:
    """The body of a generated function: argument names, one statement per live instruction, result texts."""

    body: list[str]
    results: list[str]  # one text per root
    args: list[str]  # the function's parameter names
    checked: bool  # some domain check can fire (the code tracks `undefined`)
    kinks: list[str]
    domains: list[str]


_RESERVED = {"math", "np", "scipy", "nan", "inf", "value", "undefined", "shape", "warnings", "out", "bad", "i", "n", "prange",
             "fine", "redo", "ir", "types", "intrinsic", "njit"}
_C_KEYWORDS = {"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
               "float", "for", "goto", "if", "int", "long", "register", "return", "short", "signed", "sizeof", "static",
               "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "inline", "restrict",
               "NAN", "INFINITY", "grad", "hess", "jac"}  # fmt: skip


def param_names(names: Sequence[str], lang: str) -> list[str]:
    """The function's parameters: each variable's own name where the language allows it."""
    out = []
    for k, n in enumerate(names):
        ok = n.isidentifier() and not keyword.iskeyword(n) and n not in _RESERVED and not n.startswith("_")
        if lang == "c":
            ok = ok and n.isascii() and n not in _C_KEYWORDS
        out.append(n if ok else f"in{k}_")
    return out


def printable(text: str) -> str:
    """User text for a comment: one line, printable characters only (a newline would end the comment)."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


REUSE_NAMES_FROM = 5000  # live instructions


def straight_line(built: Built, lang: str, args: Sequence[str]) -> Lines:
    """One statement per live instruction, in tape order, with the language's domain checks."""
    tape = built.tape
    steps = _steps(tape, built.roots)
    names: dict[int, str] = {}
    body: list[str] = []
    taken = set(args)
    prefix = next(p for p in ("v", "w", "_v") if not any(a.startswith(p) and a[len(p) :].isdigit() for a in taken))
    k = 0
    kinks: dict[str, None] = {}
    domains: dict[str, None] = {}
    checked = False
    by_name = dict(zip(built.names, args))
    # A long program reuses the names of values no longer needed (as registers): Python compiles a function of
    # 10⁵ distinct locals far slower than one of a few hundred. Short programs keep one name per instruction.
    reuse = lang in ("python", "numpy") and len(steps) > REUSE_NAMES_FROM
    last_use: dict[int, int] = {}
    if reuse:
        for s, (_i, _op, _p, argv, _param, _r) in enumerate(steps):
            for x in argv:
                last_use[x] = s
        for r in built.roots:
            if r is not None:
                last_use[r] = len(steps)  # returned at the end: never reused
    free: list[str] = []
    formats: dict[str, tuple[str, bool]] = {}  # op → (format string, uses the param)
    ops, n_checked = tape.ops, tape.n_checked
    c_lang = lang == "c"
    for s, (i, op, prim, argv, param, rules) in enumerate(steps):
        if op == "const":
            value = tape.params[i]
            if value.shape != ():
                raise ExportError("export writes scalar programs; this one has an array constant")
            names[i] = literal(float(value), lang)
            continue
        if op == "var":
            if param not in by_name:
                raise ExportError(f"export can't write the input {param!r}")  # tangent or cotangent inputs: not built here
            names[i] = by_name[param]
            continue
        if i < n_checked and prim.kink and not _integer_power(tape, op, argv):
            kinks[f"{prim.syntax or op}: {prim.kink}"] = None
        a = [names[x] for x in argv]
        if reuse:
            for x in set(argv) if len(argv) > 1 else argv:
                if last_use.get(x) == s and ops[x] not in ("var", "const"):
                    free.append(names[x])
        if free:
            name = free.pop()
        else:
            k += 1
            name = f"{prefix}{k}"
        if op == "mul0" or op == "pow":
            rhs = _apply(op, a, param, lang, tape, argv)
        else:
            form = formats.get(op)
            if form is None:
                code = instruction_code(op, lang)
                form = formats[op] = (code, "{p}" in code)
            rhs = form[0].format(*a, p=repr(param)) if form[1] else form[0].format(*a)
        if not rules:
            body.append(f"double {name} = {rhs};" if c_lang else f"{name} = {rhs}")
        else:
            codes = []
            for d in rules:
                if d.code is None:
                    raise ExportError(f"export doesn't support the domain check of {prim.syntax or op} yet")
                codes.append(template(d.code, lang).format(*a))
            if len(codes) > 1:
                codes = [f"({c})" for c in codes]
            what = printable(tape.text(i))
            shown = [printable(template(d.code, "python").format(*a)) for d in rules]
            domains[f"{what} is undefined where {' or '.join(shown)}"] = None
            body += _checked(lang, name, rhs, codes, what)
            checked = True
        names[i] = name
    zero = literal(0.0, lang)
    results = [zero if r is None else names[r] for r in built.roots]
    return Lines(body, results, list(args), checked, list(kinks), list(domains))


def _integer_power(tape: Tape, op: str, argv: Sequence[int]) -> bool:
    """x^n with a constant whole n ≥ 1: pow's conventions (at x = y = 0, for a varying y) don't apply."""
    e = tape.const_value(argv[1]) if op == "pow" else None
    return e is not None and e.shape == () and float(e) >= 1 and float(e) == int(float(e))


def _steps(tape: Tape, roots: Sequence[int | None]) -> list[tuple[int, str, Any, tuple[int, ...], Any, tuple[Any, ...]]]:
    """The live instructions in order, each with the domain rules that can fire (as evaluate.py checks them)."""
    live_roots = [r for r in roots if r is not None]
    if not live_roots:
        return []
    live = evaluate.needed(tape, live_roots)
    upto = max(live_roots) + 1
    checked = min(upto, tape.n_checked)
    with_domain = {op for op in set(tape.ops[:checked]) if op in PRIMITIVES and PRIMITIVES[op].domain}
    signs = evaluate.sign_analysis(tape, checked) if with_domain else []  # only domain checks use it
    ops, targs, params = tape.ops, tape.args, tape.params
    steps = []
    for i in range(upto):
        if not live[i]:
            continue
        op = ops[i]
        prim = PRIMITIVES.get(op)
        rules = evaluate._rules(tape, prim, targs[i], signs) if i < checked and op in with_domain else ()  # noqa: SLF001
        steps.append((i, op, prim, targs[i], params[i], rules))
    return steps


def _apply(op: str, a: list[str], param: Any, lang: str, tape: Tape, argv: Sequence[int]) -> str:
    if op == "mul0":  # a nonzero finite constant factor can't make 0·inf: a plain product
        for c, other in ((0, 1), (1, 0)):
            v = tape.const_value(argv[c])
            if v is not None and v.shape == () and float(v) != 0.0 and math.isfinite(float(v)):
                return a[other] if float(v) == 1.0 else f"{a[c]} * {a[other]}"
    if op == "pow":
        e = tape.const_value(argv[1])
        if e is not None and e.shape == () and float(e) == 2.0:
            return f"{a[0]} * {a[0]}"  # what numpy's x**2 does (a square, not a pow)
    return instruction_code(op, lang).format(*a, p=repr(param))


def _assign(lang: str, name: str, rhs: str) -> str:
    return f"double {name} = {rhs};" if lang == "c" else f"{name} = {rhs}"


def _outer_parens(text: str) -> bool:
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for j, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and j < len(text) - 1:
            return False
    return True


def _checked(lang: str, name: str, rhs: str, codes: list[str], what: str) -> list[str]:
    """An instruction of the user's program that may be undefined: nan there, and `undefined` set."""
    if lang == "numpy":
        cond = " | ".join(codes)
        return [f"bad = {cond}  # where {what} is undefined", f"{name} = np.where(bad, np.nan, {rhs})", "undefined |= bad"]
    if lang == "c":
        cond = " || ".join(codes)
        return [f"double {name} = NAN;  /* {what.replace('*/', '* /')} */",
                f"if ({cond}) undefined = 1; else {name} = {rhs};"]  # fmt: skip
    cond = " or ".join(codes)
    nan = "math.nan"
    if lang == "numba":
        return [f"if {cond}:", f"    {name} = {nan}", "    undefined = True", "else:", f"    {name} = {rhs}"]
    if lang == "simd":  # no branch: a row where a check fires is redone by the exact loop, which sets nan and the flag
        return [f"{name} = {rhs}", f"fine &= not ({' | '.join(codes)})"]
    return [f"if {cond}:  # {what} is undefined", f"    {name} = {nan}", f"    undefined = undefined or {what!r}",
            "else:", f"    {name} = {rhs}"]  # fmt: skip


# -- whole functions --------------------------------------------------------------------------


def function_name(kind: str) -> str:
    return {"value": "f", "grad": "f_and_grad", "hessian": "f_grad_hessian", "jacobian": "f_and_jacobian"}[kind]


def _returns(built: Built, results: list[str]) -> str:
    """value, (dx, dy) / value, (dx, dy), ((hxx, hxy), (hyx, hyy)) / (f, g), ((dfx, dfy), (dgx, dgy))."""
    m, n = len(built.outputs), len(built.wrt)
    values, rest = results[:m], results[m:]

    def tup(items: list[str]) -> str:
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"

    value = values[0] if m == 1 else tup(values)
    if built.kind == "value":
        return value
    if built.kind == "grad":
        return f"{value}, {tup(rest)}"
    if built.kind == "hessian":
        grads, hess = rest[:n], rest[n:]
        return f"{value}, {tup(grads)}, {tup([tup(hess[a * n : (a + 1) * n]) for a in range(n)])}"
    return f"{value}, {tup([tup(rest[k * n : (k + 1) * n]) for k in range(m)])}"


def _header(built: Built, source: str, lang: str, lines: Lines) -> list[str]:
    what = {"value": "the value", "grad": "the value and the gradient", "hessian": "the value, gradient and Hessian",
            "jacobian": "every output and its gradient (the Jacobian's rows)"}[built.kind]  # fmt: skip
    out = [f"Generated by gradcli export --lang {lang}: {what} of", f"  {printable(source)}",
           "Straight-line code over the optimized primal and derivative tape, one assignment per instruction."]  # fmt: skip
    renamed = [f"{a} is {printable(n)}" for n, a in zip(built.names, lines.args) if a != n]
    if renamed:
        out.append(f"Parameters renamed for the language: {', '.join(renamed)}.")
    if built.kind != "value":
        out.append(f"Derivatives by {', '.join(built.wrt) or '(no variables)'}; a derivative that is structurally zero is 0.")
    if lines.kinks:
        out.append("Conventions at kinks (as gradcli, PyTorch's):")
        out += [f"  {k}" for k in lines.kinks]
    if lines.domains:
        out.append("Domain checks (the user's program only; derivatives follow IEEE arithmetic):")
        out += [f"  {d}" for d in lines.domains]
    return out


@gc_paused
def emit(expr: Expression, lang: str, kind: str = "grad", wrt: Sequence[str] | None = None) -> str:
    """The whole function as source text in `lang`."""
    if lang not in LANGUAGES:
        raise UsageError(f"unknown --lang {lang!r}: use {', '.join(LANGUAGES)}")
    built = build(expr, kind, wrt)
    if lang == "latex":
        return _latex(built, expr.text)
    args = param_names(built.names, lang)
    lines = straight_line(built, lang, args)
    if lang == "c":
        return _c(built, expr.text, args, lines)
    return _python(built, expr.text, args, lines, lang)


def _python(built: Built, source: str, args: list[str], lines: Lines, lang: str) -> str:
    name = function_name(built.kind)
    head = _header(built, source, lang, lines)
    if lang == "numpy":
        head += ["Takes numbers or arrays of one shape (or shapes that broadcast): each element is its own point, so",
                 "the gradient is per element, as gradcli --points; where the program is undefined: nan and a warning."]
    else:
        head += ["Plain floats and math: where gradcli's number would be inf or nan without a domain check (1/0",
                 "in a derivative, an overflow) Python's math raises ZeroDivisionError, OverflowError or ValueError."]
    text = ["# " + h for h in head]
    imports = ["import math"] if lang == "python" else ["import warnings", "", "import numpy as np"]
    body_text = "\n".join(lines.body)
    if lang == "numpy" and "scipy.special" in body_text:
        imports.append("import scipy.special")
    text += imports
    for helper in _helpers(body_text, lang):
        text += ["", "", helper]
    text += ["", "", f"def {name}({', '.join(args)}):"]
    ind = "    "
    body: list[str] = []
    results = list(lines.results)
    if lang == "numpy":
        body.append(f"shape = np.broadcast_shapes({', '.join(f'np.shape({a})' for a in args)})")
        if lines.checked:
            body.append("undefined = np.zeros(shape, dtype=bool)")
        body.append("with np.errstate(all='ignore'):")
        body += [ind + s for s in lines.body] or [ind + "pass"]
        results = [f"np.array(np.broadcast_to({r}, shape), dtype=float)" for r in results]
    else:
        if lines.checked:
            body.append("undefined = None")
        body += lines.body
    if lines.checked:
        flat = ", ".join(results)
        if lang == "numpy":
            body.append(f"result = [{flat}]")
            body.append("if np.any(undefined & np.any(np.isnan(np.array(result)), axis=0)):")
            body.append(ind + "warnings.warn('the expression is undefined at some points: nan there', RuntimeWarning)")
        else:
            body.append(f"result = [{flat}]")
            body.append("if undefined and any(r != r for r in result):")
            body.append(ind + "raise ValueError(undefined + ' is undefined at this point')")
        results = [f"result[{k}]" for k in range(len(results))]
    body.append(f"return {_returns(built, results)}")
    text += [ind + s for s in body]
    return "\n".join(text) + "\n"


def _c(built: Built, source: str, args: list[str], lines: Lines) -> str:
    name = function_name(built.kind)
    m, n = len(built.outputs), len(built.wrt)
    head = _header(built, source, "c", lines)
    outs = ["double *value"]
    layout = [f"value[0..{m - 1}]: the value of each output" if m > 1 else "*value: the value"]
    if built.kind == "grad":
        outs.append("double *grad")
        layout.append(f"grad[{n}]: " + ", ".join(f"grad[{k}] = d/d{w}" for k, w in enumerate(built.wrt)))
    elif built.kind == "hessian":
        outs += ["double *grad", "double *hess"]
        layout.append(f"grad[{n}] as the gradient; hess[{n * n}]: the Hessian, row-major (hess[i*{n} + j] = d2/dw_i dw_j)")
    elif built.kind == "jacobian":
        outs.append("double *jac")
        layout.append(f"jac[{m * n}]: row-major, jac[k*{n} + j] = d(output k)/d{'/'.join(built.wrt) or '?'}[j]")
    head += layout
    head += ["Returns 0, or 1 where the program is undefined at the point (its results are then NAN there).",
             "IEEE arithmetic throughout: an infinite slope is INFINITY, as in gradcli. Compile with -lm."]  # fmt: skip
    text = ["// " + printable(h) for h in head]
    params = [f"double {a}" for a in args] + outs
    text += ["#include <math.h>"]
    for helper in _helpers("\n".join(lines.body), "c"):
        text += ["", helper]
    text += ["", f"int {name}({', '.join(params) or 'void'})", "{"]
    ind = "    "
    body = ["int undefined = 0;"] + lines.body
    results = lines.results
    targets = [f"value[{k}]" for k in range(m)]
    if built.kind == "grad":
        targets += [f"grad[{k}]" for k in range(n)]
    elif built.kind == "hessian":
        targets += [f"grad[{k}]" for k in range(n)] + [f"hess[{k}]" for k in range(n * n)]
    elif built.kind == "jacobian":
        targets += [f"jac[{k}]" for k in range(m * n)]
    body += [f"{t} = {r};" for t, r in zip(targets, results)]
    if results:
        body.append(f"return undefined && ({' || '.join(f'isnan({t})' for t in targets)});")
    else:
        body.append("return 0;")
    text += [ind + s for s in body] + ["}"]
    return "\n".join(text) + "\n"


def _latex(built: Built, source: str) -> str:
    """An aligned block: one equation per live instruction, then the results by name."""
    from .symbolic import latex_text

    tape = built.tape
    steps = _steps(tape, built.roots)
    texts: dict[int, tuple[str, int]] = {}
    rows = []
    k = 0
    for i, op, _prim, argv, param, _rules in steps:
        if op == "const":
            from ..engine.printing import const_text

            t = const_text(tape.params[i])
            texts[i] = ("\\pi" if t == "pi" else t, 3 if t.startswith("-") else 9)
            continue
        if op == "var":
            texts[i] = (_latex_name(str(param)), 9)
            continue
        k += 1
        shown = op
        a = [texts[x] for x in argv]
        if op == "xlogy":
            a = [a[0], latex_text("log", [a[1]])]
            shown = "mul"
        elif op == "mul0":
            shown = "mul"
        if op == "polygamma":
            rhs = f"\\psi^{{({param})}}\\left({a[0][0]}\\right)"
        else:
            rhs = latex_text(shown, a)[0]
        name = f"v_{{{k}}}"
        rows.append(f"{name} &= {rhs}")
        texts[i] = (name, 9)
    labels = []
    for label, r in zip(built.labels, built.roots):
        value = "0" if r is None else texts[r][0]
        labels.append(f"{_latex_label(label, len(built.outputs))} &= {value}")
    body = " \\\\\n".join(rows + labels)
    return f"% gradcli export --lang latex: {printable(source)}\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}\n"


def _latex_name(name: str) -> str:
    if len(name) > 1 and name[-1].isdigit() and name.rstrip("0123456789").isalpha():
        stem = name.rstrip("0123456789")
        return f"{stem}_{{{name[len(stem):]}}}"
    return name.replace("_", "\\_")


def _latex_label(label: tuple[Any, ...], outputs: int) -> str:
    if label[0] == "hess":
        a, b = label[1:]
        return f"\\frac{{\\partial^2 f}}{{\\partial {_latex_name(a)}\\,\\partial {_latex_name(b)}}}"
    f = "f" if outputs == 1 else f"f_{{{label[1] + 1}}}"
    if label[0] == "value":
        return f
    return f"\\frac{{\\partial {f}}}{{\\partial {_latex_name(label[2])}}}"


def referenced_ops(built: Built) -> list[str]:
    """The op of every live instruction (the jit's cost model counts them)."""
    roots = [r for r in built.roots if r is not None]
    live = evaluate.needed(built.tape, roots) if roots else []
    return [op for op, keep in zip(built.tape.ops, live) if keep]
