"""Series from the Hugging Face Hub: open any model repo by id, in any format grok_core reads.

    open_hub("owner/name@revision", progress) -> (Series, HubDetails)

The format is read off the repo's file list: this project's series.json (native), Nanda/ARENA's
full_run_data.pth, TransformerLens's grokking_demo.pth, or a single .pth the converter recognises.
Everything goes through huggingface_hub, so HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE,
HF_TOKEN and stored logins work as they do for that library.

The cache comes first: `snapshot_download(local_files_only=True)` finds the revision's cached
commit, so a series seen once opens with no network. Otherwise one `model_info` request with a
short timeout (PROBE_TIMEOUT_S) gives the commit and the file list. Measured gap: huggingface_hub
retries a refused connection for ~24 s (hf_hub_download, list_repo_files: 24.0 s and 24.3 s, hub
2.4), while model_info with `timeout=` is a single request (refused: 0.15 s), so the probe is it.

Native series open from a folder of links into the Hub cache (cached extras never edit
huggingface_hub's cache); other formats are converted once. Both live in the assets cache
(HF_ASSETS_CACHE, by default HF_HOME/assets): grok_core/<type>s--<org>--<name>/<commit>-<format>/.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi, constants, hf_hub_download, snapshot_download, try_to_load_from_cache
from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError
from huggingface_hub.utils import validate_repo_id
from tqdm.auto import tqdm as _tqdm

from .hub_errors import explain, unreachable
from .manifest import (  # noqa: F401  (re-exported: the manifest used to live here)
    FORMATS,
    MANIFEST_PATH,
    REPO,
    ManifestEntry,
    SourceError,
    _plain_name,
    get_entry,
    hub_entry,
    load_manifest,
    local_path,
    parse_entry,
)
from .series import JSON_NAME, Series, SeriesError, sha256_file

PROBE_TIMEOUT_S = float(os.environ.get("GROK_CORE_HUB_TIMEOUT", "2"))  # seconds before the Hub counts as unreachable
KNOWN_FILES = {JSON_NAME: "native", "full_run_data.pth": "nanda_full_run", "grokking_demo.pth": "tl_demo"}
TORCH_SUFFIXES = (".pth", ".pt")
_VERIFIED = ".grok_verified"  # marker: this cached folder was opened once with checksums verified

Progress = Callable[[int, int, str], object]  # progress(done, total, message): bytes, then checkpoints


@dataclass(frozen=True)
class HubDetails:
    """Where an opened Hub series came from: the repo, the revision asked for, its commit, the file picked."""

    repo_id: str
    revision: str
    commit: str
    format: str  # native | nanda_full_run | tl_demo
    file: str  # the file the series was read from (series.json or the .pth converted)
    from_cache: bool  # True when nothing was asked of the Hub

    @property
    def spec(self) -> str:
        """owner/name, or owner/name@revision when not main: what `open_hub` and ?hub= take."""
        return self.repo_id if self.revision == "main" else f"{self.repo_id}@{self.revision}"

    def describe(self) -> str:
        what = {"native": "a grok_core series", "nanda_full_run": "Nanda/ARENA full run, converted",
                "tl_demo": "TransformerLens grokking demo, converted"}[self.format]
        return f"{self.repo_id} at {self.revision} (commit {self.commit[:7]}): {self.file}, {what}"


@dataclass(frozen=True)
class _Req:
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


# -- the spec and the format ----------------------------------------------------------------------
def parse_spec(spec: str) -> tuple[str, str]:
    """'owner/name' or 'owner/name@revision' -> (repo_id, revision), checked with huggingface_hub's validator."""
    if not isinstance(spec, str) or not spec.strip():
        raise SourceError("give a Hub repo as owner/name or owner/name@revision")
    spec = spec.strip()
    for prefix in ("https://huggingface.co/", "http://huggingface.co/", "hf://"):
        if spec.startswith(prefix):  # a pasted link: keep owner/name[/tree/revision]
            spec = spec[len(prefix):].rstrip("/")
            if "/tree/" in spec:
                spec = spec.replace("/tree/", "@", 1)
    repo_id, _, revision = spec.partition("@")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise SourceError(f"{repo_id!r} is not a valid Hub repo id ({e})") from None
    if repo_id.count("/") != 1:
        raise SourceError(f"{repo_id!r} is not a Hub repo id: write it as owner/name")
    revision = revision or "main"
    if revision.startswith("/") or ".." in revision or any(c.isspace() for c in revision):
        raise SourceError(f"{revision!r} is not a valid revision (a branch, tag or commit)")
    return repo_id, revision


