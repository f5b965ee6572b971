"""The fast path: normalised string match and numeric comparison, regex only.

:func:`fast_equivalent` decides most (answer, gold) pairs without a parser; the pairs it
leaves undecided (None) go to math-verify, unless :func:`looks_like_code` or
:func:`pathology` rejects the answer first.  Model text is never ``eval``-ed here.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from o1pruner.grading.extraction import _match_brace

_TEXT_CMD = r"\\(?:text|textbf|textrm|mbox|mathrm)"
_TEXT_WRAPPER = re.compile(_TEXT_CMD + r"\s*\{([^{}]*)\}")
_WHOLE_TEXT = re.compile(_TEXT_CMD + r"\s*\{([^{}]*)\}\.?")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![A-Za-z])")
_LEFT_RIGHT = re.compile(r"\\(?:left|right)(?![A-Za-z])")
_NEG_SPACE = re.compile(r"(?<!\\)\\!")
_SPACING = re.compile(r"(?<!\\)\\[,;: ]|\\q?quad(?![A-Za-z])|~")
# "1\,000": a thin space between digit groups is LaTeX's thousands separator
_THIN_THOUSANDS = re.compile(r"(?<=\d)\\,(?=\d{3}(?!\d))")
# "11,\! 111": MATH's own thousands separator (a negative space cancels the comma's)
_MATH_THOUSANDS = re.compile(r"(?<=\d)(?:,\\!\s*|\{,\})(?=\d{3}(?!\d))")  # and "14{,}916"
# "32, 349" is two numbers: a thousands separator has no space after it.  The comma
# is marked so that neither the string match nor the number parser can join them.
_SPACED_COMMA = re.compile(r"(?<=\d),\s+(?=\d{3}(?!\d))")
_LIST_MARK = "\u2063"  # INVISIBLE SEPARATOR: not whitespace, never in an answer
_DFRAC = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_STYLE = re.compile(r"\\(?:displaystyle|textstyle|scriptstyle)(?![A-Za-z])")
_DOLLAR = re.compile(r"\\?\$")
_WHOLE_BOX = re.compile(r"\\(?:boxed|fbox)\{")
# constants written as text or Unicode: "12 pi", "11√2", "√(x+1)"
_PI_WORD = re.compile(r"(?<![\\A-Za-z])pi(?![A-Za-z])")
_ROOT_PAREN = re.compile(r"√\s*\(([^()]*)\)")
_ROOT_TOKEN = re.compile(r"√\s*(\d+(?:\.\d+)?|[A-Za-z])")
_SQRT_DIGIT = re.compile(r"\\sqrt\s*(\d)")  # LaTeX's \sqrt2 is \sqrt{2}
_UNICODE = {"π": r"\pi ", "−": "-", "×": r"\times ", "·": r"\cdot ", "∞": r"\infty ", "√": r"\sqrt"}

_INT = re.compile(r"[+-]?\d+")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_SLASH = re.compile(r"([+-]?\d+)/(\d+)")
_FRAC = re.compile(r"([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}")
_FRAC_SHORT = re.compile(r"([+-]?)\\frac(\d)(\d)")
_MAX_UNIT_CHARS = 200
_MAX_DIGITS = 400  # beyond this a "number" is not an answer; let the bounded path decide

# a number with a unit: "18 dollars", "5\text{ cm}", "12 \mbox{inches}^2", "\text{18 eggs}".
# One plain word after a space, or the words of a trailing \text{}; the power is for
# square/cubic units.  Words that make the answer something else are not units:
# "5 \text{ or more}", "18 \text{ or } 21", "12 pi".
_POWER = r"(?:\^\s*\{?\s*[23]\s*\}?)?"
_TEXT_UNIT = re.compile(r"(?P<num>.*?)\s*" + _TEXT_CMD + r"\s*\{\s*(?P<unit>[A-Za-z][A-Za-z .]*?)\s*\}\s*"
                        + _POWER + r"\.?")
_WORD_UNIT = re.compile(r"(?P<num>.*?)\s+(?P<unit>[A-Za-z]{2,})\s*" + _POWER + r"\.?")
_PERCENT = re.compile(r"(?P<num>.*?)\s*(?:\\%|%|" + _TEXT_CMD
                      + r"\s*\{\s*(?:percent|pct)\s*\}|percent|pct)\.?")
_NOT_UNITS = frozenset(
    "or and more less fewer than least most at not no none to plus minus over of is are "
    "approximately about nearly roughly exactly only greater smaller larger equal either".split())
_MATH_WORDS = frozenset(
    "pi sqrt sin cos tan cot sec csc log ln exp mod inf infty arcsin arccos arctan".split())
_LATEX_CMD = re.compile(r"\\[A-Za-z]+")
_OR = re.compile(_TEXT_CMD + r"\s*\{\s*or\s*\}|\bor\b")
_WORD = re.compile(r"[A-Za-z]{2,}")
_SPACED_LIST = re.compile(r"[+-]?\d+(?:\.\d+)?(?:\s*,[\s" + _LIST_MARK + r"]+[+-]?\d+(?:\.\d+)?)+")


def latexify(s: str) -> str:
    """Constants written as text or Unicode, as LaTeX (``12 pi`` -> ``12 \\pi``, ``11√2`` -> ``11\\sqrt{2}``).

    Used for the fast path and for what math-verify sees (it reads neither form).
    """
    if "√" in s:
        s = _ROOT_PAREN.sub(r"\\sqrt{\1}", s)
        s = _ROOT_TOKEN.sub(r"\\sqrt{\1}", s)
    for ch, tex in _UNICODE.items():
        if ch in s:
            s = s.replace(ch, tex)
    if "pi" in s:
        s = _PI_WORD.sub(r"\\pi ", s)
    return s


def _canonical(s: str) -> str:
    """Answer text with notation-only differences removed, single spaces kept."""
    s = _DOLLAR.sub("", s.strip())
    s = latexify(s)
    s = _LEFT_RIGHT.sub("", s)
    s = _STYLE.sub("", s)
    s = _THIN_THOUSANDS.sub("", s)
    s = _MATH_THOUSANDS.sub(",", s)
    s = _NEG_SPACE.sub("", s)
    s = _SPACING.sub(" ", s)
    s = _DFRAC.sub(r"\\frac", s)
    s = _SQRT_DIGIT.sub(r"\\sqrt{\1}", s)
    s = _DEGREES.sub("", s)
    s = _SPACED_COMMA.sub("," + _LIST_MARK, s)
    return " ".join(s.split())


def normalize_answer(s: str) -> str:
    """Canonical string form used by the fast path's string match (never evaluated)."""
    s = _canonical(s)
    s = _TEXT_WRAPPER.sub(r"\1", s)
    s = "".join(s.split())
    s = s.rstrip(".")
    # a box around the whole answer ("\boxed{\boxed{5}}") is just the answer; a few
    # levels at most, so a hostile thousand-deep nest stays linear and recursion-free
    for _ in range(3):
        m = _WHOLE_BOX.match(s)
        if not (m and _match_brace(s, m.end() - 1) == len(s) - 1):
            break
        s = s[m.end() : -1].rstrip(".")
    return s


