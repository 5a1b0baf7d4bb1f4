"""Checkpoint sources: the manifest of series the app offers, local folders and the Hugging Face Hub.

    checkpoints_manifest.json      {"format": "grok-manifest", "version": 1, "series": [entry, ...]}
    entry                          id, title, description, format, size_mb, config, provenance and
                                   source: {"path": "checkpoints/default"} (inside this repository)
                                   or {"repo_id": "org/name", "revision": "main", "files": [...]}

Everything on the Hub goes through `huggingface_hub`, so HF_HOME, HF_HUB_CACHE, HF_ENDPOINT,
HF_HUB_OFFLINE, HF_TOKEN and stored logins work as they do for that library. Lookups go to the
local cache first (`hf_hub_download(local_files_only=True)`), so a cached series opens at once
with no network. Before anything is downloaded a single metadata request with a short timeout
(PROBE_TIMEOUT_S) checks the Hub is reachable: without it, `hf_hub_download` retries for ~23 s
when the network is down. Offline (HF_HUB_OFFLINE=1, read by huggingface_hub when it is imported,
or set in the environment later) nothing is requested at all.

Native series open from a folder of links into the Hub cache (so adding cached extras never
edits huggingface_hub's cache); other formats are converted once. Both live in huggingface_hub's
assets cache (HF_ASSETS_CACHE, by default HF_HOME/assets):
    grok_core/<org>--<name>/<commit>-<format>/
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

try:  # huggingface_hub >= 1.0 tells a missing remote file apart from a missing cached one
    from huggingface_hub.errors import RemoteEntryNotFoundError
except ImportError:  # pragma: no cover
    RemoteEntryNotFoundError = EntryNotFoundError
from huggingface_hub.utils import validate_repo_id
from tqdm.auto import tqdm as _tqdm

from .series import JSON_NAME, Series, SeriesError, sha256_file

REPO = Path(__file__).resolve().parents[1]
MANIFEST_PATH = REPO / "checkpoints_manifest.json"
MANIFEST_FORMAT = "grok-manifest"
FORMATS = ("native", "nanda_full_run", "tl_demo")
# How long to wait for the Hub before calling it unreachable (seconds).
PROBE_TIMEOUT_S = float(os.environ.get("GROK_CORE_HUB_TIMEOUT", "2"))
_VERIFIED = ".grok_verified"  # marker: this cached folder was opened once with checksums verified
_COMMIT = re.compile(r"^[0-9a-f]{40}$")

Progress = Callable[[int, int, str], object]  # progress(done, total, message)


class SourceError(Exception):
    """A series that cannot be opened from its source, with a message for people."""


@dataclass(frozen=True)
class ManifestEntry:
    """One series the app offers (see the module docstring for the JSON form)."""

    id: str
    title: str
    description: str
    source: dict
    format: str = "native"
    size_mb: float | None = None
    config: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return "path" in self.source

    @property
    def repo_id(self) -> str | None:
        return self.source.get("repo_id")

    @property
    def revision(self) -> str:
        return self.source.get("revision") or "main"

    @property
    def repo_type(self) -> str:
        return self.source.get("repo_type") or "model"

    @property
    def files(self) -> list[str]:
        return list(self.source.get("files") or [])

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# -- the manifest -------------------------------------------------------------------------------
def _plain_name(name) -> bool:
    return isinstance(name, str) and bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


def _check_local_path(path) -> str:
    """A path inside the repository, written relative to it: no absolute paths, no '..'."""
    if not isinstance(path, str) or not path.strip():
        raise ValueError("source.path must be a non-empty string")
    pp = PurePosixPath(path)
    if pp.is_absolute() or "\\" in path or ".." in pp.parts or re.match(r"^[A-Za-z]:", path):
        raise ValueError(f"source.path {path!r} must be relative to the repository root, without '..'")
    return path


def parse_entry(d) -> ManifestEntry:
    """Validate one manifest entry; ValueError says what is wrong."""
    if not isinstance(d, dict):
        raise ValueError(f"an entry must be an object, not {type(d).__name__}")
    for k in ("id", "title", "description", "source"):
        if k not in d:
            raise ValueError(f"missing field {k!r}")
    if not isinstance(d["id"], str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", d["id"]):
        raise ValueError(f"id {d['id']!r} must be 1-64 letters, digits, '.', '_' or '-'")
    for k in ("title", "description"):
        if not isinstance(d[k], str) or not d[k].strip():
            raise ValueError(f"{k} must be a non-empty string")
    fmt = d.get("format", "native")
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    src = d["source"]
    if not isinstance(src, dict) or ("path" in src) == ("repo_id" in src):
        raise ValueError("source must be an object with either 'path' or 'repo_id'")
    if "path" in src:
        _check_local_path(src["path"])
        if fmt != "native":
            raise ValueError("a local source must be a native series (convert it first: python -m grok_core convert)")
        unknown = set(src) - {"path"}
    else:
        try:
            validate_repo_id(src["repo_id"])
        except (HFValidationError, TypeError) as e:
            raise ValueError(f"source.repo_id {src['repo_id']!r} is not a valid Hub repo id ({e})") from None
        if "/" not in src["repo_id"]:
            raise ValueError(f"source.repo_id {src['repo_id']!r} must be 'owner/name'")
        rev = src.get("revision", "main")
        if not isinstance(rev, str) or not rev or rev.startswith("/") or ".." in rev:
            raise ValueError(f"source.revision {rev!r} is not a valid revision")
        files = src.get("files", [])
        if not isinstance(files, list) or not all(_plain_name(f) for f in files):
            raise ValueError("source.files must be a list of plain file names")
        if fmt != "native" and len(files) != 1:
            raise ValueError(f"format {fmt} needs exactly one file in source.files")
        if src.get("repo_type", "model") not in ("model", "dataset"):
            raise ValueError("source.repo_type must be 'model' or 'dataset'")
        unknown = set(src) - {"repo_id", "revision", "files", "repo_type"}
    if unknown:
        raise ValueError(f"unknown source field(s) {sorted(unknown)}")
    size = d.get("size_mb")
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, float)) or size < 0):
        raise ValueError("size_mb must be a non-negative number or null")
    for k in ("config", "provenance"):
        if not isinstance(d.get(k, {}), dict):
            raise ValueError(f"{k} must be an object")
    return ManifestEntry(
        id=d["id"], title=d["title"].strip(), description=d["description"].strip(), source=dict(src), format=fmt,
        size_mb=None if size is None else float(size), config=dict(d.get("config", {})),
        provenance=dict(d.get("provenance", {})),
    )


def load_manifest(path=MANIFEST_PATH) -> tuple[list[ManifestEntry], list[str]]:
    """All valid entries (in file order) and one message per problem; a bad entry never hides the others."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [], [f"{path}: missing; no series to offer besides local folders"]
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return [], [f"{path}: not valid JSON ({e})"]
    except RecursionError:
        return [], [f"{path}: not a manifest (nested too deeply to read)"]
    if isinstance(doc, dict):
        if doc.get("format", MANIFEST_FORMAT) != MANIFEST_FORMAT:
            return [], [f"{path}: format is {doc.get('format')!r}, expected {MANIFEST_FORMAT!r}"]
        if doc.get("version", 1) != 1:
            return [], [f"{path}: manifest version {doc.get('version')!r} is not supported (this grok_core reads 1)"]
        items = doc.get("series")
    else:
        items = doc
    if not isinstance(items, list):
        return [], [f"{path}: expected a list of series under 'series'"]
    entries, errors, seen = [], [], set()
    for i, d in enumerate(items):
        label = f"entry {i + 1}" + (f" ({d['id']!r})" if isinstance(d, dict) and isinstance(d.get("id"), str) else "")
        try:
            e = parse_entry(d)
        except ValueError as ex:
            errors.append(f"{path.name}: {label}: {ex}")
            continue
        if e.id in seen:
            errors.append(f"{path.name}: {label}: duplicate id; the first one is used")
            continue
        seen.add(e.id)
        entries.append(e)
    return entries, errors


