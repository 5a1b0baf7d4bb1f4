"""Writing checkpoint series: the incremental atomic writer (training, converters) and cached extras.

The format and its reader are in series.py (see its docstring for the commit-point rule these writes
follow: data files first under new names, series.json replaced atomically last).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

from . import __version__
from .config import ModelConfig, TrainConfig, to_dict
from .data import mask_to_hex
from .series import (
    DTYPES,
    FORMAT,
    FORMAT_VERSION,
    JSON_NAME,
    METRIC_NAMES,
    DiskFullError,
    Series,
    SeriesError,
    _plain_name,
    atomic_save_tensors,
    atomic_write_bytes,
    is_disk_full,
    read_json,
    sha256_file,
)


def add_extra(series_path, name: str, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> Path:
    """Store a cached result beside a series and record it (with sha256) in series.json."""
    series_path = Path(series_path)
    fname = f"{name}.safetensors"
    jp = series_path / JSON_NAME
    meta = read_json(jp)
    was_listed = fname in {e.get("file") for e in meta.get("extras", {}).values() if isinstance(e, dict)}
    try:
        digest = atomic_save_tensors(series_path / fname, tensors, metadata)
        meta.setdefault("extras", {})[name] = {"file": fname, "sha256": digest}
        atomic_write_bytes(jp, json.dumps(meta, indent=1).encode())
    except Exception as e:
        if not was_listed and (series_path / fname).exists():
            os.unlink(series_path / fname)  # written but never listed
        if is_disk_full(e):
            need = sum(t.numel() * t.element_size() for t in tensors.values())
            free = shutil.disk_usage(series_path).free
            raise DiskFullError(f"{series_path / fname}: no space left on the disk (needs about {need / 1e6:.1f} MB, "
                                f"{free / 1e6:.1f} MB free); the series itself is intact", series_path / fname, need,
                                free) from None
        raise
    return series_path / fname


class SeriesWriter:
    """Builds a series incrementally (training, converters). Every `flush` leaves a loadable series."""

    def __init__(
        self,
        path,
        model_cfg: ModelConfig,
        train_cfg: TrainConfig,
        train_mask: np.ndarray,
        dtype: str = "float32",
        shard_size: int = 32,
        title: str | None = None,
        provenance: dict | None = None,
    ):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}")
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.model_cfg, self.train_cfg, self.dtype = model_cfg, train_cfg, dtype
        self.shard_size = shard_size
        self.meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "grok_core_version": __version__,
            "title": title,
            "model_config": to_dict(model_cfg),
            "train_config": to_dict(train_cfg),
            "dtype": dtype,
            "complete": False,
            "shards": [],
            "metrics": {"step": [], **{k: [] for k in METRIC_NAMES}},
            "split": {
                "kind": "mask",
                "p": model_cfg.p,
                "frac_train": train_cfg.frac_train,
                "data_seed": train_cfg.data_seed,
                "n_train": int(train_mask.sum()),
                "train_mask_hex": mask_to_hex(train_mask),
            },
            "resume": None,
            "provenance": provenance or {},
        }
        self._open: dict[str, list[torch.Tensor]] = {}  # the last, still-growing shard
        self._open_steps: list[int] = []
        self._pending_resume: dict[str, torch.Tensor] | None = None
        self._dirty = False
        self._superseded: list[str] = []  # listed by the previous series.json; removed at the next flush

    @classmethod
    def resume(cls, path, shard_size: int = 32) -> tuple[SeriesWriter, dict[str, torch.Tensor] | None]:
        """Reopen a partial series for appending; returns the writer and its saved resume state."""
        s = Series(path)
        w = cls.__new__(cls)
        w.path, w.model_cfg, w.train_cfg, w.dtype = s.path, s.model_cfg, s.train_cfg, s.dtype_name
        w.shard_size, w.meta = shard_size, s.meta
        w._open, w._open_steps, w._pending_resume, w._dirty, w._superseded = {}, [], None, False, []
        w._remove_orphans()  # what a killed or failed run wrote but never listed: it may be what fills the disk
        # Reopen the last shard if it is not full, so it keeps growing rather than leaving a stub.
        last = s.shards[-1]
        if len(last.steps) < shard_size:
            f = s._handle(len(s.shards) - 1)
            w._open = {k: list(f.get_tensor(k).unbind(0)) for k in s.model_cfg.param_shapes()}
            w._open_steps = list(last.steps)
        state = None
        r = s.meta.get("resume")
        if r:
            if not isinstance(r, dict) or not _plain_name(r.get("file")):
                raise SeriesError(f"{s.path / JSON_NAME}: malformed resume entry {str(r)[:200]}")
            fp = s.path / r["file"]
            if not fp.is_file() or sha256_file(fp) != r["sha256"]:
                raise SeriesError(f"{fp}: resume state missing or corrupt; cannot resume exactly")
            with safe_open(fp, framework="pt") as f:
                state = {k: f.get_tensor(k) for k in f.keys()}
        return w, state

    def _open_is_listed(self) -> bool:
        return bool(self.meta["shards"]) and self.meta["shards"][-1]["steps"] == self._open_steps

    def add_checkpoint(self, step: int, params: dict[str, torch.Tensor]) -> None:
        if self._open_steps and step <= self._open_steps[-1]:
            raise ValueError(f"checkpoint steps must increase ({step} after {self._open_steps[-1]})")
        for k in self.model_cfg.param_shapes():
            self._open.setdefault(k, []).append(params[k].detach().to("cpu", DTYPES[self.dtype]).clone())
        self._open_steps.append(int(step))
        self._dirty = True

    def add_metrics(self, step: int, values: dict[str, float]) -> None:
        m = self.meta["metrics"]
        if m["step"] and step <= m["step"][-1]:
            return
        m["step"].append(int(step))
        for k in METRIC_NAMES:
            m[k].append(float(f"{float(values[k]):.7g}"))

    def set_resume_state(self, state: dict[str, torch.Tensor]) -> None:
        self._pending_resume = {k: v.detach().to("cpu").clone() for k, v in state.items()}

    def flush(self, complete: bool = False) -> None:
        """Write the open shard (under a new name), the resume state, then series.json atomically.

        If a write fails, what this flush wrote is removed and the writer is as before the call, so
        the folder still holds exactly its last listed state; a full disk raises DiskFullError
        naming the file and the space needed, and the same flush (or a rerun) can be retried.
        """
        before = (copy.deepcopy(self.meta), self._open, list(self._open_steps), self._dirty, self._pending_resume)
        listed = self._listed_files()
        self._written: list[str] = []
        self._writing = JSON_NAME
        try:
            self._flush(complete)
        except BaseException as e:
            # What this flush wrote, and the previous state's files kept for readers: space the disk may need.
            for name in [*self._written, *self._superseded]:
                if name not in listed:  # never a file the folder's series.json lists
                    try:
                        os.unlink(self.path / name)
                    except FileNotFoundError:
                        pass
            self.meta, self._open, self._open_steps, self._dirty, self._pending_resume = before
            self._superseded = []
            if isinstance(e, Exception) and is_disk_full(e):
                raise self._disk_full(e) from None
            raise

    def _disk_full(self, err: Exception) -> DiskFullError:
        where = self.path / self._writing
        itemsize = torch.finfo(DTYPES[self.dtype]).bits // 8
        need = sum(len(v) * v[0].numel() * itemsize for v in self._open.values() if v)
        need += sum(v.numel() * v.element_size() for v in (self._pending_resume or {}).values())
        need += len(json.dumps(self.meta, indent=1)) + (1 << 16)
        free = shutil.disk_usage(self.path).free
        return DiskFullError(
            f"{where}: no space left on the disk (this save writes about {need / 1e6:.1f} MB; {free / 1e6:.1f} MB "
            f"are free now). What {JSON_NAME} lists is intact and the partial file was removed; free some space and "
            "run the same command again to resume.", where, need, free)

    def _write_tensors(self, name: str, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> str:
        self._written.append(name)
        self._writing = name
        return atomic_save_tensors(self.path / name, tensors, metadata)

    def _listed_files(self) -> set[str]:
        listed = {s["file"] for s in self.meta["shards"]} | {e["file"] for e in self.meta.get("extras", {}).values()}
        if self.meta.get("resume"):
            listed.add(self.meta["resume"]["file"])
        return listed

    def _flush(self, complete: bool) -> None:
        old_files, old_resume = [], []  # superseded shards (readers may still look) / resume states (only we read them)
        shards = self.meta["shards"]
        if self._open_steps:
            listed = self._open_is_listed()
            if not listed or self._dirty:
                name = f"params-{self._open_steps[0]:07d}-{self._open_steps[-1]:07d}.safetensors"
                tensors = {k: torch.stack(v) for k, v in self._open.items()}
                digest = self._write_tensors(name, tensors, {"steps": json.dumps(self._open_steps)})
                entry = {"file": name, "steps": list(self._open_steps), "sha256": digest, "bytes": (self.path / name).stat().st_size}
                if shards and shards[-1]["steps"][0] == self._open_steps[0]:
                    if shards[-1]["file"] != name:
                        old_files.append(shards[-1]["file"])
                    shards[-1] = entry
                else:
                    shards.append(entry)
            if len(self._open_steps) >= self.shard_size:
                self._open, self._open_steps = {}, []
        self._dirty = False
        if self._pending_resume is not None and not complete:
            step = int(self._pending_resume["__step__"].item())
            name = f"resume-{step:07d}.safetensors"
            digest = self._write_tensors(name, self._pending_resume)
            if self.meta.get("resume") and self.meta["resume"]["file"] != name:
                old_resume.append(self.meta["resume"]["file"])
            self.meta["resume"] = {"file": name, "sha256": digest, "step": step}
            self._pending_resume = None
        if complete:
            if self.meta.get("resume"):
                old_resume.append(self.meta["resume"]["file"])
            self.meta["resume"] = None
            self.meta["complete"] = True
        self._writing = JSON_NAME
        atomic_write_bytes(self.path / JSON_NAME, json.dumps(self.meta, indent=1).encode())
        # Shards the JSON no longer lists go one flush later, so a reader that read the previous JSON
        # a moment ago still finds them (at the end of the run, at once); old resume states go now.
        stale, self._superseded = self._superseded + old_resume, old_files
        if complete:
            stale, self._superseded = stale + old_files, []
        for f in stale:
            try:
                os.unlink(self.path / f)
            except FileNotFoundError:
                pass
        self._remove_orphans()

    def _remove_orphans(self) -> None:
        """Delete data files a killed run wrote but never listed (and stale temporary files)."""
        listed = self._listed_files() | set(self._superseded)
        for fp in self.path.iterdir():
            n = fp.name
            if (n.startswith(("params-", "resume-")) and n.endswith(".safetensors") and n not in listed) or (
                n.startswith(".") and n.endswith(".tmp")
            ):
                try:
                    fp.unlink()
                except FileNotFoundError:
                    pass
