"""Any view over training as an MP4 or GIF: one plotly figure per checkpoint, rendered and encoded.

Frames are drawn by plotly.js itself through kaleido (plotly's static export) in one headless
Chromium kept open for the whole animation, several figures at a time; the next figure is built
in Python while Chromium draws the last ones. MP4 is H.264 from imageio-ffmpeg's bundled ffmpeg;
GIF goes through the same ffmpeg with a palette made from the whole animation.

    animate("crests", series, "crests.mp4", steps=(0, 25000), fps=10, params={"c": 7})
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from . import phases, plots
from .view_frames import Context, Frames, ViewError

FORMATS = (".mp4", ".gif")
Progress = Callable[[int, int], None]  # (frames done, frames in all)


class AnimateError(Exception):
    """Why an animation cannot be made (bad input, no browser, a frame that failed to draw)."""


def browser_path() -> str:
    """The Chromium that draws the frames: $BROWSER_PATH, else chromium (Debian's package) on the PATH."""
    for cand in (os.environ.get("BROWSER_PATH"), "chromium", "chromium-browser", "google-chrome"):
        path = cand and (shutil.which(cand) or (cand if Path(cand).is_file() else None))
        if path:
            return path
    raise AnimateError("drawing frames needs Chromium: install Debian's package (apt-get install chromium) or set "
                       "BROWSER_PATH to a Chrome or Chromium executable")


class Renderer:
    """One headless Chromium (through kaleido) turning plotly figures into PNG bytes, `tabs` at a time.

    kaleido is asynchronous; its event loop runs in a thread of its own, so `submit` can be called
    from plain code and returns a Future. Use as a context manager; tests share one across calls.
    """

    def __init__(self, tabs: int = 2, timeout: float = 120.0):
        try:
            import kaleido
            import plotly
        except ImportError as e:
            raise AnimateError(f"rendering frames needs kaleido (pip install kaleido): {e}") from e
        plotlyjs = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"  # the one plotly.py ships
        self.tabs = tabs
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kaleido", daemon=True)
        self._thread.start()

        async def start():  # mathjax off: it would come from a CDN, and no figure here uses LaTeX
            k = kaleido.Kaleido(n=tabs, timeout=timeout, plotlyjs=str(plotlyjs), mathjax=False, path=browser_path())
            await k.open()
            return k

        try:
            self._k = self._run(start())
        except Exception as e:
            self._stop_loop()
            raise AnimateError(f"could not start Chromium for kaleido: {type(e).__name__}: {e}") from e

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def submit(self, fig: dict, width: int, height: int, scale: int = 1) -> Future:
        """PNG bytes of the figure at width×height CSS pixels (×scale real pixels), as a Future."""
        opts = {"format": "png", "width": width, "height": height, "scale": scale}
        return asyncio.run_coroutine_threadsafe(self._k.calc_fig(fig, opts=opts), self._loop)

    def close(self) -> None:
        if self._loop.is_running():
            try:
                self._run(self._k.close())
            finally:
                self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- frames -------------------------------------------------------------------------------------
def select_steps(all_steps: Sequence[int], spec: str | tuple[int | None, int | None] | None = None) -> list[int]:
    """The checkpoints in A:B (inclusive; either end may be left out), or A:B:K for every K-th of them."""
    steps = [int(s) for s in all_steps]
    if spec is None:
        return steps
    if isinstance(spec, str):
        parts = spec.split(":")
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            lo, hi, every = [int(t) if t.strip() else None for t in parts] + [None] * (3 - len(parts))
        except ValueError:
            raise AnimateError(f"steps {spec!r}: write A:B (training steps, e.g. 0:25000) or A:B:K (every K-th "
                               "checkpoint)") from None
    else:
        (lo, hi), every = spec, None
    if every is not None and every < 1:
        raise AnimateError(f"steps {spec!r}: K must be at least 1")
    chosen = [s for s in steps if (lo is None or s >= lo) and (hi is None or s <= hi)][:: every or 1]
    if not chosen:
        raise AnimateError(f"no checkpoint in steps {spec!r}; this series has steps {steps[0]}..{steps[-1]}")
    return chosen


_STEP_TAIL = re.compile(r"\s+— step [\d,]+$")


def titled(fig: plots.Figure, step: int, phase: str | None = None) -> dict:
    """The figure as a dict whose title ends with its step (and the phase): every frame says where it is."""
    spec = dict(fig.to_dict())
    layout = spec["layout"] = dict(spec.get("layout", {}))
    title = dict(layout.get("title") or {})
    base = _STEP_TAIL.sub("", title.get("text", ""))
    title["text"] = f"{base} — step {int(step):,}" + (f" ({phase})" if phase else "")
    layout["title"] = title
    return spec


def _size(fig: dict, width: int, height: int | None) -> tuple[int, int]:
    """CSS pixel size of every frame, rounded up to a multiple of 16 (what H.264 encoders want)."""
    h = height or int(fig.get("layout", {}).get("height") or 500)
    return -(-int(width) // 16) * 16, -(-h // 16) * 16


def _png_to_rgb(png: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))  # [H, W, 3] uint8


# -- encoding -----------------------------------------------------------------------------------
def _encoder(path: Path, size: tuple[int, int], fps: float):
    """A started imageio-ffmpeg writer for path's format; send() it [H, W, 3] uint8 frames, then close()."""
    import imageio_ffmpeg

    if path.suffix == ".gif":  # one palette for the whole animation, only changed pixels stored per frame
        vf = "split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=4:diff_mode=rectangle"
        w = imageio_ffmpeg.write_frames(str(path), size, fps=fps, codec="gif", pix_fmt_out="pal8", quality=None,
                                        macro_block_size=1, output_params=["-vf", vf, "-loop", "0"])
    else:  # crf 18: the thin lines and small text of a plot stay sharp
        w = imageio_ffmpeg.write_frames(str(path), size, fps=fps, codec="libx264", quality=None, macro_block_size=16,
                                        output_params=["-crf", "18", "-preset", "medium", "-movflags", "+faststart"])
    w.send(None)  # start ffmpeg
    return w


def check_output(out) -> Path:
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise AnimateError(f"{out}: the file name must end in {' or '.join(FORMATS)}")
    if not out.parent.is_dir():
        raise AnimateError(f"{out.parent}: no such folder")
    return out


def animate(view: str, series, out, *, steps=None, fps: float = 10.0, params: dict | None = None,
            figure: str | None = None, width: int = 960, height: int | None = None, scale: int = 1,
            phase: bool = True, progress: Progress | None = None, renderer: Renderer | None = None,
            context: Context | None = None) -> dict:
    """Render `view` (a page's URL name, with its URL parameters) at each checkpoint in `steps` into `out`.

    The file appears only when complete (written beside it, then renamed): a failure, or a progress
    callback that raises (to cancel), leaves an existing file as it was. `renderer` and `context`
    (the series' shared readings) may be passed in to reuse them. Returns what was written: path,
    frames, steps, size (pixels), fps, view, figure, params.
    """
    out = check_output(out)
    if not 0 < fps <= 60:
        raise AnimateError(f"fps {fps} is out of range (0 < fps ≤ 60)")
    if scale not in (1, 2, 3, 4) or not 200 <= width <= 4000 or (height is not None and not 100 <= height <= 4000):
        raise AnimateError("width must be 200..4000, height 100..4000 (CSS pixels) and scale 1..4")
    try:
        frames = Frames(view, series, figure=figure, context=context or Context(series), **(params or {}))
    except ViewError as e:
        raise AnimateError(str(e)) from e
    chosen = select_steps(series.steps, steps)
    spans = frames.context.spans
    tmp = out.with_name(f".{out.stem}.partial{out.suffix.lower()}")
    if progress:
        progress(0, len(chosen))  # before chromium starts (seconds): the bar appears at once
    own = renderer is None
    r = renderer or Renderer()
    try:
        return _render_all(frames, chosen, spans if phase else None, r, tmp, out, fps, width, height, scale, progress)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if own:
            r.close()


def _render_all(frames: Frames, chosen, spans, r: Renderer, tmp: Path, out: Path, fps, width, height, scale,
                progress) -> dict:
    """Build, render and encode in a pipeline: up to r.tabs + 1 frames in flight, written in order."""
    total, done, writer, size = len(chosen), 0, None, None
    pending: deque[tuple[int, Future]] = deque()

    def finish_one():
        nonlocal done, writer
        step, fut = pending.popleft()
        try:
            rgb = _png_to_rgb(fut.result())
        except Exception as e:
            raise AnimateError(f"the frame for step {step} could not be drawn: {type(e).__name__}: {e}") from e
        if rgb.shape[:2] != (size[1] * scale, size[0] * scale):
            raise AnimateError(f"the frame for step {step} came out {rgb.shape[1]}×{rgb.shape[0]}, not "
                               f"{size[0] * scale}×{size[1] * scale}")
        if writer is None:
            writer = _encoder(tmp, (rgb.shape[1], rgb.shape[0]), fps)
        writer.send(np.ascontiguousarray(rgb))
        done += 1
        if progress:
            progress(done, total)

    try:
        for step in chosen:
            fig = titled(frames.at(step), step, phases.phase_at(spans, step) if spans else None)
            size = size or _size(fig, width, height)
            pending.append((step, r.submit(fig, size[0], size[1], scale)))
            while len(pending) > r.tabs:
                finish_one()
        while pending:
            finish_one()
    finally:
        for _, fut in pending:
            fut.cancel()
        if writer is not None:
            writer.close()  # waits for ffmpeg to finish the file
    os.replace(tmp, out)
    return {"path": str(out), "frames": total, "steps": list(chosen), "size": (size[0] * scale, size[1] * scale),
            "fps": fps, "view": frames.view.name, "figure": frames.figure, "params": frames.params}
