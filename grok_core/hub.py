"""Series from the Hugging Face Hub: open any model repo by id, in any format grok_core reads.

    open_hub("owner/name@revision", progress) -> (Series, HubDetails)
    locate("owner/name@revision") -> HubDetails      which file would be opened, nothing downloaded

The format is read off the repo's file list: this project's series.json (native), Nanda/ARENA's
full_run_data.pth, TransformerLens's grokking_demo.pth, or a single .pth the converter recognises.
Everything goes through huggingface_hub, so HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE,
HF_TOKEN and stored logins work as they do for that library. The cache comes first, so a series
seen once opens with no network; otherwise one short request (hub_fetch.probe) gives the commit
and the file list. The opened series is built once in the assets cache (hub_build).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id
from tqdm.auto import tqdm as _tqdm

from .hub_build import assets_dir, build_converted, build_native, open_built, refused
from .hub_errors import unreachable
from .hub_fetch import Progress, Req, cached_file, cached_snapshot, fetch, offline, probe, remember_ref
from .manifest import (  # noqa: F401  (re-exported: the manifest used to live here)
    FORMATS,
    MANIFEST_PATH,
    REPO,
    ManifestEntry,
    SourceError,
    get_entry,
    hub_entry,
    load_manifest,
    local_path,
    parse_entry,
)
from .series import JSON_NAME, Series, SeriesError, sha256_file

KNOWN_FILES = {JSON_NAME: "native", "full_run_data.pth": "nanda_full_run", "grokking_demo.pth": "tl_demo"}
TORCH_SUFFIXES = (".pth", ".pt")


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
                "tl_demo": "TransformerLens grokking demo, converted",
                "auto": "a checkpoint file to convert"}[self.format]
        return f"{self.repo_id} at {self.revision} (commit {self.commit[:7]}): {self.file}, {what}"


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


# -- finding and opening ------------------------------------------------------------------------
def _locate(req: Req, refresh, token, endpoint) -> HubDetails:
    """Commit, format and file of the request: from the cache (unless refresh), else one probe."""
    snap = None if refresh and not offline() else cached_snapshot(req)
    if snap is None and offline():
        raise unreachable(req.name, "offline mode is on (HF_HUB_OFFLINE)")
    if snap is not None:  # huggingface_hub's documented layout: snapshots/<commit>/
        commit, files, online = snap.name, sorted(p.name for p in snap.iterdir()), False
    else:
        (commit, files), online = probe(req, token, endpoint), True
    try:
        fmt, fname = pick_file(files, req.repo_id, req.filename, req.format)
    except SourceError:
        if online or offline():
            raise
        (commit, files), online = probe(req, token, endpoint), True  # the cache holds other files only
        fmt, fname = pick_file(files, req.repo_id, req.filename, req.format)
    if online:
        remember_ref(req, fname, commit, token, endpoint)
    return HubDetails(req.repo_id, req.revision, commit, fmt, fname, from_cache=not online)


def _open(req: Req, progress, refresh, token, endpoint) -> tuple[Series, HubDetails]:
    """The cache first (unless refresh), then the Hub; one SourceError sentence on any failure."""
    try:
        return _open_unguarded(req, progress, refresh, token, endpoint)
    except OSError as e:  # the assets cache: disk full, read-only, permissions
        raise SourceError(f"{req.name}: cannot write the opened series under {constants.HF_ASSETS_CACHE} "
                          f"({e.strerror or e})") from None


def _open_unguarded(req: Req, progress, refresh, token, endpoint) -> tuple[Series, HubDetails]:
    d = _locate(req, refresh, token, endpoint)
    for f in (d.format,) if d.format != "auto" else ("nanda_full_run", "tl_demo"):
        s = open_built(assets_dir(req, d.commit, f))
        if s is not None:
            return s, dataclasses.replace(d, format=f)
    first = cached_file(req, d.file, d.commit) if d.from_cache else None
    if first is None:
        if offline():
            raise unreachable(req.name, f"offline mode is on (HF_HUB_OFFLINE) and {d.file} was never downloaded")
        # by the revision's name, so huggingface_hub records the ref for opening offline later
        first = fetch(req, d.file, req.revision, None if d.format == "native" else progress, 0, 0, token, endpoint)
        d = dataclasses.replace(d, commit=Path(first).parent.name)  # the branch may have moved since the probe
    if d.format == "native":
        return build_native(req, d.commit, assets_dir(req, d.commit, "native"), first, progress, token, endpoint,
                            not offline()), d
    fmt = d.format
    if fmt == "auto":
        from .convert import ConvertError, detect_format, load_torch_file

        try:
            fmt = detect_format(load_torch_file(first))
        except ConvertError as e:
            raise refused(req, d.file, first, e) from None
    s = build_converted(req, d.commit, fmt, d.file, first, assets_dir(req, d.commit, fmt), progress)
    return s, dataclasses.replace(d, format=fmt)


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
    return _open(Req(repo_id, revision, filename=filename), progress, refresh, token, endpoint)


def locate(spec: str, *, filename: str | None = None, refresh: bool = False, token: str | bool | None = None,
           endpoint: str | None = None) -> HubDetails:
    """Which commit and file open_hub(spec) would open, and in which format ('auto': a .pth the converter
    will read), without downloading anything: from the cache, or one request to the Hub."""
    repo_id, revision = parse_spec(spec)
    return _locate(Req(repo_id, revision, filename=filename), refresh, token, endpoint)


def open_entry(entry: ManifestEntry, progress: Progress | None = None, *, refresh: bool = False,
               token: str | bool | None = None, endpoint: str | None = None, root: Path = REPO) -> Series:
    """Open a manifest entry as a Series (a local folder, or a Hub repo as open_hub does)."""
    if entry.is_local:
        return _open_local(entry, root)
    req = Req(entry.repo_id, entry.revision, entry.format, entry.files[0] if entry.format != "native" else None,
               entry.repo_type, entry.title)
    return _open(req, progress, refresh, token, endpoint)[0]


def open_repo(repo_id: str, revision: str = "main", format: str | None = None, filename: str | None = None,
              progress: Progress | None = None, **kw) -> Series:
    """The Series alone, from a repo id (e.g. one made with `python -m grok_core publish`)."""
    repo_id, rev = parse_spec(repo_id if not isinstance(repo_id, str) or not repo_id.strip() or "@" in repo_id
                              else f"{repo_id}@{revision}")
    return _open(Req(repo_id, rev, format, filename), progress, kw.pop("refresh", False), kw.pop("token", None),
                 kw.pop("endpoint", None))[0]


def local_problem(entry: ManifestEntry, root: Path = REPO) -> str | None:
    """Why a local entry cannot be opened (no series there, a link leading out of the repository); None if it can."""
    try:
        path = local_path(entry, root)
        if not Path(os.path.realpath(path)).is_relative_to(os.path.realpath(root)):
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
    try:
        s = Series(local_path(entry, root))
    except SeriesError as e:
        raise SourceError(f"{entry.title}: {e}") from None
    outside = [f.name for f in s.files() if not Path(os.path.realpath(f)).is_relative_to(os.path.realpath(root))]
    if outside:
        raise SourceError(f"{entry.title}: {', '.join(outside)} in {entry.source['path']} link to outside the repository")
    return s


def _cached_details(req: Req) -> HubDetails | None:
    """What would open from the cache alone (no network), or None."""
    snap = cached_snapshot(req)
    if snap is None:
        return None
    try:
        fmt, fname = pick_file(sorted(p.name for p in snap.iterdir()), req.repo_id, req.filename, req.format)
    except SourceError:
        return None
    d = HubDetails(req.repo_id, req.revision, snap.name, fmt, fname, from_cache=True)
    for f in (fmt,) if fmt != "auto" else ("nanda_full_run", "tl_demo"):
        if (assets_dir(req, snap.name, f) / JSON_NAME).is_file():
            return dataclasses.replace(d, format=f)
    if fmt != "native":
        return d if (snap / fname).is_file() else None
    try:
        meta = json.loads((snap / JSON_NAME).read_text())
        return d if all((snap / sh["file"]).is_file() for sh in meta["shards"]) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cached(spec: str, *, filename: str | None = None) -> HubDetails | None:
    """The details of spec's copy in the local cache when it opens offline, else None; never any network."""
    repo_id, revision = parse_spec(spec)
    return _cached_details(Req(repo_id, revision, filename=filename))


