"""Publish a native series to the Hugging Face Hub as a model repo, with a model card.

The repo's root becomes the series folder (series.json, params-*.safetensors, cached extras)
plus README.md, so `grok_core.hub.open_repo("user/name")` or a manifest entry
{"source": {"repo_id": "user/name"}} opens it. `plan_publish` decides everything (files, card,
the exact HfApi calls) without the network; `publish` runs the plan.

The upload runs in a child process (grok_core/publish_child.py, the calls on stdin) whose
huggingface_hub client has request timeouts (huggingface_hub's default client has none, so a
server that accepts and never answers would hang forever); the caller can cancel at any moment
through a threading.Event, which kills the child. Nothing is committed until the last call.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .series import JSON_NAME, Series, SeriesError, sha256_file

TAGS = ["grokking", "mechanistic-interpretability", "modular-arithmetic", "transformer-lens", "checkpoint-series"]


# Seconds one request to the Hub may wait for an answer (huggingface_hub's own client: no limit).
TIMEOUT_S = float(os.environ.get("GROK_CORE_PUBLISH_TIMEOUT", "60"))


class PublishError(Exception):
    """A series that should not be published as it is, with a message for people."""


class PublishCancelled(PublishError):
    """The caller cancelled a running upload (nothing was committed unless the last call had finished)."""


@dataclass
class PublishPlan:
    """What `publish` will upload and the HfApi calls it will make, in order."""

    repo_id: str
    revision: str | None
    private: bool
    series_path: Path
    files: list[dict] = field(default_factory=list)  # {"path_in_repo", "local_path", "bytes", "sha256"}
    card: str = ""
    commit_message: str = ""

    def calls(self, folder_path: str = "<staging folder>") -> list[tuple[str, dict]]:
        out = [("create_repo", {"repo_id": self.repo_id, "repo_type": "model", "private": self.private, "exist_ok": True})]
        if self.revision and self.revision != "main":
            out.append(("create_branch", {"repo_id": self.repo_id, "branch": self.revision, "repo_type": "model",
                                          "exist_ok": True}))
        out.append(("upload_folder", {
            "repo_id": self.repo_id, "repo_type": "model", "folder_path": folder_path, "revision": self.revision,
            "commit_message": self.commit_message,
            # drop shards of an earlier upload that this series no longer lists
            "delete_patterns": ["*.safetensors"],
        }))
        return out

    @property
    def total_bytes(self) -> int:
        return sum(f["bytes"] for f in self.files)


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _steps_text(steps) -> str:
    steps = [int(s) for s in steps]
    if len(steps) <= 24:
        return ", ".join(map(str, steps))
    return ", ".join(map(str, steps[:12])) + ", …, " + ", ".join(map(str, steps[-6:]))


def model_card(series: Series, repo_id: str, revision: str | None = None, license: str | None = None) -> str:
    """README.md for the repo: YAML metadata, what the series is, config, steps, metrics, how to open it."""
    from huggingface_hub import ModelCardData

    m, t = series.meta["model_config"], series.meta["train_config"]
    title = series.title
    data = ModelCardData(library_name="grok_core", tags=TAGS, license=license)
    metrics = {k: float(v[-1]) for k, v in series.metrics.items() if k != "step" and len(v)}
    rev_arg = f', revision="{revision}"' if revision and revision != "main" else ""
    rev_flag = f" --revision {revision}" if revision and revision != "main" else ""
    source = {"repo_id": repo_id, **({"revision": revision} if revision and revision != "main" else {})}
    entry = {
        "id": repo_id.split("/")[-1], "title": title,
        "description": "A one-paragraph description for students.",
        "source": source, "format": "native", "size_mb": round(series.nbytes() / 1e6, 1),
        "config": {"model": m, "train": t},
    }
    op = "+" if t.get("operation", "add") == "add" else "-"
    lines = [
        "---", data.to_yaml(), "---", "",
        f"# {title}", "",
        f"Training checkpoints of a one-layer transformer learning (x {op} y) mod {m['p']}, in the setup of",
        "Nanda et al. (2023), *Progress measures for grokking via mechanistic interpretability*. The model first",
        "memorises its training pairs, then, long after, generalises (*grokking*) once a Fourier algorithm has",
        "formed inside it. Made for the Grokking Explorer app and its `grok_core` library.", "",
        f"This repo is a **checkpoint series** (format `{series.meta['format']}` v{series.meta['format_version']}):",
        f"`{JSON_NAME}` describes the run (configs, steps, metrics, the train/test split, checksums) and each",
        "`params-*.safetensors` holds the parameters stacked over steps under TransformerLens names",
        "(`embed.W_E` is `[n_steps_in_file, d_vocab, d_model]`), so any step is one index.", "",
        "## Model", "", "| setting | value |", "|---|---|",
        *[f"| {k} | {_fmt(v)} |" for k, v in m.items()], "",
        "## Training", "", "| setting | value |", "|---|---|",
        *[f"| {k} | {_fmt(v) if not isinstance(v, list) else json.dumps(v)} |" for k, v in t.items()], "",
        f"Train/test split: {series.train_mask.sum()} of {series.train_mask.size} problems train; stored exactly in `{JSON_NAME}`.", "",
        "## Checkpoints", "",
        f"{len(series.steps)} checkpoints stored as {series.dtype_name}, steps {int(series.steps[0])} to {int(series.steps[-1])}:",
        _steps_text(series.steps), "",
        f"Metrics recorded at {len(series.metrics['step'])} steps. Final values (step {int(series.metrics['step'][-1])}):"
        if len(series.metrics["step"]) else "No metrics recorded.", "",
        "| metric | value |", "|---|---|", *[f"| {k} | {v:.6g} |" for k, v in metrics.items()], "",
        "## Files", "", "| file | bytes | sha256 |", "|---|---|---|",
        *[f"| {f.name} | {f.stat().st_size} | `{sha256_file(f)}` |" for f in series.files() if f.name != JSON_NAME], "",
        "## Open it", "",
        "In the Grokking Explorer app, add an entry to `checkpoints_manifest.json` (it downloads once, then works offline):", "",
        "```json", json.dumps(entry, indent=1), "```", "",
        "From the command line:", "",
        "```bash", f"python -m grok_core info {repo_id}{rev_flag}", "```", "",
        "In Python:", "",
        "```python",
        "from grok_core.hub import open_repo",
        "from grok_core.model import grid_cache",
        "",
        f'series = open_repo("{repo_id}"{rev_arg})',
        "params = series.params_at(series.steps[-1])      # {TransformerLens name: tensor}",
        "cache = grid_cache(params, series.model_cfg)     # activations on all p*p problems",
        "```", "",
        "Without grok_core, the tensors are plain safetensors:", "",
        "```python",
        "import json",
        "from huggingface_hub import hf_hub_download",
        "from safetensors.torch import load_file",
        "",
        f'meta = json.load(open(hf_hub_download("{repo_id}", "{JSON_NAME}"{rev_arg})))',
        "shard = meta[\"shards\"][-1]",
        f'tensors = load_file(hf_hub_download("{repo_id}", shard["file"]{rev_arg}))',
        'W_E_last = tensors["embed.W_E"][-1]  # step shard["steps"][-1]',
        "```", "",
        "## Provenance", "",
        "```json", json.dumps(series.meta.get("provenance", {}), indent=1), "```", "",
        f"Published with grok_core {__version__}.", "",
    ]
    return "\n".join(lines)


def plan_publish(series_path, repo_id: str, revision: str | None = None, private: bool = False,
                 license: str | None = None, allow_incomplete: bool = False) -> PublishPlan:
    """Check the series and decide exactly what to upload; no network."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise PublishError(f"--repo-id {repo_id!r}: {e}") from None
    if "/" not in repo_id:
        raise PublishError(f"--repo-id {repo_id!r} must be USER/NAME (or ORG/NAME)")
    try:
        s = Series(series_path)  # verifies every checksum before anything leaves the machine
    except SeriesError as e:
        raise PublishError(str(e)) from None
    if s.extra_problems:
        raise PublishError("; ".join(s.extra_problems.values()) + f". Remove the entry from {JSON_NAME}'s extras or "
                           "recompute it before publishing")
    inside = Path(os.path.realpath(s.path))
    outside = [f.name for f in s.files() if not Path(os.path.realpath(f)).is_relative_to(inside)]
    if outside:
        raise PublishError(f"{s.path}: {', '.join(outside)} link to outside the series folder; "
                           "only files inside it are published (copy them in first)")
    if not s.complete and not allow_incomplete:
        raise PublishError(f"{s.path}: training has not finished (series.json says complete: false); "
                           "finish it, or pass --allow-incomplete (allow_incomplete=True)")
    files = [{"path_in_repo": f.name, "local_path": str(f), "bytes": f.stat().st_size, "sha256": sha256_file(f)}
             for f in s.files()]
    card = model_card(s, repo_id, revision, license)
    files.append({"path_in_repo": "README.md", "local_path": None, "bytes": len(card.encode()), "sha256": None})
    msg = f"grok_core {__version__}: {s.title}, {len(s.steps)} checkpoints (steps {s.steps[0]}..{s.steps[-1]})"
    return PublishPlan(repo_id, revision, private, s.path, files, card, msg)


