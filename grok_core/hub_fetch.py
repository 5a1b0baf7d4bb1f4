"""The Hub side of grok_core.hub: the huggingface_hub cache, the one-request probe, downloads with progress.

Public huggingface_hub API only: snapshot_download(local_files_only=True) resolves a revision to
its cached snapshot, try_to_load_from_cache finds a file of a commit, HfApi.repo_info lists the
files, hf_hub_download fetches. Measured gap filled here: a refused connection makes
hf_hub_download and list_repo_files retry for ~24 s (24.0 s and 24.3 s, huggingface_hub 2.4);
repo_info with `timeout=` is one request (0.15 s when refused), so it is the probe.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi, constants, hf_hub_download, snapshot_download, try_to_load_from_cache
from huggingface_hub.errors import LocalEntryNotFoundError
from tqdm.auto import tqdm as _tqdm

from .hub_errors import explain, unreachable

PROBE_TIMEOUT_S = float(os.environ.get("GROK_CORE_HUB_TIMEOUT", "2"))  # seconds before the Hub counts as unreachable

Progress = Callable[[int, int, str], object]  # progress(done, total, message): bytes, then checkpoints


@dataclass(frozen=True)
class Req:
    """What to open: a repo at a revision; format and file None = read them off the repo's files."""

    repo_id: str
    revision: str = "main"
    format: str | None = None
    filename: str | None = None
    repo_type: str = "model"
    title: str = ""

    @property
    def name(self) -> str:
        return self.title or self.repo_id


def offline() -> bool:
    """huggingface_hub's offline flag (read at its import) or HF_HUB_OFFLINE set since then."""
    env = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return constants.is_offline_mode() or env in ("1", "ON", "YES", "TRUE")


def cached_snapshot(req: Req) -> Path | None:
    """The cached snapshot folder of the revision (huggingface_hub resolves the ref), or None."""
    try:
        return Path(snapshot_download(req.repo_id, revision=req.revision, repo_type=req.repo_type,
                                      local_files_only=True))
    except (LocalEntryNotFoundError, OSError):
        return None


def cached_file(req: Req, name: str, commit: str) -> str | None:
    hit = try_to_load_from_cache(req.repo_id, name, revision=commit, repo_type=req.repo_type)
    return hit if isinstance(hit, str) else None


def probe(req: Req, token, endpoint) -> tuple[str, list[str]]:
    """(commit, file names) of the revision: one model_info request, no retries (see the module docstring)."""
    if offline():
        raise unreachable(req.name, "offline mode is on (HF_HUB_OFFLINE)")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        info = api.repo_info(req.repo_id, revision=req.revision, repo_type=req.repo_type, timeout=PROBE_TIMEOUT_S)
    except Exception as e:
        raise explain(e, req.name, req.repo_id, req.revision, PROBE_TIMEOUT_S) from None
    return info.sha, [s.rfilename for s in (info.siblings or [])]


def remember_ref(req: Req, name: str, commit: str, token, endpoint) -> None:
    """Make huggingface_hub record revision -> commit (it does so on a download by the revision's name),
    so this revision opens offline later even when its files were cached under another name (a tag of main).
    With the blob cached this costs one HEAD request and no bytes."""
    cached = cached_file(req, name, commit)
    if cached is not None and try_to_load_from_cache(req.repo_id, name, revision=req.revision,
                                                     repo_type=req.repo_type) != cached:
        fetch(req, name, req.revision, None, 0, 0, token, endpoint)


def _reporter(progress: Progress, offset: int, total: int, label: str):
    """A tqdm class for hf_hub_download's `tqdm_class`: bytes to `progress`, nothing drawn."""

    class _Reporter(_tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)
            kwargs.update(disable=False, file=open(os.devnull, "w"), mininterval=0.25)  # noqa: SIM115
            super().__init__(*args, **kwargs)
            self._total = total or offset + int(self.total or 0)  # one file: its size, from the Hub's headers
            progress(offset, self._total, label)

        def update(self, n=1):
            out = super().update(n)
            progress(min(self._total, offset + int(self.n)), self._total, label)
            return out

        def close(self):
            fp = self.fp
            super().close()
            fp.close()

    return _Reporter


def fetch(req, name, revision, progress, offset, total, token, endpoint) -> str:
    """hf_hub_download one file into the cache (progress in bytes); SourceError on any failure."""
    label = f"downloading {name} from {req.repo_id}"
    cls = _reporter(progress, offset, total, label) if progress is not None else None
    try:
        return hf_hub_download(req.repo_id, name, revision=revision, repo_type=req.repo_type, token=token,
                               endpoint=endpoint, tqdm_class=cls)
    except Exception as e:
        raise explain(e, req.name, req.repo_id, revision, PROBE_TIMEOUT_S, filename=name) from None
