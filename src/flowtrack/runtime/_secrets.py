"""``@secrets``: environment variables fetched from secret stores in the task process.

Metaflow's contract, kept: each source is ``"<type>.<id>"`` (``"<id>"`` alone uses
the default backend, ``FLOWTRACK_DEFAULT_SECRETS_BACKEND_TYPE`` or Metaflow's
``METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE``) or a dict ``{"type", "id", "options",
"role"}``. A provider turns a secret into a dict of variable -> value; the names must
be valid variable names not starting with ``METAFLOW_`` (nor ``FLOWTRACK_``), two
sources may not set the same name, and without ``allow_override`` a secret may not
replace a variable the task already has. The values are set for the step only (the
task restores its environment afterwards) and are never stored or logged.

Providers here: ``inline`` (the values in ``options['env_vars']``; for tests and
examples, as in Metaflow) and ``file`` (a dotenv ``KEY=VALUE`` or JSON file, the id
being its path). More come from installed packages through the entry-point group
``flowtrack.secrets_providers`` (a ``SecretsProvider`` subclass with a ``TYPE``).
"""

from __future__ import annotations

import json
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .._errors import FlowtrackError

ENTRY_POINT_GROUP = "flowtrack.secrets_providers"
DEFAULT_BACKEND_VARIABLES = ("FLOWTRACK_DEFAULT_SECRETS_BACKEND_TYPE",
                             "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE")
DEFAULT_ROLE_VARIABLES = ("FLOWTRACK_DEFAULT_SECRETS_ROLE", "METAFLOW_DEFAULT_SECRETS_ROLE")
DISALLOWED_PREFIXES = ("METAFLOW_", "FLOWTRACK_")
_VARIABLE_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class SecretsError(FlowtrackError):
    headline = "Secrets error"


class SecretsProvider(ABC):
    """A secret store (Metaflow's ``SecretsProvider``): ``get_secret_as_dict`` returns
    the variables a secret sets."""

    TYPE: str | None = None

    @abstractmethod
    def get_secret_as_dict(self, secret_id: str, options: dict[str, Any] | None = None,
                           role: str | None = None) -> dict[str, str]:
        """The secret ``secret_id`` as environment variable name -> value."""


class InlineSecretsProvider(SecretsProvider):
    """The values written in the source itself: ``options={'env_vars': {...}}``."""

    TYPE = "inline"

    def get_secret_as_dict(self, secret_id: str, options: dict[str, Any] | None = None,
                           role: str | None = None) -> dict[str, str]:
        return dict((options or {}).get("env_vars", {}))


class FileSecretsProvider(SecretsProvider):
    """A local file named by the id: ``KEY=VALUE`` lines (``#`` comments, optional
    ``export`` and quotes), or a JSON object if it starts with ``{``."""

    TYPE = "file"

    def get_secret_as_dict(self, secret_id: str, options: dict[str, Any] | None = None,
                           role: str | None = None) -> dict[str, str]:
        text = Path(secret_id).expanduser().read_text(encoding="utf-8")
        if text.lstrip().startswith("{"):
            loaded = json.loads(text)
            if not isinstance(loaded, dict):
                raise ValueError("the JSON file must hold an object of name -> value")
            return loaded
        return dict(_dotenv_line(line, number) for number, line in
                    enumerate(text.splitlines(), 1)
                    if line.strip() and not line.lstrip().startswith("#"))


def _dotenv_line(line: str, number: int) -> tuple[str, str]:
    key, eq, value = line.strip().removeprefix("export ").partition("=")
    if not eq:
        raise ValueError(f"line {number} is not KEY=VALUE")
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return key.strip(), value


@dataclass(frozen=True)
class SecretSpec:
    backend_type: str
    secret_id: str
    options: dict[str, Any] = field(default_factory=dict)
    role: str | None = None

    def __str__(self) -> str:
        return f"{self.secret_id} ({self.backend_type})"


def _first_env(names: tuple[str, ...]) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


def _default_backend() -> str:
    backend = _first_env(DEFAULT_BACKEND_VARIABLES)
    if backend is None:
        raise SecretsError("No default secrets backend type configured, but needed by @secrets. "
                           "Name it in the source ('<type>.<id>' or {'type': ...}) or set "
                           "FLOWTRACK_DEFAULT_SECRETS_BACKEND_TYPE.")
    return backend


