"""Converters from other published grokking checkpoint formats into the native series.

Two formats are understood:

- Nanda / ARENA full run (`full_run_data.pth` in `callummcdougall/grokking_full_run_data`):
  keys `state_dicts` (one every 100 epochs), `epochs`, `train_losses`, `test_losses`. The
  parameters are in Nanda's own layout, not TransformerLens's:
      embed.W_E [d_model, d_vocab]           -> [d_vocab, d_model]
      blocks.0.attn.W_Q/K/V [h, d_head, d_model] -> [h, d_model, d_head]
      blocks.0.attn.W_O [d_model, h*d_head]  -> [h, d_head, d_model]  (heads outer, as z is flattened)
      blocks.0.mlp.W_in [d_mlp, d_model]     -> [d_model, d_mlp];  W_out [d_model, d_mlp] -> [d_mlp, d_model]
      unembed.W_U [d_model, d_vocab]         -> [d_model, p]  (the "=" output column is dropped)
  The file holds no split; Nanda rebuilt it as the pairs (i, j, p) in row-major order, shuffled
  with Python's `random.seed(0)` / `random.shuffle`, the first int(0.3 * p^2) being train.
- TransformerLens grokking demo: keys `model`, `config`, `checkpoints`, `checkpoint_epochs`,
  `train_indices`, `test_indices`, `train_losses`, `test_losses`, parameters already in
  TransformerLens layout (plus zero attention/unembed biases, which are dropped).

Files are read with `torch.load(weights_only=True)` only (grok_core.torch_files): tensors, numbers,
strings, lists and dicts, plus the demo's pickled `HookedTransformerConfig` as an inert record of its
fields and numpy scalars and dtypes; anything else pickled in a file is refused, never unpickled.

Checkpoints are labelled by the number of optimizer updates their weights have had (as this
project's own training labels them: step 0 is the initialisation). Both sources' training loops save
"epoch e" after that epoch's optimizer step (Nanda's `Trainer.save_epoch` runs after
`do_a_training_step`, the demo appends `model.state_dict()` after `optimizer.step()`), so epoch e
becomes step e + 1; `meta["source"]["step_label"]` says how the file labelled them. ARENA's
`full_run_data.pth` is taken to follow Nanda's loop; the loss check below tests the labelling
against the file's own train_losses (recorded before each epoch's update) wherever a file has them.

Metrics in the converted series are recomputed from the weights at every checkpoint in this
project's convention (answers 0..p-1, float64 loss); the file's own loss curves are kept as the
extra "source_curves", and `meta["source"]["loss_check"]` records how well the recomputed loss
matches them (a check on the rebuilt split and on the step labels).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .config import ModelConfig, TrainConfig
from .data import labels as make_labels
from .layouts import (  # noqa: F401 (re-exported)
    _TL_RECORDED,
    _tensor,
    mask_from_indices,
    nanda_config,
    nanda_split_mask,
    params_from_nanda,
    params_from_tl,
    tl_config,
)
from .metrics import grid_metrics
from .model import forward_last
from .series import JSON_NAME, Series, is_disk_full
from .series_writer import SeriesWriter, add_extra
from .torch_files import CONFIG_CLASSES, ConvertError, PickledConfig, load_torch_file  # noqa: F401 (re-exported)

FORMATS = ("nanda_full_run", "tl_demo")  # the converters' names: see CONVERTERS, detect_format

Progress = Callable[[int, int, str], object]


# -- formats --------------------------------------------------------------------------------------
def _format_of(data: dict) -> str:
    keys = set(data)
    if {"state_dicts", "epochs"} <= keys:
        return "nanda_full_run"
    if {"checkpoints", "checkpoint_epochs"} <= keys:
        return "tl_demo"
    raise ConvertError(
        f"unrecognised checkpoint file: top-level keys {sorted(map(str, keys))[:12]}; expected "
        "Nanda/ARENA (state_dicts, epochs, ...) or TransformerLens demo (checkpoints, checkpoint_epochs, ...)"
    )


def detect_format(source) -> str:
    """Which converter a file needs ("nanda_full_run" or "tl_demo"): a path (read with weights_only) or its loaded dict.

    Raises ConvertError (with a message for people) for unreadable, refused or unrecognised files.
    """
    if isinstance(source, dict):
        return _format_of(source)
    data = load_torch_file(source)
    try:
        return _format_of(data)
    except ConvertError as e:
        raise ConvertError(f"{source}: {e}") from None


# -- metrics ------------------------------------------------------------------------------------
@torch.no_grad()
def evaluate_params(params: dict[str, torch.Tensor], cfg: ModelConfig, mask: np.ndarray, W_U_full=None) -> dict:
    """Loss/accuracy on train and test over all p^2 problems (answers only, float64 loss).

    With `W_U_full` (the source's unembedding, e.g. with the "=" column) also the train and test
    loss over all its outputs, as the source computed them.
    """
    p = cfg.p
    idx = torch.arange(p * p)
    lab = make_labels(p, "add")
    cache: dict = {}
    logits = forward_last(params, cfg, idx // p, idx % p, cache=cache)
    out = {k: float(v) for k, v in grid_metrics(logits, lab, mask).items()}
    if W_U_full is not None:  # the source's own loss: over all its outputs (e.g. with the "=" column)
        full = grid_metrics(cache["blocks.0.hook_resid_post"] @ W_U_full, lab, mask)
        out["source_train_loss"], out["source_test_loss"] = float(full["train_loss"]), float(full["test_loss"])
    return out


def _as_array(values, name: str) -> np.ndarray:
    if values is None:
        return np.zeros(0)
    try:
        if isinstance(values, torch.Tensor):
            return values.detach().double().reshape(-1).numpy()
        return np.array([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ConvertError(f"{name}: not a list of numbers ({e})") from None


def _loss_check(steps, recomputed: list[float], curve: np.ndarray) -> dict:
    """Median relative gap between the recomputed train loss at each checkpoint and the file's curve.

    Both sources record at index i the train loss taken before epoch i's update, i.e. of weights after i
    updates: with checkpoints labelled by updates, curve[step] should match. curve[step - 1] (the file's
    own epoch label) is tried too; a small gap there instead would mean the weights precede the update.
    """
    out = {}
    r = np.asarray(recomputed)
    for name, offset in (("curve[step]", 0), ("curve[step - 1]", -1)):
        i = np.asarray(steps) + offset
        ok = (i >= 0) & (i < len(curve))
        if ok.sum() == 0:
            continue
        rel = np.abs(curve[i[ok]] - r[ok]) / np.maximum(np.abs(curve[i[ok]]), 1e-12)
        out[name] = float(np.median(rel))
    best = min(out.values()) if out else None
    consistent = best is not None and best < 1e-3
    return {"median_rel_gap": out, "best": best, "consistent": consistent,
            "labels_confirmed": consistent and out.get("curve[step]") == best}


# -- writing ------------------------------------------------------------------------------------
def _stride(steps: list[int]) -> int:
    d = np.diff(steps)
    return int(d[0]) if len(d) and np.all(d == d[0]) and d[0] > 0 else 1


def _write_series(
    out: Path,
    cfg: ModelConfig,
    steps: list[int],
    load: Callable[[int], tuple[dict[str, torch.Tensor], torch.Tensor]],
    mask: np.ndarray,
    tcfg: TrainConfig,
    source: dict,
    curves: dict[str, np.ndarray],
    dtype: str,
    title: str | None,
    progress: Progress | None,
    split_note: dict,
) -> Series:
    """Write into a temporary sibling folder and rename it into place, so `out` is complete or absent.

    `load(i)` returns checkpoint i as (params in TransformerLens layout, the source's full W_U); one
    checkpoint at a time is held in memory besides the open shard.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConvertError(f"{out}: already exists and is not empty; choose another folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; a series folder is meant to be shared
        prov = {"converted_by": f"grok_core {__version__} (grok_core.convert)", "source": source}
        w = SeriesWriter(tmp, cfg, tcfg, mask, dtype=dtype, title=title, provenance=prov)
        w.meta["split"].update(split_note)
        n = len(steps)
        recomputed_train, shard = [], 0
        for i, step in enumerate(steps):
            params, W_U_full = load(i)
            _check_finite(params, f"checkpoint {i} (step {step})")
            metrics = evaluate_params(params, cfg, mask, W_U_full)
            recomputed_train.append(metrics.pop("source_train_loss"))
            metrics.pop("source_test_loss")
            w.add_metrics(step, metrics)
            w.add_checkpoint(step, params)
            shard += 1
            if shard == w.shard_size:
                w.flush()
                shard = 0
            if progress is not None:
                progress(i + 1, n, f"converting checkpoint {i + 1}/{n} (step {step})")
        w.meta["source"] = dict(source)
        if len(curves.get("train_loss", ())):
            w.meta["source"]["loss_check"] = _loss_check(steps, recomputed_train, curves["train_loss"])
        w.flush(complete=True)
        tensors = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64)) for k, v in curves.items() if len(v)}
        if tensors:
            add_extra(tmp, "source_curves", tensors, {"note": "loss curves as recorded in the source file, index = the file's epoch (see source.curves)"})
        try:
            os.replace(tmp, out)  # atomic; replaces an empty placeholder folder too
        except OSError:
            if (out / JSON_NAME).is_file():  # someone else converted the same source meanwhile
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                raise
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, Exception) and is_disk_full(e):
            need = len(steps) * cfg.n_params * (2 if dtype == "float16" else 4)
            raise ConvertError(f"{out}: no space left on the disk (the series needs about {need / 1e6:.1f} MB; "
                               f"{shutil.disk_usage(out.parent).free / 1e6:.1f} MB free); nothing was written and "
                               "the partial folder was removed; free some space and convert again") from None
        raise
    return Series(out, verify=False)


