"""What every page does the same way: draw the shared frame, explain, show figures, finish."""

from __future__ import annotations

import streamlit as st

from grok_core import plots
from grok_core.views.level import Level

from . import frame
from .charts import plotly_chart
from .safe import plain
from .state import Selection


def current() -> Selection:
    """Draw the shared frame (sidebar, notices) and return the series and step the page shows. Call first."""
    return frame.begin()


def done() -> None:
    """Finish the page's run: notices, URL, Play. Call last."""
    frame.end()


def header(title: str, sel: Selection) -> None:
    st.title(title)
    st.caption(plain(sel.series.title, 120) + f" · step {sel.step:,} · {sel.phase}")


def explain(text: str) -> None:
    """2-4 plain sentences for students on what to look for at this step."""
    st.info(text, icon=":material/lightbulb:")


def chart(fig, name: str, *, key: str | None = None, alt: str | None = None) -> None:
    """A plotly figure with PNG export, updated in place across steps (ui/charts.py), so zoom and camera stay."""
    title = getattr(fig, "title", "") or name
    plotly_chart(fig.to_dict(), config=plots.png_config(name), key=key or f"chart-{name}", alt=alt or title)


def say(lvl: Level, low: str, mid: str, high: str) -> str:
    """The sentence for a reading's level (grok_core.views.level): the texts follow the step's own numbers."""
    return (low, mid, high)[int(lvl)]