def _stage(plan: PublishPlan, folder: Path) -> None:
    """The exact tree to upload: links to the series files plus README.md."""
    for f in plan.files:
        dst = folder / f["path_in_repo"]
        if f["local_path"] is None:
            dst.write_text(plan.card, encoding="utf-8")
            continue
        try:
            os.symlink(os.path.realpath(f["local_path"]), dst)
        except OSError:
            shutil.copyfile(f["local_path"], dst)


def _run_calls(plan: PublishPlan, api, folder: str):
    result = None
    for name, kwargs in plan.calls(folder_path=folder):
        result = getattr(api, name)(**kwargs)
    return str(getattr(result, "commit_url", None) or getattr(result, "url", None) or result)


def publish(plan: PublishPlan, api=None, token: str | None = None, *, endpoint: str | None = None,
            timeout_s: float = TIMEOUT_S, cancel: threading.Event | None = None) -> str:
    """Run the plan (token from the usual login / HF_TOKEN); returns the commit URL.

    With `api` (an HfApi-like object) the calls run here; otherwise in a child process with
    `timeout_s` per request, killed when `cancel` is set (PublishCancelled). PublishError says
    which call failed and why, e.g. a Hub that did not answer in time.
    """
    with tempfile.TemporaryDirectory(prefix="grok-publish-") as tmp:
        _stage(plan, Path(tmp))
        if api is not None:
            return _run_calls(plan, api, tmp)
        return _publish_in_child(plan, tmp, token, endpoint, timeout_s, cancel or threading.Event())