def _check_finite(params: dict[str, torch.Tensor], where: str) -> None:
    """Refuse NaN or infinite weights: every view of such a checkpoint would be meaningless."""
    for k, v in params.items():
        bad = int((~torch.isfinite(v)).sum())
        if bad:
            raise ConvertError(f"{where}: {k} holds {bad} of {v.numel()} values that are NaN or infinite; "
                               "the file's weights are unusable")


def _train_config(steps: list[int], frac: float, seed: int = 0, data_seed: int = 0, config: dict | None = None,
                  warmup_steps: int = 10) -> TrainConfig:
    config = config or {}
    every = _stride(steps)
    kw = dict(
        operation="add", frac_train=frac, seed=seed, data_seed=data_seed, n_steps=max(1, int(steps[-1])),
        schedule=((10**9, every),), metric_every=every, device="cpu", warmup_steps=warmup_steps,
    )
    for src, dst in (("lr", "lr"), ("weight_decay", "weight_decay"), ("wd", "weight_decay")):
        if isinstance(config.get(src), (int, float)):
            kw[dst] = float(config[src])
    try:
        return TrainConfig(**kw)
    except ValueError as e:
        raise ConvertError(f"cannot describe the training run: {e}") from None


def _steps(values, name: str) -> list[int]:
    try:
        steps = [int(s) for s in (values.tolist() if isinstance(values, torch.Tensor) else values)]
    except (TypeError, ValueError) as e:
        raise ConvertError(f"{name}: not a list of integers ({e})") from None
    if not steps:
        raise ConvertError(f"{name}: empty; the file holds no checkpoints")
    if any(b <= a for a, b in zip(steps, steps[1:])):
        raise ConvertError(f"{name}: not strictly increasing")
    if steps[0] < 0:
        raise ConvertError(f"{name}: negative epoch {steps[0]}")
    return steps


