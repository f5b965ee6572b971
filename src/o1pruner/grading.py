"""Answer grading: does a response's final ``\\boxed{}`` answer equal the gold answer?

    o1pruner grade --input samples.parquet --output graded.parquet [--timeout 5]

Every pre-sampled response is graded here (the paper's 5,000 problems x 16 samples),
and the per-sample ``correct`` flags feed the reference accuracy Ā_ref(x) of the
Length-Harmonizing reward, so grading must be fast, deterministic, safe and bounded:

* :func:`extract_answer` takes the LAST box in linear time (nested braces,
  ``\\fbox``, ``\\boxed 5``); an unclosed last box is no answer.
* :func:`fast_equivalent` decides most pairs with regexes alone: normalised string
  match, then exact numeric comparison of ints, decimals, ``a/b``, ``\\frac{a}{b}``
  and ``28,800``-style numbers.  Model text is never ``eval``-ed in this process.
* Pairs the fast path cannot decide go to math-verify (LaTeX extraction only, so
  sympy's ``parse_expr``/``eval`` is never reached) in a persistent worker
  subprocess with a per-comparison deadline.  math-verify's own timeouts use
  ``signal.alarm``, which only works in a main thread; the worker runs them disabled
  and the parent kills and restarts it when the deadline passes (graded incorrect).
  The worker is a plain ``subprocess`` rather than a ``multiprocessing`` child, so a
  :class:`Grader` also works inside daemonic ``multiprocessing.Pool`` workers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import select
import subprocess
import sys
import threading
import time
import weakref
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from o1pruner import thinking

if TYPE_CHECKING:  # pandas is imported lazily so the worker process starts light
    import pandas as pd

DEFAULT_TIMEOUT = 5.0
# math-verify sees only answers up to this length; a longer answer that the fast path
# did not match is graded incorrect (no MATH/GSM8K/GaoKao gold answer exceeds 150 chars)
MAX_FALLBACK_CHARS = 2000
# address-space cap for the worker: 10^{10^{10}} must die of MemoryError, not eat the box
WORKER_MEMORY_MB = 4096
WORKER_STARTUP_TIMEOUT = 120.0
# grade_many on at least this many rows starts its workers before extracting answers
PRESTART_ROWS = 256

# ---------------------------------------------------------------------------
# extraction
# ---------------------------------------------------------------------------

# "last_number": what GSM8K-style harnesses grade when a (small) model writes no box
ANSWER_FALLBACKS = ("none", "last_number")
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?")
_BOX_START = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_SPACE_TOKEN = re.compile(r"\s+([^\s{}$]+)")
_WS = re.compile(r"\s*")


def _match_brace(text: str, open_pos: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_pos``, or -1 if never closed.

    ``\\{`` and ``\\}`` are escaped (set braces), not structural.
    """
    depth = 0
    i, n = open_pos, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


# which box of a response is its answer: the last (ours) or the first (the official
# O1-Pruner code grades answers[0]); "answer" scope drops a thinking model's <think> part
BOXES = ("last", "first")
SCOPES = ("answer", "whole")
# what may stand between the boxes of one answer split over several boxes
# ("\boxed{(2, 2)} \quad\text{and}\quad \boxed{(6, 2)}", "\boxed{1},\boxed{2}", "$\boxed{1}\boxed{2}$"):
# spacing, math delimiters and separators (a comma, a semicolon, "and"); "or" is an
# alternative, not a part, and any other word ends the run
_JOIN_GAP_MAX = 60
_MAX_RUN = 20
_JOIN_FILLER = r"(?:\s|\$|\\[()\[\]]|\\[,;:! ]|\\q?quad(?![A-Za-z])|~)*"
_JOIN_SEP = r"(?:[,;&]|\band\b|\\(?:text|mathrm|textrm|mbox)\s*\{\s*(?:and|,|;)\s*\})"
_JOIN_GAP = re.compile(_JOIN_FILLER + "(?:" + _JOIN_SEP + _JOIN_FILLER + ")*")