def pick_file(files: list[str], repo: str, filename: str | None = None, format: str | None = None) -> tuple[str, str]:
    """(format, file) read off a repo's file list; SourceError with one sentence when it holds no series."""
    files = [f for f in files if "/" not in f]
    if filename is not None:
        if filename not in files:
            raise SourceError(f"{repo} has no file {filename!r}")
        return format or KNOWN_FILES.get(filename, "auto"), filename
    if format is not None and format != "native":
        name = next((f for f, k in KNOWN_FILES.items() if k == format), None)
        if name in files:
            return format, name
    for name, fmt in KNOWN_FILES.items():
        if name in files and format in (None, fmt):
            return fmt, name
    torch_files = sorted(f for f in files if f.endswith(TORCH_SUFFIXES))
    if len(torch_files) == 1 and format is None:
        return "auto", torch_files[0]
    if len(torch_files) > 1:
        raise SourceError(f"{repo} holds several checkpoint files ({', '.join(torch_files)}); "
                          "name the one to open (filename=...)")
    shown = ", ".join(files[:8]) + (" …" if len(files) > 8 else "") if files else "no files"
    raise SourceError(f"{repo} holds no checkpoint series grok_core can read (no {JSON_NAME}, "
                      f"full_run_data.pth, grokking_demo.pth or single .pth file; it has {shown})")


# -- cache and network ----------------------------------------------------------------------------
def _offline() -> bool:
    """huggingface_hub's offline flag (read at its import) or HF_HUB_OFFLINE set since then."""
    env = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return constants.is_offline_mode() or env in ("1", "ON", "YES", "TRUE")


def _cached_snapshot(req: _Req) -> Path | None:
    """The cached snapshot folder of the revision (huggingface_hub resolves the ref), or None."""
    try:
        return Path(snapshot_download(req.repo_id, revision=req.revision, repo_type=req.repo_type,
                                      local_files_only=True))
    except (LocalEntryNotFoundError, OSError):
        return None


def _cached_file(req: _Req, name: str, commit: str) -> str | None:
    hit = try_to_load_from_cache(req.repo_id, name, revision=commit, repo_type=req.repo_type)
    return hit if isinstance(hit, str) else None


def _probe(req: _Req, token, endpoint) -> tuple[str, list[str]]:
    """(commit, file names) of the revision: one model_info request, no retries (see the module docstring)."""
    if _offline():
        raise unreachable(req.name, "offline mode is on (HF_HUB_OFFLINE)")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        info = api.repo_info(req.repo_id, revision=req.revision, repo_type=req.repo_type, timeout=PROBE_TIMEOUT_S)
    except Exception as e:
        raise explain(e, req.name, req.repo_id, req.revision, PROBE_TIMEOUT_S) from None
    return info.sha, [s.rfilename for s in (info.siblings or [])]


def _remember_ref(req: _Req, name: str, commit: str, token, endpoint) -> None:
    """Make huggingface_hub record revision -> commit (it does so on a download by the revision's name),
    so this revision opens offline later even when its files were cached under another name (a tag of main).
    With the blob cached this costs one HEAD request and no bytes."""
    cached = _cached_file(req, name, commit)
    if cached is not None and try_to_load_from_cache(req.repo_id, name, revision=req.revision,
                                                     repo_type=req.repo_type) != cached:
        _fetch(req, name, req.revision, None, 0, 0, token, endpoint)


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


def _fetch(req, name, revision, progress, offset, total, token, endpoint) -> str:
    """hf_hub_download one file into the cache (progress in bytes); SourceError on any failure."""
    label = f"downloading {name} from {req.repo_id}"
    cls = _reporter(progress, offset, total, label) if progress is not None else None
    try:
        return hf_hub_download(req.repo_id, name, revision=revision, repo_type=req.repo_type, token=token,
                               endpoint=endpoint, tqdm_class=cls)
    except Exception as e:
        raise explain(e, req.name, req.repo_id, revision, PROBE_TIMEOUT_S, filename=name) from None


