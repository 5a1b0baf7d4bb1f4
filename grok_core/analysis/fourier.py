"""Fourier analysis over Z_p: the basis, embedding norms per frequency, 2-D spectra, key frequencies.

The trained model represents a number x through cos(2πkx/p) and sin(2πkx/p) for a handful of
"key" frequencies k. Everything here is a change of basis into the orthonormal Fourier basis
B [p, p] (row 0 constant, row 2k-1 cos k, row 2k sin k), so coefficients are comparable, squared
coefficients are variance (Parseval) and a p×p surface S over (x, y) is S = B.T @ C @ B.

Matrix products run in torch, not numpy: in a process where torch has just computed (the app,
right after the activations) numpy's own BLAS threads fight torch's for the two cores and a
113×113 product can take 20 ms instead of 0.2 ms.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ..config import ModelConfig, n_frequencies


def as_tensor(a, dtype=torch.float64) -> torch.Tensor:
    """A numpy array, tensor or nested list as a CPU tensor of `dtype` (no copy when it already is one)."""
    if isinstance(a, torch.Tensor):
        return a.detach().to("cpu", dtype)
    return torch.as_tensor(np.asarray(a), dtype=dtype)


def to_numpy(a) -> np.ndarray:
    """A torch tensor or array-like as a float64 numpy array (analysis arithmetic is float64)."""
    if isinstance(a, torch.Tensor):
        return a.detach().to("cpu", torch.float64).numpy()
    return np.asarray(a, dtype=np.float64)


@lru_cache(maxsize=8)
def basis_tensor(p: int) -> torch.Tensor:
    """The basis as a float64 tensor [p, p] (cached; do not modify)."""
    x = torch.arange(p, dtype=torch.float64)
    B = torch.empty(p, p, dtype=torch.float64)
    B[0] = 1 / np.sqrt(p)
    for k in range(1, n_frequencies(p) + 1):
        B[2 * k - 1] = torch.cos(2 * np.pi * k * x / p) * np.sqrt(2 / p)
        B[2 * k] = torch.sin(2 * np.pi * k * x / p) * np.sqrt(2 / p)
    return B


def basis_names(p: int) -> list[str]:
    return ["const"] + [f"{t} {k}" for k in range(1, n_frequencies(p) + 1) for t in ("cos", "sin")]


def fourier_basis(p: int) -> tuple[np.ndarray, list[str]]:
    """The orthonormal Fourier basis over Z_p: B [p, p] (rows are basis vectors over x) and names."""
    return basis_tensor(p).numpy().copy(), basis_names(p)


def freq_norms(coefs) -> np.ndarray:
    """Per-frequency norms from basis coefficients [..., p, m]: sqrt(Σ cos k² + sin k²) over the m columns.

    Returns [..., (p-1)//2] with index k-1 for frequency k (the constant row is dropped).
    """
    sq = as_tensor(coefs).pow(2).sum(-1)  # [..., p]
    return (sq[..., 1::2] + sq[..., 2::2]).sqrt().numpy()


def embedding_freq_norms(params, cfg: ModelConfig, position: int = 0) -> np.ndarray:
    """How strongly W_E represents each frequency: [(p-1)//2], index k-1 = frequency k.

    The token embedding is shared by both inputs; `position` adds W_pos[position], a constant over
    x that only touches the constant term, so x (0) and y (1) give the same norms, as they should.
    """
    p = cfg.p
    W = as_tensor(params["embed.W_E"])[:p] + as_tensor(params["pos_embed.W_pos"])[position]  # [p, d_model]
    return freq_norms(basis_tensor(p) @ W)  # [(p-1)//2]


def key_freqs_from_norms(norms, floor: float = 10.0, of_max: float = 1 / 3) -> list[int]:
    """Frequencies that stand out in per-frequency norms (most important first).

    Key means: squared norm above `floor` × the median (clear of the noise: at initialisation every
    frequency carries about the same energy, so none qualifies) and above `of_max` × the strongest
    (the algorithm's frequencies, not weaker side ones). After grokking weight decay has shrunk all
    but the few frequencies the algorithm uses, so both conditions pick out the same handful.
    """
    sq = np.asarray(norms, dtype=np.float64) ** 2
    keep = np.flatnonzero((sq > floor * np.median(sq)) & (sq >= of_max * sq.max()))
    return [int(k) + 1 for k in keep[np.argsort(-sq[keep])]]


# -- two dimensions: surfaces over (x, y) -------------------------------------------------------
def fourier_2d(surface) -> np.ndarray:
    """Coefficients C [p, p] (rows: x terms, columns: y terms) with surface = B.T @ C @ B.

    Also for many surfaces at once: [p, p, n] (e.g. every neuron's grid) -> [p, p, n].
    """
    S = as_tensor(surface)
    B = basis_tensor(S.shape[0])
    if S.dim() == 2:
        return (B @ S @ B.T).numpy()
    return (B @ S.movedim((0, 1), (-2, -1)) @ B.T).movedim((-2, -1), (0, 1)).numpy()


def freq_energy_2d(grids) -> tuple[np.ndarray, np.ndarray]:
    """Sum of squares of each surface carried by each single frequency k, and its total about the mean.

    grids [p, p, n] (numpy or torch) -> (energy [(p-1)//2, n] with row k-1 for frequency k, total [n]).
    Frequency k's terms are the eight built from {1, cos kx, sin kx} × {1, cos ky, sin ky} other
    than the constant: cos kx, sin ky, cos kx·cos ky, ... — the terms a neuron "of frequency k" uses.
    """
    G = as_tensor(grids, torch.float32).permute(2, 0, 1)  # [n, p(x), p(y)]; float32 is plenty for shares
    n, p = G.shape[0], G.shape[1]
    B = basis_tensor(p).float()
    sq = (B @ G @ B.T).double().pow(2)  # [n, p, p]: squared 2-D coefficients
    K = n_frequencies(p)
    blocks = sq[:, 1:, 1:].reshape(n, K, 2, K, 2).sum((2, 4)).diagonal(dim1=1, dim2=2)  # [n, K]: (cos|sin)x·(cos|sin)y
    x_only = sq[:, 1:, 0].reshape(n, K, 2).sum(-1)  # [n, K]: cos kx, sin kx
    y_only = sq[:, 0, 1:].reshape(n, K, 2).sum(-1)  # [n, K]: cos ky, sin ky
    energy = blocks + x_only + y_only
    total = sq.sum((1, 2)) - sq[:, 0, 0]
    return energy.T.numpy(), total.numpy()


def neuron_frequencies(grid) -> tuple[np.ndarray, np.ndarray]:
    """Each neuron's best single frequency and the fraction of its variance that frequency explains.

    grid [p(x), p(y), d_mlp] (numpy or torch) -> (best_k [d_mlp] ints, frac_explained [d_mlp]).
    A neuron whose surface is constant (e.g. dead after the ReLU) gets best_k 0 and frac 0.
    """
    return _best_frequency(*freq_energy_2d(grid))


def _best_frequency(energy: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    best = energy.argmax(0)
    alive = total > 1e-12 * max(float(total.max()), 1e-300)
    frac = np.where(alive, energy[best, np.arange(energy.shape[1])] / np.where(alive, total, 1.0), 0.0)
    return np.where(alive, best + 1, 0).astype(np.int64), frac


def wave_spectrum(waves) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Waves over Z_p (the columns of [p, n]: e.g. neurons as y sweeps) in the Fourier basis.

    Returns (energy [(p-1)//2, n]: sum of squares per frequency, cos [same], sin [same]: each
    wave's coefficients on cos k and sin k, from which its phase is arctan2(sin, cos)).
    """
    g = as_tensor(waves)
    C = (basis_tensor(g.shape[0]) @ g).numpy()  # [p, n]
    cos, sin = C[1::2], C[2::2]
    return cos**2 + sin**2, cos, sin


def wave_purity(waves) -> tuple[np.ndarray, np.ndarray]:
    """How close each wave (a column of [p(y), n]) is to one pure wave over y.

    Returns (k [n]: its strongest frequency, frac [n]: the share of its variance about its mean
    that frequency carries; 1 is a pure cosine, white noise gets noise_share). A flat wave gets k 0, frac 0.
    A ReLU clips a wave, which moves variance to harmonics: max(cos, 0) keeps 84% in its frequency.
    """
    energy = wave_spectrum(waves)[0]
    return _best_frequency(energy, energy.sum(0))


def noise_share(n_freq: int) -> float:
    """What wave_purity gives white noise on average: the largest of n_freq equal exponential shares, H_n / n."""
    return sum(1 / i for i in range(1, n_freq + 1)) / n_freq


def share_of(norms, ks) -> float:
    """The share of the squared per-frequency norms (e.g. embedding_freq_norms) held by the frequencies ks (1-based)."""
    n = to_numpy(norms)
    idx = [k - 1 for k in ks if 0 < k <= len(n)]
    total = float((n**2).sum())
    return float((n[idx] ** 2).sum()) / total if total > 0 else 0.0


def neuron_key_frequencies(grid, min_frac: float = 0.5, min_share: float = 0.02) -> list[int]:
    """Key frequencies from clustering neurons by their best frequency (Nanda et al. cluster the post-activations).

    A frequency is key if at least `min_share` of the neurons are well explained (> min_frac of their
    variance) by it; ordered by how much neuron variance the cluster carries.
    """
    energy, total = freq_energy_2d(grid)
    best_k, frac = _best_frequency(energy, total)
    good = frac > min_frac
    ks, counts = np.unique(best_k[good], return_counts=True)
    keep = [(int(k), float(energy[k - 1, good & (best_k == k)].sum())) for k, c in zip(ks, counts)
            if k > 0 and c >= min_share * len(best_k)]
    return [k for k, _ in sorted(keep, key=lambda kv: -kv[1])]


def key_frequencies(params, cfg: ModelConfig, cache=None) -> list[int]:
    """Key frequencies of a checkpoint, most important first.

    With a grid cache the neurons decide: clusters of neurons whose activations (after the ReLU,
    `blocks.0.mlp.hook_post`, as Nanda et al. cluster them) share one frequency. Without one, or if no
    cluster forms, the frequencies that stand out in the embedding (`key_freqs_from_norms`).
    """
    if cache is not None:
        ks = neuron_key_frequencies(cache["blocks.0.mlp.hook_post"].reshape(cfg.p, cfg.p, -1))
        if ks:
            return ks
    return key_freqs_from_norms(embedding_freq_norms(params, cfg))


# -- naming and decomposing one surface ---------------------------------------------------------
def term_name(a: int, b: int, p: int) -> str:
    """Name of the 2-D term B[a](x)·B[b](y), e.g. "cos 14x·sin 14y", "cos 14x", "const"."""
    names = basis_names(p)
    if a == 0 and b == 0:
        return "const"
    if b == 0:
        return f"{names[a]}x"
    if a == 0:
        return f"{names[b]}y"
    return f"{names[a]}x·{names[b]}y"


def top_terms(surface, n: int = 8) -> list[dict]:
    """The n largest non-constant 2-D Fourier terms: name, coefficient and share of the variance."""
    C = fourier_2d(surface)
    p = C.shape[0]
    sq = C**2
    sq[0, 0] = 0.0  # the mean is not variance
    total = sq.sum()
    order = np.argsort(-sq, axis=None)[:n]
    out = []
    for i in order:
        a, b = divmod(int(i), p)
        out.append(dict(name=term_name(a, b, p), coef=float(C[a, b]), frac=float(sq[a, b] / total) if total > 0 else 0.0))
    return out


def decompose(surface, k: int) -> dict:
    """A surface's terms at frequency k, with coefficients and variance shares, and the trig identity.

    terms: the 9 components {1, cos kx, sin kx} × {1, cos ky, sin ky} as [p, p] surfaces (summing
    them gives the surface's part at frequency k plus its mean); coefs: their basis coefficients;
    frac: each one's share of the surface's variance. identity: cos kx·cos ky − sin kx·sin ky =
    cos k(x+y), drawn at the amplitude of this surface's own cos kx·cos ky term, with the largest
    numerical mismatch between the two sides.
    """
    S = to_numpy(surface)
    p = S.shape[0]
    B = basis_tensor(p).numpy()
    C = fourier_2d(S)
    total = float(((S - S.mean()) ** 2).sum())
    rows = [0, 2 * k - 1, 2 * k]  # const, cos k, sin k
    terms, coefs, frac = {}, {}, {}
    for a in rows:
        for b in rows:
            name = term_name(a, b, p)
            terms[name] = C[a, b] * np.outer(B[a], B[b])  # [p(x), p(y)]
            coefs[name] = float(C[a, b])
            frac[name] = 0.0 if (a == b == 0 or total == 0) else float(C[a, b] ** 2 / total)
    x = np.arange(p)
    w = 2 * np.pi * k / p
    amp = float(C[2 * k - 1, 2 * k - 1]) * 2 / p or 1.0  # B's cos row is sqrt(2/p) cos: the product carries 2/p
    cc = amp * np.outer(np.cos(w * x), np.cos(w * x))
    ss = amp * np.outer(np.sin(w * x), np.sin(w * x))
    target = amp * np.cos(w * (x[:, None] + x[None, :]))
    identity = {
        "cos kx·cos ky": cc,
        "sin kx·sin ky": ss,
        "difference": cc - ss,
        "cos k(x+y)": target,
        "max_abs_error": float(np.abs(cc - ss - target).max()),
        "amplitude": amp,
    }
    return dict(terms=terms, coefs=coefs, frac=frac, identity=identity)
