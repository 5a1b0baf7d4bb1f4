"""Values from URLs, files and repo ids, made safe to show and to compute with (no streamlit here).

`plain` turns any text into markdown that renders as exactly that text: no links, images, HTML,
emphasis or Streamlit colour directives, and cut to a readable length. `url_int` parses a number
from a query parameter without ever raising anything but ValueError, and keeps its magnitude small
enough for numpy (1e30 or twenty 9s become a large but ordinary int, so "nearest valid" applies).
"""

from __future__ import annotations

import math
import string

MAX_URL_INT = 10**15  # far beyond any step or index; small enough for int64 arithmetic
_MAX_RAW = 64  # characters of a URL number worth reading
_PUNCT = set(string.punctuation)  # CommonMark lets a backslash escape any ASCII punctuation


def cut(text, limit: int = 200) -> str:
    """str(text) on one line, at most `limit` characters (an ellipsis marks the cut)."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: max(limit - 1, 0)] + "…"


ZWSP = "\u200b"  # zero-width space: invisible, but it breaks GFM's autolinks of bare addresses


def plain(text, limit: int = 200) -> str:
    """Markdown that shows `text` literally (cut to `limit` characters).

    Every ASCII punctuation is backslash-escaped (links, images, HTML, emphasis, directives), and a
    zero-width space goes before "." and after ":" and "@": Streamlit's GFM autolinks bare
    "http://...", "www." and e-mail addresses in the text *after* escapes are undone.
    """
    out = []
    for ch in cut(text, limit):
        esc = "\\" + ch if ch in _PUNCT else ch
        out.append(ZWSP + esc if ch == "." else esc + ZWSP if ch in ":@" else esc)
    return "".join(out)


def url_int(raw, lo: int = -MAX_URL_INT, hi: int = MAX_URL_INT) -> int:
    """An integer from a URL value ("6400", "6.4e3", "1e30"), clamped to [lo, hi].

    ValueError for anything that is not a whole number (text, "nan", "inf", "12.5", very long values).
    """
    s = str(raw).strip()
    if not s or len(s) > _MAX_RAW:
        raise ValueError(f"not a number: {cut(s, 40)!r}")
    try:
        v = int(s)  # exact for long digit strings
    except ValueError:
        f = float(s)  # ValueError for text
        if not math.isfinite(f) or not f.is_integer():
            raise ValueError(f"not a whole number: {cut(s, 40)!r}") from None
        v = int(f) if abs(f) < 2 * MAX_URL_INT else int(math.copysign(2 * MAX_URL_INT, f))
    return min(max(v, lo), hi)


def url_int_list(raw, max_len: int = 64, lo: int = -MAX_URL_INT, hi: int = MAX_URL_INT) -> list[int]:
    """Comma-separated integers from a URL value, each as `url_int`; ValueError past `max_len` items."""
    parts = [t for t in str(raw).replace(" ", "").split(",") if t != ""]
    if len(parts) > max_len:
        raise ValueError(f"more than {max_len} values")
    return [url_int(t, lo, hi) for t in parts]
