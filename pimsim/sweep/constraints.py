"""Sweep constraints: boolean expressions over dotted config keys, by a restricted AST walker.

Bounded by construction (a hostile constraint is a one-line error, never a hang or a memory
blow-up): the text is at most :data:`MAX_TEXT` characters and its expression tree at most
:data:`MAX_DEPTH` deep; arithmetic takes numbers only (no string or tuple repetition); every
intermediate value is checked: an integer at most :data:`MAX_INT_BITS` bits, a float finite
with magnitude at most :data:`MAX_ABS`, and a power is refused before it is computed when its
exponent exceeds 64 or its result would exceed those bounds. There are no loops, names other
than config keys, attribute access or calls other than the listed functions.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from pimsim.errors import ConfigError

# ------------------------------------------------------------------------------ constraints

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_FUNCS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "abs": abs, "log2": math.log2, "log10": math.log10,
    "sqrt": math.sqrt, "ceil": math.ceil, "floor": math.floor,
}


_LITERALS = {"true": True, "false": False, "True": True, "False": False}

#: Longest constraint text, characters.
MAX_TEXT = 2000
#: Deepest expression tree (``a + b`` is 2 deep).
MAX_DEPTH = 50
#: Widest integer an expression may hold, bits.
MAX_INT_BITS = 256
#: Largest magnitude of a float an expression may hold.
MAX_ABS = 1e300
#: Largest exponent of a power.
MAX_EXPONENT = 64


def _depth(tree: ast.AST) -> int:
    """Depth of an AST, without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((c, d + 1) for c in ast.iter_child_nodes(node))
    return deepest


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float))  # bool is an int


