"""Which operation a published checkpoint file computes, read off its last checkpoint's answers.

The views explain (x + y) mod p (crests along x + y = c, cos(k(x + y)) ...). A file does not say
which operation it was trained on (the TransformerLens demo layout records no such field), so the
last checkpoint is asked: the operation whose answers it gives on most of the p^2 problems.
"""

from __future__ import annotations

import torch

from .data import all_pairs
from .model import forward_last

OPERATIONS = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "×": lambda x, y: x * y}
MIN_ACCURACY = 0.5  # below this on every operation the run is undecided (e.g. stopped before it learnt)


@torch.no_grad()
def accuracies(params: dict[str, torch.Tensor], cfg) -> dict[str, float]:
    """Accuracy of the model on all p^2 problems for each operation in OPERATIONS."""
    x, y = all_pairs(cfg.p)
    pred = forward_last(params, cfg, x, y).argmax(-1)
    return {op: float((pred == f(x, y) % cfg.p).double().mean()) for op, f in OPERATIONS.items()}


def operation_of(path) -> str | None:
    """'+', '-' or '×' for the file's last checkpoint, or None when it matches none of them well."""
    from .convert import detect_format, load_torch_file, nanda_config, params_from_nanda, params_from_tl, tl_config

    data = load_torch_file(path)
    fmt = detect_format(data)
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    if fmt == "nanda_full_run":
        sd = data["state_dicts"][-1]
        cfg = nanda_config(sd, config)
        params = params_from_nanda(sd, cfg)
    else:
        sd = data["checkpoints"][-1]
        cfg = tl_config(sd, config)
        params = params_from_tl(sd, cfg)
    acc = accuracies(params, cfg)
    best = max(acc, key=acc.get)
    return best if acc[best] >= MIN_ACCURACY else None
