"""Training runs and uploads started from the app: background threads that the Train page polls.

The runs live in this module's registry (one per server process, behind a lock), so a run outlives
page switches and reruns and is not started twice. The server may be shared, so: at most MAX_RUNS
trainings run at once server-wide (a further start is refused with a "busy" message, never queued
silently), each run belongs to the session that started it (an owner token in that session's state)
and a session lists and stops only its own, and steps and model size have limits the page shows
beside its fields. All three limits come from the environment (GROK_APP_MAX_TRAININGS,
GROK_APP_MAX_STEPS, GROK_APP_MAX_PARAMS).

Threads: the app's OpenMP threads sleep between operations (OMP_WAIT_POLICY=PASSIVE, set in ui/__init__.py
so that they leave the CPU to everything else), and waking a second thread at every op costs a small model
more than the thread gives: the Train page's tiny preset trained in 9.7 s on two threads against 1.5 s on
one (Nanda's model still gains: 38 ms a step on two, 54 on one). So a CPU training whose step is under
SMALL_STEP_GFLOP runs on one thread. torch's count is per thread once a thread has used it, but a thread
started later takes the last count set anywhere: so a training sets its count and fixes it for its own
thread (`_own_threads`), then sets the server's count again at once from a short-lived thread, and the
rest of the app (every rerun runs in a new thread) keeps the server's count throughout.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from grok_core.bench import step_flops
from grok_core.config import ModelConfig, TrainConfig
from grok_core.series import DiskFullError, is_disk_full
from grok_core.train import train_series


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


MAX_RUNS = _env_int("GROK_APP_MAX_TRAININGS", 1)  # trainings at once on this server, all sessions together
MIN_STEPS = 100
MAX_STEPS = _env_int("GROK_APP_MAX_STEPS", 100_000)
MAX_PARAMS = _env_int("GROK_APP_MAX_PARAMS", 1_000_000)  # Nanda's model has 226,688
KEEP_FINISHED = 32  # finished runs kept in the registry (their curves), oldest dropped first
PUBLISH_TIMEOUT_S = float(os.environ.get("GROK_CORE_PUBLISH_TIMEOUT", "60"))  # per request to the Hub
SERVER_THREADS = torch.get_num_threads()  # the server's torch threads, as it started
SMALL_STEP_GFLOP = 1.0  # CPU trainings with fewer matmul GFLOP a step run on one thread (Nanda's: 3.7)


def _own_threads(n: int) -> None:
    """Run this thread's torch ops on n threads without changing the count other threads start with."""
    torch.set_num_threads(n)
    torch.get_num_threads()  # fixes this thread's count now: torch reads the shared count at a thread's first use
    if n != SERVER_THREADS:
        restore = threading.Thread(target=torch.set_num_threads, args=(SERVER_THREADS,), name="torch-threads")
        restore.start()
        restore.join()


def threads_for(mcfg: ModelConfig, tcfg: TrainConfig, device: str) -> int:
    """torch threads for a training in this server: one for a small model on the CPU, else the server's count."""
    n_train = max(1, int(tcfg.frac_train * mcfg.p * mcfg.p))
    small = step_flops(mcfg, n_train)["step"] / 1e9 < SMALL_STEP_GFLOP
    return 1 if device == "cpu" and small else SERVER_THREADS


class Refused(Exception):
    """A run that may not start: over a limit, the server busy, or the name in use. The text says which."""


@dataclass
class Job:
    name: str
    path: Path
    mcfg: ModelConfig
    tcfg: TrainConfig
    device: str
    owner: str = ""  # the session that started it
    step: int = 0
    history: dict = field(default_factory=lambda: {"step": [], "train_loss": [], "test_loss": [], "train_acc": [],
                                                   "test_acc": []})
    status: str = "starting"  # starting | running | done | stopped | failed
    error: str | None = None
    threads: int = 0  # torch CPU threads it trains on
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


_JOBS: dict[str, Job] = {}  # runs started from this server process, by name (= folder runs/<name>)
_JOBS_LOCK = threading.Lock()


def jobs(owner: str | None = None) -> dict[str, Job]:
    """The runs of one session (owner), or of everyone (None: tests, the busy count); a copy."""
    with _JOBS_LOCK:
        return {n: j for n, j in _JOBS.items() if owner is None or j.owner == owner}


def running() -> int:
    """How many trainings run now on this server (all sessions)."""
    with _JOBS_LOCK:
        return sum(not j.finished for j in _JOBS.values())