def _bounded(v: Any) -> Any:
    """``v`` when it is within the bounds of an expression value (OverflowError if not)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        if v.bit_length() > MAX_INT_BITS:
            raise OverflowError(f"an intermediate integer of {v.bit_length()} bits (at most "
                                f"{MAX_INT_BITS})")
    elif isinstance(v, float):
        if not math.isfinite(v) or abs(v) > MAX_ABS:
            raise OverflowError(f"an intermediate value {v:.3g} (at most {MAX_ABS:g} in "
                                "magnitude)")
    elif not (v is None or isinstance(v, (str, tuple))):
        raise TypeError(f"a {type(v).__name__} value is not supported")
    return v


def _arith(op: ast.operator, a: Any, b: Any) -> Any:
    """``a op b`` for numbers only, powers bounded before they are computed."""
    if not (_is_num(a) and _is_num(b)):
        raise TypeError(f"arithmetic needs numbers, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    if isinstance(op, ast.Pow):
        if abs(b) > MAX_EXPONENT:
            raise OverflowError(f"exponent {b:.3g} too large (at most {MAX_EXPONENT})")
        if a != 0 and b > 0:
            bits = math.log2(abs(a)) * b  # log2 of the result's magnitude
            ints = isinstance(a, int) and isinstance(b, int)
            if bits > (MAX_INT_BITS if ints else math.log2(MAX_ABS)):
                raise OverflowError(f"{a:.3g} ** {b:.3g} is too large")
    return _bounded(_BINOPS[type(op)](a, b))


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name) and node.id in _LITERALS:
        return None
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


class Constraint:
    """A boolean expression over dotted config keys, evaluated by a restricted AST walker.

    Allowed: numbers, strings, booleans, dotted keys, + - * / // % ** (exponent |e| <= 64)
    on numbers, comparisons (chains too), and/or/not, ``x if c else y``, ``in`` over a literal
    tuple/list, and min, max, abs, log2, log10, sqrt, ceil, floor. Anything else is rejected
    when parsed; the bounds of this module hold while it is evaluated (a value out of them
    fails the point with the reason, as a division by zero does).
    """

    def __init__(self, text: str, *, file: str, where: str):
        self.text, self.file, self.where = text, file, where
        if len(text) > MAX_TEXT:
            raise ConfigError(f"constraint of {len(text):,} characters (at most {MAX_TEXT:,})",
                              file=file, key=where)
        shown = text if len(text) <= 80 else text[:77] + "..."
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            raise ConfigError(f"invalid constraint {shown!r}: {exc.msg}", file=file,
                              key=where) from None
        except (ValueError, RecursionError, MemoryError) as exc:
            raise ConfigError(f"invalid constraint {shown!r}: {str(exc)[:100] or 'too complex'}",
                              file=file, key=where) from None
        if _depth(tree.body) > MAX_DEPTH:
            raise ConfigError(f"constraint {shown!r} is nested deeper than {MAX_DEPTH} levels",
                              file=file, key=where)
        self.names: set[str] = set()
        self._check(tree.body)
        self.tree = tree.body

    def _check(self, node: ast.AST) -> None:
        name = _dotted(node)
        if name is not None:
            self.names.add(name)
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            try:
                _bounded(node.value)
            except OverflowError as exc:
                raise ConfigError(f"constraint {self.text[:80]!r}: {exc}", file=self.file,
                                  key=self.where) from None
            return
        if isinstance(node, ast.Name) and node.id in _LITERALS:
            return
        if isinstance(node, ast.BoolOp):
            for v in node.values:
                self._check(v)
            return
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
            self._check(node.operand)
            return
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            self._check(node.left)
            self._check(node.right)
            return
        if isinstance(node, ast.Compare) and all(type(o) in _CMPOPS for o in node.ops):
            self._check(node.left)
            for c in node.comparators:
                self._check(c)
            return
        if isinstance(node, ast.IfExp):
            for c in (node.test, node.body, node.orelse):
                self._check(c)
            return
        if isinstance(node, (ast.Tuple, ast.List)):
            for c in node.elts:
                self._check(c)
            return
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _FUNCS and not node.keywords):
            for a in node.args:
                self._check(a)
            return
        raise ConfigError(f"constraint {self.text[:80]!r}: {type(node).__name__} is not allowed "
                          "(only arithmetic, comparisons, and/or/not and min/max/abs/log2/"
                          "log10/sqrt/ceil/floor over config keys)", file=self.file,
                          key=self.where)

    def check_names(self, known: set[str]) -> None:
        """Every name must be a config key (or a function)."""
        for n in sorted(self.names):
            if n not in known:
                raise ConfigError(f"constraint {self.text[:80]!r} names {n[:80]!r}, which is not "
                                  "a config key", file=self.file, key=self.where)

    def __call__(self, lookup: Callable[[str], Any]) -> bool:
        return bool(self._eval(self.tree, lookup))

    def _eval(self, node: ast.AST, lk: Callable[[str], Any]) -> Any:
        name = _dotted(node)
        if name is not None:
            v = lk(name)
            return _bounded(tuple(v) if isinstance(v, list) else v)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return _LITERALS[node.id]
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return all(self._eval(v, lk) for v in node.values)
            return any(self._eval(v, lk) for v in node.values)
        if isinstance(node, ast.UnaryOp):
            x = self._eval(node.operand, lk)
            if isinstance(node.op, ast.Not):
                return not x
            if not _is_num(x):
                raise TypeError(f"arithmetic needs numbers, got {type(x).__name__}")
            return -x if isinstance(node.op, ast.USub) else +x
        if isinstance(node, ast.BinOp):
            return _arith(node.op, self._eval(node.left, lk), self._eval(node.right, lk))
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, lk)
            for op, comp in zip(node.ops, node.comparators):
                right = self._eval(comp, lk)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self._eval(node.body if self._eval(node.test, lk) else node.orelse, lk)
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(self._eval(e, lk) for e in node.elts)
        if isinstance(node, ast.Call):
            fname: str = node.func.id  # type: ignore[attr-defined]
            args = [self._eval(a, lk) for a in node.args]
            if not all(_is_num(a) or (isinstance(a, tuple) and all(map(_is_num, a))
                                      and fname in ("min", "max")) for a in args):
                raise TypeError(f"{fname}() needs numbers")
            return _bounded(_FUNCS[fname](*args))
        raise AssertionError(type(node))  # pragma: no cover - rejected by _check