def is_available_offline(entry: ManifestEntry, root: Path = REPO) -> bool:
    """True when open_entry would succeed without the network (as far as the files on disk tell)."""
    if entry.is_local:
        return local_problem(entry, root) is None
    filename = entry.files[0] if entry.format != "native" else None
    return _cached_details(Req(entry.repo_id, entry.revision, entry.format, filename, entry.repo_type)) is not None


def fetch_series_json(entry: ManifestEntry, token=None, endpoint: str | None = None) -> dict:
    """Only the description of a native Hub series (small): for `info` without downloading shards."""
    req = Req(entry.repo_id, entry.revision, "native", None, entry.repo_type, entry.title)
    snap = cached_snapshot(req)
    path = str(snap / JSON_NAME) if snap is not None and (snap / JSON_NAME).is_file() else None
    if path is None:
        if offline():
            raise unreachable(req.name, "offline mode is on (HF_HUB_OFFLINE)")
        pick_file(probe(req, token, endpoint)[1], req.repo_id, format="native")
        path = fetch(req, JSON_NAME, req.revision, None, 0, 0, token, endpoint)
    try:
        return json.loads(Path(path).read_text())
    except ValueError as e:
        raise SourceError(f"{req.name}: {JSON_NAME} is not valid JSON ({e})") from None
    except RecursionError:
        raise SourceError(f"{req.name}: {JSON_NAME} is not a series description (nested too deeply)") from None


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
