"""Interventions: remove chosen frequencies or neurons from a checkpoint and see what breaks.

Three places to cut, each followed by train/test accuracy and loss on the whole p×p grid:
(a) embedding — project the number rows of W_E (rows 0 … p−1) off cos(2πkx/p), sin(2πkx/p)
    over x for the chosen k, then run the model again;
(b) logits — for each chosen k, project every answer's logit column (over the p² problems) off
    the unit vectors cos(w_k(x+y)), sin(w_k(x+y)) and subtract, as the paper's excluded loss does;
(c) MLP — zero chosen neurons' activations (e.g. one frequency cluster).
After grokking the answer lives in the key frequencies: removing all of them collapses test
accuracy, removing one of several leaves it standing (the others still carry the answer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import ModelConfig
from ..data import labels as make_labels
from ..model import grid_forward
from .fourier import basis_tensor, neuron_frequencies
from .progress import trig_directions, trig_losses, trig_parts

KINDS = ("embedding", "logits", "neurons")


@dataclass(frozen=True)
class Scores:
    """Accuracy and mean cross-entropy (float64) on the train and the test problems."""

    train_acc: float
    test_acc: float
    train_loss: float
    test_loss: float


@dataclass(frozen=True)
class Intervention:
    """One cut at one step: what was removed, the scores before and after, and which problems are right after."""

    kind: str  # "embedding" | "logits" | "neurons"
    removed: tuple[int, ...]  # frequencies k (embedding, logits) or neuron indices (neurons)
    label: str  # e.g. "all 5 key frequencies (14, 35, 41, 42, 52)"
    before: Scores
    after: Scores
    correct_after: np.ndarray  # [p*p] bool, row-major x*p + y
    predicted_after: np.ndarray  # [p*p] int: the model's answer after the cut


def nll(logits: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each problem, [n], from logits [n, p], accurate at tiny losses in float32 too.

    −log softmax = softplus(logsumexp over the wrong answers of (L_c − L_answer)): the differences are
    formed before anything is exponentiated, so a loss of 1e-7 keeps its digits (logsumexp(L) − L_answer
    in float32 would round it away; that is why training computes the loss in float64).
    """
    return torch.nn.functional.softplus(_margins(logits, answer).logsumexp(-1))


