"""Answer extraction: which part of a response is its answer, and which ``\\boxed{}`` in it.

* :func:`answer_part`: the text after a thinking model's ``</think>`` (or the whole text).
* :func:`extract_answer`: the last (or first) box in linear time (nested braces,
  ``\\fbox``, ``\\boxed 5``, a run of boxes joined by separators); an unclosed last box
  is no answer.
* :func:`last_number`: the no-box fallback (``--answer-fallback last_number``).
"""

from __future__ import annotations

import re

from o1pruner import thinking

# math-verify sees only answers up to this length; a longer answer that the fast path
# did not match is graded incorrect (no MATH/GSM8K/GaoKao gold answer exceeds 150 chars)
# (it lives here for last_number, which reads only a response's last MAX_FALLBACK_CHARS)
MAX_FALLBACK_CHARS = 2000

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


def last_number(text: str | None) -> str | None:
    """The last number in ``text`` (``1,234`` -> ``1234``), or None: the no-box fallback."""
    if not isinstance(text, str):
        return None
    found = _NUMBER.findall(text[-MAX_FALLBACK_CHARS:])
    return found[-1].replace(",", "") if found else None
