"""Reading torch checkpoint files as data: `torch.load(weights_only=True)` and nothing more.

Besides torch's defaults (tensors, numbers, strings, lists, dicts) exactly what published grokking
files need may be built: a pickled TransformerLens `HookedTransformerConfig` becomes a `PickledConfig`
(an inert record of its fields; transformer_lens is never imported, none of its code runs), and numpy
scalars and dtypes are allowed the way torch's documentation describes. Anything else pickled in a file
is refused with a message that says what and why, never unpickled.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import torch


class ConvertError(Exception):
    """A source file that cannot be converted, with a message for people."""


class PickledConfig:
    """An inert stand-in for a pickled config object: it only records the fields it was saved with.

    Unpickling builds it with `object.__new__` and hands it the saved field dict; no code of the
    original class (e.g. transformer_lens's HookedTransformerConfig) runs or is imported.
    """

    def __setstate__(self, state) -> None:
        parts = state if isinstance(state, tuple) else (state,)  # (dict, slots) for classes with __slots__
        for part in parts:
            if isinstance(part, dict):
                self.__dict__.update({str(k): v for k, v in part.items()})

    def fields(self) -> dict:
        """The recorded fields as plain Python values (numpy scalars as numbers, dtypes as strings)."""
        return {k: _plain(v) for k, v in vars(self).items()}


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (torch.dtype, np.dtype)):
        return str(v)
    return v


# Where transformer_lens has kept HookedTransformerConfig: 3.x, and 1.x / 2.x.
CONFIG_CLASSES = ("transformer_lens.config.hooked_transformer_config.HookedTransformerConfig",
                  "transformer_lens.HookedTransformerConfig.HookedTransformerConfig")
_NUMERIC = (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
            np.float16, np.float32, np.float64, np.complex64, np.complex128)


def _safe_globals() -> list:
    """What torch.load(weights_only=True) may build besides its defaults: the config record, numpy scalars
    and dtypes (torch's documented allowlist for them: the scalar constructor, np.dtype and the DType classes)."""
    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    allowed = [(PickledConfig, name) for name in CONFIG_CLASSES]
    allowed += [(scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar"), np.dtype]
    return allowed + [type(np.dtype(t)) for t in _NUMERIC if type(np.dtype(t)) is not np.dtype]


def load_torch_file(path) -> dict:
    """torch.load with weights_only=True (memory-mapped when the file allows); refuse anything else."""
    path = Path(path)
    if not path.is_file():
        raise ConvertError(f"{path}: no such file")
    mmap = zipfile.is_zipfile(path)  # the legacy (pre-1.6) format cannot be memory-mapped
    try:
        with torch.serialization.safe_globals(_safe_globals()):
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
    known = {name for name in CONFIG_CLASSES} | {"numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
                                                  "numpy.dtype"}
    try:
        names = [n for n in torch.serialization.get_unsafe_globals_in_checkpoint(path) if n not in known]
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
