"""The errors of the lineage API, named as ML Metadata users know them.

MLMD raises ``errors.AlreadyExistsError``, ``NotFoundError``,
``InvalidArgumentError`` and ``FailedPreconditionError`` (from its status codes);
flowtrack's are the same names, and all are ``FlowtrackError``s, so the command
line prints them as one paragraph.
"""

from __future__ import annotations

from .._errors import FlowtrackError
from .._errors import NotFoundError as _FlowtrackNotFound


class MetadataStoreError(FlowtrackError):
    """Base of the lineage API's errors."""

    headline = "Lineage error"


class AlreadyExistsError(MetadataStoreError):
    """A node or type with that identity exists and the call may not reuse it."""

    headline = "Already exists"


class NotFoundError(MetadataStoreError, _FlowtrackNotFound):
    """The node, type or id named does not exist."""

    headline = "Not found"


class InvalidArgumentError(MetadataStoreError):
    """The call's arguments are malformed (bad property, bad filter query...)."""

    headline = "Invalid argument"


class FailedPreconditionError(MetadataStoreError):
    """The store is not in a state that allows the call (e.g. deleting would break
    lineage, or a type change is not allowed)."""

    headline = "Failed precondition"


__all__ = ["AlreadyExistsError", "FailedPreconditionError", "InvalidArgumentError",
           "MetadataStoreError", "NotFoundError"]
