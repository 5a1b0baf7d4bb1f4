"""One sentence for people from any huggingface_hub or network failure while opening a Hub series."""

from __future__ import annotations

import errno

from huggingface_hub import constants
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

from .manifest import SourceError

try:  # huggingface_hub >= 1.0 tells a missing remote file apart from a missing cached one
    from huggingface_hub.errors import RemoteEntryNotFoundError
except ImportError:  # pragma: no cover
    RemoteEntryNotFoundError = EntryNotFoundError

_DISK = (errno.ENOSPC, errno.EACCES, errno.EROFS, getattr(errno, "EDQUOT", errno.ENOSPC))


def unreachable(name: str, why: str) -> SourceError:
    """Not cached, and the Hub cannot be asked."""
    return SourceError(f"{name}: not in the local Hugging Face cache and {why}. Connect to the internet and try "
                       "again (it downloads once, then works offline), or pick another series.")


def _timed_out(err: BaseException) -> bool:
    return "Timeout" in type(err).__name__ or isinstance(err, TimeoutError)


def explain(err: BaseException, name: str, repo: str, revision: str, timeout_s: float,
            filename: str | None = None) -> SourceError:
    """A huggingface_hub / network exception -> SourceError with one clear sentence."""
    status = getattr(getattr(err, "response", None), "status_code", None)
    if isinstance(err, GatedRepoError):
        msg = (f"{repo} is gated: accept its conditions at https://huggingface.co/{repo} while logged in, then log "
               "in on this machine (`hf auth login`, or set HF_TOKEN)")
    elif isinstance(err, RevisionNotFoundError):
        msg = f"{repo} has no revision {revision!r} (a branch, tag or commit)"
    elif isinstance(err, RemoteEntryNotFoundError) and not isinstance(err, LocalEntryNotFoundError):
        msg = f"{repo} has no file {filename!r} at revision {revision!r}"
    elif isinstance(err, RepositoryNotFoundError):
        msg = (f"there is no Hub repo {repo} (or it is private and this machine is not logged in: "
               "`hf auth login`, or set HF_TOKEN)")
    elif isinstance(err, HfHubHTTPError) and status in (401, 403):
        msg = f"access to {repo} was refused ({status}); check your Hugging Face token"
    elif isinstance(err, OfflineModeIsEnabled):
        return unreachable(name, "offline mode is on (HF_HUB_OFFLINE)")
    elif isinstance(err, HFValidationError):
        msg = f"{repo!r} is not a valid repo id ({err})"
    elif isinstance(err, HfHubHTTPError):
        msg = f"the Hub answered with an error for {repo} ({str(err).splitlines()[0][:160]})"
    elif isinstance(err, OSError) and err.errno in _DISK:
        msg = f"cannot write to the Hugging Face cache {constants.HF_HUB_CACHE} ({err.strerror})"
    elif _timed_out(err):
        return unreachable(name, f"the Hub did not answer within {timeout_s:g} s")
    elif isinstance(err, (OSError, ConnectionError)) or "httpx" in type(err).__module__:
        return unreachable(name, f"the Hub cannot be reached ({type(err).__name__})")
    else:
        msg = f"{type(err).__name__}: {str(err)[:200]}"
    return SourceError(f"{name}: {msg}")
