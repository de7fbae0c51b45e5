"""The flow's code package: what a run ran, stored once per run in the blob store.

``package_flow_code`` collects the flow file, the Python files beside it (in its
directory or below) that the flow imported, and the other ``.py`` files there while
the package stays small (a module imported only inside a step must reach remote
workers too), into a deterministic tar: sorted entries, zero timestamps and owners,
so the same code gives the same digest and is stored once. Hidden directories,
virtualenvs and caches are skipped.
The run records it (``Run.code`` reads it back); remote workers and fresh task
interpreters run the flow from it, so they need no copy of the project
(``materialize`` extracts it once per machine, ``load_flow_class`` imports the flow).

A flow defined in a script is imported under the module name ``__main__``, as when
the script itself runs, so values of classes defined in the flow file pickle the same
on every executor.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..client import CodePackageError, unpack_tar
from ..flow import FlowSpec
from ..store import BlobStore

_SKIPPED_DIRS = {"site-packages", "dist-packages", "__pycache__", "node_modules"}
# other .py files beside the flow are added while the package stays under these
EXTRA_FILES_LIMIT = 1000
EXTRA_BYTES_LIMIT = 16 << 20
EXTRACTED_KEEP_SECONDS = 7 * 24 * 3600  # unused extracted packages are removed after this
_DIGEST_NAME = re.compile(r"^\.?[0-9a-f]{16,64}(-[A-Za-z0-9_]+)?$")
_LOADING_NAME = "__flowtrack_flow__"  # the module's name while its body runs (not __main__)


@dataclass(frozen=True)
class CodeInfo:
    """A stored code package, as recorded on the run and sent to workers."""

    digest: str
    size: int
    script: str  # the flow file, relative to the package root
    module: str  # the flow's module name: "__main__" for a script
    flow_name: str
    files: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"digest": self.digest, "size": self.size, "script": self.script,
                "module": self.module, "flow_name": self.flow_name, "files": list(self.files)}


def flow_file(flow_cls: type[FlowSpec]) -> Path | None:
    """The file the flow class was defined in, or None (a notebook, an interpreter).
    Asked of the class, not of ``sys.modules['__main__']``, which a runner such as
    ``python -m cProfile flow.py`` replaces with itself."""
    functions = [v for v in vars(flow_cls).values() if inspect.isfunction(v)]
    try:  # a method's code knows its file even when the module's __file__ is not it
        file = inspect.getsourcefile(functions[0] if functions else flow_cls)
    except (TypeError, OSError):
        return None
    if not file or not file.endswith(".py") or not os.path.isfile(file):
        return None
    return Path(file).resolve()


def _packaged_files(script: Path) -> list[Path]:
    """The flow file, every imported module under its directory, and the other
    ``.py`` files there within the limits (unreadable files and links leading out
    of the directory are left out)."""
    root = script.parent
    found = {script}
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and file.endswith(".py") and _beside(Path(file).resolve(), root):
            found.add(Path(file).resolve())
    size = sum(_size(p) for p in found)
    for count, path in enumerate(_python_files(root), start=1):
        size += _size(path)
        if count > EXTRA_FILES_LIMIT or size > EXTRA_BYTES_LIMIT:
            break
        found.add(path)
    return sorted(p for p in found if os.access(p, os.R_OK))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _beside(path: Path, root: Path) -> bool:
    try:
        relative = path.relative_to(root)
    except ValueError:
        return False
    # not in a virtualenv, cache or hidden directory kept inside the project
    return not any(part in _SKIPPED_DIRS or part.startswith(".") for part in relative.parts[:-1])


def _python_files(root: Path) -> Iterator[Path]:
    """``.py`` files below ``root`` in a stable order, walked lazily (a flow in a big
    directory stops the walk at the limits)."""
    for directory, subdirs, files in os.walk(root):
        here = Path(directory)
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIPPED_DIRS and not d.startswith(".")
                            and not (here / d / "pyvenv.cfg").exists())
        for name in sorted(f for f in files if f.endswith(".py")):
            path = (here / name).resolve()
            if path.is_file() and _beside(path, root):
                yield path


def _tar(root: Path, files: list[Path]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            data = path.read_bytes()
            info = tarfile.TarInfo(path.relative_to(root).as_posix())
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def package_flow_code(flow_cls: type[FlowSpec], store: BlobStore) -> CodeInfo | None:
    """Store the flow's code package; None when the flow has no file to package."""
    script = flow_file(flow_cls)
    if script is None:
        return None
    files = _packaged_files(script)
    data = _tar(script.parent, files)
    digest = store.put_bytes(data)
    return CodeInfo(digest=digest, size=len(data), script=script.name,
                    module=flow_cls.__module__, flow_name=flow_cls.__name__,
                    files=tuple(p.relative_to(script.parent).as_posix() for p in files))


