"""Resolved settings: where metadata and blobs live and who the user is.

One ``Settings`` object is built from ``FLOWTRACK_*`` environment variables over
defaults each time ``settings()`` is called (cheap), so tests can change the
environment freely; nothing is frozen at import time.

- ``FLOWTRACK_HOME``: directory holding the embedded store (default ``./.flowtrack``).
- ``FLOWTRACK_METADATA``: SQLAlchemy database URL (default SQLite in the home dir).
- ``FLOWTRACK_STORE``: blob store path or URL (default ``<home>/blobs``).
- ``FLOWTRACK_USER``: user name recorded on runs (default ``$USER``/``$USERNAME``).
- ``FLOWTRACK_FSYNC=1``: flush every blob to disk before it is published, so even
  a power loss cannot leave a partial blob (costs a disk flush per large value).
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

HOME_DIR_NAME = ".flowtrack"


@dataclass(frozen=True)
class Settings:
    home: Path
    metadata_url: str
    store_url: str
    user: str
    is_default_metadata: bool = True
    fsync: bool = False  # fsync blobs before publishing them (slower, power-loss safe)
    # check large memory-mapped blobs against their digest too (reads them whole)
    verify_reads: bool = False


def _default_user() -> str:
    for var in ("FLOWTRACK_USER", "USER", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def settings() -> Settings:
    """Return the settings resolved from the current environment."""
    home = Path(os.environ.get("FLOWTRACK_HOME") or Path.cwd() / HOME_DIR_NAME).absolute()
    metadata_url = os.environ.get("FLOWTRACK_METADATA") or f"sqlite:///{home / 'metadata.db'}"
    store_url = os.environ.get("FLOWTRACK_STORE") or str(home / "blobs")
    return Settings(home=home, metadata_url=metadata_url, store_url=store_url,
                    user=_default_user(),
                    is_default_metadata=not os.environ.get("FLOWTRACK_METADATA"),
                    fsync=_flag("FLOWTRACK_FSYNC"), verify_reads=_flag("FLOWTRACK_VERIFY_READS"))


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")
