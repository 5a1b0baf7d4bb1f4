"""Wall time of whole trainings on this machine: `python -m grok_core train` for the Train page's tiny preset and
for N steps of Nanda's configuration, and the Train page's own call (ui.training.start, in a thread of a process
that imported ui, as the app does) for the tiny preset.

    python benchmarks/bench_train.py [--nanda-steps 2000] [--reps 2] [--against DIR] [--skip-nanda]

--against DIR times the same commands in another checkout, alternating with this one (each pair side by side,
the load before each printed): e.g. `git worktree add /tmp/old <commit>` to see what a change bought. The
per-step speed against this CPU's matmul floor is `python -m grok_core bench`'s; this script is the whole
command a user runs (start-up, evaluation every 10 steps, checkpoint writes included).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The Train page's tiny preset (pages/train.py)
TINY = ["--p", "23", "--d-model", "32", "--n-heads", "4", "--d-head", "8", "--d-mlp", "64", "--frac-train", "0.6",
        "--n-steps", "1500", "--lr", "3e-3", "--schedule", "[[100,10],[1000000000,50]]"]
APP_CALL = """
import shutil, sys, time
sys.path.insert(0, ".")
from ui import training  # first, as every page does: the app's OpenMP settings hold before torch loads
from grok_core.config import ModelConfig, TrainConfig
m = ModelConfig(p=23, d_model=32, n_heads=4, d_head=8, d_mlp=64)
t = TrainConfig(frac_train=0.6, n_steps=1500, lr=3e-3, schedule=((100, 10), (10**9, 50)))
t0 = time.perf_counter()
job = training.start("bench", "bench-tiny", sys.argv[1], m, t)
while not job.finished:
    time.sleep(0.02)
assert job.status == "done", job.error
print(f"{time.perf_counter() - t0:.2f} s on {job.threads} thread(s)")
"""


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"failed in {cwd}: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return dt, r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nanda-steps", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--against", type=Path, default=None, help="another checkout to time side by side")
    ap.add_argument("--skip-nanda", action="store_true")
    args = ap.parse_args()
    trees = [("this", REPO)] + ([("against", args.against.resolve())] if args.against else [])
    env_note = os.environ.get("OMP_WAIT_POLICY", "default")
    print(f"bench_train: {os.cpu_count()} CPUs, OMP_WAIT_POLICY {env_note}, load {load()}", flush=True)
    configs = [("tiny (Train page preset)", TINY)]
    if not args.skip_nanda:
        configs.append((f"nanda, {args.nanda_steps} steps", ["--n-steps", str(args.nanda_steps)]))
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for label, cfg in configs:
                for name, tree in trees:
                    out = Path(tmp) / f"{name}-{rep}"
                    before = load()
                    dt, _ = timed([sys.executable, "-m", "grok_core", "train", str(out), *cfg, "--quiet"], tree)
                    shutil.rmtree(out, ignore_errors=True)
                    print(f"  {rep + 1}  train {label:28s} {name:8s} {dt:7.1f} s   (load before {before})", flush=True)
            out = Path(tmp) / f"app-{rep}"
            before = load()
            _, line = timed([sys.executable, "-c", APP_CALL, str(out)], REPO)
            shutil.rmtree(out, ignore_errors=True)
            print(f"  {rep + 1}  the Train page's call, tiny preset (this)   {line}   (load before {before})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
