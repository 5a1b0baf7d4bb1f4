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

Files are read with `torch.load(weights_only=True)` only: tensors, numbers, strings, lists and
dicts. A file that pickles anything else (a config object, a numpy scalar) is refused, never
unpickled. Checkpoint steps are the epoch numbers the source file records.

Metrics in the converted series are recomputed from the weights at every checkpoint in this
project's convention (answers 0..p-1, float64 loss); the file's own loss curves are kept as the
extra "source_curves", and `meta["source"]["loss_check"]` records how well the recomputed loss
matches them (a check on the rebuilt split and on the step alignment).
"""

from __future__ import annotations

import json
import os
import pickle
import random
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .config import ModelConfig, TrainConfig
from .data import labels as make_labels
from .model import forward_last
from .series import JSON_NAME, Series, SeriesWriter, add_extra, is_disk_full

FORMATS = ("nanda_full_run", "tl_demo")
PARAM_NAMES = tuple(ModelConfig().param_shapes())
# Buffers and always-zero biases that carry no information for this architecture.
_IGNORED_SUFFIXES = (".mask", ".IGNORE")
_ZERO_BIASES = ("blocks.0.attn.b_Q", "blocks.0.attn.b_K", "blocks.0.attn.b_V", "blocks.0.attn.b_O", "unembed.b_U")

Progress = Callable[[int, int, str], object]


class ConvertError(Exception):
    """A source file that cannot be converted, with a message for people."""


# -- loading ------------------------------------------------------------------------------------
def load_torch_file(path) -> dict:
    """torch.load with weights_only=True (memory-mapped when the file allows); refuse anything else."""
    path = Path(path)
    if not path.is_file():
        raise ConvertError(f"{path}: no such file")
    mmap = zipfile.is_zipfile(path)  # the legacy (pre-1.6) format cannot be memory-mapped
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        raise ConvertError(_refusal(path, e)) from None
    except Exception as e:  # not a torch file at all, truncated, ...
        raise ConvertError(f"{path}: not a readable torch file ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(data, dict):
        raise ConvertError(f"{path}: expected a dict at the top level, found {type(data).__name__}")
    return data


def _refusal(path: Path, err: Exception) -> str:
    text = str(err)
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # legacy format: read the name off the error
        names = sorted(set(re.findall(r"GLOBAL ([\w.]+)", text)))
    if not names:  # no object named: give PyTorch's one specific line, whole
        boiler = ("Weights only load failed", "Check the documentation", "Please file an issue", "WeightsUnpickler")
        detail = next((b.strip() for b in text.split("\n") if b.strip() and not b.strip().startswith(boiler)), "")
        return (f"{path}: not a readable torch file: torch.load(weights_only=True) stops at "
                f"\"{detail[:200] or type(err).__name__}\" (not a torch file, or a pickle of more than plain data). "
                "grok_core reads only what torch.save wrote from tensors, lists, dicts and numbers.")
    return (
        f"{path}: refused. It pickles Python objects ({', '.join(names)}) and grok_core only loads files with "
        "torch.load(weights_only=True), which never runs code from a file. If you trust the file, "
        "re-save it with plain data yourself, e.g. turn a config object into a dict: "
        "d = torch.load(path, weights_only=False); d['config'] = vars(d['config']); torch.save(d, new_path)"
    )


def detect_format(data: dict) -> str:
    keys = set(data)
    if {"state_dicts", "epochs"} <= keys:
        return "nanda_full_run"
    if {"checkpoints", "checkpoint_epochs"} <= keys:
        return "tl_demo"
    raise ConvertError(
        f"unrecognised checkpoint file: top-level keys {sorted(map(str, keys))[:12]}; expected "
        "Nanda/ARENA (state_dicts, epochs, ...) or TransformerLens demo (checkpoints, checkpoint_epochs, ...)"
    )


# -- parameter layouts --------------------------------------------------------------------------
def _tensor(sd: dict, key: str, where: str) -> torch.Tensor:
    if key not in sd:
        raise ConvertError(f"{where}: parameter {key!r} missing")
    t = sd[key]
    if not isinstance(t, torch.Tensor):
        raise ConvertError(f"{where}: {key!r} is a {type(t).__name__}, not a tensor")
    return t.detach().to("cpu", torch.float32)


def _dims(sd: dict, key: str, where: str, ndim: int) -> tuple[int, ...]:
    """The shape of a parameter that must have `ndim` dimensions (sizes are read off it)."""
    shape = tuple(_tensor(sd, key, where).shape)
    if len(shape) != ndim:
        raise ConvertError(f"{where}: {key} has shape {list(shape)}; expected {ndim} dimensions")
    return shape


def _check_extra_keys(sd: dict, where: str) -> None:
    """Refuse parameters this architecture cannot represent (LayerNorm, non-zero attention biases)."""
    if not isinstance(sd, dict):
        raise ConvertError(f"{where}: a {type(sd).__name__}, not a state dict")
    for k, v in sd.items():
        if k in PARAM_NAMES or str(k).endswith(_IGNORED_SUFFIXES):
            continue
        if k in _ZERO_BIASES:
            if isinstance(v, torch.Tensor) and bool(torch.any(v != 0)):
                raise ConvertError(f"{where}: {k} is not zero; this model has no attention or unembed biases")
            continue
        raise ConvertError(f"{where}: unexpected parameter {k!r} (not part of Nanda's one-layer model)")


def _model_config(p: int, d_model: int, n_heads: int, d_head: int, d_mlp: int, n_ctx: int, act: str, where: str):
    try:
        return ModelConfig(p=p, d_model=d_model, n_heads=n_heads, d_head=d_head, d_mlp=d_mlp, act=act, n_ctx=n_ctx)
    except ValueError as e:
        raise ConvertError(f"{where}: {e}") from None


def _check_shapes(params: dict[str, torch.Tensor], cfg: ModelConfig, where: str) -> None:
    for k, shape in cfg.param_shapes().items():
        if tuple(params[k].shape) != shape:
            raise ConvertError(f"{where}: {k} has shape {list(params[k].shape)} after conversion, expected {list(shape)}")


def _act_from(config: dict) -> str:
    a = str(config.get("act_fn", config.get("act_type", config.get("act", "relu")))).lower()
    if a not in ("relu", "gelu"):
        raise ConvertError(f"activation {a!r} is not supported (relu or gelu)")
    return a


def nanda_config(sd: dict, config: dict | None = None) -> ModelConfig:
    """Sizes read off a state dict in Nanda's layout."""
    where = "Nanda state dict"
    d_model, d_vocab = _dims(sd, "embed.W_E", where, 2)
    n_heads, d_head, _ = _dims(sd, "blocks.0.attn.W_Q", where, 3)
    d_mlp = _dims(sd, "blocks.0.mlp.W_in", where, 2)[0]
    n_ctx = _dims(sd, "pos_embed.W_pos", where, 2)[0]
    return _model_config(d_vocab - 1, d_model, n_heads, d_head, d_mlp, n_ctx, _act_from(config or {}), where)


