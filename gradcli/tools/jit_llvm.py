"""--jit's main loop compiled by LLVM directly (llvmlite, which numba is built on), without numba's front end.

numba types and lowers every statement in Python, about a millisecond each: E5's value-and-gradient
loop of 600 statements spent 1.4 s there before LLVM saw it, and every process paid numba's import
and initialisation (about 1 s) before loading even a cached kernel. The loops --jit runs first are
straight-line code in a small subset of Python (export's "simd" and branch-free "numba" bodies, and the
fast functions of tools/jit_simd.py), so this module translates that same text to LLVM IR itself:
floats, 64-bit integers and booleans; + - * / on them, bit operations, comparisons, `a if c else b`
(a select), libm and LLVM's own sqrt/fabs/floor, and the fast functions, expanded where they are
called. What it doesn't know it refuses (`Unsupported`), and the loop stays numba's.

The object code is written to the --jit cache under a hash of the IR and the CPU it was built for, and
later runs load it in about a millisecond. Rows the loop flags still go to numba's exact loop.
"""

from __future__ import annotations

import ast
import ctypes
import ctypes.util
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from ..cachefiles import write_whole
from . import jit_simd


class Unsupported(Exception):
    """The loop uses something this translator doesn't write: it stays numba's."""


@dataclass
class _Val:
    value: Any  # an llvmlite.ir value
    kind: str  # "f" double, "i" int64, "b" bool (i1)


_LIBM_1 = {"exp", "expm1", "log", "log1p", "log2", "log10", "sin", "cos", "tan", "sinh", "cosh", "tanh", "asin", "acos",
           "atan", "asinh", "acosh", "atanh", "erf", "erfc", "lgamma", "cbrt"}  # fmt: skip
_LIBM_2 = {"atan2", "hypot", "pow", "fmod"}
_RENAME = {"gamma": "tgamma"}
_LLVM_1 = {"sqrt": "llvm.sqrt", "fabs": "llvm.fabs", "floor": "llvm.floor", "ceil": "llvm.ceil", "rint": "llvm.rint"}
_INTRINSICS = {"_bits", "_double", "_stream", "_fence"}
_FLAG_ARRAYS = ("redo", "bad")


@cache
def _functions() -> dict[str, ast.FunctionDef]:
    """The fast functions (tools/jit_simd.py's module), by name, expanded where a loop calls them."""
    tree = ast.parse(jit_simd.module_source())
    return {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name not in _INTRINSICS}