def parse_number(s: str) -> tuple[Fraction, bool] | None:
    """``(value, is_decimal)`` for a plain numeric answer, else None (regex only)."""
    s = s.strip()
    if len(s) > _MAX_DIGITS:
        return None
    if _INT.fullmatch(s):
        return Fraction(int(s)), False
    if _THOUSANDS.fullmatch(s):
        t = s.replace(",", "")
        return Fraction(t), "." in t
    if _DECIMAL.fullmatch(s):
        return Fraction(s), True
    m = _SLASH.fullmatch(s)
    if m and int(m.group(2)) != 0:
        return Fraction(int(m.group(1)), int(m.group(2))), False
    for rx in (_FRAC, _FRAC_SHORT):
        m = rx.fullmatch(s)
        if m and int(m.group(3)) != 0:
            value = Fraction(int(m.group(2)), int(m.group(3)))
            return (-value if m.group(1) == "-" else value), False
    return None


def _is_unit(words: str, bare: bool) -> bool:
    ws = words.lower().split()
    if not ws or any(w in _NOT_UNITS for w in ws):
        return False
    return not (bare and ws[0] in _MATH_WORDS)


def _strip_unit(c: str) -> str:
    """``c`` without a trailing unit (a canonical string; unchanged if it has none)."""
    if len(c) > _MAX_UNIT_CHARS:  # bounded backtracking
        return c
    m = _TEXT_UNIT.fullmatch(c)
    if m and _is_unit(m.group("unit"), bare=False):
        return m.group("num")
    m = _WORD_UNIT.fullmatch(c)
    if m and _is_unit(m.group("unit"), bare=True):
        return m.group("num")
    return c