def _updates(epochs: list[int], key: str) -> tuple[list[int], str]:
    """Epoch labels -> optimizer updates (see the module docstring), and the provenance line that says so."""
    return [e + 1 for e in epochs], (f"{key}: epoch e, saved after that epoch's optimizer step; "
                                     "step = e + 1 optimizer updates")


def _config_dict(config) -> dict:
    if isinstance(config, PickledConfig):
        return config.fields()
    return dict(config) if isinstance(config, dict) else {}


def convert_nanda_full_run(data: dict, out, dtype: str = "float32", title: str | None = None,
                           progress: Progress | None = None, frac_train: float | None = None,
                           split_seed: int | None = None, source: dict | None = None) -> Series:
    """Nanda/ARENA `full_run_data.pth` (already loaded with weights_only) -> native series at `out`."""
    config = _config_dict(data.get("config"))
    sds, epochs = data["state_dicts"], _steps(data["epochs"], "epochs")
    if not isinstance(sds, (list, tuple)) or len(sds) != len(epochs):
        raise ConvertError(f"state_dicts ({len(sds) if isinstance(sds, (list, tuple)) else type(sds).__name__}) "
                           f"and epochs ({len(epochs)}) do not match")
    steps, label = _updates(epochs, "epochs")
    cfg = nanda_config(sds[0], config)
    frac = float(frac_train if frac_train is not None else config.get("frac_train", 0.3))
    seed = int(split_seed if split_seed is not None else config.get("seed", 0))
    mask = nanda_split_mask(cfg.p, frac, seed)

    def load(i):
        where = f"state_dicts[{i}] (epoch {epochs[i]})"
        return params_from_nanda(sds[i], cfg, where), _tensor(sds[i], "unembed.W_U", where)

    curves = {"train_loss": _as_array(data.get("train_losses"), "train_losses"),
              "test_loss": _as_array(data.get("test_losses"), "test_losses")}
    note = {"kind": "mask", "rebuilt_from": f"Nanda: pairs (i, j, p) row-major, random.seed({seed}); random.shuffle; "
            f"first int({frac} * p^2) train", "frac_train": frac, "data_seed": seed}
    src = {"format": "nanda_full_run", "step_label": label, **(source or {}),
           "curves": "train_losses[i], test_losses[i]: taken before epoch i's update, i.e. at step i"}
    tcfg = _train_config(steps, frac, seed=int(config.get("seed", 0)) if config else 0, data_seed=seed, config=config)
    return _write_series(Path(out), cfg, steps, load, mask, tcfg, src, curves, dtype,
                         title or "Nanda et al. (2023) full run, converted", progress, note)