def check_limits(mcfg: ModelConfig, n_steps: int) -> None:
    """Refused (with the limit in the text) for a run this server does not allow."""
    if not MIN_STEPS <= n_steps <= MAX_STEPS:
        raise Refused(f"Steps must be between {MIN_STEPS:,} and {MAX_STEPS:,} on this server (got {n_steps:,}).")
    if mcfg.n_params > MAX_PARAMS:
        raise Refused(f"This model has {mcfg.n_params:,} parameters; this server trains at most {MAX_PARAMS:,}.")


def failure_text(e: Exception, name: str) -> str:
    """What the page says when a run dies: a full disk names the file and the space; others their type."""
    if isinstance(e, DiskFullError):
        return (f"The disk is full: writing {e.path} needs about {e.needed / 1e6:.1f} MB and {e.free / 1e6:.1f} MB "
                f"are free. The checkpoints saved so far are intact; free some space and start “{name}” again with "
                "the same settings to resume.")
    if is_disk_full(e):
        return f"The disk is full ({e}). Free some space and start “{name}” again with the same settings to resume."
    return f"Training stopped with an error: {type(e).__name__}: {e}"


def start(owner: str, name: str, path: Path, mcfg: ModelConfig, tcfg: TrainConfig, dtype: str = "float16") -> Job:
    """Start a run in a background thread; Refused if over a limit, the server is busy or the name is in use."""
    from grok_core.device import select_device

    check_limits(mcfg, tcfg.n_steps)
    device = select_device("auto").type
    job = Job(name, Path(path), mcfg, tcfg, device, owner=owner, threads=threads_for(mcfg, tcfg, device))
    with _JOBS_LOCK:
        busy = [j for j in _JOBS.values() if not j.finished]
        if any(j.name == name for j in busy):
            raise Refused(f"“{name}” is already training on this server; choose another name.")
        if len(busy) >= MAX_RUNS:
            raise Refused(f"The server is busy: {len(busy)} of {MAX_RUNS} training slot"
                          f"{'s' if MAX_RUNS > 1 else ''} in use. Try again when a run finishes.")
        _JOBS.pop(name, None)
        _JOBS[name] = job
        done = [n for n, j in _JOBS.items() if j.finished]
        for n in done[: max(0, len(done) - KEEP_FINISHED)]:
            del _JOBS[n]

    def callback(ev: dict):
        with job.lock:
            job.status = "running"
            job.step = ev["step"]
            job.history["step"].append(ev["step"])
            for k in ("train_loss", "test_loss", "train_acc", "test_acc"):
                job.history[k].append(ev["metrics"][k])
        return "stop" if job.stop_requested else None

    def run():
        _own_threads(job.threads)  # see the module's docstring
        try:
            train_series(job.path, mcfg, tcfg, dtype=dtype, progress=False, callback=callback,
                         title=f"Trained in the app: {name}", provenance={"started_from": "app training page"})
            job.status = "stopped" if job.stop_requested else "done"
        except Exception as e:  # shown on the page; the partial series stays resumable
            job.status, job.error = "failed", failure_text(e, name)

    threading.Thread(target=run, name=f"train-{name}", daemon=True).start()
    return job


# -- publishing -----------------------------------------------------------------------------------
@dataclass
class Upload:
    """One publish from the page, in a background thread so the page can show a Cancel button."""

    repo_id: str
    total_bytes: int
    cancel: threading.Event = field(default_factory=threading.Event)
    status: str = "uploading"  # uploading | done | cancelled | failed
    url: str | None = None
    error: str | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> bool:
        return self.status != "uploading"


def start_upload(plan, token: str | None = None, endpoint: str | None = None) -> Upload:
    """Run grok_core.publish.publish(plan) in a thread, with PUBLISH_TIMEOUT_S per request and a cancel Event."""
    from grok_core.publish import PublishCancelled, PublishError, publish

    up = Upload(plan.repo_id, plan.total_bytes)

    def run():
        try:
            up.url = publish(plan, token=token, endpoint=endpoint, timeout_s=PUBLISH_TIMEOUT_S, cancel=up.cancel)
            up.status = "done"
        except PublishCancelled:
            up.status = "cancelled"
        except PublishError as e:
            up.status, up.error = "failed", str(e)
        except Exception as e:  # permissions, a local file gone: say what happened
            up.status, up.error = "failed", f"{type(e).__name__}: {e}"

    threading.Thread(target=run, name=f"publish-{plan.repo_id}", daemon=True).start()
    return up
