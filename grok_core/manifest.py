"""The manifest: the series the app offers, in checkpoints_manifest.json, validated entry by entry.

    {"format": "grok-manifest", "version": 1, "series": [entry, ...]}
    entry   id, title, description, format, size_mb (null: size unknown), config, provenance and
            source: {"path": "checkpoints/default"} (inside this repository)
                 or {"repo_id": "org/name", "revision": "main", "files": [...]} (the Hugging Face Hub)

A bad entry is reported with a message and never hides the others. Reading the manifest needs no
network and no torch; opening an entry is grok_core.hub's job.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

REPO = Path(__file__).resolve().parents[1]
MANIFEST_PATH = REPO / "checkpoints_manifest.json"
MANIFEST_FORMAT = "grok-manifest"
FORMATS = ("native", "nanda_full_run", "tl_demo")


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
        known = {"nanda_full_run": "full_run_data.pth", "tl_demo": "grokking_demo.pth"}
        src["files"] = [known[format]] if format in known else []
    try:
        return parse_entry({"id": "hub", "title": repo_id, "description": f"{repo_id} on the Hugging Face Hub",
                            "source": src, "format": format})
    except ValueError as e:
        raise SourceError(str(e)) from None


def local_path(entry: ManifestEntry, root: Path = REPO) -> Path:
    """The folder of a local entry, inside `root` (checked again: an entry built in code skips parse_entry)."""
    return Path(root) / _check_local_path(entry.source["path"])
