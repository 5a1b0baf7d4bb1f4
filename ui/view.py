"""What every page does the same way: draw the shared frame, explain, show figures, finish."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlencode, urlparse

import streamlit as st

from grok_core import plots
from grok_core.views.level import Level

from . import animation, compact, frame, state
from .charts import plotly_chart
from .safe import plain
from .state import Selection

EMBED_HEIGHT = 900  # px: the snippet's iframe height; the page scrolls inside it where it is taller
EMBED_WIDTH = 820  # px: the compact layout is made for frames 600-900 px wide


def current() -> Selection:
    """Draw the shared frame (sidebar, notices) and return the series and step the page shows. Call first."""
    st.session_state["_page"] = Path(sys._getframe(1).f_globals.get("__file__", "")).stem  # pages/<name>.py
    return frame.begin()


def embedded() -> bool:
    """Whether the page runs in the compact layout for iframes (?embed=true)."""
    return frame.embedded()


def done() -> None:
    """Finish the page's run: "Download as animation", "Embed this view", notices, URL, Play. Call last."""
    sel, page = st.session_state.get("_selection"), st.session_state.get("_page", "")
    if sel is not None:
        animation.download_box(page, sel, state.shown_params())
    embed_box(page)
    frame.end()


def header(title: str, sel: Selection) -> None:
    with st.session_state.get("_head_box") or st.container():  # embedded: above the inline step control
        st.title(title)
        st.caption(plain(sel.series.title, 120) + f" · step {sel.step:,} · {sel.phase}")


def columns(spec, *, keep: bool = False, **kw) -> list:
    """st.columns in the full app; embedded, the columns stack at full width (a frame of 600-900 px would squeeze
    them), unless keep=True (small things such as a row of numbers)."""
    n = spec if isinstance(spec, int) else len(spec)
    if not embedded():
        return st.columns(spec, **kw)
    if keep:  # a row that wraps where it must (st.columns would stack all of it below 640 px)
        row = st.container(horizontal=True)
        return [row.container() for _ in range(n)]
    return [st.container() for _ in range(n)]


def embed_url(page: str, params: dict[str, str]) -> str:
    """The address of exactly this view (page, series, step and every control) in the compact layout."""
    url = st.context.url if _has_browser() else None
    base = f"{urlparse(url).scheme}://{urlparse(url).netloc}" if url else "http://localhost:8501"
    return f"{base}/{page}?" + urlencode({**params, "embed": "true"})


def _has_browser() -> bool:
    try:
        return bool(st.context.url)
    except Exception:  # no session behind this run
        return False


def embed_box(page: str) -> None:
    """An iframe snippet for what is on screen, for a course page or slides."""
    url = embed_url(page, state.shown_params())
    with st.expander("Embed this view", icon=":material/code:"):
        st.caption("Paste this into a web page to show this view, at this step and with these settings, in a compact "
                   "layout without the sidebar (made for frames 600–900 px wide).")
        st.code(f'<iframe src="{url}" width="{EMBED_WIDTH}" height="{EMBED_HEIGHT}" style="border: 0; max-width: 100%" '
                f'title="Grokking Explorer: {page}" loading="lazy"></iframe>', language="html", wrap_lines=True)
        st.link_button("Open the compact view", url, icon=":material/open_in_new:")


def explain(text: str) -> None:
    """2-4 plain sentences for students on what to look for at this step."""
    st.info(text, icon=":material/lightbulb:")


def chart(fig, name: str, *, key: str | None = None, alt: str | None = None) -> None:
    """A plotly figure with PNG export, updated in place across steps (ui/charts.py), so zoom and camera stay."""
    title = getattr(fig, "title", "") or name
    spec = compact.narrow(fig.to_dict()) if embedded() else fig.to_dict()  # embedded: long titles wrap
    plotly_chart(spec, config=plots.png_config(name), key=key or f"chart-{name}", alt=alt or title)


def say(lvl: Level, low: str, mid: str, high: str) -> str:
    """The sentence for a reading's level (grok_core.views.level): the texts follow the step's own numbers."""
    return (low, mid, high)[int(lvl)]
