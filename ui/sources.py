"""The series the picker offers: the bundled series first, the manifest's entries, series trained in this app,
and Hugging Face Hub repos opened in this session (ids "hub:owner/name@<commit>")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from grok_core import hub
from grok_core.series import JSON_NAME, Series, open_series

REPO = Path(__file__).resolve().parents[1]
RUNS = Path(os.environ.get("GROK_APP_RUNS", REPO / "runs"))  # series trained from the app's training page
MANIFEST = Path(os.environ.get("GROK_APP_MANIFEST", hub.MANIFEST_PATH))
BUNDLED = REPO / "checkpoints" / "default"  # ships with the app: always offered, whatever the manifest says
HUB_PREFIX = "hub:"


@dataclass(frozen=True)
class Choice:
    """One series the picker offers."""

    id: str  # a manifest id, "runs/<name>" for a series trained here, "hub:owner/name@<commit>" for a Hub repo
    title: str
    description: str
    offline: bool  # opens without the network
    size_mb: float | None = None
    entry: hub.ManifestEntry | None = None  # None for local runs and repos opened by id
    path: str | None = None
    hub_spec: str | None = None  # owner/name[@revision] for a repo opened by id (what ?hub= holds)

    @property
    def local_path(self) -> Path | None:
        """The folder to watch for changes (a run still training), or None for a remote series."""
        if self.path:
            return Path(self.path)
        return hub.local_path(self.entry) if self.entry is not None and self.entry.is_local else None

    @property
    def label(self) -> str:
        """The picker's text: the title, and what choosing it costs when it is not on this machine yet."""
        if self.offline:
            return self.title
        return f"{self.title} (download{f' {self.size_mb:.0f} MB' if self.size_mb else ''})"


def _is_bundled(c: Choice) -> bool:
    try:
        return c.local_path is not None and c.local_path.resolve() == BUNDLED.resolve()
    except (OSError, ValueError):
        return False


def list_choices(runs: Path = RUNS) -> tuple[list[Choice], list[str]]:
    """The manifest's usable entries (default first), then series trained here, with the bundled series always
    offered first; plus one message per manifest problem
    (an entry that does not parse, a local entry with no series behind it)."""
    entries, errors = hub.load_manifest(MANIFEST)
    out = []
    for e in entries:
        if e.is_local:
            why = hub.local_problem(e)
            if why:  # refused here, with the reason, rather than offered as something to download
                errors.append(f"{MANIFEST.name}: entry {e.id!r} cannot be offered: {why}")
                continue
            out.append(Choice(e.id, e.title, e.description, True, e.size_mb, entry=e))
            continue
        try:
            offline = hub.is_available_offline(e)
        except Exception:  # a damaged cache must not hide the entry
            offline = False
        out.append(Choice(e.id, e.title, e.description, offline, e.size_mb, entry=e))
    if runs.is_dir():
        for d in sorted(runs.iterdir()):
            if (d / JSON_NAME).is_file():
                out.append(Choice(f"runs/{d.name}", f"Trained here: {d.name}", f"Series trained in this app ({d}).",
                                  True, path=str(d)))
    return _with_bundled(out), errors


def _with_bundled(out: list[Choice]) -> list[Choice]:
    """The bundled series always among the choices, and always first (the default): a broken or reordered manifest
    never hides it."""
    bundled = next((c for c in out if _is_bundled(c)), None)
    if bundled is None and (BUNDLED / JSON_NAME).is_file():
        bundled = Choice("bundled" if any(c.id == "default" for c in out) else "default", "Bundled run",
                         "The series that ships with the app (checkpoints/default).", True, path=str(BUNDLED))
    elif bundled is not None:
        out.remove(bundled)
    if bundled is None:
        return out
    out.insert(0, bundled)
    return out


# -- Hub repos opened by id (the sidebar field, ?hub=) ------------------------------------------------
def hub_choice(details: hub.HubDetails) -> Choice:
    """The picker's entry for a repo just opened (so cached: it opens offline from now on).

    Its id pins the commit ("hub:owner/name@<commit>"), so the caches, shared by every session, never hand one
    session's older copy of a branch to another; hub_spec is what the link says (?hub=owner/name[@revision]).
    """
    return Choice(f"{HUB_PREFIX}{details.repo_id}@{details.commit}", f"Hub: {details.spec}", details.describe(), True,
                  hub_spec=details.spec)


def hub_choice_for_id(series_id: str) -> Choice | None:
    """A "hub:owner/name@commit" id as a Choice (for the caches, which see ids only); None for any other id.

    The spec is checked with hub.parse_spec, so a value that is not a Hub repo id never reaches the Hub or the disk.
    """
    if not isinstance(series_id, str) or not series_id.startswith(HUB_PREFIX):
        return None
    spec = series_id[len(HUB_PREFIX):]
    try:
        hub.parse_spec(spec)
    except hub.SourceError:
        return None
    return Choice(series_id, f"Hub: {spec}", f"{spec} on the Hugging Face Hub", True, hub_spec=spec)


def open_choice(c: Choice, progress=None) -> Series:
    """Open without caching (downloads and conversions report to progress(done, total, message))."""
    if c.id.startswith(HUB_PREFIX):  # the commit the id pins, from the Hugging Face cache when it is there
        return hub.open_hub(c.id[len(HUB_PREFIX):], progress=progress)[0]
    if c.entry is not None:
        return hub.open_entry(c.entry, progress=progress)
    return open_series(c.path)