class _Writer:
    """Translates statements into an IRBuilder's current block; `env` maps names to values."""

    def __init__(self, ll: Any, builder: Any, module: Any, arrays: dict[str, tuple[Any, str]], index: Any) -> None:
        self.ll, self.b, self.module, self.arrays, self.index = ll, builder, module, arrays, index
        self.f64, self.i64, self.i1 = ll.DoubleType(), ll.IntType(64), ll.IntType(1)
        self.fence = False
        self._declared: dict[str, Any] = {}
        self._nontemporal: Any = None

    # -- values ---------------------------------------------------------------

    def const(self, value: object) -> _Val:
        if isinstance(value, bool):
            return _Val(self.ll.Constant(self.i1, int(value)), "b")
        if isinstance(value, int):
            if not -(1 << 63) <= value < (1 << 63):
                raise Unsupported(f"integer {value} out of int64")
            return _Val(self.ll.Constant(self.i64, value), "i")
        if isinstance(value, float):
            return _Val(self.ll.Constant(self.f64, value), "f")
        raise Unsupported(f"constant {value!r}")

    def as_float(self, v: _Val) -> Any:
        if v.kind == "f":
            return v.value
        if v.kind == "i":
            return self.b.sitofp(v.value, self.f64)
        raise Unsupported("a boolean used as a number")

    def _call(self, name: str, args: list[Any], n: int) -> Any:
        fn = self._declared.get(name)
        if fn is None:
            if name.startswith("llvm."):
                fn = self.module.declare_intrinsic(name, [self.f64])
            else:
                fn = self.ll.Function(self.module, self.ll.FunctionType(self.f64, [self.f64] * n), name=name)
            self._declared[name] = fn
        return self.b.call(fn, args)

    # -- expressions ----------------------------------------------------------

    def expr(self, node: ast.expr, env: dict[str, Any]) -> Any:
        b = self.b
        if isinstance(node, ast.Constant):
            return self.const(node.value)
        if isinstance(node, ast.Name):
            if node.id not in env:
                raise Unsupported(f"name {node.id}")
            return env[node.id]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "math":
            values = {"inf": float("inf"), "nan": float("nan"), "pi": 3.141592653589793, "e": 2.718281828459045}
            if node.attr in values:
                return self.const(values[node.attr])
            raise Unsupported(f"math.{node.attr}")
        if isinstance(node, ast.Tuple):
            return tuple(self.expr(e, env) for e in node.elts)
        if isinstance(node, ast.UnaryOp):
            v = self.expr(node.operand, env)
            if isinstance(node.op, ast.USub):
                if v.kind == "f":
                    return _Val(b.fneg(v.value), "f")
                if v.kind == "i":
                    return _Val(b.neg(v.value), "i")
            if isinstance(node.op, ast.UAdd) and v.kind in "fi":
                return v
            if isinstance(node.op, ast.Not) and v.kind == "b":
                return _Val(b.not_(v.value), "b")
            raise Unsupported(f"unary {type(node.op).__name__} on {v.kind}")
        if isinstance(node, ast.BinOp):
            return self.binop(node.op, self.expr(node.left, env), self.expr(node.right, env))
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise Unsupported("a chained comparison")
            return self.compare(node.ops[0], self.expr(node.left, env), self.expr(node.comparators[0], env))
        if isinstance(node, ast.BoolOp):  # on booleans only: both sides are pure, so `and` is `&`
            vals = [self.expr(e, env) for e in node.values]
            if any(v.kind != "b" for v in vals):
                raise Unsupported("and/or on numbers")
            out = vals[0].value
            for v in vals[1:]:
                out = b.and_(out, v.value) if isinstance(node.op, ast.And) else b.or_(out, v.value)
            return _Val(out, "b")
        if isinstance(node, ast.IfExp):
            c, t, f = self.expr(node.test, env), self.expr(node.body, env), self.expr(node.orelse, env)
            if c.kind != "b":
                raise Unsupported("a condition that isn't a comparison")
            if t.kind == f.kind:
                return _Val(b.select(c.value, t.value, f.value), t.kind)
            return _Val(b.select(c.value, self.as_float(t), self.as_float(f)), "f")
        if isinstance(node, ast.Call):
            return self.call(node, env)
        raise Unsupported(type(node).__name__)

    def binop(self, op: ast.operator, x: _Val, y: _Val) -> _Val:
        b = self.b
        if isinstance(op, (ast.BitAnd, ast.BitOr)) and x.kind == y.kind and x.kind in "bi":
            return _Val(b.and_(x.value, y.value) if isinstance(op, ast.BitAnd) else b.or_(x.value, y.value), x.kind)
        if x.kind == "i" and y.kind == "i":
            ops = {ast.Add: b.add, ast.Sub: b.sub, ast.Mult: b.mul, ast.LShift: b.shl, ast.RShift: b.ashr}
            if type(op) in ops:
                return _Val(ops[type(op)](x.value, y.value), "i")
        if isinstance(op, (ast.Add, ast.Sub, ast.Mult, ast.Div)) and "b" not in (x.kind, y.kind):
            ops = {ast.Add: b.fadd, ast.Sub: b.fsub, ast.Mult: b.fmul, ast.Div: b.fdiv}
            return _Val(ops[type(op)](self.as_float(x), self.as_float(y)), "f")
        raise Unsupported(f"{type(op).__name__} on {x.kind}, {y.kind}")

    def compare(self, op: ast.cmpop, x: _Val, y: _Val) -> _Val:
        names = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
        if type(op) not in names:
            raise Unsupported(type(op).__name__)
        sym = names[type(op)]
        if x.kind == "i" and y.kind == "i":
            return _Val(self.b.icmp_signed(sym, x.value, y.value), "b")
        if "b" in (x.kind, y.kind):
            raise Unsupported("a comparison of booleans")
        fx, fy = self.as_float(x), self.as_float(y)
        # Python's comparisons of floats: false with a nan, except != (true)
        cmp = self.b.fcmp_unordered(sym, fx, fy) if sym == "!=" else self.b.fcmp_ordered(sym, fx, fy)
        return _Val(cmp, "b")

    def call(self, node: ast.Call, env: dict[str, Any]) -> Any:
        f = node.func
        if node.keywords:
            raise Unsupported("keyword arguments")
        if isinstance(f, ast.Name) and f.id == "_stream" and len(node.args) == 3:  # _stream(out0, i, value)
            array, index = node.args[0], node.args[1]
            if not (isinstance(array, ast.Name) and isinstance(index, ast.Name) and index.id == "i"):
                raise Unsupported("a _stream that isn't of a[i]")
            self.store(array.id, self.expr(node.args[2], env), nontemporal=True)
            return None
        args = [self.expr(a, env) for a in node.args]
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in ("math", "np"):
            name = f.attr
            if name == "isnan" and len(args) == 1 and args[0].kind == "f":
                return _Val(self.b.fcmp_unordered("uno", args[0].value, args[0].value), "b")
            if name == "isfinite" and len(args) == 1 and args[0].kind == "f":
                a = self._call("llvm.fabs", [args[0].value], 1)
                return _Val(self.b.fcmp_ordered("<", a, self.ll.Constant(self.f64, float("inf"))), "b")
            if name in _LLVM_1 and len(args) == 1:
                return _Val(self._call(_LLVM_1[name], [self.as_float(args[0])], 1), "f")
            if (name in _LIBM_1 or name in _RENAME) and len(args) == 1:
                return _Val(self._call(_RENAME.get(name, name), [self.as_float(args[0])], 1), "f")
            if name in _LIBM_2 and len(args) == 2:
                return _Val(self._call(name, [self.as_float(a) for a in args], 2), "f")
            raise Unsupported(f"{f.value.id}.{name}")
        if not isinstance(f, ast.Name):
            raise Unsupported("a call of an expression")
        name = f.id
        if name == "abs" and len(args) == 1 and args[0].kind == "f":
            return _Val(self._call("llvm.fabs", [args[0].value], 1), "f")
        if name == "_bits" and len(args) == 1 and args[0].kind == "f":
            return _Val(self.b.bitcast(args[0].value, self.i64), "i")
        if name == "_double" and len(args) == 1 and args[0].kind == "i":
            return _Val(self.b.bitcast(args[0].value, self.f64), "f")
        if name == "_fence" and not args:
            self.fence = True
            return None
        fn = _functions().get(name)
        if fn is None or len(fn.args.args) != len(args):
            raise Unsupported(f"the function {name}")
        inner = {a.arg: v for a, v in zip(fn.args.args, args)}
        return self.block(fn.body, inner)

    # -- statements -----------------------------------------------------------

    def store(self, array: str, v: _Val, nontemporal: bool = False) -> None:
        if array not in self.arrays:
            raise Unsupported(f"the array {array}")
        ptr, kind = self.arrays[array]
        if kind == "b":
            if v.kind != "b":
                raise Unsupported("a number stored as a flag")
            value = self.b.zext(v.value, self.ll.IntType(8))
        else:
            value = self.as_float(v)
        store = self.b.store(value, self.b.gep(ptr, [self.index], inbounds=True))
        if nontemporal:
            if self._nontemporal is None:
                self._nontemporal = self.module.add_metadata([self.ll.Constant(self.ll.IntType(32), 1)])
            store.set_metadata("nontemporal", self._nontemporal)

    def load(self, array: str) -> _Val:
        ptr, kind = self.arrays.get(array, (None, None))
        if kind != "f":
            raise Unsupported(f"a load from {array}")
        return _Val(self.b.load(self.b.gep(ptr, [self.index], inbounds=True)), "f")

    def block(self, body: Sequence[ast.stmt], env: dict[str, Any]) -> Any:
        """Straight-line statements; the value of a `return`, if there is one (it must come last)."""
        for k, st in enumerate(body):
            if isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) and isinstance(st.value.value, str):
                continue  # a docstring
            if isinstance(st, ast.Return):
                if k != len(body) - 1 or st.value is None:
                    raise Unsupported("a return before the end")
                return self.expr(st.value, env)
            if isinstance(st, ast.Expr) and isinstance(st.value, ast.Call):
                self.call(st.value, env)
            elif isinstance(st, ast.AugAssign) and isinstance(st.target, ast.Name):
                env[st.target.id] = self.binop(st.op, self.expr(st.target, env), self.expr(st.value, env))
            elif isinstance(st, ast.Assign) and len(st.targets) == 1:
                self.assign(st.targets[0], st.value, env)
            else:
                raise Unsupported(type(st).__name__)
        return None

    def assign(self, target: ast.expr, value: ast.expr, env: dict[str, Any]) -> None:
        if isinstance(target, ast.Subscript):  # out0[i] = …, redo[i] = …
            if not (isinstance(target.value, ast.Name) and isinstance(target.slice, ast.Name) and target.slice.id == "i"):
                raise Unsupported("a store that isn't a[i]")
            self.store(target.value.id, self.expr(value, env))
            return
        if isinstance(value, ast.Subscript):  # x = col0[i]
            if not (isinstance(value.value, ast.Name) and isinstance(value.slice, ast.Name) and value.slice.id == "i"):
                raise Unsupported("a load that isn't a[i]")
            v: Any = self.load(value.value.id)
        else:
            v = self.expr(value, env)
        if isinstance(target, ast.Name):
            if not isinstance(v, _Val):
                raise Unsupported("a tuple into one name")
            env[target.id] = v
        elif isinstance(target, ast.Tuple) and all(isinstance(t, ast.Name) for t in target.elts):
            if not isinstance(v, tuple) or len(v) != len(target.elts):
                raise Unsupported("unpacking")
            for t, x in zip(target.elts, v):
                env[t.id] = x  # type: ignore[attr-defined]
        else:
            raise Unsupported("an assignment target")


