"""A bounded load test of the app: N browser sessions at once (Playwright contexts in one headless chromium)
on different views, each pressing the step key (→ on the step slider) M times.

Loopback only (the app on 127.0.0.1, started and stopped here), and it stops by itself: every wait has a
timeout and the whole run a deadline. Prints, as JSON and as text: the errors seen (page errors, Streamlit
exceptions, a step that never arrived; expected none), the step each session ends on against the one
expected (its start + M checkpoints), and the server's RSS before, after the sessions, and after idling.

    python benchmarks/load_test.py                       # 8 sessions x 20 presses
    python benchmarks/load_test.py --sessions 24 --presses 5 --idle 15   # the memory figure of issue 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.live_app import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402
from tests.test_browser import DONE, ERRORS, SLIDER  # noqa: E402 (the browser tests' own checks)

VIEWS = ["curves", "inputs", "waves", "grid", "embeddings", "surfaces", "crests", "attention", "progress"]


def rss_mb(pid: int) -> float:
    """Resident set size of the server process, from /proc (MB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bundled_steps() -> list[int]:
    from grok_core.hub import load_manifest, local_path
    from grok_core.series import open_series

    entries, _ = load_manifest()
    return [int(s) for s in open_series(local_path(entries[0]), verify=False).steps]


async def session(browser, base: str, i: int, start: int, steps: list[int], presses: int, deadline: float) -> dict:
    """One visitor: open a view at `start`, press → `presses` times, each time waiting until its figures show
    the new step (what a student sees), then check for errors shown and the step the slider ends on."""
    view = VIEWS[i % len(VIEWS)]
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    out = {"session": i, "view": view, "start": steps[start], "errors": errors, "ctx": ctx}
    t0 = time.monotonic()
    try:
        await page.goto(f"{base}/{view}?step={steps[start]}", timeout=120_000)
        await page.wait_for_function(DONE, arg=steps[start], polling="raf", timeout=120_000)
        slider = page.locator(SLIDER).first
        for n in range(1, presses + 1):
            want = steps[min(start + n, len(steps) - 1)]
            left = max(1.0, deadline - time.monotonic())
            await slider.focus()
            await page.keyboard.press("ArrowRight")
            try:
                await page.wait_for_function(DONE, arg=want, polling="raf", timeout=min(60.0, left) * 1e3)
            except Exception:
                errors.append(f"press {n}: the figures never showed step {want}")
                break
        await page.wait_for_timeout(1000)  # the last run's messages, and any exception it drew
        for e in await page.locator(ERRORS).all_inner_texts():
            errors.append(f"shown on the page: {e[:200]}")
        out["end"] = int((await slider.get_attribute("aria-valuetext")).replace(",", ""))
        if parse_qs(urlparse(page.url).query).get("step") != [str(out["end"])]:
            errors.append(f"the URL did not follow the slider: {page.url}")
    except Exception as e:  # a timeout or a crash is a finding, not a reason to stop the others
        errors.append(f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
        out["end"] = None
    out["expected"] = steps[min(start + presses, len(steps) - 1)]
    out["seconds"] = round(time.monotonic() - t0, 1)
    return out


async def run(args) -> dict:
    from playwright.async_api import async_playwright

    steps = bundled_steps()
    deadline = time.monotonic() + args.deadline
    env = dict(kv.split("=", 1) for kv in args.server_env)
    with running_app(env=env) as (base, proc):
        report = {"sessions": args.sessions, "presses": args.presses, "rss_mb": {"server started": rss_mb(proc.pid)}}
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            t0 = time.monotonic()
            starts = [(i * 3) % max(1, len(steps) - args.presses) for i in range(args.sessions)]
            results = []
            for w in range(0, args.sessions, args.concurrency):  # waves of at most `concurrency` at once
                results += await asyncio.gather(*[session(browser, base, i, starts[i], steps, args.presses, deadline)
                                                   for i in range(w, min(w + args.concurrency, args.sessions))])
            report["seconds"] = round(time.monotonic() - t0, 1)
            report["rss_mb"][f"after {args.sessions} sessions"] = rss_mb(proc.pid)
            for r in results:
                await r.pop("ctx").close()
            await asyncio.sleep(args.idle)
            report["rss_mb"][f"{args.idle:g} s after closing them"] = rss_mb(proc.pid)
            await browser.close()
    report["results"] = results
    report["errors"] = sum(len(r["errors"]) for r in results)
    report["wrong_end"] = sum(r["end"] != r["expected"] for r in results)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--presses", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=8, help="sessions at once (the rest wait their turn)")
    ap.add_argument("--idle", type=float, default=15.0, help="seconds to wait after the sessions before the last RSS")
    ap.add_argument("--deadline", type=float, default=240.0, help="seconds for the whole run; it stops by itself")
    ap.add_argument("--server-env", nargs="*", default=[], metavar="K=V",
                    help="environment of the server, e.g. MALLOC_ARENA_MAX=2")
    ap.add_argument("--json", type=Path, help="also write the report here")
    args = ap.parse_args()
    report = asyncio.run(asyncio.wait_for(run(args), args.deadline + 90))  # + start-up and idling
    for r in report["results"]:
        ok = "ok" if r["end"] == r["expected"] and not r["errors"] else "FAIL"
        print(f"session {r['session']:2d} {r['view']:<11} from step {r['start']:>6,}: ended on {r['end']}, "
              f"expected {r['expected']:,} ({r['seconds']} s) {ok} {'; '.join(r['errors'])}")
    print(f"{report['sessions']} sessions x {report['presses']} presses in {report['seconds']} s: "
          f"{report['errors']} errors, {report['wrong_end']} sessions on a wrong step")
    print("server RSS: " + ", ".join(f"{k} {v:.0f} MB" for k, v in report["rss_mb"].items()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    sys.exit(1 if report["errors"] or report["wrong_end"] else 0)


if __name__ == "__main__":
    main()
