""""Download as animation": any view over a range of checkpoints as an MP4 or GIF, for slides.

A small form under the view (ui.view.done draws it): the step range, the figure, frames per second and the
format. grok_core.animate draws each frame with plotly's own static export (kaleido in Chromium) and
encodes it with ffmpeg; the view's current settings (the same names as in its URL) fix what every frame
shows. The file is kept in the session until the next one, so the download button survives reruns.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from grok_core.animate import AnimateError, animate
from grok_core.view_frames import VIEWS

MAX_FRAMES = 120  # a longer range takes every K-th checkpoint (about 12 s of video at 10 fps)
FORMATS = {"MP4": (".mp4", "video/mp4"), "GIF": (".gif", "image/gif")}
_RESULT = "_animation"  # session key: the last file made, with what it shows


def default_range(steps: list[int]) -> tuple[int, int]:
    """Every checkpoint from the first, at most MAX_FRAMES of them."""
    return steps[0], steps[min(len(steps), MAX_FRAMES) - 1]


def chosen_steps(steps: list[int], lo: int, hi: int) -> tuple[str, int]:
    """The steps spec for grok_core.animate ("A:B:K") and how many frames it gives (at most MAX_FRAMES)."""
    n = sum(lo <= s <= hi for s in steps)
    every = -(-n // MAX_FRAMES)
    return f"{lo}:{hi}:{every}", -(-n // every)


def view_params(page: str, shown: dict[str, str]) -> dict[str, str]:
    """The view's own settings among the URL parameters shown (series and step are chosen in the form)."""
    return {p.name: shown[p.name] for p in VIEWS[page].params if p.name in shown}


def download_box(page: str, sel, shown: dict[str, str]) -> None:
    """The form and, once a file is made, its download button; nothing for pages that are not views."""
    if page not in VIEWS:
        return
    view, steps = VIEWS[page], [int(s) for s in sel.steps]
    params = view_params(page, shown)
    key = f"anim-{page}-{sel.series_id}"
    with st.expander("Download as animation", icon=":material/movie:"):
        with st.form(key, border=False):
            lo, hi = st.select_slider("Steps", steps, value=default_range(steps), format_func=lambda s: f"{s:,}",
                                      key=f"{key}-range",
                                      help=f"One frame per checkpoint in this range; a range of more than "
                                           f"{MAX_FRAMES} checkpoints takes every second one (or third …).")
            figure = view.figures[0]
            if len(view.figures) > 1:
                figure = st.selectbox("Figure", view.figures, key=f"{key}-figure",
                                      format_func=lambda f: f.replace("-", " ").capitalize())
            fps = st.number_input("Frames per second", 1, 30, 10, key=f"{key}-fps")
            fmt = st.radio("Format", list(FORMATS), horizontal=True, key=f"{key}-format",
                           help="MP4 (H.264) is small and sharp; GIF plays anywhere, also where video does not.")
            go = st.form_submit_button("Make the animation", icon=":material/movie:")
        st.caption("Each frame is the figure as shown here, with these settings"
                   + (f" ({', '.join(f'{k} = {v}' for k, v in params.items())})" if params else "")
                   + ", its title naming its step and phase.")
        if go:
            _render(page, sel, params, figure, lo, hi, int(fps), fmt)
        made = st.session_state.get(_RESULT)
        if made and made["page"] == page and made["series"] == sel.series_id:
            st.download_button(f"Download {made['name']}", made["data"], file_name=made["name"], mime=made["mime"],
                               icon=":material/download:", key=f"{key}-download", on_click="ignore")
            st.caption(f"{made['frames']} frames of {made['size'][0]}×{made['size'][1]} pixels, steps "
                       f"{made['steps'][0]:,}–{made['steps'][-1]:,}, {made['fps']} per second, "
                       f"{len(made['data']) / 1e6:.1f} MB.")


def _render(page: str, sel, params: dict, figure: str, lo: int, hi: int, fps: int, fmt: str) -> None:
    spec, n = chosen_steps([int(s) for s in sel.steps], lo, hi)
    ext, mime = FORMATS[fmt]
    name = f"{figure}-steps-{lo}-{hi}{ext}"
    bar = st.progress(0.0, text=f"Starting the renderer for {n} frames…")

    def progress(done: int, total: int) -> None:
        if done:
            bar.progress(done / total, text=f"Drawing and encoding frame {done} of {total}…")

    with tempfile.TemporaryDirectory(prefix="grok-animation-") as d:
        out = Path(d) / name
        try:
            info = animate(page, sel.series, out, steps=spec, fps=fps, params=params, figure=figure, progress=progress)
        except AnimateError as e:
            bar.empty()
            st.error(f"Could not make the animation: {e}", icon=":material/error:")
            return
        data = out.read_bytes()
    bar.empty()
    st.session_state[_RESULT] = {"page": page, "series": sel.series_id, "name": name, "mime": mime, "data": data,
                                 "frames": info["frames"], "steps": info["steps"], "size": info["size"], "fps": fps}
