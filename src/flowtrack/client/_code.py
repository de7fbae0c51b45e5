"""A run's code package, read back: ``Run.code`` (Metaflow's ``MetaflowCode``).

The runtime stores the flow file and the Python files beside it that it imports as
one deterministic tar in the blob store and records it on the run (see
``runtime._code``). This module owns the reading side: listing the files, the flow's
source, and extracting the package safely (no member may leave the target directory).
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from .._errors import FlowtrackError

CODE_PROPERTY = "code"  # the run context's custom property describing its package


class CodePackageError(FlowtrackError):
    headline = "Code package error"


def unpack_tar(data: bytes, destination: str | os.PathLike[str]) -> None:
    """Extract a code package's tar into ``destination``, refusing anything but plain
    files and directories with relative paths that stay inside it."""
    target = Path(destination).resolve()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        members = tar.getmembers()
        for member in members:
            path = PurePosixPath(member.name)
            inside = (target / member.name).resolve()
            if (path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir())
                    or not inside.is_relative_to(target)):
                raise CodePackageError(
                    f"The code package holds an unsafe entry {member.name!r}; it was not "
                    "written by flowtrack. Nothing was extracted.")
        for member in members:
            if member.isdir():
                (target / member.name).mkdir(parents=True, exist_ok=True)
                continue
            out = target / member.name
            out.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            out.write_bytes(source.read())
            out.chmod(0o644)


class MetaflowCode:
    """The code a run ran: the flow file and the Python files beside it it imported.

    ``files`` lists them (paths relative to the flow file's directory), ``flowspec``
    is the flow file's source, ``read(path)`` any file's text, ``tarball`` the package
    as a ``tarfile.TarFile`` and ``extract()`` writes it to a directory.
    """

    def __init__(self, pathspec: str, info: dict[str, Any], load_bytes: Any) -> None:
        self.pathspec = pathspec
        self.info = dict(info)
        self._load_bytes = load_bytes
        self._data: bytes | None = None

    @property
    def digest(self) -> str:
        return str(self.info["digest"])

    @property
    def script_name(self) -> str:
        """The flow file, relative to the package root."""
        return str(self.info["script"])

    @property
    def path(self) -> str:
        """Where the package lives: its blob's digest URI."""
        return f"blake3:{self.digest}"

    @property
    def files(self) -> list[str]:
        return list(self.info.get("files") or [])

    def _bytes(self) -> bytes:
        if self._data is None:
            self._data = self._load_bytes(self.digest)
        return self._data

    @property
    def tarball(self) -> tarfile.TarFile:
        return tarfile.open(fileobj=io.BytesIO(self._bytes()), mode="r:")

    def read(self, name: str) -> str:
        """The text of one file of the package (a path as listed in ``files``)."""
        with self.tarball as tar:
            try:
                member = tar.extractfile(name)
            except KeyError:
                member = None
            if member is None:
                raise CodePackageError(
                    f"The code of run {self.pathspec} has no file {name!r}; its files are "
                    f"{', '.join(self.files)}.")
            return member.read().decode("utf-8", "replace")

    @property
    def flowspec(self) -> str:
        """The flow file's source."""
        return self.read(self.script_name)

    def extract(self, path: str | os.PathLike[str] | None = None) -> str:
        """Write the package to ``path`` (default: a new temporary directory) and
        return that directory; the flow file is ``<dir>/<script_name>``."""
        target = Path(path) if path is not None else Path(tempfile.mkdtemp(prefix="flowtrack-code-"))
        target.mkdir(parents=True, exist_ok=True)
        unpack_tar(self._bytes(), target)
        return str(target)

    def __repr__(self) -> str:
        return f"MetaflowCode('{self.pathspec}', {len(self.files)} files, {self.digest[:12]})"