def kernel_ir(params: Sequence[str], body: Sequence[str], after: Sequence[str] = ()) -> str:
    """LLVM IR of `void kernel(i64 n, double* params…)`: `for i in range(n): body`, then `after` (a fence).
    Flag arrays (redo, bad) are bytes, as numpy's booleans; every array is its own memory (noalias)."""
    from llvmlite import ir

    module = ir.Module(name="gradcli_jit")
    f64, i64 = ir.DoubleType(), ir.IntType(64)
    kinds = ["b" if p in _FLAG_ARRAYS else "f" for p in params]
    types = [ir.IntType(8).as_pointer() if k == "b" else f64.as_pointer() for k in kinds]
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [i64, *types]), name="kernel")
    for a in fn.args[1:]:
        a.add_attribute("noalias")
    entry, loop, done = fn.append_basic_block("entry"), fn.append_basic_block("loop"), fn.append_basic_block("done")
    b = ir.IRBuilder(entry)
    n = fn.args[0]
    b.cbranch(b.icmp_signed("<=", n, ir.Constant(i64, 0)), done, loop)
    b.position_at_end(loop)
    i = b.phi(i64)
    i.add_incoming(ir.Constant(i64, 0), entry)
    writer = _Writer(ir, b, module, {p: (a, k) for p, a, k in zip(params, fn.args[1:], kinds)}, i)
    tree = ast.parse("\n".join(body) + "\n" + "\n".join(after))
    writer.block(tree.body, {})
    nxt = b.add(i, ir.Constant(i64, 1), flags=["nuw", "nsw"])
    i.add_incoming(nxt, b.block)
    b.cbranch(b.icmp_signed("<", nxt, n), loop, done)
    b.position_at_end(done)
    if writer.fence:
        b.fence("seq_cst")
    b.ret_void()
    return str(module)