def answer_part(text: str | None, scope: str = "answer", prompt: str | None = None) -> str | None:
    """The part of a response its answer is read from.

    ``scope="answer"``: a thinking model (DeepSeek-R1-Distill, Qwen3) writes
    ``<think>...</think>`` and then its answer: only the text after the last ``</think>``
    counts (a box inside the thinking is a draft); a response that opened ``<think>`` (or whose
    ``prompt`` opened it, as R1's chat template does) and never closed it was cut off while
    thinking and has no answer (None).  Text without think tags is returned unchanged, so models
    that do not think are graded as before (rules: :mod:`o1pruner.thinking`).
    ``scope="whole"``: the full text.
    """
    if text is None or scope == "whole":
        return text
    return thinking.split(text, prompt).answer


def _top_level_boxes(text: str) -> tuple[list[tuple[int, int, str]], bool]:
    """``([(start, end, content), ...], last_unclosed)`` of the boxes not inside a box.

    Linear time: each character is scanned by at most one brace match, because boxes
    inside a matched box are skipped.  A box that never closes swallows the rest of
    the text, so it is the last one and ``last_unclosed`` is True.
    """
    boxes: list[tuple[int, int, str]] = []
    covered_until = 0  # end of the last parsed box; starts before it are nested
    for m in _BOX_START.finditer(text):
        if m.start() < covered_until:
            continue
        pos = _WS.match(text, m.end()).end()
        if pos < len(text) and text[pos] == "{":
            close = _match_brace(text, pos)
            if close < 0:
                return boxes, True
            boxes.append((m.start(), close + 1, text[pos + 1 : close].strip()))
            covered_until = close + 1
        else:
            tok = _SPACE_TOKEN.match(text, m.end())
            if tok is None:
                continue  # a bare "\boxed" mention, not a box
            boxes.append((m.start(), tok.end(), tok.group(1)))
            covered_until = tok.end()
    return boxes, False


def _joined(text: str, a: tuple[int, int, str], b: tuple[int, int, str]) -> bool:
    """Are consecutive boxes ``a`` and ``b`` parts of one answer (only separators between)?"""
    gap = text[a[1] : b[0]]
    return len(gap) <= _JOIN_GAP_MAX and _JOIN_GAP.fullmatch(gap) is not None


def extract_answer(text: str | None, box: str = "last") -> str | None:
    """The answer in ``text``: the content of its last (or first) ``\\boxed{...}``.

    ``\\fbox{...}`` and ``\\boxed 5`` count too; a box nested inside an earlier box
    belongs to it (the outer box is the answer).  When the chosen box is one of a run
    of boxes joined only by spacing and separators (``\\boxed{1}, \\boxed{2} and
    \\boxed{3}``), the run is one answer, its parts joined by ", " (one part when all
    are the same): with ``box="last"`` the run ending with the last box, with
    ``box="first"`` the run starting with the first.  An unclosed box (a truncated
    response) swallows the rest of the text: with ``box="last"`` that means no answer;
    with ``box="first"`` only when it is the first box (a closed first box ends its run).
    No box, or an empty one, is no answer (None).
    """
    if box not in BOXES:
        raise ValueError(f"box must be one of {BOXES}, got {box!r}")
    if not text:
        return None
    boxes, unclosed = _top_level_boxes(text)
    if not boxes or (unclosed and box == "last"):
        return None
    if box == "last":
        i = j = len(boxes) - 1
        while i > 0 and _joined(text, boxes[i - 1], boxes[i]):
            i -= 1
    else:
        i = j = 0
        while j + 1 < len(boxes) and _joined(text, boxes[j], boxes[j + 1]):
            j += 1
    if j - i + 1 > _MAX_RUN:  # thousands of boxes in a row are not one answer's parts
        i, j = (j, j) if box == "last" else (i, i)
    parts = [c for _, _, c in boxes[i : j + 1] if c]
    if len(set(parts)) == 1:  # "\boxed{5}\n\n\boxed{5}": the answer repeated, not a list
        return parts[0]
    return ", ".join(parts) or None


# ---------------------------------------------------------------------------
# fast path: normalised string match and numeric comparison, regex only
# ---------------------------------------------------------------------------

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


