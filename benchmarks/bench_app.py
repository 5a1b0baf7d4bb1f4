"""Speed of the explorer in a real browser (issue 5, item 6).

Starts `streamlit run app.py` on a free loopback port and drives Debian's headless chromium with
Playwright (never downloads a browser). For every view it opens the page, presses ← on the step
slider N times and measures, in the browser, the time from the keydown to the page fully redrawn
(the script finished and every step-dependent figure title shows the new step); the server's own
script time per run comes from the app (GROK_APP_TIMING), so the browser's share is visible. It
also measures the play rate on the 2-D views, `streamlit run` to the first figure drawn, and the
server's memory after all that.

    python benchmarks/bench_app.py                  # all views, 30 moves each
    python benchmarks/bench_app.py --moves 10 --views curves,waves --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere
from tests.live_app import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402 (after the path is set)

# name -> (URL path and query, kind): "2d" views must redraw in <= 250 ms, "heavy" (3-D, N×N grid) in <= 800 ms.
VIEWS = {
    "curves": ("", "2d"),
    "inputs": ("inputs", "2d"),
    "waves": ("waves", "2d"),
    "grid-svg": ("grid?render=svg", "heavy"),
    "grid": ("grid", "heavy"),
    "embeddings": ("embeddings", "2d"),
    "surfaces": ("surfaces", "2d"),
    "surfaces-3d": ("surfaces?view=3d", "heavy"),
    "crests": ("crests", "2d"),
    "attention": ("attention", "2d"),
    "progress": ("progress", "2d"),
}
LIMIT_MS = {"2d": 250, "heavy": 800}  # the targets, as medians over the moves
SERVER_LIMIT_MS, PLAY_MIN, STARTUP_LIMIT_S, MEMORY_LIMIT_MB = 50, 4.0, 8.0, 1536
PLAY_VIEWS = [name for name, (_, kind) in VIEWS.items() if kind == "2d"]

# True one animation frame after the script has finished and every step-dependent figure title ends with
# the new step (polled once per frame): the frame in which plotly's WebGL scenes draw (on requestAnimationFrame)
# has then run too.
REDRAWN = """(step) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const titles = [...document.querySelectorAll('.js-plotly-plot .gtitle')].map(t => t.textContent);
  const done = app && app.dataset.testScriptState !== 'running' && titles.length > 0
    && titles.filter(t => t.includes('— step')).every(t => t.endsWith('step ' + step));
  if (!done) { window.__seenDone = null; return false; }
  if (window.__seenDone !== step) { window.__seenDone = step; return false; }
  window.__t1 = performance.now();
  window.__seenDone = null;
  return true;
}"""
SLIDER = '[data-testid="stSidebar"] [data-testid="stSlider"] input[type=range]'


def _ok(good: bool) -> str:
    return "ok" if good else "MISSED"


def rss_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of a process, MB (from /proc)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def timings(log: str) -> list[dict]:
    try:
        return [json.loads(line) for line in Path(log).read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def series_steps() -> list[int]:
    from grok_core.hub import load_manifest, local_path
    from grok_core.series import open_series

    entries, _ = load_manifest()
    return [int(s) for s in open_series(local_path(entries[0]), verify=False).steps]


def open_view(page, base: str, path: str, step: int) -> None:
    sep = "&" if "?" in path else "?"
    page.goto(f"{base}/{path}{sep}step={step}")
    page.wait_for_function(REDRAWN, arg=step, polling="raf", timeout=120_000)
    # A 3-D chart is drawn after the page's 2-D ones (REDRAWN already holds): wait until no chart is added
    # for half a second, so the first measured move is not the 3-D scene's creation.
    n, same = -1, 0
    while same < 5:
        page.wait_for_timeout(100)
        m = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].filter(g => g._fullLayout).length")
        n, same = m, (same + 1 if m == n else 0)


def measure_moves(page, n: int) -> list[float]:
    """Press ← n times on the step slider; keydown -> fully redrawn, ms, measured in the page."""
    thumb = page.locator(SLIDER).first
    thumb.focus()
    page.evaluate("() => document.addEventListener('keydown', () => { window.__t0 = performance.now(); }, true)")
    out = []
    for _ in range(n):
        page.keyboard.press("ArrowLeft")
        step = int(thumb.get_attribute("aria-valuetext").replace(",", ""))
        page.wait_for_function(REDRAWN, arg=step, polling="raf", timeout=60_000)
        out.append(page.evaluate("() => window.__t1 - window.__t0"))
    return out


def measure_play(page, seconds: float) -> float:
    """Press play, count the distinct steps drawn for `seconds`, pause; steps per second."""
    page.evaluate("""() => {
      window.__seen = [];
      const look = () => {
        const t = [...document.querySelectorAll('.js-plotly-plot .gtitle')].map(e => e.textContent)
                  .find(s => s.includes('— step'));
        const last = window.__seen[window.__seen.length - 1];
        if (t && (!last || last[1] !== t)) window.__seen.push([performance.now(), t]);
        window.__raf = requestAnimationFrame(look);
      };
      look();
    }""")
    page.locator(".st-key-play button").first.click()
    page.wait_for_timeout(int(seconds * 1000))
    seen = page.evaluate("() => { cancelAnimationFrame(window.__raf); return window.__seen; }")
    page.locator(".st-key-play button").first.click()
    page.wait_for_timeout(500)
    if len(seen) < 3:
        return 0.0
    # from the first step change after pressing play to the last one seen
    return (len(seen) - 2) / ((seen[-1][0] - seen[1][0]) / 1000)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moves", type=int, default=30)
    ap.add_argument("--views", default=",".join(VIEWS))
    ap.add_argument("--play-seconds", type=float, default=5.0)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    steps = series_steps()
    start_index = min(len(steps) - 1, args.moves + len(steps) // 3)  # moves go left from here
    log = tempfile.NamedTemporaryFile(prefix="grok-timing-", suffix=".jsonl", delete=False).name
    results: dict = {"views": {}, "play": {}, "machine": {"cpus": os.cpu_count(), "load1": os.getloadavg()[0]}}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            t0 = time.monotonic()
            with running_app({"GROK_APP_TIMING": log}) as (base, server):
                t_ready = time.monotonic() - t0
                page.goto(base + "/")
                page.wait_for_selector(".js-plotly-plot .main-svg", timeout=120_000)
                results["startup_s"] = {"server_ready": round(t_ready, 2), "first_figure": round(time.monotonic() - t0, 2)}
                first = results["startup_s"]["first_figure"]
                print(f"startup: server ready {t_ready:.2f} s, first figure drawn {first:.2f} s  "
                      f"{_ok(first <= STARTUP_LIMIT_S)} (≤ {STARTUP_LIMIT_S} s)")

                print(f"{'view':<13}{'keypress→redraw median':>24}{'p90':>7}{'server median':>15}"
                      f"{'(step data)':>13}{'limit':>7}  verdict (redraw, server ≤ {SERVER_LIMIT_MS} ms)")
                for name in args.views.split(","):
                    path, kind = VIEWS[name]
                    n_before = len(timings(log))
                    open_view(page, base, path, steps[start_index])
                    n_open = len(timings(log))
                    ms = measure_moves(page, args.moves)
                    runs = timings(log)[n_open:]
                    srv_ms = [r["ms"] for r in runs]
                    res = {
                        "kind": kind, "limit_ms": LIMIT_MS[kind], "redraw_ms": [round(m, 1) for m in ms],
                        "redraw_median_ms": round(statistics.median(ms), 1),
                        "redraw_p90_ms": round(sorted(ms)[int(0.9 * (len(ms) - 1))], 1),
                        "server_median_ms": round(statistics.median(srv_ms), 1) if srv_ms else None,
                        "server_max_ms": round(max(srv_ms), 1) if srv_ms else None,
                        # of the server's time: waiting for a step computed ahead, or computing one in the script
                        "server_step_median_ms": round(statistics.median(
                            r.get("waited_ms", 0) + r.get("computed_ms", 0) for r in runs), 1) if runs else None,
                        "server_runs": [{k: r[k] for k in ("ms", "waited_ms", "computed_ms") if k in r} for r in runs],
                        "first_open_server_ms": round(timings(log)[n_before]["ms"], 1) if n_open > n_before else None,
                    }
                    results["views"][name] = res
                    print(f"{name:<13}{res['redraw_median_ms']:>20.0f} ms{res['redraw_p90_ms']:>7.0f}"
                          f"{res['server_median_ms'] or 0:>12.0f} ms{res['server_step_median_ms'] or 0:>10.0f} ms"
                          f"{LIMIT_MS[kind]:>7}  {_ok(res['redraw_median_ms'] <= LIMIT_MS[kind])}, "
                          f"{_ok((res['server_median_ms'] or 0) <= SERVER_LIMIT_MS)}")

                for name in PLAY_VIEWS:
                    if name not in args.views.split(","):
                        continue
                    open_view(page, base, VIEWS[name][0], steps[len(steps) // 4])
                    rate = measure_play(page, args.play_seconds)
                    results["play"][name] = round(rate, 2)
                    print(f"play on {name}: {rate:.1f} steps/s  {_ok(rate >= PLAY_MIN)} (≥ {PLAY_MIN})")

                rss, peak = rss_mb(server.pid)
                results["server_memory_mb"] = {"rss": round(rss), "peak": round(peak)}
                print(f"server memory after all views: {rss:.0f} MB resident (peak {peak:.0f} MB)  "
                      f"{_ok(rss <= MEMORY_LIMIT_MB)} (≤ {MEMORY_LIMIT_MB} MB)")
            browser.close()
    finally:
        os.unlink(log)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
