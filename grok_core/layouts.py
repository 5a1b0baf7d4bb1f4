"""Other projects' parameter layouts and splits, read into ours (TransformerLens names and shapes).

Nanda's own layout (the ARENA full run) is transposed as grok_core.convert's docstring lists; the
TransformerLens demo's is ours already, minus its always-zero biases. The splits: Nanda's, rebuilt
from Python's random.seed(0) / random.shuffle, and explicit train/test index lists.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from .config import ModelConfig
from .torch_files import ConvertError

PARAM_NAMES = tuple(ModelConfig().param_shapes())
# Buffers and always-zero biases that carry no information for this architecture.
_IGNORED_SUFFIXES = (".mask", ".IGNORE")
_ZERO_BIASES = ("blocks.0.attn.b_Q", "blocks.0.attn.b_K", "blocks.0.attn.b_V", "blocks.0.attn.b_O", "unembed.b_U")


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


# HookedTransformerConfig fields whose other values would make a different network than ours.
_TL_SAME = {"n_layers": 1, "normalization_type": None, "attn_only": False, "positional_embedding_type": "standard",
            "gated_mlp": False, "parallel_attn_mlp": False, "use_attn_scale": True, "attention_dir": "causal",
            "post_embedding_ln": False, "final_rms": False, "attn_scores_soft_cap": -1.0, "output_logits_soft_cap": -1.0}


_TL_RECORDED = ("d_model", "d_head", "n_heads", "d_mlp", "d_vocab", "d_vocab_out", "n_ctx", "n_layers", "act_fn",
                "attn_scale", "seed", "dtype", "init_mode", *_TL_SAME)


def tl_config(sd: dict, config: dict | None = None) -> ModelConfig:
    """Sizes read off a TransformerLens state dict, checked against the demo's config fields."""
    where = "TransformerLens state dict"
    config = config or {}
    for k, want in _TL_SAME.items():
        if k in config and config[k] != want and not (want is None and config[k] == "None"):
            raise ConvertError(f"{where}: config {k} = {config[k]!r}; this one-layer model needs {want!r}")
    d_vocab, d_model = _dims(sd, "embed.W_E", where, 2)
    n_heads, _, d_head = _dims(sd, "blocks.0.attn.W_Q", where, 3)
    d_mlp = _dims(sd, "blocks.0.mlp.W_in", where, 2)[1]
    n_ctx = _dims(sd, "pos_embed.W_pos", where, 2)[0]
    scale = config.get("attn_scale")
    if scale is not None and abs(float(scale) - d_head**0.5) > 1e-6 * d_head**0.5:
        raise ConvertError(f"{where}: attn_scale {float(scale)} is not sqrt(d_head) = {d_head**0.5:g}")
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
