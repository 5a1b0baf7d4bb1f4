"""Progress measures (Nanda et al. 2023): hidden progress while test loss is still flat.

The paper's definitions (its code: `calculate_trig_loss`, `get_component_cos_xpy` / `get_component_sin_xpy`
in mechanistic-interpretability-grokking/progress-measures-paper), float64 throughout:

- for each key frequency k (w_k = 2πk/p), the two unit vectors cos(w_k(x + y)) and sin(w_k(x + y)) over
  the p×p grid of problems; each answer's logit column (a vector over the grid) is projected onto them,
  and the sum over the key frequencies is the "trig" part of the logits;
- restricted loss: cross-entropy of (trig part + each answer's mean logit over the grid) over all p²
  problems — low once the algorithm alone carries the answer;
- excluded loss: cross-entropy of (logits − trig part) over the train problems — rises as the model
  stops memorising and leans on the algorithm, before test loss falls;
- excluded loss per key frequency (the paper's `calculate_excluded_loss`: each one removed alone), sum
  of squared weights, Gini coefficient of the embedding's per-frequency norms, and the number of
  frequencies standing out in the embedding (of that checkpoint).

For subtraction the same is done with x − y: the directions are cos/sin(w_k a) for the answer a.
Key frequencies are the final checkpoint's, as in the paper. For a whole series this is one batched
pass (checkpoints stacked on a leading run dimension through `model.grid_forward`, the model on the
whole grid), cached beside the series as the extra "progress", or in a user cache dir where the
series folder is not writable.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

from ..config import ModelConfig
from ..data import labels as make_labels
from ..model import grid_forward
from ..series import JSON_NAME, Series, atomic_save_tensors
from ..series_writer import add_extra
from .fourier import basis_tensor, freq_norms, key_freqs_from_norms, key_frequencies, share_of

EXTRA_NAME = "progress"
VERSION = "3"  # bump when a measure's definition changes: cached results are then recomputed (3: the paper's trig loss)
MEASURES = ("restricted_loss", "excluded_loss", "train_loss", "test_loss", "sum_sq_weights", "gini", "n_key_freqs")


# -- the measures on a stack of checkpoints [R, ...] ---------------------------------------------
def gini(values: torch.Tensor) -> torch.Tensor:
    """Gini coefficient along the last dim (0: all equal, → 1: all mass in one entry): [...]."""
    x = values.double().sort(-1).values
    n = x.shape[-1]
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return ((2 * i - n - 1) * x).sum(-1) / (n * x.sum(-1).clamp_min(1e-300))


def trig_directions(p: int, key_freqs: list[int], operation: str = "add") -> torch.Tensor:
    """Unit vectors over the grid [n_key, 2, p*p]: cos(w_k(x + y)), sin(w_k(x + y)) for each key frequency k.

    The paper's get_component_cos_xpy / sin_xpy directions ((cos x cos y − sin x sin y)/√2 in the 2-D
    Fourier basis, and its sine partner); they depend on x + y only through the answer (x + y) mod p.
    """
    a = make_labels(p, operation).double()  # [p*p]
    w = 2 * torch.pi * torch.tensor(key_freqs, dtype=torch.float64)[:, None] / p  # [n_key, 1]
    V = torch.stack([torch.cos(w * a), torch.sin(w * a)], dim=1)  # [n_key, 2, p*p]
    return V / V.norm(dim=-1, keepdim=True)


def trig_parts(logits: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """Coefficients of every answer's logit column on each direction: [R, n_key, 2, p].

    logits [R, p*p, p]; the part of frequency k on problems `rows` is einsum(V[k][:, rows], coefs[:, k]).
    """
    return torch.einsum("ktn,rnc->rktc", V, logits.double())


def _on(V: torch.Tensor, coefs: torch.Tensor, rows=slice(None)) -> torch.Tensor:
    """Each key frequency's part of the logits on the problems `rows`: [n_key, R, n_rows, p]."""
    return torch.einsum("ktn,rktc->krnc", V[..., rows], coefs)


