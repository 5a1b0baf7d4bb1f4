"""How fast a Hub series opens from the cache, and how fast a miss fails (targets: both within 1 s).

    python benchmarks/bench_hub.py [--repeat 5] [--stock]

The bundled series (checkpoints/default, 52 MB) is published to a local olah server (the real Hub
protocol, tests/olah_server.py), downloaded once through grok_core.hub into a temporary HF_HOME, then:
  cached      open_hub offline, in this process (the app's case) and in a fresh Python process
  miss        a repo never downloaded: HF_HUB_OFFLINE=1; a refused port; a host that does not resolve;
              a port that accepts and never answers (bounded by PROBE_TIMEOUT_S)
  --stock     the same refused port through hf_hub_download alone (its retries; ~24 s)
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _fails(fn) -> float:
    from grok_core.hub import SourceError

    t0 = time.perf_counter()
    try:
        fn()
    except SourceError as e:
        dt = time.perf_counter() - t0
        print(f"      message: {str(e)[:110]}…")
        return dt
    raise AssertionError("expected a SourceError")


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--stock", action="store_true", help="also time hf_hub_download's own failure (~24 s)")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    os.environ.update(HF_HOME=str(home / "hf"), HF_HUB_DISABLE_PROGRESS_BARS="1")
    from huggingface_hub import constants
    from olah_server import OlahHub, olah_cli

    from grok_core import hub, hub_fetch

    files = {p.name: p for p in (REPO / "checkpoints" / "default").iterdir() if p.is_file()}
    server = OlahHub(home / "olah")
    server.commit("bench/default", files)
    server.start(olah_cli())
    try:
        t0 = time.perf_counter()
        s, d = hub.open_hub("bench/default", endpoint=server.url)
        print(f"download + verify through olah: {time.perf_counter() - t0:.2f} s, {s.nbytes() / 1e6:.1f} MB, "
              f"{len(s.steps)} checkpoints ({d.describe()})")
    finally:
        server.stop()
    constants.HF_HUB_OFFLINE = True
    os.environ["HF_HUB_OFFLINE"] = "1"
    t = _timed(lambda: hub.open_hub("bench/default"), args.repeat)
    print(f"cached open, in process (offline): median {statistics.median(t) * 1e3:.1f} ms, max {max(t) * 1e3:.1f} ms "
          f"over {args.repeat}")
    code = ("import time; t0 = time.perf_counter(); from grok_core.hub import open_hub; t1 = time.perf_counter(); "
            "s, d = open_hub('bench/default'); s.params_at(s.steps[-1]); print(t1 - t0, time.perf_counter() - t1)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            .stdout.split() for _ in range(3)]
    imp, opened = [float(r[0]) for r in runs], [float(r[1]) for r in runs]
    print(f"cached open, fresh process: open + one step median {statistics.median(opened) * 1e3:.0f} ms, "
          f"max {max(opened) * 1e3:.0f} ms; before it, importing grok_core.hub (torch, huggingface_hub) "
          f"median {statistics.median(imp):.2f} s (over 3)")

    print("miss (a repo never downloaded):")
    print(f"  HF_HUB_OFFLINE=1: {_fails(lambda: hub.open_hub('nobody/never')) * 1e3:.1f} ms")
    constants.HF_HUB_OFFLINE = False
    del os.environ["HF_HUB_OFFLINE"]
    refused = f"http://127.0.0.1:{_closed_port()}"
    print(f"  connection refused: {_fails(lambda: hub.open_hub('nobody/never', endpoint=refused)) * 1e3:.1f} ms")
    nohost = "http://no-such-host.invalid"
    print(f"  host does not resolve: {_fails(lambda: hub.open_hub('nobody/never', endpoint=nohost)) * 1e3:.1f} ms")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    print(f"  accepts, never answers (PROBE_TIMEOUT_S = {hub_fetch.PROBE_TIMEOUT_S:g} s): "
          f"{_fails(lambda: hub.open_hub('nobody/never', endpoint=url)):.2f} s")
    silent.close()
    if args.stock:
        from huggingface_hub import hf_hub_download

        t0 = time.perf_counter()
        try:
            hf_hub_download("nobody/never", "series.json", endpoint=refused)
        except Exception as e:
            print(f"  stock hf_hub_download, connection refused: {time.perf_counter() - t0:.1f} s ({type(e).__name__})")


if __name__ == "__main__":
    main()
