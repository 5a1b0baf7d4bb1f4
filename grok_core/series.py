"""The checkpoint-series format: one folder, read by the app, written by training and converters.

    series.json                     small description: format version, configs, steps, per-step
                                    metrics, the train/test split, dtype, files with sha256
    params-<first>-<last>.safetensors   parameters stacked over steps: "embed.W_E" is
                                    [n_steps_in_shard, d_vocab, d_model]; a step is one index
    resume-<step>.safetensors       (while training) float32 params + AdamW state to resume exactly
    <extra>.safetensors             optional cached results (e.g. progress measures)

series.json is the commit point: data files are written under new names first and the JSON is
replaced atomically last, so a run killed at any moment leaves a series that loads exactly the
checkpoints it lists. Checksums are verified on open; anything inconsistent is refused with a
message naming the file and the problem. A reader that meets a file the writer replaced meanwhile
reads series.json again, so it sees the previous or the next complete state, never a mix. A write
that fails (a full disk) removes what it half wrote and leaves the last listed state as it was.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .config import ModelConfig, TrainConfig, model_config_from_dict, train_config_from_dict
from .data import mask_from_hex

FORMAT = "grok-series"
FORMAT_VERSION = 1
JSON_NAME = "series.json"
DTYPES = {"float32": torch.float32, "float16": torch.float16}
METRIC_NAMES = ("train_loss", "test_loss", "train_acc", "test_acc")


class SeriesError(Exception):
    """A series (or one of its files) that cannot be used, with a message for people."""


class DiskFullError(SeriesError):
    """A write that ran out of disk space; `path` is the file, `needed` and `free` are bytes."""

    def __init__(self, message: str, path: Path, needed: int, free: int):
        super().__init__(message)
        self.path, self.needed, self.free = path, needed, free


def is_disk_full(err: BaseException) -> bool:
    """ENOSPC / EDQUOT, also as safetensors reports it (a SafetensorError quoting 'os error 28')."""
    if isinstance(err, DiskFullError) or isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(err)
    return "No space left on device" in text or "os error 28" in text or "Disk quota exceeded" in text


def shown(value, limit: int = 80) -> str:
    """repr() of a value for a message, cut to `limit` characters (names from files may be huge)."""
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 1] + "…"


def read_json(path: Path):
    """json.loads of a small description file; SeriesError for anything that is not plain JSON."""
    try:
        return json.loads(Path(path).read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SeriesError(f"{path}: not valid JSON ({e})") from e
    except RecursionError:
        raise SeriesError(f"{path}: not a series description (nested too deeply to read)") from None


def _plain_name(name) -> bool:
    """A file name inside the series folder: no folders, no hidden or parent references."""
    return isinstance(name, str) and bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; series files are meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> str:
    """save_file to a temporary name then rename; returns the sha256 of what was written."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)
        os.chmod(tmp, 0o644)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        digest = sha256_file(Path(tmp))
        os.replace(tmp, path)
        return digest
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _config(jp: Path, meta: dict, key: str, parse):
    """meta[key] parsed into its config dataclass; a missing or unknown key is refused by name."""
    try:
        return parse(meta[key])
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise SeriesError(f"{jp}: bad {key} ({e})") from e


@dataclass
class _Shard:
    file: str
    steps: list[int]
    sha256: str
    bytes: int