# -- building the opened series ---------------------------------------------------------------------
def _assets_dir(req: _Req, commit: str, fmt: str) -> Path:
    """Where this commit's opened/converted series lives: the layout of huggingface_hub.cached_assets_path."""
    ns = f"{req.repo_type}s--{req.repo_id.replace('/', '--')}"
    return Path(constants.HF_ASSETS_CACHE) / "grok_core" / ns / f"{commit}-{fmt}"


def _open_built(folder: Path) -> Series | None:
    """A series we built earlier, or None (a broken one is removed so it is rebuilt)."""
    if not (folder / JSON_NAME).is_file():
        if folder.is_dir():  # left by an interrupted build: ours to clear
            shutil.rmtree(folder, ignore_errors=True)
        return None
    marker = folder / _VERIFIED
    try:
        s = Series(folder, verify=not marker.exists())
    except SeriesError:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    if not marker.exists():
        marker.write_text("checksums verified\n")
    return s


def _link(target: str, link: Path) -> None:
    """Symlink to the blob (copy where symlinks are not allowed)."""
    real = os.path.realpath(target)
    try:
        os.symlink(real, link)
    except OSError:
        shutil.copyfile(real, link)


def _check_addition(req: _Req, meta: dict) -> None:
    """The views read (x + y) mod p: refuse a series of another operation rather than show wrong crests."""
    op = (meta.get("train_config") or {}).get("operation", "add")
    if op != "add":
        raise SourceError(f"{req.name} learns the operation {op!r}; the views here explain (x + y) mod p only")


