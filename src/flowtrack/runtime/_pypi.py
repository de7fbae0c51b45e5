"""Per-step Python environments (``@pypi`` / ``@pypi_base``), built with uv.

A step with ``@pypi`` runs in its own virtualenv. Its requirements (the flow's
``@pypi_base`` packages overlaid with the step's) make a ``PythonEnv`` whose key
hashes them, the Python version and flowtrack's own requirements.

- Locally, ``ensure_local_env`` builds ``<cache>/<key>`` once with ``uv venv`` and
  ``uv pip install`` (the step's packages resolved together with what a task process
  needs: flowtrack's core requirements; flowtrack itself is linked in), under a file
  lock so concurrent runs build it once. The local executor starts the step's tasks
  with that interpreter.
- On Ray, ``ray_runtime_env`` hands the same requirements to Ray's ``uv`` runtime
  environment, which builds and caches it on each node. Ray layers it over the
  cluster's own environment (the one that has flowtrack and Ray).

The task itself records the versions it actually imported (``resolved_versions``).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import FlowtrackError

READY_MARKER = ".flowtrack-ready"
_FLOWTRACK_PACKAGE = Path(__file__).resolve().parents[1]
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?$")
_OPERATORS = ("==", ">=", "<=", "!=", "~=", ">", "<", "===")


class PythonEnvError(FlowtrackError):
    headline = "Python environment error"


@dataclass(frozen=True)
class PythonEnv:
    """A step's environment: pinned requirements and (optionally) a Python version."""

    requirements: tuple[str, ...]
    python: str | None = None

    @property
    def package_names(self) -> list[str]:
        return [re.split(r"[\[<>=!~ ]", r, maxsplit=1)[0] for r in self.requirements]

    @property
    def key(self) -> str:
        payload = json.dumps({"requirements": self.requirements, "python": self.python,
                              "task_requirements": task_requirements(),
                              # the env links this flowtrack: another one gets its own env
                              "flowtrack": str(_FLOWTRACK_PACKAGE),
                              "interpreter": self.python or _interpreter_version()},
                             sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    def describe(self) -> str:
        python = f" on Python {self.python}" if self.python else ""
        return f"{', '.join(self.requirements) or 'no packages'}{python}"


def requirement(name: str, version: str) -> str:
    """``{'scikit-learn': '1.5.2'}`` style entries as requirement strings: a bare
    version pins exactly, one starting with an operator is kept, '' is unpinned."""
    name, version = str(name).strip(), str(version or "").strip()
    if not _NAME_RE.match(name):
        raise PythonEnvError(f"@pypi package name {name!r} is not a valid PyPI project name.")
    if not version:
        return name
    if version.startswith(_OPERATORS):
        return f"{name}{version}"
    return f"{name}=={version}"


def step_environment(base: dict[str, Any] | None, step: dict[str, Any] | None) -> PythonEnv | None:
    """The environment of a step from the flow's ``@pypi_base`` and the step's ``@pypi``
    attributes (step packages override base ones of the same name); None if neither
    applies or the step's decorator says ``disabled=True``."""
    if step is not None and step.get("disabled"):
        return None
    if base is None and step is None:
        return None
    packages: dict[str, str] = {}
    python = None
    for layer in (base, step):
        if layer:
            packages.update({_canonical(k): v for k, v in (layer.get("packages") or {}).items()})
            python = layer.get("python") or python
    return PythonEnv(tuple(sorted(requirement(k, v) for k, v in packages.items())),
                     str(python) if python else None)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", str(name)).lower()


def _interpreter_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def task_requirements() -> list[str]:
    """What a task process needs besides the step's packages: flowtrack's core
    requirements (not its extras)."""
    try:
        declared = importlib.metadata.requires("flowtrack") or []
    except importlib.metadata.PackageNotFoundError:
        declared = []
    return sorted(r.split(";")[0].strip() for r in declared if "extra ==" not in r)


# fsspec drivers by URL scheme: what a task process needs to reach an object store
_STORE_DRIVERS = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs",
                  "abfs": "adlfs", "abfss": "adlfs"}