def code_cache_dir() -> Path:
    """Where packages are extracted on this machine (one directory per digest)."""
    base = os.environ.get("FLOWTRACK_CODE_CACHE") or os.path.join(
        tempfile.gettempdir(), f"flowtrack-code-{os.getuid() if hasattr(os, 'getuid') else 0}")
    return Path(base)


def materialize(store: BlobStore, info: CodeInfo) -> Path:
    """The package extracted on this machine, extracting it on first use. Extraction
    goes to a temporary directory renamed into place, so a reader never sees half a
    package and concurrent workers do not clash."""
    cache = _private_dir(code_cache_dir())
    target = cache / info.digest
    if target.is_dir():
        touch(target)
        return target
    _remove_unused(cache)
    staging = Path(tempfile.mkdtemp(prefix=f".{info.digest[:16]}-", dir=target.parent))
    unpack_tar(store.get_bytes(info.digest), staging)
    try:
        staging.rename(target)
    except OSError:  # another worker finished first: use its copy
        _remove_tree(staging)
    return target


def touch(target: Path) -> None:
    """Mark an extracted package as in use (so it is not cleaned up)."""
    try:
        os.utime(target)
    except OSError:
        pass


def _private_dir(path: Path) -> Path:
    """``path`` as a directory only this user can write (it may be in a shared /tmp,
    where another user could otherwise plant code for workers to import)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if (stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid()
            or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        raise CodePackageError(
            f"The code package cache {path} is not a private directory of this user (a link, "
            "another owner, or writable by others), so code extracted there could be "
            "replaced. Remove it, or point FLOWTRACK_CODE_CACHE at a directory of your own.")
    return path


def _remove_unused(cache: Path) -> None:
    """Drop extracted packages nobody used for a week (a worker may run for months)."""
    cutoff = time.time() - EXTRACTED_KEEP_SECONDS
    for entry in cache.iterdir():
        if not _DIGEST_NAME.match(entry.name):
            continue  # not ours: a package or a staging directory is named by a digest
        try:
            if entry.is_dir() and entry.stat().st_mtime < cutoff:
                _remove_tree(entry)
        except OSError:  # another worker removed it first
            continue


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def load_flow_class(root: Path, info: CodeInfo) -> tuple[type[FlowSpec], ModuleType]:
    """Import the flow from an extracted package and return its class and module.

    The flow file's directory goes first on ``sys.path`` so its sibling imports
    resolve to the packaged files. A script's module runs under a private name (so
    its ``if __name__ == "__main__"`` block does not start a run) and is then renamed
    ``__main__``; ``install_as_main`` makes it the process's ``__main__``.
    """
    script = root / info.script
    directory = str(script.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    is_script = info.module == "__main__"
    name = _LOADING_NAME if is_script else info.module
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise CodePackageError(f"Cannot import the flow file {script}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        if is_script:
            sys.modules.pop(_LOADING_NAME, None)
    if is_script:
        _rename_module(module, _LOADING_NAME, "__main__")
    flow_cls = getattr(module, info.flow_name, None)
    if not (isinstance(flow_cls, type) and issubclass(flow_cls, FlowSpec)):
        raise CodePackageError(f"The flow file {info.script} of the code package defines no "
                               f"flow class {info.flow_name}.")
    return flow_cls, module


def _rename_module(module: ModuleType, old: str, new: str) -> None:
    module.__name__ = new
    for value in vars(module).values():
        if getattr(value, "__module__", None) == old:
            try:
                value.__module__ = new
            except (AttributeError, TypeError):  # a builtin or frozen object
                pass


def install_as_main(module: ModuleType) -> None:
    """Make the flow's module this process's ``__main__`` (in a task process only)."""
    if module.__name__ == "__main__":
        sys.modules["__main__"] = module