# -- compiling, caching, calling -------------------------------------------------------------------------------


@cache
def _machine() -> Any:
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    libm = ctypes.util.find_library("m")
    if libm:
        llvm.load_library_permanently(libm)  # the loops call libm's exp, sin, asin, …: resolved in this process
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(),
                                        opt=3, codemodel="jitdefault")  # fmt: skip


def object_name(ir_text: str) -> str:
    """The object file's name: the IR, the CPU and LLVM's version (another machine's code is never loaded)."""
    import llvmlite
    import llvmlite.binding as llvm

    tag = f"{llvmlite.__version__}|{llvm.get_host_cpu_name()}|{llvm.get_host_cpu_features().flatten()}|"
    return "gradcli_llvm_" + hashlib.sha256((tag + ir_text).encode("utf-8")).hexdigest()[:24] + ".o"


def compile_object(ir_text: str) -> bytes:
    """Optimized (O3, loops and straight-line code vectorized) machine code of the IR."""
    import llvmlite.binding as llvm

    tm = _machine()
    module = llvm.parse_assembly(ir_text)
    module.triple = tm.triple
    module.data_layout = str(tm.target_data)
    module.verify()
    options = llvm.create_pipeline_tuning_options(speed_level=3)
    options.loop_vectorization = True
    options.slp_vectorization = True
    builder = llvm.create_pass_builder(tm, options)
    builder.getModulePassManager().run(module, builder)
    return bytes(tm.emit_object(module))