def convert_tl_demo(data: dict, out, dtype: str = "float32", title: str | None = None,
                    progress: Progress | None = None, source: dict | None = None) -> Series:
    """TransformerLens grokking-demo file (already loaded with weights_only) -> native series at `out`."""
    config = _config_dict(data.get("config"))
    sds, epochs = data["checkpoints"], _steps(data["checkpoint_epochs"], "checkpoint_epochs")
    if not isinstance(sds, (list, tuple)) or len(sds) != len(epochs):
        raise ConvertError("checkpoints and checkpoint_epochs do not match")
    steps, label = _updates(epochs, "checkpoint_epochs")
    cfg = tl_config(sds[0], config)
    for k in ("train_indices", "test_indices"):
        if k not in data:
            raise ConvertError(f"{k} missing: the TransformerLens demo file records its split there")
    mask = mask_from_indices(data["train_indices"], data["test_indices"], cfg.p**2)

    def load(i):
        where = f"checkpoints[{i}] (epoch {epochs[i]})"
        return params_from_tl(sds[i], cfg, where), _tensor(sds[i], "unembed.W_U", where)

    curves = {"train_loss": _as_array(data.get("train_losses"), "train_losses"),
              "test_loss": _as_array(data.get("test_losses"), "test_losses")}
    note = {"kind": "mask", "rebuilt_from": "TransformerLens demo: train_indices / test_indices (index x*p + y)"}
    src = {"format": "tl_demo", "step_label": label, **(source or {}),
           "curves": "train_losses[i]: before epoch i's update (step i); test_losses[i]: after it (step i + 1)"}
    if config:  # what the conversion relied on, as the file recorded it
        src["config"] = {k: config[k] for k in _TL_RECORDED if isinstance(config.get(k), (int, float, str, bool))}
    # The demo's AdamW runs without a learning-rate schedule: no warm-up.
    tcfg = _train_config(steps, float(mask.mean()), seed=int(config.get("seed", 0) or 0), config=config, warmup_steps=0)
    return _write_series(Path(out), cfg, steps, load, mask, tcfg, src, curves, dtype,
                         title or "TransformerLens grokking demo, converted", progress, note)


# Each format's converter, by the name detect_format gives (and manifest entries use).
CONVERTERS: dict[str, Callable[..., Series]] = {"nanda_full_run": convert_nanda_full_run, "tl_demo": convert_tl_demo}


def convert_file(path, out, format: str = "auto", dtype: str = "float32", title: str | None = None,
                 progress: Progress | None = None, source: dict | None = None) -> Series:
    """Convert a Nanda/ARENA or TransformerLens-demo torch file into a native series folder `out`.

    format: "auto" (detect_format) or one of FORMATS, which the file must then be.
    """
    if format not in ("auto", *FORMATS):
        raise ConvertError(f"unknown format {format!r} (auto, {', '.join(FORMATS)})")
    if progress is not None:
        progress(0, 1, f"reading {Path(path).name}")
    data = load_torch_file(path)
    try:
        found = detect_format(data)
        if format != "auto" and format != found:
            raise ConvertError(f"looks like {found}, not {format}")
        src = {"file": Path(path).name, **(source or {})}
        return CONVERTERS[found](data, out, dtype=dtype, title=title, progress=progress, source=src)
    except ConvertError as e:
        raise ConvertError(f"{path}: {e}") from None


def summary_line(series: Series) -> str:
    src = series.meta.get("source", {})
    check = src.get("loss_check")
    extra = f"; loss check {json.dumps(check)}" if check else ""
    return f"{len(series.steps)} checkpoints, steps {series.steps[0]}..{series.steps[-1]}{extra}"