def get_entry(entry_id: str, path=MANIFEST_PATH) -> ManifestEntry:
    entries, errors = load_manifest(path)
    for e in entries:
        if e.id == entry_id:
            return e
    hint = f" ({'; '.join(errors)})" if errors else ""
    raise SourceError(f"no series {entry_id!r} in {Path(path).name}; known: {', '.join(e.id for e in entries) or 'none'}{hint}")


def hub_entry(repo_id: str, revision: str = "main", format: str = "native", filename: str | None = None,
              repo_type: str = "model") -> ManifestEntry:
    """An ad-hoc entry for a Hub repo that is not in the manifest (CLI, Python)."""
    if not isinstance(repo_id, str) or not repo_id.strip():
        raise SourceError(f"repo id {repo_id!r} is empty; give the Hub repo as 'owner/name'")
    src = {"repo_id": repo_id, "revision": revision, "files": [filename] if filename else [], "repo_type": repo_type}
    if format != "native" and not filename:
        src["files"] = ["full_run_data.pth"] if format == "nanda_full_run" else []
    try:
        return parse_entry({"id": "hub", "title": repo_id, "description": f"{repo_id} on the Hugging Face Hub",
                            "source": src, "format": format})
    except ValueError as e:
        raise SourceError(str(e)) from None