def as_number(s: str) -> tuple[Fraction, bool, bool] | None:
    """``(value, is_decimal, is_percent)`` when ``s`` is one number, perhaps with a unit or ``%``.

    ``18``, ``1,234 dollars``, ``\\text{18 eggs}``, ``12.5\\%``, ``18\\,\\%``, ``\\frac{3}{4}``;
    not ``32, 349`` (two numbers), ``5 \\text{ or more}`` or ``3 + 4`` (regex only).
    """
    c = _canonical(s)
    if len(c) > _MAX_UNIT_CHARS:
        return None
    m = _WHOLE_TEXT.fullmatch(c)
    if m:
        c = m.group(1).strip()
    percent = False
    m = _PERCENT.fullmatch(c)
    if m:
        c, percent = m.group("num"), True
    else:
        c = _strip_unit(c)
    n = parse_number("".join(c.split()))
    return None if n is None else (n[0], n[1], percent)


def _close(x: Fraction, y: Fraction, rel_tol: float) -> bool:
    if rel_tol <= 0:
        return x == y
    return abs(x - y) <= Fraction(repr(rel_tol)) * max(abs(x), abs(y))  # 1e-6 as written, not its float


def _numbers_equal(a: tuple[Fraction, bool, bool], b: tuple[Fraction, bool, bool],
                   rel_tol: float = 0.0) -> bool:
    """Exact unless a relative tolerance is configured (then it applies when either is a decimal).

    A percentage equals its number (``12.5\\%`` = ``12.5``) and, as math-verify also
    accepts, its fraction (``28\\%`` = ``0.28``).
    """
    (x, x_dec, x_pct), (y, y_dec, y_pct) = a, b
    tol = rel_tol if (x_dec or y_dec) else 0.0
    if _close(x, y, tol):
        return True
    if x_pct != y_pct:
        return _close(x / 100 if x_pct else x, y / 100 if y_pct else y, tol)
    return False


def _has_prose(s: str) -> bool:
    """Words beyond LaTeX commands (``5 \\text{ or more}``, ``18 or 21``): not a bare number."""
    return _WORD.search(_LATEX_CMD.sub(" ", s)) is not None


_RELATION = re.compile(r"[=<>]|\\(?:le|ge|leq|geq|neq|ne|in|approx|to)(?![A-Za-z])")
_IRRATIONAL = re.compile(r"\\pi(?![A-Za-z])|\\infty(?![A-Za-z])|\\sqrt\{(\d+)\}")
_CHOICE_OR_WORD = re.compile(r"\(?[A-Za-z]+\)?(?: [A-Za-z]+)*")


_CHOICE = re.compile(r"\(?[A-E]\)?")
_FREE_LETTER = re.compile(r"[A-Za-z]")
_TEXT_ANSWER = re.compile(r"[A-Za-z]{3,}")


def _letters(normalized: str) -> str:
    """A choice or word answer without parentheses and case: ``\\text{(C)}`` -> ``c``."""
    return normalized.strip("()").lower()


def _never_a_rational(gold_canonical: str, irrational: bool = True) -> bool:
    r"""Can no integer or fraction equal this gold?  Regex only, and only the sure cases:

    a tuple, interval, list or matrix (``(-\infty,-3)``, ``-2,1``), a choice or word
    (``A``, ``\text{(C)}``, ``None``), an expression in a variable (``15x - 80``, ``6+9i``),
    or (``irrational``) one with ``\pi``, ``\infty`` or the root of a non-square
    (``2\sqrt{5}``); never when there is a relation (``x = 5`` may be 5).
    """
    g = _TEXT_WRAPPER.sub(r"\1", gold_canonical).strip()
    if _RELATION.search(g):
        return False
    if "," in g.replace(_LIST_MARK, "") or _LIST_MARK in g or "\\cup" in g or "\\begin{" in g:
        return True  # a tuple, interval, list, union or matrix
    if _CHOICE_OR_WORD.fullmatch(g):
        return True
    if "_" not in g and _FREE_LETTER.search(_LATEX_CMD.sub(" ", g)):
        return True  # a free variable ("15x - 80", "6+9i", "3R^2"); "C_{n}^{k}", "1011_2" excepted
    if not irrational:
        return False
    for m in _IRRATIONAL.finditer(g):
        if m.group(1) is None or math.isqrt(int(m.group(1)[:9])) ** 2 != int(m.group(1)[:9]):
            return True
    return False


