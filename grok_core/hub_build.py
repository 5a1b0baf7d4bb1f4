"""Building an opened Hub series in the assets cache: linked native series, converted files, checks.

    HF_ASSETS_CACHE/grok_core/<type>s--<org>--<name>/<commit>-<format>/

A native series is a folder of links into huggingface_hub's cache (cached extras added later never
edit that cache), verified once; other formats are converted once (torch.load only in convert.py,
weights_only). Only (x + y) mod p is opened: the views explain nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

from huggingface_hub import constants

from .hub_errors import unreachable
from .hub_fetch import Req, cached_file, fetch
from .manifest import SourceError, _plain_name
from .series import JSON_NAME, Series, SeriesError

_VERIFIED = ".grok_verified"  # marker: this cached folder was opened once with checksums verified


def assets_dir(req: Req, commit: str, fmt: str) -> Path:
    """Where this commit's opened/converted series lives: the layout of huggingface_hub.cached_assets_path."""
    ns = f"{req.repo_type}s--{req.repo_id.replace('/', '--')}"
    return Path(constants.HF_ASSETS_CACHE) / "grok_core" / ns / f"{commit}-{fmt}"


def open_built(folder: Path) -> Series | None:
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


def _check_addition(req: Req, meta: dict) -> None:
    """The views read (x + y) mod p: refuse a series of another operation rather than show wrong crests."""
    op = (meta.get("train_config") or {}).get("operation", "add")
    if op != "add":
        raise SourceError(f"{req.name} learns the operation {op!r}; the views here explain (x + y) mod p only")


def build_native(req, commit, folder, first, progress, token, endpoint, online) -> Series:
    """Link series.json and its shards (downloading the missing ones) into `folder`, verified."""
    try:
        meta = json.loads(Path(first).read_text())
        files = [(sh["file"], int(sh["bytes"]), True) for sh in meta["shards"]]
        files += [(e["file"], 0, False) for e in meta.get("extras", {}).values()]  # cached results: optional
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        raise SourceError(f"{req.name}: {JSON_NAME} is not a series description ({e})") from None
    if not all(_plain_name(f) for f, _, _ in files):
        raise SourceError(f"{req.name}: {JSON_NAME} names files outside the series folder")
    _check_addition(req, meta)
    total, done, paths = sum(b for _, b, _ in files), 0, {JSON_NAME: first}
    for name, nbytes, required in files:
        p = cached_file(req, name, commit)
        if p is None and online:
            try:
                p = fetch(req, name, commit, progress, done, total, token, endpoint)
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
    s = open_built(folder)
    if s is None:
        raise SourceError(f"{req.name}: could not set up {folder}")
    return s


def refused(req: Req, fname: str, path: str, err: Exception) -> SourceError:
    """The converter's refusal, naming the file in the repo rather than its path in the cache."""
    msg = str(err)
    msg = msg[len(str(path)) + 2:] if msg.startswith(f"{path}: ") else msg.replace(str(path), fname)
    return SourceError(f"{req.name}: {fname}: {msg}")


def build_converted(req, commit, fmt, fname, src, folder, progress) -> Series:
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
        raise refused(req, fname, src, e) from None
    (folder / _VERIFIED).write_text("written by grok_core.convert\n")
    return s