# -- local sources ------------------------------------------------------------------------------
def local_path(entry: ManifestEntry, root: Path = REPO) -> Path:
    return Path(root) / _check_local_path(entry.source["path"])


def local_problem(entry: ManifestEntry, root: Path = REPO) -> str | None:
    """Why a local entry cannot be opened (no series there, a link leading out of the repository); None if it can."""
    try:
        path = local_path(entry, root)
        inside = Path(os.path.realpath(path)).is_relative_to(os.path.realpath(root))
        if not inside:
            return f"the folder {entry.source['path']} is a link to outside the repository"
        if not (path / JSON_NAME).is_file():
            return f"the folder {entry.source['path']} holds no series (missing {JSON_NAME})"
    except (ValueError, OSError) as e:
        return str(e)
    return None


def _open_local(entry: ManifestEntry, root: Path) -> Series:
    why = local_problem(entry, root)
    if why:
        raise SourceError(f"{entry.title}: {why}")
    path = local_path(entry, root)
    try:
        s = Series(path)
    except SeriesError as e:
        raise SourceError(f"{entry.title}: {e}") from None
    outside = [f.name for f in s.files() if not Path(os.path.realpath(f)).is_relative_to(os.path.realpath(root))]
    if outside:
        raise SourceError(f"{entry.title}: {', '.join(outside)} in {entry.source['path']} link to outside the repository")
    return s


# -- the Hub: cache, probe, download ------------------------------------------------------------
def _offline() -> bool:
    """huggingface_hub's offline flag (read at its import) or HF_HUB_OFFLINE set since then."""
    env = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return constants.is_offline_mode() or env in ("1", "ON", "YES", "TRUE")


def _repo_cache(entry: ManifestEntry) -> Path:
    return Path(constants.HF_HUB_CACHE) / f"{entry.repo_type}s--{entry.repo_id.replace('/', '--')}"


def _cached_commit(entry: ManifestEntry, revision: str | None = None) -> str | None:
    """The commit a revision pointed to when last seen (refs/<revision> in the cache), or None."""
    rev = revision or entry.revision
    if _COMMIT.fullmatch(rev):
        return rev
    try:
        commit = (_repo_cache(entry) / "refs" / rev).read_text().strip()
    except OSError:
        return None
    return commit if _COMMIT.fullmatch(commit) else None


def _cached_file(entry: ManifestEntry, filename: str, revision: str | None = None) -> str | None:
    """Path of a cached file through huggingface_hub itself (no network), or None."""
    try:
        return hf_hub_download(entry.repo_id, filename, revision=revision or entry.revision,
                               repo_type=entry.repo_type, local_files_only=True)
    except (LocalEntryNotFoundError, EntryNotFoundError, OSError):
        return None
    except (HFValidationError, ValueError) as e:
        raise SourceError(f"{entry.repo_id}: {e}") from None


def _unreachable(entry: ManifestEntry, why: str) -> SourceError:
    return SourceError(
        f"{entry.title}: not in the local Hugging Face cache and {why}. Connect to the internet and try "
        f"again (it downloads once, then works offline), or pick another series."
    )