def _margins(logits: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
    """L_c − L_answer for every wrong answer c, −inf at the answer itself: [n, p]."""
    d = logits - logits.gather(-1, answer[:, None])
    return d.scatter_(-1, answer[:, None], float("-inf"))  # in place: d is a fresh tensor


def scores(logits: torch.Tensor, answer: torch.Tensor, train_mask) -> Scores:
    """Scores of grid logits [p*p, p] against the answers [p*p], split by the boolean train mask [p*p].

    A problem is right when every wrong answer's logit is below the answer's (a tie counts as wrong).
    """
    L = logits if logits.is_floating_point() else logits.float()
    d = _margins(L, answer)  # [p*p, p]
    loss = torch.nn.functional.softplus(d.logsumexp(-1)).double()  # [p*p], as nll
    right = d.amax(-1) < 0
    train = torch.as_tensor(np.asarray(train_mask, dtype=bool))
    return Scores(train_acc=float(right[train].double().mean()), test_acc=float(right[~train].double().mean()),
                  train_loss=float(loss[train].mean()), test_loss=float(loss[~train].mean()))


# -- (a) the embedding ---------------------------------------------------------------------------
def embedding_without(params, cfg: ModelConfig, ks) -> dict[str, torch.Tensor]:
    """A copy of params whose number rows W_E[:p] have no cos/sin(2πkx/p) component over x for each k in ks."""
    p = cfg.p
    rows = [r for k in ks for r in (2 * int(k) - 1, 2 * int(k))]
    B = basis_tensor(p)[rows]  # [2 len(ks), p(x)]: orthonormal, so the projection is B.T @ B
    W = params["embed.W_E"].double()
    W_num = W[:p] - B.T @ (B @ W[:p])  # [p, d_model]
    out = dict(params)
    out["embed.W_E"] = torch.cat([W_num, W[p:]]).to(params["embed.W_E"].dtype)
    return out


# -- (b) the logits: the paper's excluded-loss projection (one definition, in analysis.progress) --------
def sum_directions(p: int, ks, operation: str = "add") -> torch.Tensor:
    """Unit vectors cos(w_k s), sin(w_k s) over the p² problems, s = each problem's answer: [2 len(ks), p*p].

    progress.trig_directions (the paper's cos/sin(w_k(x+y)) directions), flattened; orthonormal for 0 < k < p/2.
    """
    if not len(ks):
        return torch.zeros(0, p * p, dtype=torch.float64)
    return trig_directions(p, [int(k) for k in ks], operation).reshape(-1, p * p)


def logits_without(logits: torch.Tensor, ks, operation: str = "add") -> torch.Tensor:
    """Logits [p*p, p] with each answer's column projected off cos/sin(w_k(x+y)) for each k in ks (in logits' dtype).

    The projection of the paper's excluded loss: progress.trig_directions and trig_parts, the parts subtracted.
    """
    ks = [int(k) for k in ks]
    if not ks:
        return logits.clone()
    V = trig_directions(logits.shape[-1], ks, operation)  # [n, 2, p*p]
    coefs = trig_parts(logits[None], V)[0]  # [n, 2, p]: each answer's coefficients, as the excluded loss reads them
    parts = torch.einsum("ktn,ktc->nc", V, coefs)  # [p*p, p]: the chosen frequencies' parts summed (progress._on
    return (logits.double() - parts).to(logits.dtype)  # keeps them apart per k: 5x the memory, 10x the time here


def excluded_loss(logits: torch.Tensor, answer: torch.Tensor, train_mask, ks, operation: str = "add") -> float:
    """Nanda et al.'s excluded loss (progress.trig_losses): train-set cross-entropy with the frequencies ks removed."""
    train = torch.as_tensor(np.asarray(train_mask, dtype=bool))
    return float(trig_losses(logits[None], answer, train, [int(k) for k in ks], operation)["excluded_loss"][0])


# -- (c) the MLP ---------------------------------------------------------------------------------
def frequency_clusters(cache, cfg: ModelConfig, min_frac: float = 0.5, ks=None) -> dict[int, list[int]]:
    """Neurons grouped by their best frequency (over the grid, before the ReLU), if it explains > min_frac of them.

    {k: [neuron, ...]}, largest cluster first; the clustering of Nanda et al. that `neuron_key_frequencies` uses.
    With ks, only those frequencies' clusters, from their own Fourier terms alone (a few ms instead of the full
    2-D spectrum of every neuron): the same neurons, since a share above 1/2 can only be the best frequency's.
    """
    grid = cache["blocks.0.mlp.hook_pre"].reshape(cfg.p, cfg.p, -1)  # [p(x), p(y), d_mlp]
    if ks is None:
        best_k, frac = neuron_frequencies(grid)
    else:
        share = _frequency_shares(grid, [int(k) for k in ks])  # [len(ks), d_mlp]
        best = share.argmax(0) if len(ks) else np.zeros(grid.shape[-1], dtype=np.int64)
        frac = share.max(0) if len(ks) else np.zeros(grid.shape[-1])
        best_k = np.asarray([int(k) for k in ks] or [0])[best]
    clusters: dict[int, list[int]] = {}
    for n in np.flatnonzero((frac > min_frac) & (best_k > 0)):
        clusters.setdefault(int(best_k[n]), []).append(int(n))
    return dict(sorted(clusters.items(), key=lambda kv: -len(kv[1])))


def _frequency_shares(grid: torch.Tensor, ks: list[int]) -> np.ndarray:
    """Each neuron's share of variance carried by frequency k's eight terms (as freq_energy_2d), for each k: [len(ks), n]."""
    p, n = grid.shape[0], grid.shape[-1]
    G = grid.float().reshape(p, p * n)  # [p(x), p(y)·n]: contiguous, so the x side is one matrix product
    rows = [0] + [r for k in ks for r in (2 * k - 1, 2 * k)]
    B = basis_tensor(p)[rows].float()  # [1 + 2K, p]
    T = (B @ G).reshape(len(rows), p, n)  # [1 + 2K, p(y), n]: coefficients over x
    C = (B @ T).double().pow(2)  # [1 + 2K (x), 1 + 2K (y), n]: squared 2-D coefficients on these rows
    total = G.pow(2).reshape(p * p, n).sum(0).double() - C[0, 0]  # [n]: sum of squares about the mean (Parseval)
    out = []
    for i in range(len(ks)):
        idx = [0, 1 + 2 * i, 2 + 2 * i]  # const, cos k, sin k
        energy = C[idx][:, idx].sum((0, 1)) - C[0, 0]
        out.append((energy / total.clamp_min(1e-300)).numpy())
    return np.stack(out) if out else np.zeros((0, n))


def logits_without_neurons(cache, params, neurons) -> torch.Tensor:
    """Grid logits [p*p, p] with the chosen neurons' activations set to zero, from the cache without running the MLP.

    Each neuron adds post[:, n] · (W_out[n] @ W_U) to the logits. Fewer than half zeroed: subtract theirs
    from the cached logits; more: rebuild from what is kept, resid_mid and b_out (a smaller product).
    """
    d_mlp = cache["blocks.0.mlp.hook_post"].shape[-1]
    drop = torch.zeros(d_mlp, dtype=torch.bool)
    drop[torch.as_tensor(list(neurons), dtype=torch.long)] = True
    W_U = params["unembed.W_U"].float()
    M = params["blocks.0.mlp.W_out"].float() @ W_U  # [d_mlp, p]: each neuron's direct effect on the logits
    post = cache["blocks.0.mlp.hook_post"].float()  # [p*p, d_mlp]
    if int(drop.sum()) <= d_mlp // 2:
        return cache["logits"].float() - post[:, drop] @ M[drop]
    rest = cache["blocks.0.hook_resid_mid"].float() @ W_U + params["blocks.0.mlp.b_out"].float() @ W_U  # [p*p, p]
    return rest + post[:, ~drop] @ M[~drop]


# -- running one -----------------------------------------------------------------------------------
def _label(kind: str, removed: tuple[int, ...], key_freqs=None) -> str:
    if kind == "neurons":
        return f"{len(removed)} neuron{'s' * (len(removed) != 1)}"
    names = ", ".join(map(str, removed))
    if key_freqs is not None and set(removed) == set(key_freqs) and len(removed) > 1:
        return f"all {len(removed)} key frequencies ({names})"
    return f"frequenc{'y' if len(removed) == 1 else 'ies'} {names}"


@torch.no_grad()
def intervene(kind: str, removed, params, cfg: ModelConfig, cache, train_mask, operation: str = "add",
              key_freqs=None, label: str | None = None, before: Scores | None = None) -> Intervention:
    """Cut `removed` (frequencies, or neurons for kind "neurons") at this checkpoint and score before and after.

    `cache` is the checkpoint's grid cache (model.grid_cache); "logits" gives the scores before, and
    kind "neurons" also reads "blocks.0.mlp.hook_post". kind "embedding" runs the model again (one grid forward).
    `before`: the scores of the cache's logits, when already known (several cuts of one checkpoint).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown intervention {kind!r}; expected one of {KINDS}")
    removed = tuple(dict.fromkeys(int(r) for r in removed))  # each once: a repeated k would be projected out twice
    limit = cfg.d_mlp if kind == "neurons" else cfg.n_frequencies + 1
    low = 0 if kind == "neurons" else 1
    bad = [r for r in removed if not low <= r < limit]
    if bad:
        what = f"neurons are 0 … {cfg.d_mlp - 1}" if kind == "neurons" else f"frequencies are 1 … {cfg.n_frequencies}"
        raise ValueError(f"cannot remove {bad}: {what}")
    answer = make_labels(cfg.p, operation)
    logits = cache["logits"]
    if kind == "embedding":
        after = grid_forward(embedding_without(params, cfg, removed), cfg)
    elif kind == "logits":
        after = logits_without(logits, removed, operation)
    else:
        after = logits_without_neurons(cache, params, removed)
    predicted = after.argmax(-1)
    return Intervention(kind=kind, removed=removed, label=label or _label(kind, removed, key_freqs),
                        before=before or scores(logits, answer, train_mask), after=scores(after, answer, train_mask),
                        correct_after=(predicted == answer).numpy(), predicted_after=predicted.numpy())


def default_cuts(key_freqs, kind: str = "logits",
                 clusters: dict[int, list[int]] | None = None) -> list[tuple[tuple[int, ...], str]]:
    """The comparison shown first, as (removed, label): all key frequencies, then just the last (least important) one.

    For kind "neurons": the neurons of all key-frequency clusters together, then the last key frequency's
    cluster alone (a key frequency no neuron clusters on adds nothing). One key frequency (or none): one cut (none).
    """
    ks = [int(k) for k in key_freqs]
    if not ks:
        return []
    names = ", ".join(map(str, ks))
    every_label = f"all {len(ks)} key frequencies ({names})" if len(ks) > 1 else f"key frequency {ks[0]}"
    if kind != "neurons":
        cuts = [(tuple(ks), every_label)]
        return cuts + ([((ks[-1],), f"only frequency {ks[-1]}")] if len(ks) > 1 else [])
    clusters = clusters or {}
    every = tuple(sorted(n for k in ks for n in clusters.get(k, [])))
    one = tuple(clusters.get(ks[-1], []))
    cuts = [(every, f"the {len(every)} neurons of {every_label}")]
    if len(ks) > 1:
        cuts.append((one, f"only the {len(one)} neurons of frequency {ks[-1]}"))
    return [(c, lab) for c, lab in cuts if c]


def default_comparison(kind: str, params, cfg: ModelConfig, cache, train_mask, key_freqs,
                       operation: str = "add") -> list[Intervention]:
    """`intervene` for each of `default_cuts`: all key frequencies removed, then just one."""
    clusters = frequency_clusters(cache, cfg, ks=key_freqs) if kind == "neurons" else None
    before = scores(cache["logits"], make_labels(cfg.p, operation), train_mask)
    return [intervene(kind, cut, params, cfg, cache, train_mask, operation, key_freqs, label, before)
            for cut, label in default_cuts(key_freqs, kind, clusters)]