_ENGINES: list[Any] = []  # the loaded code lives as long as its engine


def load_object(data: bytes, n_arrays: int) -> Callable[..., None]:
    """The kernel in an object file as a function of arrays: f(*arrays), n = the last array's length. ctypes
    releases the GIL during the call, so threads run parts of a batch at once."""
    import llvmlite.binding as llvm

    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _machine())
    engine.add_object_file(llvm.ObjectFileRef.from_data(data))
    engine.finalize_object()
    _ENGINES.append(engine)
    address = engine.get_function_address("kernel")
    if not address:
        raise Unsupported("no kernel in the object file")
    proto = ctypes.CFUNCTYPE(None, ctypes.c_int64, *([ctypes.c_void_p] * n_arrays))
    native = proto(address)

    def run(*arrays: np.ndarray) -> None:  # contiguous float64 columns and results, a bool flag array last (Kernel.run)
        native(arrays[-1].shape[0], *[_address(a) for a in arrays])

    run.native = native  # type: ignore[attr-defined]
    return run


def _address(a: np.ndarray) -> int:
    """Where a contiguous array's data starts: through the buffer protocol (0.3 µs), or numpy's ctypes view (1.8 µs)
    for memory numpy won't lend writable (a read-only input column)."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    except (TypeError, ValueError):
        return a.ctypes.data


def read_object(path: str) -> bytes | None:
    """The object code in a cache file, or None when it is missing or not what was written (a truncated or damaged
    file: LLVM doesn't check an object file it loads, and a bad one would crash the process)."""
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except OSError:
        return None
    digest, data = blob[:32], blob[32:]
    return data if len(blob) > 32 and hashlib.sha256(data).digest() == digest else None


def write_object(path: str, data: bytes) -> None:
    """The object code to a cache file, after its SHA-256 (read_object checks it), written whole or not at all."""
    write_whole(path, hashlib.sha256(data).digest() + data)  # a read-only cache: compiled again next time


def cached_kernel(folder: str, ir_text: str, n_arrays: int) -> tuple[Callable[..., None], bool]:
    """The kernel of this IR: its object file from the cache folder, or compiled now and written there. (f, cached)"""
    path = os.path.join(folder, object_name(ir_text))
    data = read_object(path)
    if data is not None:
        return load_object(data, n_arrays), True
    data = compile_object(ir_text)
    write_object(path, data)
    return load_object(data, n_arrays), False