def _explain(err: BaseException, entry: ManifestEntry, filename: str, revision: str) -> SourceError:
    """A huggingface_hub / network exception -> one clear sentence."""
    repo = entry.repo_id
    if isinstance(err, GatedRepoError):
        msg = (f"{repo} is gated: accept its conditions at https://huggingface.co/{repo} while logged in, then log "
               f"in on this machine (`hf auth login`, or set HF_TOKEN)")
    elif isinstance(err, RevisionNotFoundError):
        msg = f"{repo} has no revision {revision!r}"
    elif isinstance(err, RemoteEntryNotFoundError) and not isinstance(err, LocalEntryNotFoundError):
        msg = f"{repo} has no file {filename!r} at revision {revision!r}"
    elif isinstance(err, RepositoryNotFoundError):
        msg = (f"{repo} was not found on the Hub, or it is private and this machine is not logged in "
               f"(`hf auth login`, or set HF_TOKEN)")
    elif isinstance(err, HfHubHTTPError) and getattr(err.response, "status_code", None) in (401, 403):
        msg = f"access to {repo} was refused ({err.response.status_code}); check your Hugging Face token"
    elif isinstance(err, OfflineModeIsEnabled):
        return _unreachable(entry, "offline mode is on (HF_HUB_OFFLINE)")
    elif isinstance(err, HFValidationError):
        msg = f"{repo!r} is not a valid repo id ({err})"
    elif isinstance(err, HfHubHTTPError):
        msg = f"the Hub answered with an error for {repo}/{filename} ({str(err).splitlines()[0][:160]})"
    elif isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EACCES, errno.EROFS, getattr(errno, "EDQUOT", errno.ENOSPC)):
        msg = f"cannot write to the Hugging Face cache {constants.HF_HUB_CACHE} ({err.strerror})"
    elif isinstance(err, (OSError, ConnectionError)) or "httpx" in type(err).__module__:
        return _unreachable(entry, f"the Hub cannot be reached ({type(err).__name__})")
    else:
        msg = f"{type(err).__name__}: {str(err)[:200]}"
    return SourceError(f"{entry.title}: {msg}")


def _probe(entry: ManifestEntry, filename: str, revision: str, token=None, endpoint: str | None = None):
    """File metadata (commit, size) in at most ~PROBE_TIMEOUT_S, in a thread so nothing can stall us."""
    if _offline():
        raise _unreachable(entry, "offline mode is on (HF_HUB_OFFLINE)")
    url = hf_hub_url(entry.repo_id, filename, repo_type=entry.repo_type, revision=revision, endpoint=endpoint)
    box: dict = {}

    def run():
        try:
            box["meta"] = get_hf_file_metadata(url, token=token, timeout=PROBE_TIMEOUT_S, endpoint=endpoint)
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    t = threading.Thread(target=run, name="grok-core-hub-probe", daemon=True)
    t.start()
    t.join(PROBE_TIMEOUT_S + 0.5)
    if t.is_alive():
        raise _unreachable(entry, f"the Hub did not answer within {PROBE_TIMEOUT_S:g} s")
    if "error" in box:
        raise _explain(box["error"], entry, filename, revision) from None
    return box["meta"]


def _progress_class(progress: Progress, offset: int, total: int, label: str):
    """A tqdm class for huggingface_hub's `tqdm_class` that reports bytes to `progress` and draws nothing."""

    class _Reporter(_tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)
            kwargs.update(disable=False, file=open(os.devnull, "w"), mininterval=0.25)  # noqa: SIM115
            super().__init__(*args, **kwargs)
            progress(offset, total, label)

        def update(self, n=1):
            out = super().update(n)
            progress(min(total, offset + int(self.n)), total, label)
            return out

        def close(self):
            fp = self.fp
            super().close()
            try:
                fp.close()
            except Exception:
                pass

    return _Reporter


def _download(entry, filename, revision, progress, offset, total, token=None, endpoint=None) -> str:
    """hf_hub_download into the cache. The first file of a series is fetched by the entry's revision
    (so huggingface_hub records refs/<revision> for later offline use), the rest by its commit."""
    label = f"downloading {filename} from {entry.repo_id}"
    cls = _progress_class(progress, offset, total, label) if progress is not None else None
    try:
        return hf_hub_download(entry.repo_id, filename, revision=revision, repo_type=entry.repo_type,
                               token=token, endpoint=endpoint, tqdm_class=cls)
    except Exception as e:
        raise _explain(e, entry, filename, revision) from None


