"""The official O1-Pruner grader's rules (PRM800K-style), written from its rules.

The official code (StarDewXXX/O1-Pruner, o1_scripts/grader.py) accepts an answer when
(a) the Hendrycks MATH normalisation of both strings is equal, or (b) its PRM800K
normalisation (units and \\text removed, LaTeX turned into plain text) of both is
equal, or (c) element by element of a tuple/interval: fractions must match as
written, an integer only equals an integer, and otherwise sympy must simplify the
difference to 0.  It feeds model text to sympy's parse_expr (Python eval); here the
plain text goes to a small parser that builds sympy objects and evaluates nothing.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from o1pruner.grading.fast_path import _LEFT_RIGHT, _NEG_SPACE, _SPACING, _SQRT_DIGIT


class _OfficialFormat(Exception):
    """A Hendrycks normalisation step did not apply (the official code then keeps the text)."""


def _mathd_fix_fracs(s: str) -> str:
    parts = s.split("\\frac")
    out = parts[0]
    for sub in parts[1:]:
        out += "\\frac"
        if sub[:1] == "{":
            out += sub
        elif len(sub) < 2:
            return s
        elif sub[1] != "{":
            out += "{" + sub[0] + "}{" + sub[1] + "}" + sub[2:]
        else:
            out += "{" + sub[0] + "}" + sub[1:]
    return out


def _mathd_fix_sqrt(s: str) -> str:
    parts = s.split("\\sqrt")
    out = parts[0]
    for sub in parts[1:]:
        if not sub:
            raise _OfficialFormat("\\sqrt at the end")
        out += "\\sqrt" + (sub if sub[0] == "{" else "{" + sub[0] + "}" + sub[1:])
    return out


def _mathd_normalize(answer: str) -> str:
    """Hendrycks' MATH answer normalisation (``math_normalize.normalize_answer``)."""
    answer = answer.strip()
    m = re.fullmatch(r"\\text\{(.+?)\}", answer)
    if m:
        answer = m.group(1).strip()
    try:
        s = answer.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
        s = s.replace("tfrac", "frac").replace("dfrac", "frac").replace("\\left", "").replace("\\right", "")
        s = s.replace("^{\\circ}", "").replace("^\\circ", "").replace("\\$", "")
        if "\\text{ " in s:  # units after "\text{ ": keep what is before them (exactly one)
            parts = s.split("\\text{ ")
            if len(parts) != 2:
                raise _OfficialFormat("several \\text{ ")
            s = parts[0]
        s = s.replace("\\%", "").replace(" .", " 0.").replace("{.", "{0.")
        if not s:
            return s
        if s[0] == ".":
            s = "0" + s
        sides = s.split("=")
        if len(sides) == 2 and len(sides[0]) <= 2:  # "x=5", "k = 3": the value
            s = sides[1]
        s = _mathd_fix_sqrt(s).replace(" ", "")
        s = _mathd_fix_fracs(s)
        if s == "0.5":
            s = "\\frac{1}{2}"
        m = re.fullmatch(r"(\d+)/(\d+)", s)
        if m and s == f"{int(m.group(1))}/{int(m.group(2))}":
            s = "\\frac{" + m.group(1) + "}{" + m.group(2) + "}"
        return s
    except _OfficialFormat:
        return answer


_PRM_UNITS = ("degree", "cm", "centimeter", "meter", "mile", "second", "minute", "hour", "day",
              "week", "month", "year", "foot", "feet", "inch", "yard")
_PRM_UNIT_RE = [re.compile(u + r"(es)?(s)? *(\^[0-9]+)?") for u in _PRM_UNITS]
_TEXT_MACROS = {"pi": "π", "infty": "∞", "cup": "∪", "cdot": "·", "times": "×", "le": "≤", "leq": "≤",
                "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠", "pm": "±", "circ": "°", "in": "∈",
                "alpha": "α", "beta": "β", "gamma": "γ", "theta": "θ", "lambda": "λ", "mu": "μ",
                "sigma": "σ", "phi": "φ", "omega": "ω", "%": "%", "$": "$", "{": "{", "}": "}"}