def secret_spec(source: str | dict[str, Any], role: str | None) -> SecretSpec:
    """One ``@secrets`` source as a ``SecretSpec`` (Metaflow's parsing rules)."""
    if isinstance(source, str):
        kind, dot, secret_id = source.partition(".")
        return SecretSpec(kind, secret_id, {}, role) if dot else SecretSpec(
            _default_backend(), source, {}, role)
    backend: Any = source.get("type", None)
    if backend is None:
        backend = _default_backend()
    if not isinstance(backend, str):
        raise SecretsError(f"Bad @secrets specification - 'type' must be a string - found "
                           f"{type(backend).__name__}")
    given_id, options = source.get("id"), source.get("options", {})
    if not isinstance(given_id, str):
        raise SecretsError(f"Bad @secrets specification - 'id' must be a string - found "
                           f"{type(given_id).__name__}")
    if not isinstance(options, dict):
        raise SecretsError(f"Bad @secrets specification - 'options' must be a dict - found "
                           f"{type(options).__name__}")
    own_role = source.get("role")
    if own_role is not None and not isinstance(own_role, str):
        raise SecretsError(f"Bad @secrets specification - 'role' must be a str - found "
                           f"{type(own_role).__name__}")
    return SecretSpec(backend, given_id, options, own_role or role)


def providers() -> dict[str, type[SecretsProvider]]:
    """The secrets providers by type: the built-ins and the installed ones."""
    found: dict[str, type[SecretsProvider]] = {
        InlineSecretsProvider.TYPE: InlineSecretsProvider,  # type: ignore[dict-item]
        FileSecretsProvider.TYPE: FileSecretsProvider}  # type: ignore[dict-item]
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = entry.load()
        except Exception:  # noqa: BLE001, S112 - a broken plug-in must not break the others
            continue
        if isinstance(cls, type) and issubclass(cls, SecretsProvider) and cls.TYPE:
            found.setdefault(cls.TYPE, cls)
    return found


def get_secret(source: str | dict[str, Any], role: str | None = None) -> dict[str, str]:
    """The variables one secret sets, checked (Metaflow's ``get_secret``)."""
    spec = secret_spec(source, role)
    found = providers()
    if spec.backend_type not in found:
        raise SecretsError(f"Unknown secrets backend type {spec.backend_type} (available types: "
                           f"{', '.join(sorted(t for t in found if t != 'inline'))}).")
    try:
        values = found[spec.backend_type]().get_secret_as_dict(
            spec.secret_id, options=spec.options, role=spec.role)
    except Exception as exc:  # noqa: BLE001 - any provider failure, named with its source
        raise SecretsError(f"Failed to retrieve secret '{spec.secret_id}': {exc}") from None
    _check_names(spec, values)
    return values


def _check_names(spec: SecretSpec, values: Any) -> None:
    if not isinstance(values, dict):
        raise SecretsError(f"Secret {spec} did not give a dict of variables.")
    for key, value in values.items():
        problem = None
        if not isinstance(key, str):
            problem = f"Found non string key {key!s} ({type(key).__name__})"
        elif not isinstance(value, str):
            problem = f"Found non string value for {key} ({type(value).__name__})"
        elif not _VARIABLE_NAME.fullmatch(key):
            problem = f"Found invalid env var name '{key}'."
        elif key.startswith(DISALLOWED_PREFIXES):
            problem = f"Found disallowed env var name '{key}' (starts with '{key.split('_')[0]}_')."
        if problem:
            raise SecretsError(f"Invalid env vars from secret {spec}: {problem}")


def apply_secrets(attributes: dict[str, Any]) -> None:
    """Fetch every source of a step's ``@secrets`` and set its variables, or raise
    ``SecretsError`` (before anything is set) naming the source at fault."""
    role = attributes.get("role") or _first_env(DEFAULT_ROLE_VARIABLES)
    injected_by: dict[str, SecretSpec] = {}
    merged: dict[str, str] = {}
    for source in attributes.get("sources") or []:
        spec = secret_spec(source, role)
        for key, value in get_secret(source, role).items():
            if key in injected_by:
                raise SecretsError(f"Secret '{spec}' will inject '{key}' as env var, and it is "
                                   f"also added by '{injected_by[key]}'")
            if not attributes.get("allow_override") and key in os.environ:
                raise SecretsError(f"Secret '{spec}' will inject '{key}' as env var, but it "
                                   "already exists in env (use allow_override=True to replace "
                                   "it)")
            injected_by[key], merged[key] = spec, value
    os.environ.update(merged)
