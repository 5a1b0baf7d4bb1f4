"""Model and training configuration as frozen dataclasses; saved in every series and used to rebuild the model."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field

OPERATIONS = ("add", "subtract")


def n_frequencies(p: int) -> int:
    """How many nonzero frequencies k = 1 … (p − 1)/2 the discrete Fourier basis over Z_p has (odd p)."""
    return (p - 1) // 2


@dataclass(frozen=True)
class ModelConfig:
    """Nanda et al. (2023): one layer, no LayerNorm, learned positions, untied embed/unembed."""

    p: int = 113
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    act: str = "relu"
    n_ctx: int = 3

    @property
    def d_vocab(self) -> int:  # the p numbers plus "="
        return self.p + 1

    @property
    def d_vocab_out(self) -> int:
        return self.p

    @property
    def eq_token(self) -> int:
        return self.p

    @property
    def n_frequencies(self) -> int:
        return n_frequencies(self.p)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """TransformerLens parameter names and shapes (no attention or unembed biases)."""
        m, h, dh, f = self.d_model, self.n_heads, self.d_head, self.d_mlp
        return {
            "embed.W_E": (self.d_vocab, m),
            "pos_embed.W_pos": (self.n_ctx, m),
            "blocks.0.attn.W_Q": (h, m, dh),
            "blocks.0.attn.W_K": (h, m, dh),
            "blocks.0.attn.W_V": (h, m, dh),
            "blocks.0.attn.W_O": (h, dh, m),
            "blocks.0.mlp.W_in": (m, f),
            "blocks.0.mlp.b_in": (f,),
            "blocks.0.mlp.W_out": (f, m),
            "blocks.0.mlp.b_out": (m,),
            "unembed.W_U": (m, self.d_vocab_out),
        }

    @property
    def n_params(self) -> int:
        total = 0
        for shape in self.param_shapes().values():
            n = 1
            for s in shape:
                n *= s
            total += n
        return total

    def __post_init__(self):
        if self.p < 3 or self.p % 2 == 0:
            raise ValueError(f"p must be an odd number >= 3 (a prime for the science), got {self.p}")
        if self.act not in ("relu", "gelu"):
            raise ValueError(f"act must be 'relu' or 'gelu', got {self.act!r}")
        if self.n_ctx != 3:
            raise ValueError("the task uses exactly three positions: x, y, '='")


# (until_step, every): dense through memorisation (first few hundred steps), then sparser.
DEFAULT_SCHEDULE: tuple[tuple[int, int], ...] = ((200, 10), (1400, 100), (16000, 200), (10**9, 1000))


@dataclass(frozen=True)
class TrainConfig:
    """Full-batch AdamW on a seeded fraction of all p^2 problems (Nanda's run by default)."""

    operation: str = "add"
    frac_train: float = 0.3
    seed: int = 0  # model initialisation
    data_seed: int = 598  # train/test split
    lr: float = 1e-3
    weight_decay: float = 1.0
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_steps: int = 10
    n_steps: int = 25_000
    schedule: tuple[tuple[int, int], ...] = field(default=DEFAULT_SCHEDULE)
    metric_every: int = 10
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    precision: str = "float32"  # "float32" | "tf32"

    def __post_init__(self):
        if self.operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {OPERATIONS}, got {self.operation!r}")
        if not 0.0 < self.frac_train < 1.0:
            raise ValueError(f"frac_train must be in (0, 1), got {self.frac_train}")
        if self.n_steps < 1 or self.metric_every < 1:
            raise ValueError("n_steps and metric_every must be positive")
        if not isinstance(self.device, str) or not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")
        if self.precision not in ("float32", "tf32"):
            raise ValueError(f"precision must be 'float32' or 'tf32', got {self.precision!r}")
        if self.lr <= 0 or self.weight_decay < 0 or self.warmup_steps < 0:
            raise ValueError("lr must be positive, weight_decay and warmup_steps non-negative")
        if not isinstance(self.schedule, (list, tuple)) or not self.schedule or not all(
            isinstance(x, (list, tuple)) and len(x) == 2 and all(isinstance(n, int) and not isinstance(n, bool) for n in x)
            for x in self.schedule
        ):
            raise ValueError(f"schedule must be a non-empty list of [until_step, every] pairs of integers, "
                             f"got {str(self.schedule)[:80]}")
        if any(int(every) < 1 for _, every in self.schedule):
            raise ValueError(f"checkpoint schedule intervals must be >= 1, got {self.schedule}")
        # JSON round trips turn tuples into lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        object.__setattr__(self, "schedule", tuple((int(a), int(b)) for a, b in self.schedule))

    def checkpoint_steps(self) -> list[int]:
        """Steps at which parameters are saved: 0, then by the schedule, always including the last."""
        steps, s = [0], 0
        for until, every in self.schedule:
            while s + every <= min(until, self.n_steps):
                s += every
                steps.append(s)
        if steps[-1] != self.n_steps:
            steps.append(self.n_steps)
        return steps


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


# Keys a saved config must hold: each changes the numbers, so a default would silently give a
# different model or run. Fields added later (with defaults that keep old series meaning what they
# meant) stay optional; `device` and `precision` say how a run was made, not what it computes.
REQUIRED_MODEL_KEYS = ("p", "d_model", "n_heads", "d_head", "d_mlp", "act", "n_ctx")
REQUIRED_TRAIN_KEYS = ("operation", "frac_train", "seed", "data_seed", "lr", "weight_decay", "betas",
                       "warmup_steps", "n_steps", "schedule", "metric_every")


def _checked_kwargs(cls, d, required: tuple[str, ...]) -> dict:
    """The dict's keys, refused by name when required ones are missing or unknown ones present."""
    if not isinstance(d, dict):
        raise ValueError(f"{cls.__name__} must be an object, not {type(d).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    missing = [k for k in required if k not in d]
    if missing:
        raise ValueError(f"{cls.__name__} is missing {', '.join(map(repr, missing))} (no default is assumed)")
    unknown = sorted(str(k)[:40] for k in d if k not in fields)
    if unknown:
        raise ValueError(f"{cls.__name__} has unknown key(s) {', '.join(map(repr, unknown))}")
    for k, v in d.items():
        want = type(fields[k].default)
        if not _type_ok(want, v):
            raise ValueError(f"{cls.__name__}.{k} must be {'a list' if want is tuple else want.__name__}, "
                             f"got {str(v)[:40]!r}")
    return dict(d)


def _type_ok(want: type, v) -> bool:
    """JSON value `v` fits a field whose default has type `want` (no bools for numbers, finite floats)."""
    if want is tuple:
        return isinstance(v, (list, tuple))
    if want is int:
        return isinstance(v, int) and not isinstance(v, bool)
    if want is float:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return isinstance(v, want)


def model_config_from_dict(d: dict) -> ModelConfig:
    """A ModelConfig from saved JSON: every required key present, no unknown ones (ValueError names them)."""
    return ModelConfig(**_checked_kwargs(ModelConfig, d, REQUIRED_MODEL_KEYS))


def train_config_from_dict(d: dict) -> TrainConfig:
    """A TrainConfig from saved JSON: every required key present, no unknown ones (ValueError names them)."""
    return TrainConfig(**_checked_kwargs(TrainConfig, d, REQUIRED_TRAIN_KEYS))