def _commit_of(cached_path: str, fallback: str) -> str:
    """The commit of a file in the cache: its snapshots/<commit>/ folder."""
    name = Path(cached_path).parent.name
    return name if _COMMIT.fullmatch(name) else fallback


def _resolve(entry, filename, refresh, token, endpoint) -> tuple[str, str | None, int | None]:
    """(commit, cached path or None, remote size or None) of `filename`; the cache first unless refresh."""
    if not refresh or _offline():
        commit = _cached_commit(entry)
        if commit:
            return commit, _cached_file(entry, filename, commit), None
        if _offline():
            raise _unreachable(entry, "offline mode is on (HF_HUB_OFFLINE)")
    meta = _probe(entry, filename, entry.revision, token=token, endpoint=endpoint)
    commit = meta.commit_hash or entry.revision
    return commit, _cached_file(entry, filename, commit), meta.size


def _assets_dir(entry: ManifestEntry, commit: str) -> Path:
    """Where this commit's opened/converted series lives: the layout of huggingface_hub.cached_assets_path."""
    ns = f"{entry.repo_type}s--{entry.repo_id.replace('/', '--')}"
    return Path(constants.HF_ASSETS_CACHE) / "grok_core" / ns / f"{commit}-{entry.format}"


def _open_cached_folder(folder: Path) -> Series | None:
    """A series we built earlier in our cache, or None (a broken one is removed so it is rebuilt)."""
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


def _link(target: Path, link: Path) -> None:
    """Symlink to the blob (copy where symlinks are not allowed)."""
    real = Path(os.path.realpath(target))
    try:
        os.symlink(real, link)
    except OSError:
        shutil.copyfile(real, link)


def _first_file(entry, filename, progress, refresh, token, endpoint, probe_size: bool = False):
    """Resolve the entry's commit and fetch `filename` (the file that says what else is needed).

    Returns (commit, folder, path of filename, the already assembled Series or None): a folder
    built before for this commit is reused without downloading anything.
    """
    commit, path, size = _resolve(entry, filename, refresh, token, endpoint)
    folder = _assets_dir(entry, commit)
    s = _open_cached_folder(folder)
    if s is not None or path is not None:
        return commit, folder, path, s
    if _offline():
        raise _unreachable(entry, "offline mode is on (HF_HUB_OFFLINE)")
    if size is None and probe_size:
        size = _probe(entry, filename, commit, token=token, endpoint=endpoint).size or 0
    path = _download(entry, filename, entry.revision, progress, 0, size or 0, token, endpoint)
    if _commit_of(path, commit) != commit:  # the branch moved since we looked
        commit = _commit_of(path, commit)
        folder = _assets_dir(entry, commit)
        s = _open_cached_folder(folder)
    return commit, folder, path, s


