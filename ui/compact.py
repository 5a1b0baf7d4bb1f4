"""Figures for the compact embedded layout: titles that would run past a narrow frame wrap onto more lines.

Plotly never wraps a title: at 600 px a long figure title is cut at the frame's edge, and the titles of
side-by-side panels run into each other. The server cannot know the frame's exact width, so titles are
wrapped for the narrowest frame the layout is made for, which leaves them whole in wider ones too, and
the top margin grows by the lines added. The figures themselves (grok_core.plots) stay as they are.
"""

from __future__ import annotations

import re

FRAME_PX = 600  # the narrowest frame the embedded layout is made for
TITLE_CHAR_PX = 9.0  # about the mean glyph width of plotly's 17-px title font
PANEL_CHAR_PX = 7.0  # ... and of a 12-px panel title
PANEL_MARGINS_PX = 160  # the axes' margins and a colour bar, which the panels do not get
LINE_PX = {"title": 22, "panel": 15}
_TAG = re.compile(r"</?b>")
_STEP_TAIL = re.compile(r"— step [\d,]+")


def wrap(text: str, chars: int) -> str:
    """Word-wrap plotly text to lines of at most `chars` characters (existing <br> kept, <b> kept per line)."""
    bold = "<b>" in text
    lines = []
    for part in _TAG.sub("", text).split("<br>"):
        line = ""
        for word in _STEP_TAIL.sub(lambda m: m.group(0).replace(" ", "\0"), part).split(" "):
            word = word.replace("\0", " ")  # "— step N" stays on one line: the title says where it is
            if line and len(line) + 1 + len(word) > chars:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return "<br>".join(f"<b>{ln}</b>" if bold else ln for ln in lines)


def _lines(text: str) -> int:
    return text.count("<br>") + 1


def narrow(spec: dict, width: int = FRAME_PX) -> dict:
    """A copy of the figure spec whose title and panel titles fit a frame `width` px wide."""
    layout = dict(spec.get("layout", {}))
    grow = 0
    title = dict(layout.get("title") or {})
    if title.get("text"):
        before = _lines(title["text"])
        title["text"] = wrap(title["text"], int(0.92 * width / TITLE_CHAR_PX))
        grow += LINE_PX["title"] * (_lines(title["text"]) - before)
        layout["title"] = title
    anns = list(layout.get("annotations") or [])
    panels = [i for i, a in enumerate(anns) if str(a.get("xref", "")).endswith(("paper", "domain"))
              and a.get("yref") == "paper"
              and a.get("showarrow") is False and a.get("yanchor") == "bottom"]
    if len(panels) >= 2:  # titles of side-by-side panels: each has its panel's share of the width
        chars = max(8, int(0.7 * (width - PANEL_MARGINS_PX) / len(panels) / PANEL_CHAR_PX))
        added = 0
        for i in panels:
            a = dict(anns[i])
            before = _lines(a["text"])
            a["text"] = wrap(a["text"], chars)
            a["font"] = {**a.get("font", {}), "size": 12}
            added = max(added, _lines(a["text"]) - before)
            anns[i] = a
        layout["annotations"] = anns
        grow += LINE_PX["panel"] * added
    if grow:
        margin = dict(layout.get("margin") or {})
        margin["t"] = margin.get("t", 60) + grow
        layout["margin"] = margin
        layout["height"] = (layout.get("height") or 400) + grow
        if title.get("text"):  # pinned to the top: the panel titles grow up towards it
            layout["title"] = {**title, "yref": "container", "y": 1 - 16 / layout["height"], "yanchor": "top"}
    return {**spec, "layout": layout}
