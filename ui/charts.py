"""Plotly figures drawn by one persistent plotly.js chart per key, updated in place with Plotly.react.

st.plotly_chart derives a chart's element id from its whole figure, so every step change unmounts
the chart and draws it from scratch (newPlot, then a second pass once Streamlit has measured the
width): most of a step's time in the browser, and the student's zoom or 3-D camera is lost. This
small st.components.v2 component keeps one plotly.js div per key and hands it each new figure with
Plotly.react, with `uirevision` set so plotly keeps what the student zoomed, panned or rotated.

plotly.js is the file shipped inside the `plotly` Python package, served by Streamlit's static file
serving (app/static/plotly.min.js, copied there at start-up; see `ensure_plotly_js`), so the
browser needs nothing from the internet.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import streamlit as st

STATIC = Path(__file__).resolve().parents[1] / "static"
PLOTLY_JS = "plotly.min.js"

_JS = r"""
const SRC = "app/static/plotly.min.js";
function plotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__grokPlotly) {
    window.__grokPlotly = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = new URL(SRC, document.baseURI).href;
      s.onload = () => resolve(window.Plotly);
      s.onerror = () => { window.__grokPlotly = null; reject(new Error("could not load " + SRC)); };
      document.head.appendChild(s);
    });
  }
  return window.__grokPlotly;
}

export default function ({ parentElement, data }) {
  let gd = parentElement.querySelector(":scope > .grok-chart");
  if (!gd) {
    gd = document.createElement("div");
    gd.className = "grok-chart";
    gd.style.width = "100%";
    parentElement.appendChild(gd);
    // Redraw at the new width when the column changes size (plotly's own `responsive` listens to the window only).
    const ro = new ResizeObserver(() => { if (!gd.isConnected) { ro.disconnect(); return; } if (gd._fullLayout && window.Plotly) window.Plotly.Plots.resize(gd); });
    ro.observe(gd);
  }
  const spec = data.spec;
  gd.setAttribute("role", "img");
  gd.setAttribute("aria-label", data.alt || "");
  gd.style.height = (spec.layout.height || 400) + "px";
  const layout = { ...spec.layout, autosize: true, uirevision: data.revision };
  delete layout.width;
  // Traces identical to the ones drawn (e.g. training curves, where only the step marker moves): hand plotly
  // its own arrays back, so Plotly.react sees no data change and only redraws the layout.
  const dataKey = JSON.stringify(spec.data);
  const traces = gd.__grokDataKey === dataKey && gd.data ? gd.data : spec.data;
  gd.__grokDataKey = dataKey;
  plotly().then((P) => P.react(gd, traces, layout, data.config)).catch((e) => {
    gd.textContent = "This figure could not be drawn: " + e.message;
  });
  // Called before the next update and when the chart leaves the page: only then free it (WebGL contexts
  // of 3-D scenes are few).
  return () => setTimeout(() => { if (!gd.isConnected && window.Plotly) window.Plotly.purge(gd); }, 1000);
}
"""

_component = None
_unavailable: str | None = None  # why the component cannot be used (then charts fall back to st.plotly_chart)


def ensure_plotly_js() -> None:
    """Copy plotly.js from the installed plotly package into static/ (once, or when the package changed)."""
    import plotly

    src = Path(plotly.__file__).parent / "package_data" / PLOTLY_JS
    dst = STATIC / PLOTLY_JS
    if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
        STATIC.mkdir(exist_ok=True)
        tmp = dst.with_suffix(".tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)


def _renderer():
    global _component, _unavailable
    if _component is None and _unavailable is None:
        try:
            if not st.get_option("server.enableStaticServing"):
                raise RuntimeError("server.enableStaticServing is off (.streamlit/config.toml turns it on)")
            ensure_plotly_js()
            _component = st.components.v2.component("grok_plotly", js=_JS, isolate_styles=False)
        except (OSError, RuntimeError) as e:  # e.g. a read-only checkout: still draw, the slower way
            _unavailable = str(e)
    return _component


def plotly_chart(spec: dict, *, key: str, config: dict, alt: str = "", revision: str | None = None) -> None:
    """Draw (or update in place) the chart `key`; `revision` changes reset the student's zoom/camera."""
    render = _renderer()
    if render is None:
        st.plotly_chart(spec, config=config, key=key, alt=alt or None)
        return
    render(data={"spec": spec, "config": config, "alt": alt, "revision": revision or key}, key=key)