def _open_native_hub(entry, progress, refresh, token, endpoint) -> Series:
    commit, folder, sj, s = _first_file(entry, JSON_NAME, None, refresh, token, endpoint)
    if s is not None:
        return s
    try:
        meta = json.loads(Path(sj).read_text())
        files = [(sh["file"], int(sh["bytes"]), True) for sh in meta["shards"]]
        files += [(e["file"], 0, False) for e in meta.get("extras", {}).values()]  # cached results: optional
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        raise SourceError(f"{entry.title}: {JSON_NAME} in {entry.repo_id} is not a series description ({e})") from None
    if not all(_plain_name(f) for f, _, _ in files):
        raise SourceError(f"{entry.title}: {JSON_NAME} names files outside the series folder")
    total, done, paths = sum(b for _, b, _ in files), 0, {JSON_NAME: sj}
    for name, nbytes, required in files:
        p = _cached_file(entry, name, commit)
        if p is None and not required and _offline():
            continue
        if p is None:
            if _offline():
                raise _unreachable(entry, f"offline mode is on (HF_HUB_OFFLINE) and {name} was never downloaded")
            try:
                p = _download(entry, name, commit, progress, done, total, token, endpoint)
            except SourceError:
                if required:
                    raise
                continue  # a missing cached extra is recomputed by whoever needs it
        paths[name] = p
        done += nbytes
    tmp = folder.with_name(folder.name + f".partial-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, p in paths.items():
        _link(Path(p), tmp / name)
    try:
        s = Series(tmp)  # verifies every checksum
    except SeriesError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SourceError(f"{entry.title}: the copy in the Hub cache is unusable: {e}") from None
    del s
    (tmp / _VERIFIED).write_text("checksums verified\n")
    try:
        os.replace(tmp, folder)
    except OSError:  # another process built it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    s = _open_cached_folder(folder)
    if s is None:
        raise SourceError(f"{entry.title}: could not set up {folder}")
    return s


def _open_converted_hub(entry, progress, refresh, token, endpoint) -> Series:
    from .convert import ConvertError, convert_file  # torch.load lives only there

    filename = entry.files[0]
    commit, folder, src, s = _first_file(entry, filename, progress, refresh, token, endpoint, probe_size=True)
    if s is not None:
        return s
    try:
        s = convert_file(src, folder, format=entry.format, title=entry.title, progress=progress,
                         source={"repo_id": entry.repo_id, "revision": entry.revision, "commit": commit, "file": filename})
    except ConvertError as e:
        raise SourceError(f"{entry.title}: {e}") from None
    (folder / _VERIFIED).write_text("written by grok_core.convert\n")
    return s


# -- public entry points ------------------------------------------------------------------------
def open_entry(entry: ManifestEntry, progress: Progress | None = None, *, refresh: bool = False,
               token: str | bool | None = None, endpoint: str | None = None, root: Path = REPO) -> Series:
    """Open a manifest entry as a Series, downloading and converting when needed.

    progress(done, total, message): bytes while downloading, checkpoints while converting.
    A cached copy is used without asking the Hub; `refresh=True` asks for the revision's latest
    commit first. Raises SourceError (never a huggingface_hub or network exception).
    """
    if entry.is_local:
        return _open_local(entry, root)
    if entry.format == "native":
        return _open_native_hub(entry, progress, refresh, token, endpoint)
    return _open_converted_hub(entry, progress, refresh, token, endpoint)


def open_repo(repo_id: str, revision: str = "main", format: str = "native", filename: str | None = None,
              progress: Progress | None = None, **kw) -> Series:
    """Open a series straight from a Hub repo (e.g. one made with `python -m grok_core publish`)."""
    return open_entry(hub_entry(repo_id, revision, format, filename), progress, **kw)


def is_available_offline(entry: ManifestEntry, root: Path = REPO) -> bool:
    """True when open_entry would succeed without the network (as far as the files on disk tell)."""
    if entry.is_local:
        return local_problem(entry, root) is None
    commit = _cached_commit(entry)
    if commit is None:
        return False
    if (_assets_dir(entry, commit) / JSON_NAME).is_file():
        return True
    if entry.format != "native":
        return _cached_file(entry, entry.files[0], commit) is not None
    sj = _cached_file(entry, JSON_NAME, commit)
    if sj is None:
        return False
    try:
        meta = json.loads(Path(sj).read_text())
        return all(_cached_file(entry, sh["file"], commit) for sh in meta["shards"])
    except (ValueError, KeyError, TypeError):
        return False


def fetch_series_json(entry: ManifestEntry, token=None, endpoint: str | None = None) -> dict:
    """Only the description of a native Hub series (small): for `info` without downloading shards."""
    commit, sj, _ = _resolve(entry, JSON_NAME, False, token, endpoint)
    if sj is None:
        if _offline():
            raise _unreachable(entry, "offline mode is on (HF_HUB_OFFLINE)")
        sj = _download(entry, JSON_NAME, entry.revision, None, 0, 0, token, endpoint)
    try:
        return json.loads(Path(sj).read_text())
    except ValueError as e:
        raise SourceError(f"{entry.title}: {JSON_NAME} is not valid JSON ({e})") from None
    except RecursionError:
        raise SourceError(f"{entry.title}: {JSON_NAME} is not a series description (nested too deeply)") from None


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
    files = {}
    for f in sorted(s.files(), key=lambda p: p.name):
        files[f.name] = {"sha256": sha256_file(f), "bytes": f.stat().st_size}
    return {"files": files, "total_bytes": sum(v["bytes"] for v in files.values())}


def config_for(series_path) -> dict:
    """The model and training config of a series, as a manifest entry's `config`."""
    s = Series(series_path, verify=False)
    return {"model": s.meta["model_config"], "train": s.meta["train_config"]}
