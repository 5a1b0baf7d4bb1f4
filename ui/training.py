"""Training runs started from the app: a background thread per run, polled by the training page.

The jobs live in this module's registry (one per server process, behind a lock), so a run outlives
page switches and reruns and is not started twice; the page reads a job's progress and live metrics
and may ask it to stop (train_series' callback returns "stop").
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from grok_core.config import ModelConfig, TrainConfig
from grok_core.train import train_series


@dataclass
class Job:
    name: str
    path: Path
    mcfg: ModelConfig
    tcfg: TrainConfig
    device: str
    step: int = 0
    history: dict = field(default_factory=lambda: {"step": [], "train_loss": [], "test_loss": [], "train_acc": [],
                                                   "test_acc": []})
    status: str = "starting"  # starting | running | done | stopped | failed
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    stop_requested: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "stopped", "failed")

    def snapshot(self) -> tuple[int, dict]:
        with self.lock:
            return self.step, {k: list(v) for k, v in self.history.items()}

    def request_stop(self) -> None:
        with self.lock:
            self.stop_requested = True


_JOBS: dict[str, Job] = {}  # every run started from this server process, by name
_JOBS_LOCK = threading.Lock()


def jobs() -> dict[str, Job]:
    """The runs started from this server (a copy: sessions read it while another may start a run)."""
    with _JOBS_LOCK:
        return dict(_JOBS)


def start(name: str, path: Path, mcfg: ModelConfig, tcfg: TrainConfig, dtype: str = "float16") -> Job:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    job = Job(name, Path(path), mcfg, tcfg, device)

    def callback(ev: dict):
        with job.lock:
            job.status = "running"
            job.step = ev["step"]
            job.history["step"].append(ev["step"])
            for k in ("train_loss", "test_loss", "train_acc", "test_acc"):
                job.history[k].append(ev["metrics"][k])
        return "stop" if job.stop_requested else None

    def run():
        try:
            train_series(job.path, mcfg, tcfg, dtype=dtype, progress=False, callback=callback,
                         title=f"Trained in the app: {name}", provenance={"started_from": "app training page"})
            job.status = "stopped" if job.stop_requested else "done"
        except Exception as e:  # shown on the page; the partial series stays resumable
            job.status, job.error = "failed", f"{type(e).__name__}: {e}"

    with _JOBS_LOCK:
        _JOBS[name] = job
    threading.Thread(target=run, name=f"train-{name}", daemon=True).start()
    return job