def cross_entropy(logits: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in float64 of logits [..., n, p] against the answers [n]: [...]."""
    L = logits.double()
    correct = L.gather(-1, answer.expand(*L.shape[:-1])[..., None])[..., 0]
    return (L.logsumexp(-1) - correct).mean(-1)


def trig_losses(logits: torch.Tensor, answer: torch.Tensor, train: torch.Tensor, key_freqs: list[int],
                operation: str = "add") -> dict[str, torch.Tensor]:
    """The paper's restricted and excluded loss of logits [R, p*p, p] (answers [p*p], train mask [p*p]).

    restricted_loss [R] over all problems, excluded_loss [R] and excluded_loss_per_freq [R, n_key] over
    the train problems (see the module docstring).
    """
    logits = logits.double()
    V = trig_directions(logits.shape[-1], list(key_freqs), operation)  # [n_key, 2, p*p]
    coefs = trig_parts(logits, V)  # [R, n_key, 2, p]
    trig = _on(V, coefs).sum(0)  # [R, p*p, p]
    per_freq = _on(V, coefs, train)  # [n_key, R, n_train, p]
    L_train = logits[:, train]  # [R, n_train, p]
    return {
        "restricted_loss": cross_entropy(trig + logits.mean(1, keepdim=True), answer),
        "excluded_loss": cross_entropy(L_train - per_freq.sum(0), answer[train]),
        "excluded_loss_per_freq": cross_entropy(L_train - per_freq, answer[train]).T,  # [R, n_key]
    }


@torch.no_grad()
def batch_progress(params: dict[str, torch.Tensor], cfg: ModelConfig, train_mask: np.ndarray, key_freqs: list[int],
                   operation: str = "add") -> dict[str, torch.Tensor]:
    """All measures for a stack of R checkpoints (params with a leading [R] dim): tensors [R] each.

    Plus "excluded_loss_per_freq" [R, len(key_freqs)]: train loss with one key frequency removed.
    """
    p = cfg.p
    R = params["embed.W_E"].shape[0]
    answer = make_labels(p, operation)  # [p*p]
    train = torch.from_numpy(np.asarray(train_mask, dtype=bool))
    logits = grid_forward(params, cfg).double()  # [R, p*p, p]: forward_last on every problem, batched over runs
    out = {"train_loss": cross_entropy(logits[:, train], answer[train]),
           "test_loss": cross_entropy(logits[:, ~train], answer[~train]),
           **trig_losses(logits, answer, train, key_freqs, operation)}
    out["sum_sq_weights"] = sum(v.double().pow(2).reshape(R, -1).sum(1) for v in params.values())
    norms = freq_norms(basis_tensor(p) @ params["embed.W_E"][:, :p].double())  # [R, n_freq]
    out["gini"] = gini(torch.from_numpy(norms))
    out["n_key_freqs"] = torch.tensor([len(key_freqs_from_norms(n)) for n in norms], dtype=torch.int64)
    return out


def checkpoint_progress(params, cfg: ModelConfig, train_mask, key_freqs, operation: str = "add") -> dict[str, float]:
    """The progress measures of one checkpoint, as floats (see the module docstring)."""
    one = {k: v.unsqueeze(0).float() for k, v in params.items()}
    out = batch_progress(one, cfg, train_mask, list(key_freqs), operation)
    return {k: float(out[k][0]) for k in MEASURES}


# -- a whole series, cached --------------------------------------------------------------------
def user_cache_dir() -> Path:
    """Where results for read-only series go: $GROK_CORE_CACHE, else $XDG_CACHE_HOME/grok_core, else ~/.cache/grok_core."""
    if os.environ.get("GROK_CORE_CACHE"):
        return Path(os.environ["GROK_CORE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grok_core"


def _user_cache_file(series: Series) -> Path:
    digest = hashlib.sha256((series.path / JSON_NAME).read_bytes()).hexdigest()[:32]
    return user_cache_dir() / digest / f"{EXTRA_NAME}.safetensors"


def _metadata(series: Series, key_freqs: list[int] | None) -> dict[str, str]:
    return {"format": "grok-progress", "version": VERSION, "operation": series.train_cfg.operation,
            "key_freqs": json.dumps(key_freqs)}


def _load(path: Path | None, series: Series, key_freqs: list[int] | None) -> dict[str, np.ndarray] | None:
    """A cached result if it exists and matches this series' steps, this code's version and the key freqs."""
    if path is None or not Path(path).is_file():
        return None
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            out = {k: f.get_tensor(k).numpy() for k in f.keys()}
    except Exception:  # a damaged cache is recomputed, never an error
        return None
    want = _metadata(series, key_freqs)
    if key_freqs is None:  # only the default (final key frequencies) is ever cached
        del want["key_freqs"]
    same_meta = all(meta.get(k) == v for k, v in want.items())
    if not same_meta or "step" not in out or not np.array_equal(out["step"], series.steps):
        return None
    return out


def _save(series: Series, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path | None:
    """Beside the series if it is complete and writable, else in the user cache dir; None if neither works."""
    if series.complete:
        try:
            return add_extra(series.path, EXTRA_NAME, tensors, metadata)
        except OSError:
            pass  # read-only bundle or cache: fall back below
    try:
        fp = _user_cache_file(series)
        fp.parent.mkdir(parents=True, exist_ok=True)
        atomic_save_tensors(fp, tensors, metadata)
        return fp
    except OSError:
        return None


def final_key_frequencies(series: Series) -> list[int]:
    """Key frequencies of the last checkpoint (Nanda measures every step against the final model's)."""
    last = int(series.steps[-1])
    params, cache = series.params_at(last), {}
    grid_forward(params, series.model_cfg, cache)
    return key_frequencies(params, series.model_cfg, cache)


def compute_series_progress(series: Series, key_freqs: list[int], chunk: int = 2) -> dict[str, np.ndarray]:
    """All checkpoints through `batch_progress`, `chunk` at a time (bounded memory): arrays [n_checkpoints]."""
    cfg, steps = series.model_cfg, [int(s) for s in series.steps]
    parts: list[dict[str, torch.Tensor]] = []
    for a in range(0, len(steps), chunk):
        many = [series.params_at(s) for s in steps[a : a + chunk]]
        stacked = {k: torch.stack([m[k] for m in many]) for k in many[0]}
        parts.append(batch_progress(stacked, cfg, series.train_mask, key_freqs, series.train_cfg.operation))
    out = {k: torch.cat([part[k] for part in parts]).numpy() for k in parts[0]}
    out["step"] = np.asarray(steps, dtype=np.int64)
    out["key_freqs"] = np.asarray(key_freqs, dtype=np.int64)
    return out


def series_progress(series: Series, key_freqs: list[int] | None = None, cache: bool = True) -> dict[str, np.ndarray]:
    """Progress measures at every checkpoint: {"step", measures..., "excluded_loss_per_freq", "key_freqs"}.

    key_freqs default to those of the final checkpoint. The result is read from / written to the
    series' "progress" extra (or the user cache dir when the series folder is read-only). Only
    the default is written, and not for a series still being trained (it would race the trainer's
    writes to series.json); other key_freqs are read from the cache when they equal the default.
    cache=False neither reads nor writes.
    """
    out = _series_progress(series, key_freqs, cache)
    out["key_share"] = key_share(series, [int(k) for k in out["key_freqs"]])
    return out


def key_share(series: Series, key_freqs: list[int]) -> np.ndarray:
    """The key frequencies' share of the embedding's squared per-frequency norms at every checkpoint [R].

    Unlike the count of key frequencies (which needs a frequency to stand 10× above the median), this
    rises smoothly through the plateau: the hidden progress in the embedding. Cheap (one batched
    product over W_E), so it is computed on load rather than cached.
    """
    p = series.model_cfg.p
    norms = freq_norms(basis_tensor(p) @ series.stacked("embed.W_E", torch.float64)[:, :p])  # [R, n_freq]
    return np.array([share_of(n, key_freqs) for n in norms])


def reading_at(prog: dict, step: int) -> dict[str, float]:
    """The measures at the checkpoint nearest at or after `step`, and how far the excluded loss has risen
    since its lowest point so far (low_step, rise = excluded / its minimum; rise 1 at the minimum itself)."""
    i = int(np.searchsorted(prog["step"], step).clip(0, len(prog["step"]) - 1))
    j = int(np.argmin(prog["excluded_loss"][: i + 1]))
    out = {k: float(prog[k][i]) for k in ("restricted_loss", "excluded_loss", "test_loss")}
    low = float(prog["excluded_loss"][j])
    return {**out, "low_step": int(prog["step"][j]), "rise": out["excluded_loss"] / low if low > 0 else 1.0}


def _series_progress(series: Series, key_freqs: list[int] | None, cache: bool) -> dict[str, np.ndarray]:
    if cache:
        # The folder's file is checked by content too: a Series opened before the extra was added
        # does not list it, and a stale one (other steps, older code) is rejected by `_load`.
        for path in (series.extra_path(EXTRA_NAME) or series.path / f"{EXTRA_NAME}.safetensors", _user_cache_file(series)):
            hit = _load(path, series, key_freqs)
            if hit is not None:
                return hit
    ks = list(key_freqs) if key_freqs is not None else final_key_frequencies(series)
    out = compute_series_progress(series, ks)
    if cache and key_freqs is None and series.complete:
        _save(series, {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()}, _metadata(series, ks))
    return out


if __name__ == "__main__":  # python -m grok_core.analysis.progress SERIES_FOLDER: precompute and cache
    import sys
    import time

    from ..series import open_series

    t0 = time.perf_counter()
    res = series_progress(open_series(sys.argv[1]))
    s = open_series(sys.argv[1])  # reopened: series.json now lists the extra, if it could be written
    where = s.extra_path(EXTRA_NAME) or (_user_cache_file(s) if _user_cache_file(s).is_file() else "nowhere (not cached)")
    print(f"{s}: progress over {len(res['step'])} checkpoints in {time.perf_counter() - t0:.1f} s; "
          f"key frequencies {res['key_freqs'].tolist()}; cached at {where}")
