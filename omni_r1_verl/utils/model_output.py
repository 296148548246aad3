"""Reading untrusted model output in linear time: tagged blocks, bracketed JSON spans and finite numbers.

Every function accepts any ``str`` (the number readers any value) and never raises. Tags are found with
``str.find``; brackets with one pass over the bracket and quote characters (the only regular expressions are
single character classes, which cannot backtrack); the JSON decoder only ever sees disjoint spans, so the text it
reads in total is at most the text itself.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass
from typing import Any

# Characters that change the bracket structure: brackets, quotes and (inside strings) escapes.
_STRUCTURE = re.compile(r'[][{}"\\]')
_STRING_END = re.compile(r'["\\]')
_OPENER = {"}": "{", "]": "["}


def tagged_span(text: str, tag: str, start: int = 0) -> tuple[int, int] | None:
    """Where the content of the first ``<tag>...</tag>`` block at or after ``start`` lies.

    The same block as the lazy regex ``<tag>(.*?)</tag>`` (DOTALL) finds: the first opening tag that is followed by
    a closing tag, up to the first closing tag after it.

    Args:
        text: The text.
        tag: Tag name, e.g. ``"answer"``.
        start: Where to start looking.

    Returns:
        ``(content_start, content_end)``, or ``None`` when there is no complete block.
    """
    opening, closing = f"<{tag}>", f"</{tag}>"
    begin = text.find(opening, start)
    if begin < 0:
        return None
    begin += len(opening)
    end = text.find(closing, begin)
    return None if end < 0 else (begin, end)


@dataclass(frozen=True)
class JsonSpans:
    """Where the JSON values of a text are (spans are ``(start, end)`` slices, ``end`` exclusive).

    Attributes:
        objects: ``(start, end, closed)`` of every ``{`` that is not inside another object, in text order: lists
            are transparent (each object of ``[{..}, {..}]`` is one), objects nested in an object belong to it.
            An unclosed object ends where it was cut off (by the closer of an enclosing list, or the text's end).
        values: ``(start, end)`` of every closed ``{..}`` or ``[..]`` that is not inside another closed one or an
            unclosed object, in text order: unclosed lists are transparent (the complete values inside a truncated
            list are found), a field of a truncated object is not a value of its own.
    """

    objects: list[tuple[int, int, bool]]
    values: list[tuple[int, int]]


def json_spans(text: str) -> JsonSpans:
    """Find the bracketed JSON values of a text in one pass.

    Quotes open JSON strings only inside brackets (quotes in the surrounding prose are ignored), and brackets inside
    strings do not count. A closer that matches an enclosing opener closes it and cuts off the brackets opened since;
    a closer that matches nothing open is ignored.

    Args:
        text: Any text.

    Returns:
        The spans.
    """
    objects: list[tuple[int, int, bool]] = []
    values: list[tuple[int, int]] = []
    stack: list[int] = []  # positions of the open brackets
    curly = square = 0  # open "{" and "[" on the stack
    object_level = -1  # stack depth of the open top-level object, -1 when none
    skip, n = 0, len(text)
    string_end = _STRING_END.search
    for m in _STRUCTURE.finditer(text):
        i = m.start()
        if i < skip:  # inside a string already skipped
            continue
        ch = text[i]
        if ch == "{":
            if object_level < 0:
                object_level = len(stack)
            stack.append(i)
            curly += 1
        elif ch == "[":
            stack.append(i)
            square += 1
        elif ch == '"':
            if stack:
                skip = _skip_string(text, i + 1, string_end)
        elif ch != "\\" and (curly if ch == "}" else square):
            want = _OPENER[ch]
            while True:  # pop to the matching opener, cutting off what was opened inside it
                j = stack.pop()
                kind = text[j]
                if kind == "{":
                    curly -= 1
                else:
                    square -= 1
                matched = kind == want
                if len(stack) == object_level:
                    objects.append((j, i + 1 if matched else i, matched))
                    object_level = -1
                if matched or kind == "{":  # a closed span, or a cut-off object, covers the values inside it
                    while values and values[-1][0] > j:
                        values.pop()
                if matched:
                    values.append((j, i + 1))
                    break
    if object_level >= 0:
        start = stack[object_level]
        objects.append((start, n, False))
        while values and values[-1][0] > start:
            values.pop()
    return JsonSpans(objects, values)


def _skip_string(text: str, pos: int, string_end) -> int:
    """Position after the JSON string whose content starts at ``pos`` (the text's end when it is unterminated)."""
    while True:
        m = string_end(text, pos)
        if m is None:
            return len(text)
        if text[m.start()] == '"':
            return m.start() + 1
        pos = m.start() + 2


def load_json(text: str, start: int, end: int) -> tuple[Any, bool]:
    """Decode ``text[start:end]`` as JSON.

    Args:
        text: The text.
        start: Span start.
        end: Span end (exclusive).

    Returns:
        ``(value, True)``, or ``(None, False)`` when the span is not valid JSON (including integers beyond Python's
        digit limit and nesting beyond the recursion limit).
    """
    try:
        return json.loads(text[start:end]), True
    except (ValueError, RecursionError):
        return None, False


def finite_float(value: Any) -> float | None:
    """A real number as a finite ``float``, else ``None`` (never raises).

    Args:
        value: Anything; ``bool`` is not a number here, and neither are numeric strings.

    Returns:
        The float, or ``None`` for non-numbers, NaN, infinities and integers beyond float range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        out = float(value)
    except (OverflowError, TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
