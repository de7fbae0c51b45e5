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

Metaflow's names for the same settings are read too, so a ported project keeps its
environment: ``METAFLOW_ALIASES`` is the one table of them (``METAFLOW_USER``, the
command-line options' ``METAFLOW_RUN_MAX_WORKERS``...; a flow's parameters also read
``METAFLOW_RUN_<PARAM>``). The ``FLOWTRACK_`` name wins when both are set, and an
empty variable counts as unset. Metaflow variables whose meaning differs from every
flowtrack setting (``METAFLOW_DATASTORE_SYSROOT_LOCAL``, ``METAFLOW_DEFAULT_METADATA``,
``METAFLOW_PROFILE``: flowtrack has no configuration profiles) are not read.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

HOME_DIR_NAME = ".flowtrack"


# flowtrack variable -> Metaflow's variable for the same setting. The options of a
# flow's command line are FLOWTRACK_<COMMAND>_<OPTION> (see cli/_flowcli.py); Metaflow's
# are METAFLOW_<COMMAND>_<DEST>, with click's destination name of the option, which
# differs from the option's name for --tag (tags) and --with (decospecs).
_COMMAND_OPTIONS = {"MAX_WORKERS": "MAX_WORKERS", "MAX_NUM_SPLITS": "MAX_NUM_SPLITS",
                    "TAG": "TAGS", "WITH": "DECOSPECS", "RUN_ID_FILE": "RUN_ID_FILE"}
METAFLOW_ALIASES: dict[str, str] = {
    "FLOWTRACK_USER": "METAFLOW_USER",
    "FLOWTRACK_QUIET": "METAFLOW_QUIET",
    "FLOWTRACK_BRANCH": "METAFLOW_BRANCH",  # @project's top-level options
    "FLOWTRACK_PRODUCTION": "METAFLOW_PRODUCTION",
    **{f"FLOWTRACK_{command}_{ours}": f"METAFLOW_{command}_{theirs}"
       for command in ("RUN", "RESUME") for ours, theirs in _COMMAND_OPTIONS.items()},
    "FLOWTRACK_RESUME_ORIGIN_RUN_ID": "METAFLOW_RESUME_ORIGIN_RUN_ID",
    "FLOWTRACK_LOGS_ONLY_STDOUT": "METAFLOW_LOGS_STDOUT",
    "FLOWTRACK_LOGS_ONLY_STDERR": "METAFLOW_LOGS_STDERR",
    "FLOWTRACK_DUMP_MAX_VALUE_SIZE": "METAFLOW_DUMP_MAX_VALUE_SIZE",
    "FLOWTRACK_S3_ENDPOINT_URL": "METAFLOW_S3_ENDPOINT_URL",  # an S3-compatible server
    **{f"FLOWTRACK_TAG_{command}_RUN_ID": f"METAFLOW_TAG_{command}_RUN_ID"
       for command in ("ADD", "REMOVE", "LIST")},
}
# a flow's parameter P is FLOWTRACK_RUN_P, and METAFLOW_RUN_P in Metaflow
_PARAMETER_PREFIXES = ("FLOWTRACK_RUN_", "METAFLOW_RUN_")


def env_names(name: str, *, flow_parameter: bool = False) -> list[str]:
    """The variables that set ``name``, in the order they are read: ``name`` itself,
    then Metaflow's name for it if it has one (``flow_parameter``: ``name`` is the
    variable of a flow's parameter, ``FLOWTRACK_RUN_<PARAM>``)."""
    alias = METAFLOW_ALIASES.get(name)
    ours, theirs = _PARAMETER_PREFIXES
    if alias is None and flow_parameter and name.startswith(ours):
        alias = theirs + name[len(ours):]
    return [name] if alias is None else [name, alias]


def env(name: str, *, flow_parameter: bool = False) -> str | None:
    """The value of the first of ``env_names(name)`` that is set and not empty."""
    for var in env_names(name, flow_parameter=flow_parameter):
        value = os.environ.get(var)
        if value:
            return value
    return None


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
    user = env("FLOWTRACK_USER") or os.environ.get("USER") or os.environ.get("USERNAME")
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def settings() -> Settings:
    """Return the settings resolved from the current environment."""
    home = Path(env("FLOWTRACK_HOME") or Path.cwd() / HOME_DIR_NAME).absolute()
    metadata_url = env("FLOWTRACK_METADATA") or f"sqlite:///{home / 'metadata.db'}"
    store_url = env("FLOWTRACK_STORE") or str(home / "blobs")
    return Settings(home=home, metadata_url=metadata_url, store_url=store_url,
                    user=_default_user(),
                    is_default_metadata=not env("FLOWTRACK_METADATA"),
                    fsync=_flag("FLOWTRACK_FSYNC"), verify_reads=_flag("FLOWTRACK_VERIFY_READS"))


def _flag(name: str) -> bool:
    return (env(name) or "").lower() in ("1", "true", "yes")
