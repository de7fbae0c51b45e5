"""The scikit-learn model flavor, with MLflow's names: ``flowtrack.sklearn.save_model``,
``log_model`` and ``load_model`` (see docs/tracking.md, "Models")."""

from __future__ import annotations

from pathlib import Path as _Path
from typing import Any as _Any

from .tracking.entities.signature import ModelSignature as _ModelSignature
from .tracking.flavors import saved_model as _models
from .tracking.flavors.saved_model import ModelInfo as _ModelInfo

_FLAVOR = "sklearn"

__all__ = ["load_model", "log_model", "save_model"]


def _flavor() -> tuple[dict[str, _Any], list[str]]:
    import numpy
    import sklearn

    conf = {"pickled_model": "model.pkl", "sklearn_version": sklearn.__version__,
            "serialization_format": "pickle", "code": None}
    return conf, [f"scikit-learn=={sklearn.__version__}", f"numpy=={numpy.__version__}"]


def save_model(sk_model: _Any, path: str | _Path, signature: _ModelSignature | None = None,
               input_example: _Any = None) -> None:
    """Save a scikit-learn model to a new directory ``path`` (MLmodel, model.pkl,
    requirements.txt); the signature is inferred from ``input_example`` if not given."""
    conf, requirements = _flavor()
    _models.save_model(sk_model, path, _FLAVOR, conf, requirements, signature, input_example)


def log_model(sk_model: _Any, name: str | None = None, signature: _ModelSignature | None = None,
              input_example: _Any = None, registered_model_name: str | None = None,
              artifact_path: str | None = None) -> _ModelInfo:
    """Log a scikit-learn model to the active run (in a step: the flow run) under
    ``name`` and record it in the lineage graph; optionally register it."""
    conf, requirements = _flavor()
    info = _models.log_model(sk_model, name or artifact_path or "model", _FLAVOR, conf, requirements,
                      signature, input_example)
    if registered_model_name:
        from .tracking import register_model

        register_model(info.model_uri, registered_model_name)
    return info


def load_model(model_uri: str, dst_path: str | None = None) -> _Any:
    """The scikit-learn model at ``model_uri`` (``runs:/``, ``models:/``, a directory or
    a flow artifact pathspec)."""
    found = _models.local_model(model_uri, dst_path)
    if not isinstance(found, _Path):
        return found
    return _models.load_pickled(found, _models.read_descriptor(found))