def _publish_in_child(plan, folder, token, endpoint, timeout_s, cancel) -> str:
    job = {"calls": plan.calls(folder_path=folder), "token": token, "endpoint": endpoint, "timeout_s": timeout_s}
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    for k in ("HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT"):  # huggingface_hub's own settings
        env.setdefault(k, str(max(1, int(timeout_s))))
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "grok_core.publish_child"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err, env=env, cwd=Path(__file__).resolve().parents[1])
        try:
            proc.stdin.write(json.dumps(job).encode())
            proc.stdin.close()
            while proc.poll() is None:
                if cancel.wait(0.1):
                    raise PublishCancelled(f"publishing to {plan.repo_id} cancelled; nothing more is sent")
            out = proc.stdout.read().decode(errors="replace").strip().splitlines()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        try:
            answer = json.loads(out[-1])
        except (IndexError, ValueError):
            err.seek(0)
            tail = err.read().decode(errors="replace").strip()[-500:]
            raise PublishError(f"the upload process ended without an answer (exit {proc.returncode}): {tail}") from None
    if "url" in answer:
        return answer["url"]
    where = endpoint or os.environ.get("HF_ENDPOINT") or "the Hugging Face Hub"
    if answer["timeout"]:
        raise PublishError(f"{where} did not answer within {timeout_s:g} s during {answer['call']} for {plan.repo_id}; "
                           "check the network (or HF_ENDPOINT) and try again")
    raise PublishError(f"{answer['call']} for {plan.repo_id} failed: {answer['error']}: {answer['message']}")
