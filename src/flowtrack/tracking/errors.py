"""Tracking errors, each carrying MLflow's error code so the tracking server can
answer with MLflow's JSON error shape and status (``http_status``)."""

from __future__ import annotations

from .._errors import FlowtrackError


class TrackingError(FlowtrackError):
    """Base of tracking errors (MLflow's ``MlflowException``)."""

    headline = "Tracking error"
    error_code = "INTERNAL_ERROR"
    http_status = 500


class InvalidParameterError(TrackingError):
    """A bad argument: key, value, filter string, a changed param value..."""

    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class ResourceDoesNotExistError(TrackingError):
    error_code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404


class ResourceAlreadyExistsError(TrackingError):
    error_code = "RESOURCE_ALREADY_EXISTS"
    http_status = 400


class InvalidStateError(TrackingError):
    """The operation does not fit the object's state (e.g. logging to a deleted run)."""

    error_code = "INVALID_STATE"
    http_status = 400


# MLflow's name, so ``except MlflowException`` ports by changing the import
MlflowException = TrackingError
