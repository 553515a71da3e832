"""The answer normaliser: pull the final answer out of a response and decide equivalence.

One implementation used everywhere (outcome building, the simulator's votes, the convergence
watcher), so that "correct" means the same thing in every figure thinkgate reports.
"""

from __future__ import annotations

import ast
import math
import re

__all__ = ["extract_answer", "normalize_answer", "answers_match", "answer_value"]

_THINK_END = "</think>"
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BOXED_BARE = re.compile(r"\\boxed\s+([^\s$]+)")
_HASHES = re.compile(r"####\s*([^\n]*)")
_FINAL = re.compile(r"final\s+answer\s*(?:is|:|：)?\s*:?\s*(.+)", re.IGNORECASE)
_ANSWER_IS = re.compile(r"answer\s+(?:is|would be|will be|=)\s*:?\s*(.+)", re.IGNORECASE)
_ANSWER_LINE = re.compile(
    r"^[\s*#>]*answer\s*\**\s*[:：]\s*\**\s*(.+)$", re.IGNORECASE | re.MULTILINE
)
_CHOICE = re.compile(r"^\**\s*(?:\(([A-Ea-e])\)|([A-E])(?:[).:]|\s*$|\s+(?=\S)))")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_MATH_SPAN = re.compile(r"\$\$?(.+?)\$\$?|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)

_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_FRACTION = re.compile(r"^([+-]?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)$")
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_UNIT_TAIL = re.compile(r"^([+-]?[\d.,/]+)\s*(?:[a-z]+\.?(?:\^\{?\d\}?)?\s*)+$")
_VAR_PREFIX = re.compile(r"^(?:[a-z]|\\[a-z]+)(?:_\{?\w+\}?)?\s*=\s*(?=\S)")
_SIMPLE_FRAC = re.compile(r"\\frac\s*\{\s*([+-]?\d+(?:\.\d+)?)\s*\}\s*\{\s*(\d+(?:\.\d+)?)\s*\}")
_SHORT_FRAC = re.compile(r"\\frac\s*(\d)\s*(\d)")
_SQRT_BARE = re.compile(r"\\sqrt\s*(\d+|[a-z])")
_SPACING = re.compile(r"\\[,;:! ]|\\q?quad|~")
_WORD_UNITS = re.compile(
    r"\b(?:dollars?|cents?|units?|degrees?|percent|meters?|inches|feet|hours?|minutes?|"
    r"seconds?|miles?|pounds?|square|sq|cm|km|kg|mph)\b\.?(?:\^\{?\d\}?)?"
)


def _last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (nested braces allowed), or None."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        depth = 1
        for i in range(start, len(text)):
            ch = text[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return text[start:i].strip()
    bare = list(_BOXED_BARE.finditer(text))
    return bare[-1].group(1) if bare else None


def _clean_phrase(phrase: str) -> str:
    """The words after "the answer is" as an answer: their math span, choice or number."""
    phrase = phrase.strip()
    boxed = _last_boxed(phrase)
    if boxed:
        return boxed
    math_span = _MATH_SPAN.search(phrase)
    if math_span:
        return next(g for g in math_span.groups() if g is not None).strip()
    phrase = phrase.strip("*: ")
    choice = _CHOICE.match(phrase)
    if choice:
        return (choice.group(1) or choice.group(2)).upper()
    # Stop at the end of the sentence (a period not inside a decimal number).
    phrase = re.split(r"(?<!\d)\.(?!\d)|\.(?=\s|$)|\n", phrase, maxsplit=1)[0].strip()
    if re.search(r"[a-zA-Z]{3,}", phrase) and _NUMBER.search(phrase):
        # Prose with a number in it: the value after the last "=", else the first number.
        tail = phrase.rsplit("=", 1)[-1]
        number = _NUMBER.search(tail) or _NUMBER.search(phrase)
        if number:
            return number.group(0)
    return phrase


def extract_answer(text: str) -> str | None:
    """The final answer in a response: \\boxed{}, ####, "the answer is", a choice, last number."""
    if not text or not text.strip():
        return None
    # Prefer what follows the thinking; fall back to the thinking when the tail has no answer.
    if _THINK_END in text:
        head, _, tail = text.rpartition(_THINK_END)
        found = extract_answer(tail) if tail.strip() else None
        return found if found is not None else extract_answer(head.replace(_THINK_END, " "))
    boxed = _last_boxed(text)
    if boxed:
        return boxed
    marked = _HASHES.findall(text)
    if marked and marked[-1].strip():
        return _clean_phrase(marked[-1])
    for pattern in (_FINAL, _ANSWER_LINE, _ANSWER_IS):
        phrases = [m.group(1) for m in pattern.finditer(text) if m.group(1).strip()]
        if phrases:
            phrase = _clean_phrase(phrases[-1])
            if phrase:
                return phrase
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


def _canonical_number(s: str) -> str:
    sign = "-" if s.startswith("-") else ""
    body = s.lstrip("+-")
    if "." in body:
        whole, frac = body.split(".", 1)
        frac = frac.rstrip("0")
        whole = whole.lstrip("0") or "0"
        body = f"{whole}.{frac}" if frac else whole
    else:
        body = body.lstrip("0") or "0"
    return "" + body if body == "0" else sign + body


def _strip_delimiters(s: str) -> str:
    changed = True
    while changed:
        changed = False
        s = s.strip()
        for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                s = s[len(left) : len(s) - len(right)]
                changed = True
        boxed = _last_boxed(s) if s.startswith(("\\boxed", "\\fbox")) else None
        if boxed is not None:
            s = boxed
            changed = True
    return s


def normalize_answer(answer: str) -> str:
    """A canonical string for an answer: LaTeX, units, separators and zeros stripped."""
    s = str(answer)
    # Rules can expose work for each other (a lower-cased \BOXED{} unwraps on the next pass);
    # iterating to a fixed point keeps normalisation idempotent.
    for _ in range(6):
        new = _normalize_once(s)
        if new == s:
            break
        s = new
    return s


def _normalize_once(answer: str) -> str:
    s = _strip_delimiters(answer)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\left", "").replace("\\right", "").replace("\\displaystyle", "")
    s = s.replace("{,}", ",")
    s = _SPACING.sub(" ", s)
    s = s.replace("\\$", "").replace("$", "").replace("\\%", "").replace("%", "")
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°", "", s)
    previous = None
    while previous != s:
        previous = s
        s = _TEXT_CMD.sub(r"\1", s)
    s = s.strip().lower()
    s = _WORD_UNITS.sub("", s).strip()
    s = s.rstrip(".").strip()
    if s.count("=") >= 1 and not re.search(r"[<>]|\\[lg]eq?", s):
        tail = s.rsplit("=", 1)[-1].strip()
        if tail and (s.count("=") > 1 or _VAR_PREFIX.match(s)):
            s = tail
    unit = _UNIT_TAIL.match(s)
    if unit:
        s = unit.group(1)
    choice = re.fullmatch(r"\(?([a-e])\)", s)
    if choice:
        s = choice.group(1)
    s = re.sub(r"\s+", "", s)
    s = _SQRT_BARE.sub(r"\\sqrt{\1}", s)
    s = _SHORT_FRAC.sub(r"\\frac{\1}{\2}", s)
    s = _SIMPLE_FRAC.sub(r"\1/\2", s)
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    s = s.rstrip(".")
    if _PLAIN_NUMBER.match(s):
        s = _canonical_number(s)
    else:
        frac = _FRACTION.match(s)
        if frac:
            s = f"{_canonical_number(frac.group(1))}/{_canonical_number(frac.group(2))}"
    return s


# --- numeric evaluation of simple closed forms (fractions, roots, pi) -------------------------

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


def answer_value(answer: str) -> float | None:
    """The numeric value of a normalised answer (numbers, fractions, roots, pi), else None."""
    s = normalize_answer(answer)
    if not s or len(s) > 80:
        return None
    if _PLAIN_NUMBER.match(s):
        return float(s)
    frac = _FRACTION.match(s)
    if frac:
        denominator = float(frac.group(2))
        return float(frac.group(1)) / denominator if denominator else None
    if "," in s or not re.search(r"\d", s):
        return None
    expr = _latex_to_python(s)
    if expr is None:
        return None
    try:
        value = _safe_eval(ast.parse(expr, mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None
    return value if math.isfinite(value) else None


def _split_top_level(s: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _values_match(x: str, y: str) -> bool:
    if x == y:
        return True
    vx, vy = answer_value(x), answer_value(y)
    return vx is not None and vy is not None and math.isclose(vx, vy, rel_tol=1e-6, abs_tol=1e-9)


def answers_match(a: str | None, b: str | None) -> bool:
    """Whether two answers are equivalent: equal once normalised, or numerically equal."""
    if a is None or b is None:
        return False
    na, nb = normalize_answer(a), normalize_answer(b)
    if not na or not nb:
        return False
    if _values_match(na, nb):
        return True
    # Tuples/intervals compare element by element; bare lists compare as sets.
    if na[:1] in "([" and nb[:1] == na[:1] and na[-1:] in ")]" and nb[-1:] == na[-1:]:
        xs, ys = _split_top_level(na[1:-1]), _split_top_level(nb[1:-1])
        return len(xs) == len(ys) > 1 and all(
            _values_match(x, y) for x, y in zip(xs, ys, strict=True)
        )
    xs, ys = _split_top_level(na), _split_top_level(nb)
    if len(xs) == len(ys) > 1:
        remaining = list(ys)
        for x in xs:
            hit = next((y for y in remaining if _values_match(x, y)), None)
            if hit is None:
                return False
            remaining.remove(hit)
        return True
    return False
