"""LaTeX string helpers of the answer normaliser: boxes, delimiters, Unicode math, numbers."""

from __future__ import annotations

import re

__all__ = [
    "canonical_number",
    "last_boxed",
    "strip_delimiters",
    "unicode_to_latex",
]

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BOXED_BARE = re.compile(r"\\boxed\s+([^\s$]+)")
_UNICODE = str.maketrans(
    {
        "−": "-",
        "–": "-",
        "×": "*",
        "·": "*",
        "÷": "/",
        "π": "\\pi ",
        "½": "1/2",
        "¼": "1/4",
        "¾": "3/4",
        "⅓": "1/3",
        "⅔": "2/3",
        "∞": "\\infty ",
        "\u2003": " ",
        "\u2002": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u00a0": " ",
    }
)
_ROOT = re.compile(r"√\s*(\d+(?:\.\d+)?|[a-zA-Z]|\([^()]*\))")


def last_boxed(text: str) -> str | None:
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


def unicode_to_latex(text: str) -> str:
    """Unicode math (−, √66, π, ½, thin spaces) as the ASCII/LaTeX the normaliser knows."""
    text = text.translate(_UNICODE)
    return _ROOT.sub(lambda m: "\\sqrt{" + m.group(1).strip("()") + "}", text)


def canonical_number(s: str) -> str:
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


def _one_group(s: str) -> bool:
    """True when ``s`` is one brace group, "{...}" (not "{a}{b}")."""
    if not (s.startswith("{") and s.endswith("}")):
        return False
    depth = 0
    for i, ch in enumerate(s):
        depth += ch == "{"
        depth -= ch == "}"
        if depth == 0:
            return i == len(s) - 1
    return False


def strip_delimiters(s: str) -> str:
    changed = True
    while changed:
        changed = False
        s = s.strip()
        for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                s = s[len(left) : len(s) - len(right)]
                changed = True
        if s.startswith("\\{") and s.endswith("\\}") or _one_group(s):
            s = s[2:-2] if s.startswith("\\{") else s[1:-1]  # a set: compared as a bare list
            changed = True
        boxed = last_boxed(s) if s.startswith(("\\boxed", "\\fbox")) else None
        if boxed is not None:
            s = boxed
            changed = True
    return s
