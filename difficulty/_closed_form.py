"""Numeric value of a simple LaTeX closed form (fractions, roots, pi) via a whitelisted AST."""

from __future__ import annotations

import ast
import math
import re

__all__ = ["closed_form_value"]


_LATEX_TO_PY = (
    (re.compile(r"\\cdot|\\times"), "*"),
    (re.compile(r"\\pi"), "(pi)"),
    (re.compile(r"\^"), "**"),
)
_ALLOWED_NAMES = {"pi": math.pi, "sqrt": math.sqrt}


def _latex_to_python(s: str) -> str | None:
    for _ in range(10):
        new = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"((\1)/(\2))", s)
        new = re.sub(r"\\sqrt\[([^\]]*)\]\{([^{}]*)\}", r"((\2)**(1/(\1)))", new)
        new = re.sub(r"\\sqrt\{([^{}]*)\}", r"sqrt(\1)", new)
        if new == s:
            break
        s = new
    for pattern, repl in _LATEX_TO_PY:
        s = pattern.sub(repl, s)
    if "\\" in s:
        return None
    s = s.replace("{", "(").replace("}", ")")
    # Implicit multiplication: 2sqrt(3), 3(pi), )( .
    s = re.sub(r"(?<=[\d)])\s*(?=[a-z(])", "*", s)
    return s


def _safe_eval(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _safe_eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in _ALLOWED_NAMES and node.id == "pi":
        return math.pi
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _safe_eval(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and isinstance(
        node.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Pow
    ):
        left, right = _safe_eval(node.left), _safe_eval(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
            raise ValueError("exponent too large")
        ops = {
            ast.Add: lambda a, b: a + b,
            ast.Sub: lambda a, b: a - b,
            ast.Mult: lambda a, b: a * b,
            ast.Div: lambda a, b: a / b,
            ast.Pow: lambda a, b: a**b,
        }
        result = ops[type(node.op)](left, right)
        if isinstance(result, complex):
            raise ValueError("complex")
        return float(result)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "sqrt"
        and len(node.args) == 1
        and not node.keywords
    ):
        return math.sqrt(_safe_eval(node.args[0]))
    raise ValueError("unsupported expression")


def closed_form_value(expression: str) -> float | None:
    """The value of a normalised closed form such as ``3\\pi`` or a root, else None."""
    expr = _latex_to_python(expression)
    if expr is None:
        return None
    try:
        value = _safe_eval(ast.parse(expr, mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None
    return value if math.isfinite(value) else None
