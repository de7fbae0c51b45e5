"""Reading stored bytes to answer a request: a file of a run or logged model (the UI's
downloads and previews, and the tracking server's artifact downloads, which import
this module), or a blob a task recorded (its logs, an image preview).

Bytes the blob store cannot supply (a blob missing, unreadable, or no longer matching
its digest) raise ``DamagedArtifactError``: a 500, since the fault is the server's,
whose message names the artifact and never a location in the store. The store's own
message, with the blob's path, goes to the server log for the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from .._errors import StoreError
from ..tracking.errors import TrackingError
from ..tracking.service import TrackingStore, is_model_id, read_file

log = logging.getLogger("flowtrack.server")


class DamagedArtifactError(TrackingError):
    """Stored bytes are missing or corrupt: the server's fault, not the client's."""

    error_code = "INTERNAL_ERROR"
    http_status = 500


def read_artifact(store: TrackingStore, owner_id: str, path: str) -> bytes:
    """The bytes of a run's or logged model's file ``path``."""
    owner = "logged model" if is_model_id(owner_id) else "run"
    with _damaged(f"Artifact {path!r} of {owner} {owner_id}"):
        return read_file(store, owner_id, path)


def read_blob(store: TrackingStore, digest: str, what: str) -> bytes:
    """The bytes of a blob a task recorded; ``what`` names it in an error."""
    with _damaged(what):
        return store.blobs.get_bytes(digest)


@contextmanager
def _damaged(what: str) -> Iterator[None]:
    try:
        yield
    except (StoreError, OSError) as exc:
        log.error("%s cannot be read from the store: %s", what,
                  exc.message if isinstance(exc, StoreError) else exc)
        raise DamagedArtifactError(
            f"{what} is damaged in the server's store: its stored bytes are missing or no "
            "longer match their digest. Ask the server's operator to restore the store "
            "from a backup (the server log names the blob), or log the file again."
        ) from None
