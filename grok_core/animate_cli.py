"""Command line for `animate` (registered by grok_core/cli.py): any view over training as MP4 or GIF.

    python -m grok_core animate VIEW --series ID --out file.mp4 [--steps A:B] [--fps N] [view parameters]
    python -m grok_core animate crests --series default --out crests.mp4 --source logit --c 7
    python -m grok_core animate surfaces --series default --out neuron.gif --view 3d --steps 1000:14000

The view parameters have the names of the page's URL parameters (the same link text works:
?neurons=3,17,250&x=0 becomes --neurons 3,17,250 --x 0); `python -m grok_core animate VIEW -h`
lists them with their defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .view_frames import VIEWS

_REPO_ID = "owner/name"


def _err(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def open_source(src: str, quiet: bool = False):
    """A series from a folder, a manifest id, or a Hub repo id (owner/name, native format); SourceError if none."""
    from .hub import SourceError, cli_progress, get_entry, load_manifest, open_entry, open_repo
    from .series import open_series

    progress = None if quiet else cli_progress()
    if Path(src).is_dir():
        return open_series(src)
    entries, _ = load_manifest()
    if any(e.id == src for e in entries):
        return open_entry(get_entry(src), progress=progress)
    if src.count("/") == 1 and not Path(src).exists():
        return open_repo(src, progress=progress)
    raise SourceError(f"{src!r} is not a series folder, a manifest id ({', '.join(e.id for e in entries)}) or a "
                      f"Hub repo id ({_REPO_ID})")


def cmd_animate(args) -> int:
    from tqdm import tqdm

    from .animate import AnimateError, animate, check_output
    from .hub import SourceError
    from .series import SeriesError

    view = VIEWS[args.view]
    params = {p.name: getattr(args, f"p_{p.name}") for p in view.params}
    try:
        out = check_output(args.out)
        series = open_source(args.series, args.quiet)
        bar = None

        def progress(done: int, total: int) -> None:  # first called once the parameters are checked
            nonlocal bar
            if args.quiet:
                return
            if bar is None:
                bar = tqdm(total=total, unit="frame", desc=f"{args.view} → {out.name}")
            bar.n = done
            bar.refresh()

        try:
            res = animate(args.view, series, out, steps=args.steps, fps=args.fps, params=params, figure=args.figure,
                          width=args.width, height=args.height, scale=args.scale, phase=not args.no_phase,
                          progress=progress)
        finally:
            if bar is not None:
                bar.close()
    except (AnimateError, SourceError, SeriesError) as e:
        return _err(str(e))
    except KeyboardInterrupt:
        return 130
    steps = res["steps"]
    print(f"wrote {res['path']}: {res['frames']} frames of {res['figure']} (steps {steps[0]}..{steps[-1]}), "
          f"{res['size'][0]}×{res['size'][1]} px, {res['fps']:g} fps; parameters {json.dumps(res['params'])}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("animate", help="render a view at every checkpoint into an MP4 or GIF",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    views = a.add_subparsers(dest="view", required=True, metavar="VIEW", help=", ".join(VIEWS))
    for name, view in VIEWS.items():
        v = views.add_parser(name, help=f"figures: {', '.join(view.figures)}",
                             description=f"Animate the {name} view. Figures: {', '.join(view.figures)} "
                                         f"(default {view.figures[0]}).")
        v.add_argument("--series", required=True, help="a series folder, a manifest id (e.g. default) or a Hub "
                                                       "repo id (owner/name)")
        v.add_argument("--out", required=True, help="the file to write: .mp4 (H.264) or .gif")
        v.add_argument("--steps", default=None, help="training steps A:B (inclusive; default all checkpoints), or "
                                                     "A:B:K for every K-th checkpoint in that range")
        v.add_argument("--fps", type=float, default=10.0, help="frames (checkpoints) per second (default 10)")
        v.add_argument("--figure", choices=view.figures, default=None, help=f"default {view.figures[0]}")
        v.add_argument("--width", type=int, default=960, help="frame width in CSS pixels (default 960)")
        v.add_argument("--height", type=int, default=None, help="frame height (default: the figure's own)")
        v.add_argument("--scale", type=int, default=1, choices=[1, 2, 3, 4], help="pixels per CSS pixel (default 1; "
                                                                                  "2 for sharp slides)")
        v.add_argument("--no-phase", action="store_true", help="leave the training phase out of the frame titles")
        v.add_argument("--quiet", action="store_true", help="no progress bar")
        for p in view.params:
            kind = f"one of {', '.join(p.choices)}" if p.choices else ("comma-separated integers" if p.max_len
                                                                       else "integer")
            v.add_argument(f"--{p.name}", dest=f"p_{p.name}", default=None, metavar=p.name.upper(),
                           help=f"{p.help} ({kind}; default as on the page)")
        v.set_defaults(fn=cmd_animate)