def last_number(text: str | None) -> str | None:
    """The last number in ``text`` (``1,234`` -> ``1234``), or None: the no-box fallback."""
    if not isinstance(text, str):
        return None
    found = _NUMBER.findall(text[-MAX_FALLBACK_CHARS:])
    return found[-1].replace(",", "") if found else None


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


# ---------------------------------------------------------------------------
# fallback: math-verify in a persistent, killable worker process
# ---------------------------------------------------------------------------


def _for_math_verify(s: str) -> str:
    """Wrap an answer the way math-verify's LaTeX extraction finds it."""
    s = latexify(s.strip())
    if len(s) >= 2 and s[0] == "$" and s[-1] == "$" and "$" not in s[1:-1]:
        s = s[1:-1].strip()
    if _match_brace("{" + s + "}", 0) == len(s) + 1:
        return "\\boxed{" + s + "}"
    return "$" + s + "$"


def _worker_main() -> None:
    """Loop of the worker process: one JSON request per stdin line, one reply per line.

    Started by :class:`MathVerifyWorker`; its protocol channel is a private copy of
    the original stdout, and fd 1 is pointed at stderr so stray prints cannot
    corrupt replies.
    """
    import logging
    import resource

    reply = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    mem_mb = int(os.environ.get("O1PRUNER_GRADER_MEM_MB", "0"))
    if mem_mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
    logging.disable(logging.CRITICAL)  # "timeout disabled" warnings: we time out ourselves
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig()]  # no ExprExtractionConfig: it calls sympy parse_expr
    # each distinct answer and gold is parsed once, not once per pair: 16 samples share
    # a gold, and wrong answers repeat across samples (parsing is ~2/3 of the cost)
    parsed: dict[str, list] = {}

    def parse_once(s: str) -> list:
        hit = parsed.get(s)
        if hit is None:
            if len(parsed) >= 50000:
                parsed.clear()
            hit = parsed[s] = parse(_for_math_verify(s), extraction_config=config, parsing_timeout=None)
        return hit

    try:  # warm up (lazy parser/sympy imports) before "ready": the per-comparison deadline
        # then measures the comparison, not a first-call import on a loaded machine
        verify(parse_once("\\frac{1}{2}"), parse_once("[0.5, 1)"), timeout_seconds=None)
        official_sympy_equal("x+1", "1+x")
    except Exception:
        pass
    parsed.clear()
    reply.write(b'{"ready": true}\n')
    for line in sys.stdin.buffer:
        try:
            req = json.loads(line)
            if req.get("op") == "sympy":  # the official grader's symbolic step
                ok = official_sympy_equal(req["a"], req["b"])
            else:
                gold, pred = parse_once(req["gold"]), parse_once(req["pred"])
                ok = bool(gold and pred and verify(gold, pred, timeout_seconds=None))
        except Exception:  # MemoryError, RecursionError, parser errors: not equal
            ok = False
        reply.write(b'{"ok": true}\n' if ok else b'{"ok": false}\n')


class WorkerTimeout(Exception):
    """The worker did not answer before the deadline (it has been killed)."""