def params_from_nanda(sd: dict, cfg: ModelConfig, where: str = "Nanda state dict") -> dict[str, torch.Tensor]:
    """Nanda's layout -> TransformerLens names and shapes (see the module docstring)."""
    _check_extra_keys(sd, where)
    g = {k: _tensor(sd, k, where) for k in PARAM_NAMES}
    m, h, dh = cfg.d_model, cfg.n_heads, cfg.d_head
    W_U = g["unembed.W_U"]
    if W_U.shape[-1] not in (cfg.p, cfg.p + 1):
        raise ConvertError(f"{where}: unembed.W_U has {W_U.shape[-1]} outputs, expected {cfg.p} or {cfg.p + 1}")
    if tuple(g["blocks.0.attn.W_O"].shape) != (m, h * dh):
        raise ConvertError(f"{where}: blocks.0.attn.W_O has shape {list(g['blocks.0.attn.W_O'].shape)}, expected {[m, h * dh]}")
    out = {
        "embed.W_E": g["embed.W_E"].T,  # [d_vocab, d_model]
        "pos_embed.W_pos": g["pos_embed.W_pos"],  # [n_ctx, d_model]
        "blocks.0.attn.W_Q": g["blocks.0.attn.W_Q"].transpose(-1, -2),  # [h, d_model, d_head]
        "blocks.0.attn.W_K": g["blocks.0.attn.W_K"].transpose(-1, -2),
        "blocks.0.attn.W_V": g["blocks.0.attn.W_V"].transpose(-1, -2),
        # z is flattened as (head, d_head) with the head outer: 'b i q h -> b q (i h)'
        "blocks.0.attn.W_O": g["blocks.0.attn.W_O"].reshape(m, h, dh).permute(1, 2, 0),  # [h, d_head, d_model]
        "blocks.0.mlp.W_in": g["blocks.0.mlp.W_in"].T,  # [d_model, d_mlp]
        "blocks.0.mlp.b_in": g["blocks.0.mlp.b_in"],
        "blocks.0.mlp.W_out": g["blocks.0.mlp.W_out"].T,  # [d_mlp, d_model]
        "blocks.0.mlp.b_out": g["blocks.0.mlp.b_out"],
        "unembed.W_U": W_U[:, : cfg.p],  # [d_model, p]: answers only
    }
    out = {k: v.contiguous() for k, v in out.items()}
    _check_shapes(out, cfg, where)
    return out