def store_requirements(store_url: str) -> list[str]:
    """The blob store's driver, at the version this process uses when it has it."""
    scheme = store_url.split("://", 1)[0] if "://" in store_url else ""
    driver = _STORE_DRIVERS.get(scheme)
    if driver is None:
        return []
    try:
        return [f"{driver}=={importlib.metadata.version(driver)}"]
    except importlib.metadata.PackageNotFoundError:
        return [driver]


def env_cache_dir() -> Path:
    base = os.environ.get("FLOWTRACK_PYPI_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "flowtrack", "pypi")
    return Path(base)


def _uv() -> str:
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        raise PythonEnvError(
            "@pypi steps need uv to build their environments, and uv is not installed. "
            "Install it with `pip install 'flowtrack[pypi]'` (or `pip install uv`).") from None


def ensure_local_env(env: PythonEnv, extra: list[str] | None = None, log: Any = None) -> Path:
    """The interpreter of ``env``'s virtualenv (with the ``extra`` requirements a
    task process needs, see ``store_requirements``), built on first use; raises
    PythonEnvError with uv's explanation if the packages cannot be resolved."""
    extra = sorted(extra or [])
    key = env.key if not extra else hashlib.sha256(
        json.dumps([env.key, extra]).encode()).hexdigest()[:32]
    target = env_cache_dir() / key
    python = target / "bin" / "python"
    if (target / READY_MARKER).exists() and python.exists():  # (its interpreter may be gone)
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait and reuse it
        if (target / READY_MARKER).exists() and python.exists():
            return python
        if log is not None:
            log(f"Building the Python environment for {env.describe()} with uv...")
        shutil.rmtree(target, ignore_errors=True)  # what a crashed build left
        _build(env, extra, target)
    return python


def _build(env: PythonEnv, extra: list[str], target: Path) -> None:
    uv = _uv()
    interpreter = env.python or sys.executable
    _uv_run([uv, "venv", "--quiet", "--python", interpreter, str(target)], env)
    python = target / "bin" / "python"
    requirements = [*env.requirements, *task_requirements(), *extra]
    if requirements:
        _uv_run([uv, "pip", "install", "--quiet", "--python", str(python), *requirements], env)
    _link_flowtrack(python, target)
    freeze = subprocess.run([uv, "pip", "freeze", "--python", str(python)], capture_output=True,
                            text=True, check=False)
    (target / "flowtrack-freeze.txt").write_text(freeze.stdout)
    (target / READY_MARKER).write_text(json.dumps({"requirements": env.requirements,
                                                   "python": env.python}))


def _uv_run(command: list[str], env: PythonEnv) -> None:
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise PythonEnvError(
            f"Could not build the Python environment for {env.describe()}: uv said:\n{detail}\n"
            "Check the package names and versions in @pypi/@pypi_base (and python=, which must "
            "name an interpreter installed on this machine).")


def _link_flowtrack(python: Path, target: Path) -> None:
    """Make this flowtrack importable in the env without exposing the rest of the
    driver's site-packages: a directory holding only a link to the package."""
    package = _FLOWTRACK_PACKAGE
    shim = target / "flowtrack-link"
    shim.mkdir(exist_ok=True)
    link = shim / "flowtrack"
    if not link.exists():
        link.symlink_to(package, target_is_directory=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "flowtrack-link.pth").write_text(str(shim) + "\n")


def ray_runtime_env(env: PythonEnv) -> dict[str, Any]:
    """The Ray runtime environment for ``env`` (Ray's uv plugin builds and caches it)."""
    if env.python and env.python != _interpreter_version():
        raise PythonEnvError(
            f"@pypi(python={env.python!r}) cannot run on Ray: every Ray worker runs the cluster's "
            f"Python ({_interpreter_version()}), the driver's. Drop python= for Ray runs, or run "
            "this flow with the local executor.")
    return {"uv": {"packages": list(env.requirements)}}


def resolved_versions(env: PythonEnv) -> dict[str, str]:
    """The versions of ``env``'s packages this process imports, and its Python."""
    found = {"python": ".".join(map(str, sys.version_info[:3]))}
    for name in env.package_names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