class MathVerifyWorker:
    """A math-verify subprocess reused across comparisons, restarted after a timeout."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, memory_mb: int = WORKER_MEMORY_MB,
                 startup_timeout: float = WORKER_STARTUP_TIMEOUT) -> None:
        self.timeout = float(timeout)
        self.memory_mb = int(memory_mb)
        self.startup_timeout = float(startup_timeout)
        self.starts = 0
        self._proc: subprocess.Popen | None = None
        self._ready = False
        self._buf = b""
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _terminate, [None])

    def prestart(self) -> None:
        """Start the process now without waiting for it: its imports overlap other work."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()

    def _command(self) -> list[str]:
        """The worker's command line.  A method so that tests can start a worker whose
        comparisons never end: a timeout then happens on any machine, however fast."""
        return [sys.executable, "-c", "from o1pruner.grading import _worker_main; _worker_main()"]

    def _start(self) -> None:
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["O1PRUNER_GRADER_MEM_MB"] = str(self.memory_mb)
        env.setdefault("OMP_NUM_THREADS", "1")
        self._proc = subprocess.Popen(
            self._command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
        )
        self._buf = b""
        self._ready = False
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _terminate, [self._proc])
        self.starts += 1

    def _ensure_ready(self) -> None:
        """Start the worker if it is not running, and wait for its "ready"."""
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        if self._ready:
            return
        try:
            self._read_reply(time.monotonic() + self.startup_timeout)
            self._ready = True
        except (WorkerTimeout, EOFError) as e:
            self._kill()
            raise RuntimeError(f"math-verify worker failed to start ({type(e).__name__}); "
                               f"is math-verify installed for {sys.executable}?") from e

    def _read_reply(self, deadline: float) -> dict:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise WorkerTimeout
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError("math-verify worker exited")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def _kill(self) -> None:
        if self._proc is not None:
            _terminate([self._proc])
        self._proc = None

    def equal(self, pred: str, gold: str) -> bool:
        """math-verify's verdict; raises WorkerTimeout (worker killed) or EOFError (crashed)."""
        return self.ask({"pred": pred, "gold": gold})

    def sympy_equal(self, a: str, b: str) -> bool:
        """The official grader's ``simplify(a - b) == 0`` on two normalised plain-text answers."""
        return self.ask({"op": "sympy", "a": a, "b": b})

    def ask(self, payload: dict) -> bool:
        """One request's verdict, within the deadline (else WorkerTimeout, worker killed)."""
        request = json.dumps(payload).encode() + b"\n"
        with self._lock:
            self._ensure_ready()
            deadline = time.monotonic() + self.timeout
            try:
                self._proc.stdin.write(request)
                self._proc.stdin.flush()
                return bool(self._read_reply(deadline)["ok"])
            except (WorkerTimeout, EOFError, BrokenPipeError, OSError, ValueError):
                self._kill()  # next call starts a fresh worker
                raise

    def close(self) -> None:
        with self._lock:
            self._kill()


def _terminate(holder: list) -> None:
    """Kill and reap the worker in ``holder[0]`` (a list, so finalizers need no self)."""
    proc = holder[0]
    if proc is None:
        return
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# the official O1-Pruner grader's rules (PRM800K-style), written from its rules
# ---------------------------------------------------------------------------
#
# The official code (StarDewXXX/O1-Pruner, o1_scripts/grader.py) accepts an answer when
# (a) the Hendrycks MATH normalisation of both strings is equal, or (b) its PRM800K
# normalisation (units and \text removed, LaTeX turned into plain text) of both is
# equal, or (c) element by element of a tuple/interval: fractions must match as
# written, an integer only equals an integer, and otherwise sympy must simplify the
# difference to 0.  It feeds model text to sympy's parse_expr (Python eval); here the
# plain text goes to a small parser that builds sympy objects and evaluates nothing.


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


# ---------------------------------------------------------------------------
# grader
# ---------------------------------------------------------------------------


def _is_missing(x: Any) -> bool:
    """None, NaN or pandas.NA (a row without a gold answer)."""
    return x is None or (isinstance(x, float) and x != x) or type(x).__name__ == "NAType"


GRADERS = ("default", "official")