def _build_native(req, commit, folder, first, progress, token, endpoint, online) -> Series:
    """Link series.json and its shards (downloading the missing ones) into `folder`, verified."""
    try:
        meta = json.loads(Path(first).read_text())
        files = [(sh["file"], int(sh["bytes"]), True) for sh in meta["shards"]]
        files += [(e["file"], 0, False) for e in meta.get("extras", {}).values()]  # cached results: optional
    except (ValueError, KeyError, TypeError) as e:
        raise SourceError(f"{req.name}: {JSON_NAME} is not a series description ({e})") from None
    if not all(_plain_name(f) for f, _, _ in files):
        raise SourceError(f"{req.name}: {JSON_NAME} names files outside the series folder")
    _check_addition(req, meta)
    total, done, paths = sum(b for _, b, _ in files), 0, {JSON_NAME: first}
    for name, nbytes, required in files:
        p = _cached_file(req, name, commit)
        if p is None and online:
            try:
                p = _fetch(req, name, commit, progress, done, total, token, endpoint)
            except SourceError:
                if required:
                    raise
        if p is None and required:
            raise unreachable(req.name, f"offline mode is on (HF_HUB_OFFLINE) and {name} was never downloaded")
        if p is not None:
            paths[name] = p
        done += nbytes
    tmp = folder.with_name(folder.name + f".partial-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, p in paths.items():
        _link(p, tmp / name)
    try:
        Series(tmp)  # verifies every checksum
    except SeriesError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SourceError(f"{req.name}: the copy in the Hugging Face cache is unusable: {e}") from None
    (tmp / _VERIFIED).write_text("checksums verified\n")
    try:
        os.replace(tmp, folder)
    except OSError:  # another process built it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    s = _open_built(folder)
    if s is None:
        raise SourceError(f"{req.name}: could not set up {folder}")
    return s


def _refused(req: _Req, fname: str, path: str, err: Exception) -> SourceError:
    """The converter's refusal, naming the file in the repo rather than its path in the cache."""
    msg = str(err)
    msg = msg[len(str(path)) + 2:] if msg.startswith(f"{path}: ") else msg.replace(str(path), fname)
    return SourceError(f"{req.name}: {fname}: {msg}")


def _build_converted(req, commit, fmt, fname, src, folder, progress) -> Series:
    """Convert a downloaded .pth into a native series at `folder` (weights_only; addition runs only)."""
    from .convert import ConvertError, convert_file
    from .operation import operation_of

    try:
        op = operation_of(src)
        if op not in ("+", None):
            raise SourceError(f"{req.name}: {fname} holds a model of (x {op} y) mod p; the views here explain "
                              "(x + y) mod p only, so it is not opened")
        s = convert_file(src, folder, format=fmt, title=req.title or None, progress=progress,
                         source={"repo_id": req.repo_id, "revision": req.revision, "commit": commit, "file": fname})
    except ConvertError as e:
        shutil.rmtree(folder, ignore_errors=True)
        raise _refused(req, fname, src, e) from None
    (folder / _VERIFIED).write_text("written by grok_core.convert\n")
    return s


def _open(req: _Req, progress, refresh, token, endpoint) -> tuple[Series, HubDetails]:
    """The cache first (unless refresh), then the Hub; one SourceError sentence on any failure."""
    snap = None if refresh and not _offline() else _cached_snapshot(req)
    if snap is None and _offline():
        raise unreachable(req.name, "offline mode is on (HF_HUB_OFFLINE)")
    if snap is not None:  # huggingface_hub's documented layout: snapshots/<commit>/
        commit, files, online = snap.name, sorted(p.name for p in snap.iterdir()), False
    else:
        (commit, files), online = _probe(req, token, endpoint), True
    try:
        fmt, fname = pick_file(files, req.repo_id, req.filename, req.format)
    except SourceError:
        if online or _offline():
            raise
        (commit, files), online = _probe(req, token, endpoint), True  # the cache holds other files only
        fmt, fname = pick_file(files, req.repo_id, req.filename, req.format)
    details = HubDetails(req.repo_id, req.revision, commit, fmt, fname, from_cache=not online)
    if online:
        _remember_ref(req, fname, commit, token, endpoint)
    for f in (fmt,) if fmt != "auto" else ("nanda_full_run", "tl_demo"):
        s = _open_built(_assets_dir(req, commit, f))
        if s is not None:
            return s, HubDetails(**{**details.__dict__, "format": f})
    first = _cached_file(req, fname, commit) if not online else None
    if first is None:
        if _offline():
            raise unreachable(req.name, f"offline mode is on (HF_HUB_OFFLINE) and {fname} was never downloaded")
        # by the revision's name, so huggingface_hub records the ref for opening offline later
        first = _fetch(req, fname, req.revision, None if fmt == "native" else progress, 0, 0, token, endpoint)
        commit = Path(first).parent.name  # the branch may have moved since the probe
    if fmt == "native":
        s = _build_native(req, commit, _assets_dir(req, commit, fmt), first, progress, token, endpoint, not _offline())
        return s, HubDetails(**{**details.__dict__, "commit": commit})
    if fmt == "auto":
        from .convert import ConvertError, detect_format, load_torch_file

        try:
            fmt = detect_format(load_torch_file(first))
        except ConvertError as e:
            raise _refused(req, fname, first, e) from None
    s = _build_converted(req, commit, fmt, fname, first, _assets_dir(req, commit, fmt), progress)
    return s, HubDetails(**{**details.__dict__, "commit": commit, "format": fmt})


# -- public entry points ------------------------------------------------------------------------
def open_hub(spec: str, progress: Progress | None = None, *, filename: str | None = None, refresh: bool = False,
             token: str | bool | None = None, endpoint: str | None = None) -> tuple[Series, HubDetails]:
    """Open 'owner/name' or 'owner/name@revision' from the Hub: (the series, where it came from).

    progress(done, total, message): bytes while downloading ("downloading <file> from <repo>"),
    checkpoints while converting ("converting checkpoint i/n ..."). A cached copy opens without the
    network; refresh=True asks the Hub for the revision's latest commit first. Raises SourceError
    (one sentence for people), never a huggingface_hub or network exception.
    """
    repo_id, revision = parse_spec(spec)
    return _open(_Req(repo_id, revision, filename=filename), progress, refresh, token, endpoint)


def open_entry(entry: ManifestEntry, progress: Progress | None = None, *, refresh: bool = False,
               token: str | bool | None = None, endpoint: str | None = None, root: Path = REPO) -> Series:
    """Open a manifest entry as a Series (a local folder, or a Hub repo as open_hub does)."""
    if entry.is_local:
        return _open_local(entry, root)
    req = _Req(entry.repo_id, entry.revision, entry.format, entry.files[0] if entry.format != "native" else None,
               entry.repo_type, entry.title)
    return _open(req, progress, refresh, token, endpoint)[0]


def open_repo(repo_id: str, revision: str = "main", format: str | None = None, filename: str | None = None,
              progress: Progress | None = None, **kw) -> Series:
    """The Series alone, from a repo id (e.g. one made with `python -m grok_core publish`)."""
    repo_id, rev = parse_spec(f"{repo_id}@{revision}" if "@" not in repo_id else repo_id)
    return _open(_Req(repo_id, rev, format, filename), progress, kw.pop("refresh", False), kw.pop("token", None),
                 kw.pop("endpoint", None))[0]


def _open_local(entry: ManifestEntry, root: Path) -> Series:
    try:
        path = local_path(entry, root)
    except ValueError as e:
        raise SourceError(f"{entry.title}: {e}") from None
    if not (path / JSON_NAME).is_file():
        raise SourceError(f"{entry.title}: the folder {entry.source['path']} holds no series (missing {JSON_NAME})")
    try:
        return Series(path)
    except SeriesError as e:
        raise SourceError(f"{entry.title}: {e}") from None


def is_available_offline(entry: ManifestEntry, root: Path = REPO) -> bool:
    """True when open_entry would succeed without the network (as far as the files on disk tell)."""
    if entry.is_local:
        return (local_path(entry, root) / JSON_NAME).is_file()
    req = _Req(entry.repo_id, entry.revision, entry.format, None, entry.repo_type)
    snap = _cached_snapshot(req)
    if snap is None:
        return False
    if (_assets_dir(req, snap.name, entry.format) / JSON_NAME).is_file():
        return True
    if entry.format != "native":
        return (snap / entry.files[0]).is_file()
    try:
        meta = json.loads((snap / JSON_NAME).read_text())
        return all((snap / sh["file"]).is_file() for sh in meta["shards"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def fetch_series_json(entry: ManifestEntry, token=None, endpoint: str | None = None) -> dict:
    """Only the description of a native Hub series (small): for `info` without downloading shards."""
    req = _Req(entry.repo_id, entry.revision, "native", None, entry.repo_type, entry.title)
    snap = _cached_snapshot(req)
    path = str(snap / JSON_NAME) if snap is not None and (snap / JSON_NAME).is_file() else None
    if path is None:
        if _offline():
            raise unreachable(req.name, "offline mode is on (HF_HUB_OFFLINE)")
        pick_file(_probe(req, token, endpoint)[1], req.repo_id, format="native")
        path = _fetch(req, JSON_NAME, req.revision, None, 0, 0, token, endpoint)
    try:
        return json.loads(Path(path).read_text())
    except ValueError as e:
        raise SourceError(f"{req.name}: {JSON_NAME} is not valid JSON ({e})") from None


def cli_progress() -> Progress:
    """A progress callback drawing tqdm bars on stderr (for the command line): one per phase."""
    state: dict = {"bar": None, "phase": None}

    def cb(done: int, total: int, message: str) -> None:
        phase = message.split(" ")[0] + str(total)
        if state["phase"] != phase:
            if state["bar"] is not None:
                state["bar"].close()
            is_bytes = message.startswith("downloading")
            state["bar"] = _tqdm(total=total or None, unit="B" if is_bytes else " checkpoints", unit_scale=is_bytes,
                                 file=sys.stderr, dynamic_ncols=True, leave=False)
            state["phase"] = phase
        bar = state["bar"]
        bar.set_description(message.split(" (")[0], refresh=False)
        bar.n = done
        bar.refresh()

    return cb


# -- provenance of a local series ---------------------------------------------------------------
def provenance_for(series_path) -> dict:
    """sha256 and size of every file of a series (what the manifest's provenance records)."""
    s = Series(series_path)
    files = {f.name: {"sha256": sha256_file(f), "bytes": f.stat().st_size} for f in sorted(s.files(), key=lambda p: p.name)}
    return {"files": files, "total_bytes": sum(v["bytes"] for v in files.values())}


def config_for(series_path) -> dict:
    """The model and training config of a series, as a manifest entry's `config`."""
    s = Series(series_path, verify=False)
    return {"model": s.meta["model_config"], "train": s.meta["train_config"]}
