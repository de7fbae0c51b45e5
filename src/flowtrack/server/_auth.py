"""Optional authentication for every endpoint: a bearer token (what ``mlflow`` sends
for ``MLFLOW_TRACKING_TOKEN``) and/or HTTP basic users (``MLFLOW_TRACKING_USERNAME``
and ``MLFLOW_TRACKING_PASSWORD``). Secrets are compared in constant time and only
their SHA-256 digests are kept in memory."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import ConfigurationError


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


@dataclass(frozen=True)
class Auth:
    """Who may call the server; empty means no authentication."""

    token_digest: bytes | None = None
    user_digests: Mapping[str, bytes] = field(default_factory=dict)

    @classmethod
    def build(cls, token: str | None = None, users_file: str | Path | None = None) -> Auth:
        """A bearer ``token`` and/or the users of a basic-auth file; a blank token is
        refused, never taken as "no authentication"."""
        if token is not None and not token.strip():
            raise ConfigurationError("The server's bearer token is empty or blank, which "
                                     "would turn authentication off. Pass a non-empty token, "
                                     "or None for no token.")
        return cls(_digest(token) if token else None,
                   read_users_file(users_file) if users_file else {})

    @property
    def enabled(self) -> bool:
        return self.token_digest is not None or bool(self.user_digests)

    def allows(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value grants access."""
        if not self.enabled:
            return True
        if not authorization:
            return False
        scheme, _, credentials = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and self.token_digest is not None:
            return hmac.compare_digest(_digest(credentials.strip()), self.token_digest)
        if scheme == "basic" and self.user_digests:
            return self._allows_basic(credentials.strip())
        return False

    def _allows_basic(self, credentials: str) -> bool:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        expected = self.user_digests.get(user)
        # compare even for unknown users, so timing does not tell which users exist
        matched = hmac.compare_digest(_digest(password), expected or _digest("\x00unknown"))
        return bool(sep) and expected is not None and matched


def read_users_file(path: str | Path) -> dict[str, bytes]:
    """``user:password`` lines ('#' comments and blank lines skipped)."""
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the basic-auth users file {str(file)!r}: "
                                 f"{exc.strerror or exc}. Pass a readable file of "
                                 "user:password lines.") from None
    users: dict[str, bytes] = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user or not password:
            raise ConfigurationError(f"{file}:{number}: expected a user:password line; got "
                                     f"{line[:40]!r}.")
        users[user] = _digest(password)
    if not users:
        raise ConfigurationError(f"The basic-auth users file {str(file)!r} names no users; "
                                 "add user:password lines.")
    return users