_MATRIX = re.compile(r"\\begin\{[pbB]?matrix\}")
_NOT_ONE_KIND = re.compile(r"\\(?:pm|mp|\{|vmatrix|begin)(?![A-Za-z])")
_SET_OPS = re.compile(r"\\(?:cup|cap)(?![A-Za-z])")


def _has_comma_outside_braces(s: str) -> bool:
    """A comma (or semicolon) not inside a command's argument (``\\frac{1,2}``, ``x^{1,2}``).

    A brace group that follows a command, ``^``, ``_`` or another argument is an
    argument; a bare one (``{1,2,3}``) is grouping, as math-verify reads it: a set.
    """
    stack: list[bool] = []  # per open brace: is it a command's argument?
    prev = ""
    for c in s:
        if c == "{":
            stack.append(bool(prev) and (prev.isalpha() or prev in "^_}"))
        elif c == "}":
            if stack:
                stack.pop()
        elif c in ",;" and not any(stack):
            return True
        if not c.isspace():
            prev = c
    return False


def _kind(canonical: str) -> str | None:
    r"""``"matrix"``, ``"list"`` (tuple, interval, set of solutions) or ``"scalar"``; None when unsure.

    Unsure: relations (``x = 5``), ``\pm`` (two values), words, set braces, ``vmatrix``.
    """
    c = canonical
    if len(c) > _MAX_UNIT_CHARS:  # bounded work per pair; long answers go to math-verify
        return None
    if _MATRIX.search(c):
        return "matrix"
    if _RELATION.search(c) or _NOT_ONE_KIND.search(c) or _has_prose(c):
        return None
    if as_number(c) is not None:
        return "scalar"
    if _LIST_MARK in c or _SET_OPS.search(c) or _has_comma_outside_braces(c):
        return "list"
    return "scalar"


def fast_equivalent(pred: str, gold: str, rel_tol: float = 0.0) -> bool | None:
    """True/False when regexes can decide, None when math-verify must."""
    p, g = normalize_answer(pred), normalize_answer(gold)
    if p == g:
        return bool(p)
    kinds = {_kind(_canonical(pred)), _kind(_canonical(gold))}
    if len(kinds) == 2 and None not in kinds and kinds != {"list", "matrix"}:
        return False  # a number is never an interval or a matrix (a vector may be a tuple)
    if _CHOICE.fullmatch(g) or _TEXT_ANSWER.fullmatch(g):
        # a choice ("C", "(C)") or a word ("Monday", "None", "odd"): the same letters or wrong
        return _letters(p) == _letters(g) and _CHOICE_OR_WORD.fullmatch(_letters(p)) is not None
    gn = as_number(gold)
    if gn is None:
        # an integer or fraction (not a decimal: math-verify rounds those) against a
        # gold that no rational can equal: the usual wrong answer, decided here
        pn = as_number(pred)
        if pn is not None and not pn[1] and _never_a_rational(_canonical(gold)):
            return False
        return None
    pn = as_number(pred)
    if pn is not None:
        return _numbers_equal(pn, gn, rel_tol)
    # the gold is one number and the answer is not: a list ("32, 349") or a number
    # with words that are not a unit ("5 \text{ or more}") is wrong, whatever
    # math-verify's text stripping would make of it
    c = _canonical(pred)
    if not _has_prose(c) and _never_a_rational(c, irrational=False):
        return False  # "(3,4]", "15x - 80", "K" against a number
    alternatives = _OR.split(c)
    if len(alternatives) > 1:  # "1.5 or 3/2": right when every alternative is the gold
        values = [as_number(a) for a in alternatives]
        return all(v is not None and _numbers_equal(v, gn, rel_tol) for v in values)
    if _SPACED_LIST.fullmatch(c) or _has_prose(c):
        return False
    return None