class Series:
    """A loaded series: configs, checkpoint steps, metrics, split; parameters read lazily per step."""

    # A reader that finds a listed file gone or changed reads series.json again this many times:
    # a writer replaces the JSON before it removes the files the old JSON listed.
    _ATTEMPTS = 5

    def __init__(self, path, verify: bool = True):
        self.path = Path(path)
        for attempt in range(self._ATTEMPTS):
            raw = self._raw_json()
            try:
                self._load(raw, verify)
                return
            except SeriesError:
                self.close()
                if attempt == self._ATTEMPTS - 1 or self._raw_json_or_none() in (raw, None):
                    raise  # the description did not change under us: the problem is real

    def _raw_json(self) -> bytes:
        jp = self.path / JSON_NAME
        try:
            if not self.path.is_dir():
                raise SeriesError(f"{shown(str(self.path))}: not a folder (a series is a folder holding {JSON_NAME})")
            return jp.read_bytes()
        except FileNotFoundError:
            raise SeriesError(f"{jp}: missing; this folder is not a checkpoint series") from None
        except IsADirectoryError:
            raise SeriesError(f"{jp}: a folder, not a file; this folder is not a checkpoint series") from None
        except OSError as e:  # name too long, permission denied, ...
            raise SeriesError(f"{shown(str(jp))}: cannot be read ({e.strerror or e})") from None

    def _raw_json_or_none(self) -> bytes | None:
        try:
            return self._raw_json()
        except SeriesError:
            return None

    def _load(self, raw: bytes, verify: bool) -> None:
        jp = self.path / JSON_NAME
        self._handles: dict[int, object] = {}
        try:
            meta = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise SeriesError(f"{jp}: not valid JSON ({e})") from e
        except RecursionError:
            raise SeriesError(f"{jp}: not a series description (nested too deeply to read)") from None
        self.meta = meta
        self._check_header(jp, meta)
        self.model_cfg: ModelConfig = _config(jp, meta, "model_config", model_config_from_dict)
        self.train_cfg: TrainConfig = _config(jp, meta, "train_config", train_config_from_dict)
        self.dtype_name = meta["dtype"]
        if not isinstance(self.dtype_name, str) or self.dtype_name not in DTYPES:
            raise SeriesError(f"{jp}: unknown dtype {self.dtype_name!r} (expected one of {sorted(DTYPES)})")
        self.shards = [_Shard(**s) for s in meta["shards"]]
        self.steps = np.array([s for sh in self.shards for s in sh.steps], dtype=np.int64)
        if len(self.steps) == 0:
            raise SeriesError(f"{jp}: lists no checkpoints yet")
        if np.any(np.diff(self.steps) <= 0):
            raise SeriesError(f"{jp}: checkpoint steps are not strictly increasing")
        self.complete = bool(meta.get("complete", False))
        self.metrics = self._parse_metrics(jp, meta["metrics"])
        n = self.model_cfg.p**2
        try:
            self.train_mask = mask_from_hex(meta["split"]["train_mask_hex"], n)
        except (KeyError, ValueError, TypeError) as e:
            raise SeriesError(f"{jp}: bad split ({e})") from e
        self._where = {}
        for si, sh in enumerate(self.shards):
            for i, s in enumerate(sh.steps):
                self._where[int(s)] = (si, i)
        for si, sh in enumerate(self.shards):
            self._handles[si] = self._check_shard(sh, verify)  # held open: later reads survive a writer's cleanup
        self.extra_problems: dict[str, str] = self._check_extras(verify)

    # -- validation -----------------------------------------------------------------------
    @staticmethod
    def _check_header(jp: Path, meta) -> None:
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise SeriesError(f"{jp}: not a {FORMAT} description (format field is {meta.get('format') if isinstance(meta, dict) else None!r})")
        v = meta.get("format_version")
        if v != FORMAT_VERSION:
            hint = "written by a newer grok_core; upgrade" if isinstance(v, int) and v > FORMAT_VERSION else "unknown"
            raise SeriesError(f"{jp}: format_version {v!r} is not supported ({hint}; this grok_core reads {FORMAT_VERSION})")
        missing = [k for k in ("model_config", "train_config", "dtype", "shards", "metrics", "split") if k not in meta]
        if missing:
            raise SeriesError(f"{jp}: missing field(s) {', '.join(missing)}")
        if not isinstance(meta["shards"], list):
            raise SeriesError(f"{jp}: 'shards' must be a list")
        for s in meta["shards"]:
            if (
                not isinstance(s, dict)
                or set(s) != {"file", "steps", "sha256", "bytes"}
                or not isinstance(s["file"], str)
                or not isinstance(s["sha256"], str)
                or not isinstance(s["bytes"], int)
                or not isinstance(s["steps"], list)
                or not s["steps"]
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in s["steps"])
            ):
                raise SeriesError(f"{jp}: malformed shard entry {str(s)[:200]}")
            if not _plain_name(s["file"]):
                raise SeriesError(f"{jp}: shard file name {shown(s['file'])} must be a plain file name")
        extras = meta.get("extras", {})
        if not isinstance(extras, dict):
            raise SeriesError(f"{jp}: 'extras' must be an object of name: {{file, sha256}}, not {type(extras).__name__}")
        for name, e in extras.items():
            if not isinstance(e, dict) or not isinstance(e.get("file"), str) or not isinstance(e.get("sha256"), str):
                raise SeriesError(f"{jp}: malformed extras entry {shown(name)}: {shown(e, 200)}")
            if not _plain_name(e["file"]):
                raise SeriesError(f"{jp}: extras file name {shown(e['file'])} must be a plain file name")

    @staticmethod
    def _parse_metrics(jp: Path, m) -> dict[str, np.ndarray]:
        """Per-step metrics: equal-length number lists, steps strictly increasing."""
        want = ("step", *METRIC_NAMES)
        if not isinstance(m, dict) or any(k not in m or not isinstance(m[k], list) for k in want):
            raise SeriesError(f"{jp}: 'metrics' must hold the lists {', '.join(want)}")
        if len({len(m[k]) for k in want}) != 1:
            raise SeriesError(f"{jp}: metric lists have different lengths "
                              f"({', '.join(f'{k} {len(m[k])}' for k in want)})")
        lists = {k: v for k, v in m.items() if isinstance(v, list)}
        for k, v in lists.items():  # strings such as "NaN" or "1e3" are not numbers, whatever numpy makes of them
            bad = [x for x in v if isinstance(x, bool) or not isinstance(x, (int, float))]
            if bad:
                raise SeriesError(f"{jp}: metrics must be numbers ({shown(k)} holds {shown(bad[0])})")
        out = {k: np.asarray(v, dtype=np.float64) for k, v in lists.items()}
        steps = out["step"]
        if np.any(steps != np.round(steps)) or np.any(np.diff(steps) <= 0):
            raise SeriesError(f"{jp}: metric steps must be strictly increasing whole numbers")
        out["step"] = steps.astype(np.int64)
        return out

    def _check_shard(self, sh: _Shard, verify: bool) -> None:
        fp = self.path / sh.file
        if not fp.is_file():
            raise SeriesError(f"{fp}: missing (listed in {JSON_NAME})")
        size = fp.stat().st_size
        if size != sh.bytes:
            raise SeriesError(f"{fp}: {size} bytes, expected {sh.bytes} (truncated or replaced)")
        if verify and sha256_file(fp) != sh.sha256:
            raise SeriesError(f"{fp}: sha256 does not match {JSON_NAME} (file corrupt)")
        try:
            f = safe_open(fp, framework="pt")
            keys = set(f.keys())
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in keys}
            dtypes = {k: f.get_slice(k).get_dtype() for k in keys}
        except Exception as e:  # safetensors raises several types for bad headers
            raise SeriesError(f"{fp}: not a readable safetensors file ({e})") from e
        want = self.model_cfg.param_shapes()
        if keys != set(want):
            raise SeriesError(f"{fp}: tensors {sorted(keys ^ set(want))} missing or unexpected")
        st_dtype = {"float32": "F32", "float16": "F16"}[self.dtype_name]
        for k, shape in want.items():
            if shapes[k] != (len(sh.steps), *shape):
                raise SeriesError(f"{fp}: tensor {k} has shape {list(shapes[k])}, expected {[len(sh.steps), *shape]}")
            if dtypes[k] != st_dtype:
                raise SeriesError(f"{fp}: tensor {k} is {dtypes[k]}, series says {self.dtype_name}")
        return f

    def _check_extras(self, verify: bool) -> dict[str, str]:
        """Cached extras are optional: a missing or corrupt one is noted (and never used), not fatal."""
        problems = {}
        for name, e in self.meta.get("extras", {}).items():
            fp = self.path / e["file"]
            if not fp.is_file():
                problems[name] = f"{fp}: missing (listed in {JSON_NAME} as extra {shown(name)})"
            elif verify and sha256_file(fp) != e["sha256"]:
                problems[name] = f"{fp}: sha256 does not match {JSON_NAME} (extra {shown(name)} corrupt)"
        return problems

    # -- access ---------------------------------------------------------------------------
    def _handle(self, si: int):
        if si not in self._handles:
            self._handles[si] = safe_open(self.path / self.shards[si].file, framework="pt")
        return self._handles[si]

    def nearest_step(self, step: int) -> int:
        i = int(np.argmin(np.abs(self.steps - int(step))))
        return int(self.steps[i])

    def index_of(self, step: int) -> int:
        return int(np.searchsorted(self.steps, self.nearest_step(step)))

    def params_at(self, step: int, dtype=torch.float32) -> dict[str, torch.Tensor]:
        """Parameters at a checkpoint step (exact step; KeyError lists the nearest)."""
        step = int(step)
        if step not in self._where:
            raise KeyError(f"step {step} is not a checkpoint of {self.path.name}; nearest is {self.nearest_step(step)}")
        si, i = self._where[step]
        f = self._handle(si)
        return {k: f.get_slice(k)[i].to(dtype) for k in self.model_cfg.param_shapes()}

    def stacked(self, name: str, dtype=torch.float32) -> torch.Tensor:
        """One parameter over all checkpoints: [n_steps, *shape]."""
        return torch.cat([self._handle(si).get_tensor(name).to(dtype) for si in range(len(self.shards))])

    def files(self) -> list[Path]:
        """series.json, the shards and the extras that are present and intact: all inside the folder."""
        return [self.path / JSON_NAME] + [self.path / s.file for s in self.shards] + [
            self.path / e["file"] for n, e in self.meta.get("extras", {}).items() if n not in self.extra_problems
        ]

    def close(self) -> None:
        """Drop the open shard handles (they also go when the Series is garbage-collected)."""
        self._handles = {}

    def nbytes(self) -> int:
        return sum(f.stat().st_size for f in self.files() if f.exists())

    def extra_path(self, name: str) -> Path | None:
        """Path of a cached extra (e.g. 'progress') if present and its checksum matches."""
        e = self.meta.get("extras", {}).get(name)
        if not isinstance(e, dict) or not _plain_name(e.get("file")) or name in self.extra_problems:
            return None
        fp = self.path / e["file"]
        if not fp.is_file() or sha256_file(fp) != e["sha256"]:
            return None
        return fp

    @property
    def title(self) -> str:
        return self.meta.get("title") or self.path.name

    def __repr__(self) -> str:
        return f"Series({str(self.path)!r}, {len(self.steps)} checkpoints, steps {self.steps[0]}..{self.steps[-1]}, {self.dtype_name})"


def open_series(path, verify: bool = True) -> Series:
    return Series(path, verify=verify)


def check_description(meta, where) -> None:
    """The checks Series makes on series.json alone (no data files): for a description read remotely."""
    jp = Path(str(where))
    Series._check_header(jp, meta)
    Series._parse_metrics(jp, meta["metrics"])
    _config(jp, meta, "model_config", model_config_from_dict)
    _config(jp, meta, "train_config", train_config_from_dict)


def __getattr__(name: str):
    """The writer lives in series_writer.py (it imports this module); still importable from here."""
    if name in ("SeriesWriter", "add_extra"):
        from . import series_writer

        return getattr(series_writer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