def tl_config(sd: dict, config: dict | None = None) -> ModelConfig:
    """Sizes read off a TransformerLens state dict (checked against the demo's config dict)."""
    where = "TransformerLens state dict"
    config = config or {}
    if int(config.get("n_layers", 1)) != 1:
        raise ConvertError(f"{where}: n_layers = {config['n_layers']}; only one-layer models are supported")
    if config.get("normalization_type") not in (None, "None"):
        raise ConvertError(f"{where}: normalization_type {config['normalization_type']!r}; this model has no LayerNorm")
    d_vocab, d_model = _dims(sd, "embed.W_E", where, 2)
    n_heads, _, d_head = _dims(sd, "blocks.0.attn.W_Q", where, 3)
    d_mlp = _dims(sd, "blocks.0.mlp.W_in", where, 2)[1]
    n_ctx = _dims(sd, "pos_embed.W_pos", where, 2)[0]
    return _model_config(d_vocab - 1, d_model, n_heads, d_head, d_mlp, n_ctx, _act_from(config), where)


def params_from_tl(sd: dict, cfg: ModelConfig, where: str = "TransformerLens state dict") -> dict[str, torch.Tensor]:
    _check_extra_keys(sd, where)
    out = {k: _tensor(sd, k, where).contiguous() for k in PARAM_NAMES}
    W_U = out["unembed.W_U"]
    if W_U.shape[-1] not in (cfg.p, cfg.p + 1):
        raise ConvertError(f"{where}: unembed.W_U has {W_U.shape[-1]} outputs, expected {cfg.p} or {cfg.p + 1}")
    out["unembed.W_U"] = W_U[:, : cfg.p].contiguous()
    _check_shapes(out, cfg, where)
    return out


# -- splits -------------------------------------------------------------------------------------
def nanda_split_mask(p: int, frac_train: float = 0.3, seed: int = 0) -> np.ndarray:
    """Nanda's split: (i, j) row-major, shuffled by Python's random with `seed`, first int(frac*p^2) train.

    A private `random.Random(seed)` draws exactly what `random.seed(seed); random.shuffle(...)` does,
    without touching the global generator.
    """
    pairs = [(i, j) for i in range(p) for j in range(p)]
    random.Random(seed).shuffle(pairs)
    mask = np.zeros(p * p, dtype=bool)
    idx = [i * p + j for i, j in pairs[: int(frac_train * len(pairs))]]
    mask[np.asarray(idx, dtype=np.int64)] = True
    return mask


