"""Sweep constraints: boolean expressions over dotted config keys, by a restricted AST walker."""

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

    Allowed: numbers, strings, booleans, dotted keys, + - * / // % ** (exponent |e| <= 64),
    comparisons (chains too), and/or/not, ``x if c else y``, ``in`` over a literal tuple/list,
    and min, max, abs, log2, log10, sqrt, ceil, floor. Anything else is rejected when parsed.
    """

    def __init__(self, text: str, *, file: str, where: str):
        self.text, self.file, self.where = text, file, where
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            raise ConfigError(f"invalid constraint {text!r}: {exc.msg}", file=file,
                              key=where) from None
        self.names: set[str] = set()
        self._check(tree.body)
        self.tree = tree.body

    def _check(self, node: ast.AST) -> None:
        name = _dotted(node)
        if name is not None:
            self.names.add(name)
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
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
        raise ConfigError(f"constraint {self.text!r}: {type(node).__name__} is not allowed "
                          "(only arithmetic, comparisons, and/or/not and min/max/abs/log2/"
                          "log10/sqrt/ceil/floor over config keys)", file=self.file,
                          key=self.where)

    def check_names(self, known: set[str]) -> None:
        """Every name must be a config key (or a function)."""
        for n in sorted(self.names):
            if n not in known:
                raise ConfigError(f"constraint {self.text!r} names {n!r}, which is not a config "
                                  "key", file=self.file, key=self.where)

    def __call__(self, lookup: Callable[[str], Any]) -> bool:
        return bool(self._eval(self.tree, lookup))

    def _eval(self, node: ast.AST, lk: Callable[[str], Any]) -> Any:
        name = _dotted(node)
        if name is not None:
            return lk(name)
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
            return (not x) if isinstance(node.op, ast.Not) else (-x if isinstance(
                node.op, ast.USub) else +x)
        if isinstance(node, ast.BinOp):
            a, b = self._eval(node.left, lk), self._eval(node.right, lk)
            if isinstance(node.op, ast.Pow) and abs(b) > 64:
                raise ConfigError(f"constraint {self.text!r}: exponent too large", file=self.file,
                                  key=self.where)
            return _BINOPS[type(node.op)](a, b)
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
            return _FUNCS[node.func.id](*(self._eval(a, lk) for a in node.args))  # type: ignore[attr-defined]
        raise AssertionError(type(node))  # pragma: no cover - rejected by _check