_INNER_FRAC = re.compile(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_INNER_SQRT = re.compile(r"\\sqrt\s*(?:\[([^\[\]{}]*)\])?\s*\{([^{}]*)\}")
_INNER_TEXT = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_MACRO = re.compile(r"\\([A-Za-z]+|[%${}])")


def _latex_to_text(s: str) -> str:
    """LaTeX to the plain text the official code gets from pylatexenc (the parts answers use)."""
    def paren(x: str) -> str:
        x = x.strip()
        return x if re.fullmatch(r"[\w.]+", x) else f"({x})"

    s = re.sub(r"\\frac\s*(\d)(\d)", r"\\frac{\1}{\2}", s)  # \frac12, \sqrt3: one-token arguments
    s = _SQRT_DIGIT.sub(r"\\sqrt{\1}", s)
    for _ in range(64):  # innermost first; bounded
        t = _INNER_TEXT.sub(r"\1", s)
        t = _INNER_FRAC.sub(lambda m: f"{paren(m.group(1))}/{paren(m.group(2))}", t)
        t = _INNER_SQRT.sub(lambda m: (f"√({m.group(2)})" if not m.group(1)
                                       else f"({m.group(2)})^(1/{paren(m.group(1))})"), t)
        if t == s:
            break
        s = t
    s = _SPACING.sub(" ", _NEG_SPACE.sub("", s))
    s = _LEFT_RIGHT.sub("", s)
    s = _MACRO.sub(lambda m: _TEXT_MACROS.get(m.group(1), ""), s)
    s = s.replace("{", "").replace("}", "")
    for a, b in (("√", "sqrt"), ("π", "pi"), ("∞", "inf"), ("∪", "U"), ("·", "*"), ("×", "*")):
        s = s.replace(a, b)
    return s.strip()


def _official_is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _strip_proper_commas(s: str) -> str:
    """``1,234,567`` -> ``1234567`` but not the commas of a tuple."""
    p = re.compile(r"(\d)(,)(\d\d\d)($|\D)")
    while True:
        t = p.sub(r"\1\3\4", s)
        if t == s:
            return t
        s = t


def _official_str_is_int(s: str) -> bool:
    try:
        x = float(_strip_proper_commas(s))
        return math.isfinite(x) and abs(x - round(x)) <= 1e-7
    except ValueError:
        return False


def _prm_normalize(expr: str) -> str:
    """The PRM800K normalisation of the official ``grader._normalize``."""
    m = re.fullmatch(r"\\text\{(.+?)\}", expr)
    if m:
        expr = m.group(1)
    expr = expr.replace("\\%", "%").replace("\\$", "$").replace("$", "").replace("%", "")
    expr = expr.replace(" or ", " , ").replace(" and ", " , ")
    expr = expr.replace("million", "*10^6").replace("billion", "*10^9").replace("trillion", "*10^12")
    for rx in _PRM_UNIT_RE:
        expr = rx.sub("", expr)
    expr = re.sub(r"\^ *\\circ", "", expr)
    if expr[:1] == "{" and expr[-1:] == "}":
        expr = expr[1:-1]
    expr = re.sub(r",\\! *", "", expr)
    if _official_is_float(expr) and math.isfinite(float(expr)) and _official_str_is_int(expr):
        expr = str(int(round(float(expr))))
    if "\\" in expr:
        expr = _latex_to_text(expr)
    expr = re.sub(r"- *", "-", expr)
    expr = re.sub(r"([0-9]) +([0-9])", r"\1+\2", expr)  # a mixed number "7 3/4" is 7+3/4
    expr = expr.replace(" ", "").replace("{", "").replace("}", "").lower()
    if _official_str_is_int(expr):
        expr = str(int(float(_strip_proper_commas(expr).replace(",", ""))))
    return expr


def _split_tuple(expr: str) -> list[str]:
    expr = _strip_proper_commas(expr)
    if not expr:
        return []
    brackets = "()[]"
    inner = expr[1:-1]
    if len(expr) > 2 and expr[0] in brackets and expr[-1] in brackets and not any(c in inner for c in brackets):
        return [e.strip() for e in expr[1:-1].split(",")]
    return [expr]


def _official_may_simplify(expr: str) -> bool:
    """The official guard against expressions sympy may hang on."""
    letters = {c for c in expr.replace("sqrt", "").replace("frac", "") if c.isalpha()}
    if len(letters) > 2 or "^{" in expr or "^(" in expr:
        return False
    return not (re.search(r"\^[0-9]+\^", expr) or re.search(r"\^[0-9][0-9]+", expr))


_PLAIN_RATIONAL = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:/\d+)?")