# Python-object syntax that no math answer contains: such text is graded incorrect
# without ever reaching a parser (defence in depth; the fallback never evals anyway)
_CODE_MARKERS = re.compile(r"__|\blambda\b|\bimport\b|\beval\s*\(|\bexec\s*\(")


def looks_like_code(s: str) -> bool:
    return bool(_CODE_MARKERS.search(s.replace("\\lambda", "")))


# Expressions that make sympy build astronomically large numbers or trees: graded
# incorrect before any parser sees them (no MATH/GSM8K answer is one), instead of
# costing a full timeout and a worker restart each.
_MAX_NESTING = 30  # braces/parentheses/brackets; continued fractions in answers reach ~6
_MAX_EXPONENT = 10**5  # 2^{100000} has 30,103 digits: sympy builds it in milliseconds
_CARET = re.compile(r"\^\s*")
_DIGITS = re.compile(r"\d+")
_FACTORIAL_CHAIN = re.compile(r"!\s*!\s*!")
_FACTORIAL_OF_INT = re.compile(r"(\d+)\s*!")
_NUMERIC_GROUP = re.compile(r"[\d\s{}()^!+*\-]*")


def _nesting_depth(s: str) -> int:
    depth = deepest = 0
    for c in s:
        if c in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "})]":
            depth = max(0, depth - 1)
    return deepest


def _exponent_at(s: str, pos: int) -> str:
    """The exponent starting at ``pos`` (after ``^``): a brace group or a digit run."""
    if pos < len(s) and s[pos] == "{":
        close = _match_brace(s, pos)
        return s[pos + 1 : close] if close > 0 else s[pos + 1 :]
    m = _INT.match(s, pos)
    return m.group(0) if m else ""


def _tower_value(expr: str, cap: int) -> int | None:
    """Value of a numeric power tower like ``10^{10}`` or ``2^{2^{4}}``, or None once it passes ``cap``.

    Evaluated from the top; each step is checked against ``cap`` through its length in
    digits before it is computed, so nothing huge is ever built.
    """
    expr = expr.strip()
    m = _DIGITS.match(expr)
    if not m or len(m.group(0)) > 6:
        return None
    base = int(m.group(0))
    rest = expr[m.end():].lstrip()
    if not rest:
        return base if base <= cap else None
    if not rest.startswith("^"):
        return None
    exp_text = _exponent_at(rest, _CARET.match(rest).end())
    exp = _tower_value(exp_text, cap)
    if exp is None:
        return None
    if base in (0, 1):
        return base
    if exp * math.log10(base) > math.log10(cap):  # the value's digits, before computing it
        return None
    return base ** exp


def pathology(s: str) -> str | None:
    """Why ``s`` would blow up sympy (an exponent tower, a factorial chain, deep nesting), or None."""
    if _nesting_depth(s) > _MAX_NESTING:
        return "nesting"
    for m in _CARET.finditer(s):
        exp = _exponent_at(s, m.end())
        if exp and _NUMERIC_GROUP.fullmatch(exp) and "!" not in exp:
            if _tower_value(exp, _MAX_EXPONENT) is None and (len(exp) > 6 or "^" in exp):
                return "exponent"
    if _FACTORIAL_CHAIN.search(s):
        return "factorial"
    for m in _FACTORIAL_OF_INT.finditer(s):
        if len(m.group(1)) > 4:
            return "factorial"
    i = s.find("!")
    while i > 0:  # "(10^{10})!": the factorial of a numeric power or factorial
        j = i - 1
        while j >= 0 and s[j].isspace():
            j -= 1
        if j >= 0 and s[j] in ")}":
            opener = "(" if s[j] == ")" else "{"
            depth, k = 0, j
            while k >= 0:
                if s[k] == s[j]:
                    depth += 1
                elif s[k] == opener:
                    depth -= 1
                    if depth == 0:
                        break
                k -= 1
            inner = s[k + 1 : j] if k >= 0 else ""
            if ("^" in inner or "!" in inner) and _NUMERIC_GROUP.fullmatch(inner):
                return "factorial"
        i = s.find("!", i + 1)
    return None
