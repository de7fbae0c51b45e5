"""Metaflow's exception names (``metaflow.exception``), pointing at flowtrack's errors.

Code ported from Metaflow keeps ``from metaflow.exception import ...`` by importing
from ``flowtrack.exception``. Each name is the class flowtrack itself raises for that
failure or, where flowtrack has no such error, a thin subclass of the closest
flowtrack error taking Metaflow's constructor arguments. Nothing here is a second
implementation: ``MetaflowException`` *is* ``FlowtrackError``, so ``except
MetaflowException`` catches every flowtrack error. Some names are broader than in
Metaflow because flowtrack raises one class where Metaflow has several: an object
outside the current namespace (``MetaflowNamespaceMismatch``) and a malformed
pathspec (``MetaflowInvalidPathspec``) are ``NotFoundError``, and both merge
exceptions are ``MergeArtifactsError`` (with Metaflow's ``artifact_names``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ._errors import ArtifactError as _ArtifactError
from ._errors import ConfigurationError as _ConfigurationError
from ._errors import FlowtrackError as _FlowtrackError
from ._errors import MergeArtifactsError as _MergeArtifactsError
from ._errors import MetaflowStyleError as _MetaflowStyleError
from ._errors import NotFoundError as _NotFoundError
from .flow._decorators import UnknownDecoratorAttributeError as _UnknownDecoratorAttributeError
from .flow._params import ParameterFieldError as _ParameterFieldError
from .flow._params import ParameterFieldTypeError as _ParameterFieldTypeError

if _TYPE_CHECKING:  # at run time served by __getattr__ below, so they load lazily
    from .client._data import TaskException as MetaflowExceptionWrapper
    from .client._tags import TaggingError as MetaflowTaggingError

__all__ = [
    "CommandException",
    "ExternalCommandFailed",
    "InvalidDecoratorAttribute",
    "MetaflowDataMissing",
    "MetaflowException",
    "MetaflowExceptionWrapper",
    "MetaflowInternalError",
    "MetaflowInvalidPathspec",
    "MetaflowNamespaceMismatch",
    "MetaflowNotFound",
    "MetaflowTaggingError",
    "MetaflowUnknownUser",
    "MissingInMergeArtifactsException",
    "ParameterFieldFailed",
    "ParameterFieldTypeMismatch",
    "UnhandledInMergeArtifactsException",
]

# -- the classes flowtrack raises ----------------------------------------------------
MetaflowException = _FlowtrackError
MetaflowNotFound = _NotFoundError
MetaflowNamespaceMismatch = _NotFoundError
MetaflowInvalidPathspec = _NotFoundError
InvalidDecoratorAttribute = _UnknownDecoratorAttributeError
ParameterFieldFailed = _ParameterFieldError
ParameterFieldTypeMismatch = _ParameterFieldTypeError
# merge_artifacts raises MergeArtifactsError for both, with ``artifact_names``
UnhandledInMergeArtifactsException = _MergeArtifactsError
MissingInMergeArtifactsException = _MergeArtifactsError


# -- Metaflow names flowtrack does not raise itself, for user code that does ---------
class MetaflowInternalError(_MetaflowStyleError):
    headline = "Internal error"


class MetaflowDataMissing(_MetaflowStyleError, _ArtifactError):
    headline = "Data missing"


class CommandException(_MetaflowStyleError):
    headline = "Invalid command"


class ExternalCommandFailed(_MetaflowStyleError):
    headline = "External command failed"


class MetaflowUnknownUser(_ConfigurationError):
    headline = "Unknown user"

    def __init__(self) -> None:
        super().__init__("flowtrack could not determine your user name; set FLOWTRACK_USER "
                         "(or USER).")

    def __reduce__(self) -> tuple[_Any, ...]:
        return type(self), ()


# The classes defined here stand for Metaflow's classes of the same name: a task that
# raises one records Metaflow's name for it (``metaflow.exception.ExternalCommandFailed``),
# as Metaflow does, so ported checks of ``task.exception.type`` hold.
for _cls in (MetaflowInternalError, MetaflowDataMissing, CommandException,
             ExternalCommandFailed, MetaflowUnknownUser):
    _cls.RECORDED_TYPE = f"metaflow.exception.{_cls.__name__}"  # type: ignore[union-attr]


def __getattr__(name: str) -> _Any:
    # what @catch stores in its variable (and task.exception returns) and the tagging
    # error live in the client: each loaded only when asked for
    if name == "MetaflowExceptionWrapper":
        from .client._data import TaskException

        return TaskException
    if name == "MetaflowTaggingError":
        from .client._tags import TaggingError

        return TaggingError
    raise AttributeError(f"module 'flowtrack.exception' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"MetaflowExceptionWrapper", "MetaflowTaggingError"})