def official_equivalent(given: str, truth: str, sympy_equal: Any) -> bool:
    """The official grader's verdict; ``sympy_equal(a, b)`` runs its symbolic step (in the worker)."""
    if given is None:
        return False
    if _mathd_normalize(truth) == _mathd_normalize(given):
        return True
    t, g = _prm_normalize(truth), _prm_normalize(given)
    if t == g:
        return True
    if not g:
        return False
    t_elems, g_elems = _split_tuple(t), _split_tuple(g)
    if len(t_elems) > 1 and (t[0] != g[0] or t[-1] != g[-1]):
        return False
    if len(t_elems) != len(g_elems):
        return False
    frac = re.compile(r"-?[0-9]+.?/0*[1-9][0-9]*.?")
    for a, b in zip(t_elems, g_elems):
        if frac.fullmatch(a) and frac.fullmatch(b):
            ok = a == b  # an unreduced fraction is not the answer
        elif _official_str_is_int(a) != _official_str_is_int(b):
            ok = False  # an integer answer needs an integer
        elif _PLAIN_RATIONAL.fullmatch(a) and _PLAIN_RATIONAL.fullmatch(b):
            ok = float(Fraction(a)) == float(Fraction(b))  # what sympy's difference gives, locally
        else:
            expr = f"({a})-({b})"
            ok = _official_may_simplify(expr) and bool(sympy_equal(a, b))
        if not ok:
            return False
    return True


# the worker's side of the symbolic step: plain text -> sympy objects, nothing evaluated

_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*|\.\d+)|([^\W\d_]+)|(\*\*|[-+*/^()!]))")
_FUNCTIONS = ("sqrt", "sin", "cos", "tan", "log", "ln", "exp")
_MAX_POWER = 10**4


class _PlainMathParser:
    """``expr := term (+|- term)*``; implicit multiplication and function application as
    sympy's ``implicit_multiplication_application``; multi-letter names split into
    one-letter symbols; ``pi``, ``inf``; ``!`` factorial.  Anything else is an error."""

    def __init__(self, text: str) -> None:
        import sympy

        self.sp = sympy
        self.toks: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ValueError(f"unexpected {text[pos:pos + 10]!r}")
            num, name, op = m.groups()
            if num:
                self.toks.append(("num", num))
            elif name:
                self._name_tokens(name)
            else:
                self.toks.append(("op", "^" if op == "**" else op))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0

    def _name_tokens(self, name: str) -> None:
        while name:
            for word in _FUNCTIONS + ("pi", "inf"):
                if name.startswith(word):
                    self.toks.append(("fn" if word in _FUNCTIONS else "const", word))
                    name = name[len(word):]
                    break
            else:
                self.toks.append(("sym", name[0]))
                name = name[1:]

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ValueError("unexpected end")
        self.i += 1
        return tok

    def parse(self):
        e = self.expr()
        if self.peek() is not None:
            raise ValueError("trailing tokens")
        return e

    def expr(self):
        e = self.term()
        while (t := self.peek()) and t in (("op", "+"), ("op", "-")):
            self.take()
            rhs = self.term()
            e = e + rhs if t[1] == "+" else e - rhs
        return e

    def _starts_factor(self, t) -> bool:
        return t is not None and (t[0] in ("num", "sym", "fn", "const") or t == ("op", "("))

    def term(self):
        e = self.unary()
        while True:
            t = self.peek()
            if t in (("op", "*"), ("op", "/")):
                self.take()
                rhs = self.unary()
                e = e * rhs if t[1] == "*" else e / rhs
            elif self._starts_factor(t):
                e = e * self.power()
            else:
                return e

    def unary(self):
        t = self.peek()
        if t in (("op", "-"), ("op", "+")):
            self.take()
            v = self.unary()
            return -v if t[1] == "-" else v
        return self.power()

    def power(self):
        base = self.postfix()
        if self.peek() == ("op", "^"):
            self.take()
            exp = self.unary()
            if exp.is_Number and abs(exp) > _MAX_POWER:
                raise ValueError("exponent too large")
            return self.sp.Pow(base, exp)
        return base

    def postfix(self):
        e = self.atom()
        while self.peek() == ("op", "!"):
            self.take()
            if not (e.is_Integer and 0 <= e <= 1000):
                raise ValueError("factorial of a non-small integer")
            e = self.sp.factorial(e)
        return e

    def atom(self):
        kind, val = self.take()
        sp = self.sp
        if kind == "num":
            return sp.Integer(val) if val.isdigit() else sp.Float(val)
        if kind == "sym":
            return sp.Symbol(val)
        if kind == "const":
            return sp.pi if val == "pi" else sp.oo
        if kind == "fn":
            f = {"sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "log": sp.log,
                 "ln": sp.log, "exp": sp.exp}[val]
            return f(self.power() if self.peek() != ("op", "(") else self.atom())
        if (kind, val) == ("op", "("):
            e = self.expr()
            if self.take() != ("op", ")"):
                raise ValueError("unbalanced parenthesis")
            return e
        raise ValueError(f"unexpected {val!r}")


def official_sympy_equal(a: str, b: str) -> bool:
    """Does sympy simplify ``a - b`` to 0?  (Runs in the worker, under its deadline.)"""
    import sympy

    diff = _PlainMathParser(a).parse() - _PlainMathParser(b).parse()
    return sympy.simplify(diff) == 0