def mask_from_indices(train_indices, test_indices, n: int) -> np.ndarray:
    tr = np.asarray(torch.as_tensor(train_indices).reshape(-1), dtype=np.int64)
    te = np.asarray(torch.as_tensor(test_indices).reshape(-1), dtype=np.int64)
    for name, a in (("train_indices", tr), ("test_indices", te)):
        if a.size and (a.min() < 0 or a.max() >= n):
            raise ConvertError(f"{name} out of range for {n} problems")
    mask = np.zeros(n, dtype=bool)
    mask[tr] = True
    if mask[te].any():
        raise ConvertError("train_indices and test_indices overlap")
    if len(tr) + len(te) != n or len(np.unique(tr)) != len(tr):
        raise ConvertError(f"train_indices and test_indices do not cover the {n} problems exactly once")
    return mask


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
    nll = -logits.double().log_softmax(-1).gather(-1, lab[:, None])[:, 0]
    acc = (logits.argmax(-1) == lab).double()
    m = torch.from_numpy(mask)
    out = {
        "train_loss": float(nll[m].mean()), "test_loss": float(nll[~m].mean()),
        "train_acc": float(acc[m].mean()), "test_acc": float(acc[~m].mean()),
    }
    if W_U_full is not None:
        full = cache["blocks.0.hook_resid_post"] @ W_U_full
        nll_full = -full.double().log_softmax(-1).gather(-1, lab[:, None])[:, 0]
        out["source_train_loss"] = float(nll_full[m].mean())
        out["source_test_loss"] = float(nll_full[~m].mean())
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

    A checkpoint labelled epoch e may hold the weights before or after that epoch's update, so both
    alignments (curve[e] and curve[e + 1]) are tried; a small gap confirms the rebuilt split.
    """
    out = {}
    r = np.asarray(recomputed)
    for offset in (0, 1):
        i = np.asarray(steps) + offset
        ok = i < len(curve)
        if ok.sum() == 0:
            continue
        rel = np.abs(curve[i[ok]] - r[ok]) / np.maximum(np.abs(curve[i[ok]]), 1e-12)
        out[f"offset_{offset}"] = float(np.median(rel))
    best = min(out.values()) if out else None
    return {"median_rel_gap": out, "best": best, "consistent": best is not None and best < 1e-3}


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
            add_extra(tmp, "source_curves", tensors, {"note": "loss curves as recorded in the source file, index = epoch"})
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


def _train_config(steps: list[int], frac: float, seed: int = 0, data_seed: int = 0, config: dict | None = None) -> TrainConfig:
    config = config or {}
    every = _stride(steps)
    kw = dict(
        operation="add", frac_train=frac, seed=seed, data_seed=data_seed, n_steps=max(1, int(steps[-1])),
        schedule=((10**9, every),), metric_every=every, device="cpu",
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
    return steps


def convert_nanda_full_run(data: dict, out, dtype: str = "float32", title: str | None = None,
                           progress: Progress | None = None, frac_train: float | None = None,
                           split_seed: int | None = None, source: dict | None = None) -> Series:
    """Nanda/ARENA `full_run_data.pth` (already loaded with weights_only) -> native series at `out`."""
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    sds, steps = data["state_dicts"], _steps(data["epochs"], "epochs")
    if not isinstance(sds, (list, tuple)) or len(sds) != len(steps):
        raise ConvertError(f"state_dicts ({len(sds) if isinstance(sds, (list, tuple)) else type(sds).__name__}) "
                           f"and epochs ({len(steps)}) do not match")
    cfg = nanda_config(sds[0], config)
    frac = float(frac_train if frac_train is not None else config.get("frac_train", 0.3))
    seed = int(split_seed if split_seed is not None else config.get("seed", 0))
    mask = nanda_split_mask(cfg.p, frac, seed)

    def load(i):
        where = f"state_dicts[{i}] (epoch {steps[i]})"
        return params_from_nanda(sds[i], cfg, where), _tensor(sds[i], "unembed.W_U", where)

    curves = {"train_loss": _as_array(data.get("train_losses"), "train_losses"),
              "test_loss": _as_array(data.get("test_losses"), "test_losses")}
    note = {"kind": "mask", "rebuilt_from": f"Nanda: pairs (i, j, p) row-major, random.seed({seed}); random.shuffle; "
            f"first int({frac} * p^2) train", "frac_train": frac, "data_seed": seed}
    src = {"format": "nanda_full_run", "step_label": "epoch as recorded in the file", **(source or {})}
    tcfg = _train_config(steps, frac, seed=int(config.get("seed", 0)) if config else 0, data_seed=seed, config=config)
    return _write_series(Path(out), cfg, steps, load, mask, tcfg, src, curves, dtype,
                         title or "Nanda et al. (2023) full run, converted", progress, note)


def convert_tl_demo(data: dict, out, dtype: str = "float32", title: str | None = None,
                    progress: Progress | None = None, source: dict | None = None) -> Series:
    """TransformerLens grokking-demo file (already loaded with weights_only) -> native series at `out`."""
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    sds, steps = data["checkpoints"], _steps(data["checkpoint_epochs"], "checkpoint_epochs")
    if not isinstance(sds, (list, tuple)) or len(sds) != len(steps):
        raise ConvertError("checkpoints and checkpoint_epochs do not match")
    cfg = tl_config(sds[0], config)
    for k in ("train_indices", "test_indices"):
        if k not in data:
            raise ConvertError(f"{k} missing: the TransformerLens demo file records its split there")
    mask = mask_from_indices(data["train_indices"], data["test_indices"], cfg.p**2)

    def load(i):
        where = f"checkpoints[{i}] (epoch {steps[i]})"
        return params_from_tl(sds[i], cfg, where), _tensor(sds[i], "unembed.W_U", where)

    curves = {"train_loss": _as_array(data.get("train_losses"), "train_losses"),
              "test_loss": _as_array(data.get("test_losses"), "test_losses")}
    note = {"kind": "mask", "rebuilt_from": "TransformerLens demo: train_indices / test_indices (index x*p + y)"}
    src = {"format": "tl_demo", "step_label": "epoch as recorded in the file", **(source or {})}
    tcfg = _train_config(steps, float(mask.mean()), seed=int(config.get("seed", 0) or 0), config=config)
    return _write_series(Path(out), cfg, steps, load, mask, tcfg, src, curves, dtype,
                         title or "TransformerLens grokking demo, converted", progress, note)


def convert_file(path, out, format: str = "auto", dtype: str = "float32", title: str | None = None,
                 progress: Progress | None = None, source: dict | None = None) -> Series:
    """Convert a Nanda/ARENA or TransformerLens-demo torch file into a native series folder `out`."""
    if format not in ("auto", *FORMATS):
        raise ConvertError(f"unknown format {format!r} (auto, {', '.join(FORMATS)})")
    if progress is not None:
        progress(0, 1, f"reading {Path(path).name}")
    data = load_torch_file(path)
    found = detect_format(data)
    if format != "auto" and format != found:
        raise ConvertError(f"{path}: looks like {found}, not {format}")
    src = {"file": Path(path).name, **(source or {})}
    try:
        if found == "nanda_full_run":
            return convert_nanda_full_run(data, out, dtype=dtype, title=title, progress=progress, source=src)
        return convert_tl_demo(data, out, dtype=dtype, title=title, progress=progress, source=src)
    except ConvertError as e:
        raise ConvertError(f"{path}: {e}") from None


def summary_line(series: Series) -> str:
    src = series.meta.get("source", {})
    check = src.get("loss_check")
    extra = f"; loss check {json.dumps(check)}" if check else ""
    return f"{len(series.steps)} checkpoints, steps {series.steps[0]}..{series.steps[-1]}{extra}"