class Grader:
    """Grades responses against gold answers; caches identical (extracted, gold) pairs.

    ``with Grader(timeout=5) as g: g.grade_frame(df)``: the context manager shuts the
    math-verify workers down.  ``stats`` counts graded rows, cache hits, fast-path
    decisions, math-verify fallbacks, rejected answers (code or pathological
    expressions), timeouts and worker crashes.

    Options (defaults: this project's grading):

    * ``box``: ``"last"`` or ``"first"`` box of the response is its answer (the
      official O1-Pruner code grades the first); see :func:`extract_answer`.
    * ``scope``: ``"answer"`` reads the answer after a thinking model's last
      ``</think>`` (an unclosed ``<think>`` is no answer); ``"whole"`` the full text.
    * ``grader``: ``"default"`` (fast path + math-verify) or ``"official"`` (the
      PRM800K-style rules of the official ``grader.py``; see :func:`official_equivalent`).
    * ``rel_tol``: relative tolerance between plain numbers when either is a
      decimal; 0 (default) compares exactly.
    * ``workers``: math-verify worker processes; a batch's undecided pairs are
      spread over them (verdicts do not depend on it).
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, max_fallback_chars: int = MAX_FALLBACK_CHARS,
                 memory_mb: int = WORKER_MEMORY_MB, answer_fallback: str = "none", box: str = "last",
                 scope: str = "answer", grader: str = "default", rel_tol: float = 0.0,
                 workers: int = 1) -> None:
        for name, value, allowed in (("answer_fallback", answer_fallback, ANSWER_FALLBACKS),
                                     ("box", box, BOXES), ("scope", scope, SCOPES),
                                     ("grader", grader, GRADERS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if not (rel_tol >= 0):
            raise ValueError(f"rel_tol must be >= 0, got {rel_tol!r}")
        if int(workers) < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        self.answer_fallback, self.box, self.scope, self.grader = answer_fallback, box, scope, grader
        self.rel_tol = float(rel_tol)
        self.timeout = float(timeout)
        self.max_fallback_chars = int(max_fallback_chars)
        self.cache: dict[tuple[str, str], bool] = {}
        self.stats = dict(graded=0, correct=0, cache_hits=0, fast_path=0, fallbacks=0,
                          timeouts=0, crashes=0, rejected=0)
        self._workers = [MathVerifyWorker(timeout=self.timeout, memory_mb=memory_mb)
                         for _ in range(int(workers))]
        self._worker = self._workers[0]

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for w in self._workers:
            w.close()

    # -- one pair ---------------------------------------------------------------

    def equivalent(self, pred: str, gold: str) -> bool:
        """Is answer ``pred`` equal to ``gold``?  Cached; bounded by ``timeout``."""
        return self._decide_all([(pred, gold)])[0]

    def _quick(self, pred: str, gold: str) -> bool | None:
        """The verdict without math-verify, or None when it must ask (counts stats)."""
        if self.grader == "official":  # its own rules decide; the code guard still applies
            if len(pred) > self.max_fallback_chars or looks_like_code(pred):
                self.stats["rejected"] += 1
                return False
            return None
        fast = fast_equivalent(pred, gold, self.rel_tol)
        if fast is not None:
            self.stats["fast_path"] += 1
            return fast
        if len(pred) > self.max_fallback_chars or looks_like_code(pred) or pathology(pred):
            self.stats["rejected"] += 1
            return False
        return None

    def _ask(self, worker: MathVerifyWorker, pred: str, gold: str) -> tuple[bool, str | None]:
        """``(verdict, failure)`` from one worker: failure is "timeouts", "crashes" or None."""
        try:
            if self.grader == "official":
                return official_equivalent(pred, gold, worker.sympy_equal), None
            return worker.equal(pred, gold), None
        except WorkerTimeout:
            return False, "timeouts"
        except (EOFError, OSError, ValueError):
            return False, "crashes"

    def _decide_all(self, pairs: list[tuple[str, str]]) -> list[bool]:
        """Verdicts for (pred, gold) pairs: cache, fast path, then the workers for the rest.

        Each distinct pair is decided once; the undecided ones are spread over the
        worker processes, each with its own deadline.
        """
        pending: dict[tuple[str, str], None] = {}
        for key in pairs:
            if key in self.cache or key in pending:
                self.stats["cache_hits"] += 1
                continue
            quick = self._quick(*key)
            if quick is None:
                pending[key] = None
            else:
                self.cache[key] = quick
        todo = list(pending)
        self.stats["fallbacks"] += len(todo)
        if len(self._workers) == 1 or len(todo) < 2:
            outcomes = [self._ask(self._worker, *key) for key in todo]
        else:
            outcomes = self._ask_in_parallel(todo)
        for key, (ok, failure) in zip(todo, outcomes):
            if failure:
                self.stats[failure] += 1
            self.cache[key] = ok
        return [self.cache[key] for key in pairs]

    def _ask_in_parallel(self, todo: list[tuple[str, str]]) -> list[tuple[bool, str | None]]:
        # threads only wait on the workers' pipes (the GIL is free meanwhile); each
        # worker serves one request at a time, so verdicts are as with one worker
        import queue
        from concurrent.futures import ThreadPoolExecutor

        idle: queue.Queue = queue.Queue()
        for w in self._workers:
            w.prestart()  # all start at once, not one after another as jobs reach them
            idle.put(w)

        def job(key: tuple[str, str]) -> tuple[bool, str | None]:
            w = idle.get()
            try:
                return self._ask(w, *key)
            finally:
                idle.put(w)

        with ThreadPoolExecutor(max_workers=len(self._workers)) as pool:
            return list(pool.map(job, todo))

    # -- responses ---------------------------------------------------------------

    def extract(self, response: Any, prompt: str | None = None) -> str | None:
        """The answer of one response under this grader's scope, box and fallback (``prompt``:
        what the response was generated after, to know whether it began inside ``<think>``)."""
        text = answer_part(response, self.scope, prompt) if isinstance(response, str) else None
        extracted = extract_answer(text, self.box)
        if extracted is None and self.answer_fallback == "last_number":
            extracted = last_number(text)  # the answer part only: not a number from the thinking
        return extracted

    @staticmethod
    def _gold_text(gold: Any) -> str | None:
        if _is_missing(gold):
            return None
        gold_s = str(gold).strip()
        if "\\boxed" in gold_s or "\\fbox" in gold_s:
            gold_s = extract_answer(gold_s) or gold_s
        return gold_s or None

    def grade(self, response: str | None, gold: Any) -> tuple[str | None, bool]:
        """``(extracted answer or None, correct)`` for one response."""
        return self.grade_many([response], [gold])[0]

    def grade_many(self, responses: list, golds: list, prompts: list | None = None) -> list[tuple[str | None, bool]]:
        responses, golds = list(responses), list(golds)
        prompts = list(prompts) if prompts is not None else [None] * len(responses)
        if len(responses) != len(golds):
            raise ValueError(f"grade_many: {len(responses)} responses but {len(golds)} gold answers")
        if len(responses) >= PRESTART_ROWS:  # a shard: some pairs will need math-verify
            for w in self._workers:
                w.prestart()
        extracted = [self.extract(r, p if isinstance(p, str) else None) for r, p in zip(responses, prompts)]
        gold_texts = [self._gold_text(g) for g in golds]
        gradable = [i for i, (e, g) in enumerate(zip(extracted, gold_texts)) if e is not None and g]
        verdicts = dict(zip(gradable, self._decide_all([(extracted[i], gold_texts[i]) for i in gradable])))
        results = [(e, bool(verdicts.get(i, False))) for i, e in enumerate(extracted)]
        self.stats["graded"] += len(results)
        self.stats["correct"] += sum(ok for _, ok in results)
        return results

    def grade_frame(self, df: pd.DataFrame, response_col: str = "response", gold_col: str = "gold",
                    where: str = "grade_frame") -> pd.DataFrame:
        """Copy of ``df`` with ``extracted`` (str or None) and ``correct`` (bool) added."""
        import pandas as pd

        from o1pruner.schemas import require_columns

        require_columns(df, [response_col, gold_col], where)
        prompts = df["prompt"].tolist() if "prompt" in df.columns else None
        results = self.grade_many(df[response_col].tolist(), df[gold_col].tolist(), prompts)
        out = df.copy()
        out["extracted"] = pd.Series([e for e, _ in results], index=df.index, dtype=object)
        out["correct"] = pd.Series([c for _, c in results], index=df.index, dtype=bool)
        return out


# ---------------------------------------------------------------------------
# files and CLI
# ---------------------------------------------------------------------------


def grade_file(input_path: str | Path, output_path: str | Path, response_col: str = "response",
               gold_col: str = "gold", timeout: float = DEFAULT_TIMEOUT,
               grader: Grader | None = None, answer_fallback: str = "none",
               annotate: Callable[[pd.DataFrame], pd.DataFrame] | None = None, **options: Any) -> dict:
    """Grade every row of a table file and write it with ``extracted``/``correct`` added.

    ``options`` are further :class:`Grader` keyword arguments (``box``, ``scope``,
    ``rel_tol``, ``workers``; pass a ``grader`` object for the official rules); ``annotate``
    adds further columns to the graded frame (the toy's anatomy).  Returns the
    grader's stats plus ``rows``, ``accuracy`` and ``output``.
    """
    from o1pruner.io import read_table, write_table

    df = read_table(input_path, text_cols=(response_col, gold_col))
    own = grader is None
    grader = grader or Grader(timeout=timeout, answer_fallback=answer_fallback, **options)
    try:
        before = dict(grader.stats)
        graded = grader.grade_frame(df, response_col, gold_col, where=str(input_path))
        stats = {k: grader.stats[k] - before[k] for k in grader.stats}
    finally:
        if own:
            grader.close()
    if annotate is not None:
        graded = annotate(graded)
    write_table(graded, output_path)  # atomic: errors name the output path, a failed write leaves no file
    rows = len(graded)
    stats.update(rows=rows, accuracy=float(graded["correct"].mean()) if rows else 0.0,
                 output=str(output_path))
    return stats


def cli_grade(argv: list[str]) -> int:
    """``o1pruner grade --input X --output Y [--timeout 5] [--box last|first] [--scope answer|whole]
    [--grader default|official] [--rel-tol 0] [--workers 1] [--answer-fallback none|last_number]``"""
    from o1pruner.config import schema_default as default  # the one home of the grading defaults

    ap = argparse.ArgumentParser(prog="o1pruner grade", description="grade responses against gold answers")
    ap.add_argument("--input", required=True, help=".jsonl, .parquet, .json or .csv with responses")
    ap.add_argument("--output", required=True, help=".parquet, .jsonl, .json or .csv to write")
    ap.add_argument("--response-col", default="response")
    ap.add_argument("--gold-col", default="gold")
    ap.add_argument("--timeout", type=float, default=default("grading.timeout"),
                    help="seconds per math-verify comparison before it is graded incorrect")
    ap.add_argument("--answer-fallback", choices=ANSWER_FALLBACKS, default=default("grading.answer_fallback"),
                    help="what to grade when a response has no \\boxed{}: nothing (the paper) or its last number")
    ap.add_argument("--box", choices=BOXES, default=default("grading.box"),
                    help="which \\boxed{} is the answer: the last (default) or the first (the official code)")
    ap.add_argument("--scope", choices=SCOPES, default=default("grading.scope"),
                    help="answer: read the answer after a thinking model's last </think> (default); "
                         "whole: the full text")
    ap.add_argument("--grader", choices=GRADERS, default=default("grading.grader"),
                    help="default: fast path + math-verify; official: the official O1-Pruner grader's rules")
    ap.add_argument("--rel-tol", type=float, default=default("grading.rel_tol"),
                    help="relative tolerance between plain numbers when one is a decimal (default 0: exact)")
    ap.add_argument("--workers", type=int, default=default("grading.workers"), help="math-verify worker processes (default 1)")
    ap.add_argument("--toy-anatomy", action="store_true",
                    help="add the toy's n_checks / n_corrections / n_errors columns (o1pruner.toy.anatomy)")
    args = ap.parse_args(argv)
    annotate = None
    if args.toy_anatomy:
        from o1pruner.toy.anatomy import add_anatomy as annotate
    try:
        grader = Grader(timeout=args.timeout, answer_fallback=args.answer_fallback, box=args.box,
                        scope=args.scope, grader=args.grader, rel_tol=args.rel_tol, workers=args.workers)
    except ValueError as e:
        ap.error(str(e))
    try:
        with grader:
            s = grade_file(args.input, args.output, args.response_col, args.gold_col, grader=grader,
                           annotate=annotate)
    except (ValueError, OSError) as e:  # SchemaError is a ValueError; both name the file
        print(f"o1pruner grade: error: {e}", file=sys.stderr)
        return 1
    print(f"graded {s['rows']} rows: accuracy {s['accuracy']:.4f} ({s['correct']}/{s['rows']}), "
          f"cache hits {s['cache_hits']}, fallbacks {s['fallbacks']}, timeouts {s['timeouts']}, "
          f"crashes {s['crashes']} -> {s['output']}")
    return 0
