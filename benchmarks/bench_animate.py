"""How long an animation of the bundled run takes: chromium start, figure building, drawing and encoding.

    python benchmarks/bench_animate.py                       # crests, waves and the 3-D surface, 115 frames each
    python benchmarks/bench_animate.py --views crests --tabs 1,2,3

Target (issue 14): a 2-D view over all 115 checkpoints in at most 2 minutes on the 2-core CPU. The
load average is printed before and after: on a shared machine the same run takes several times
longer when other processes hold the cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grok_core.animate import Renderer, animate, select_steps, titled  # noqa: E402
from grok_core.series import open_series  # noqa: E402
from grok_core.view_frames import Frames  # noqa: E402

CASES = {"crests": ("crests", {}), "waves": ("waves", {}), "surface3d": ("surfaces", {"view": "3d"}),
         "heatmap": ("surfaces", {})}


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", default="checkpoints/default")
    ap.add_argument("--views", default="crests,waves,surface3d", help=f"comma-separated, of {', '.join(CASES)}")
    ap.add_argument("--steps", default=None, help="A:B or A:B:K (default: every checkpoint)")
    ap.add_argument("--tabs", default="2", help="comma-separated tab counts to compare, e.g. 1,2,3")
    ap.add_argument("--format", default="mp4", choices=["mp4", "gif"])
    args = ap.parse_args()
    s = open_series(args.series)
    steps = select_steps(s.steps, args.steps)
    print(f"{s.title}: {len(steps)} frames, steps {steps[0]}..{steps[-1]}; {os.cpu_count()} CPUs; {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.views.split(","):
            view, params = CASES[case]
            frames = Frames(view, s, **params)
            t0 = time.perf_counter()
            for step in steps:
                titled(frames.at(step), step)
            build = time.perf_counter() - t0
            print(f"\n{case} ({view}, {params}, figure {frames.figure}): building the figures alone "
                  f"{build:.1f} s ({1e3 * build / len(steps):.0f} ms/frame)")
            for tabs in [int(t) for t in args.tabs.split(",")]:
                t0 = time.perf_counter()
                with Renderer(tabs=tabs) as r:
                    start = time.perf_counter() - t0
                    out = Path(tmp) / f"{case}.{args.format}"
                    res = animate(view, s, out, steps=args.steps, params=params, renderer=r)
                total = time.perf_counter() - t0
                per = (total - start) / res["frames"]
                print(f"  tabs {tabs}: {total:6.1f} s in all = chromium start {start:4.1f} s + {per:.2f} s/frame "
                      f"x {res['frames']}; {res['size'][0]}x{res['size'][1]} px, {out.stat().st_size / 1e6:.1f} MB; "
                      f"{load()}", flush=True)


if __name__ == "__main__":
    main()
